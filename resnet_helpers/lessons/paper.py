"""Figures quoted from the papers (not measured here), shared by the lessons that cite them.

He et al. 2015 = "Deep Residual Learning for Image Recognition", arXiv:1512.03385;
He et al. 2016 = "Identity Mappings in Deep Residual Networks", arXiv:1603.05027.
"""

__all__ = ["PAPER", "PAPER_TOP1_ERROR", "PAPER_QUOTES"]

PAPER = (
    "He, Zhang, Ren, Sun (2015): Deep Residual Learning for Image Recognition, arXiv:1512.03385 (CVPR 2016)"
)

PAPER_TOP1_ERROR = [
    # (model, top-1 error in %, where in PAPER): ImageNet validation set, 10-crop testing.
    # Table 2 uses identity shortcuts with zero-padding where the channels grow (option A);
    # Table 3's ResNets use 1x1 projections there (option B), as ours and torchvision's do.
    ("plain-18", 27.94, "Table 2"),
    ("plain-34", 28.54, "Table 2"),
    ("ResNet-18", 27.88, "Table 2"),
    ("ResNet-34", 25.03, "Table 2"),
    ("ResNet-34 (option B)", 24.52, "Table 3"),
    ("ResNet-50", 22.85, "Table 3"),
    ("ResNet-101", 21.75, "Table 3"),
    ("ResNet-152", 21.43, "Table 3"),
]

PAPER_QUOTES = [
    # (what, value in %, source): quoted, not measured here. He et al. 2015 = arXiv:1512.03385,
    # He et al. 2016 = "Identity Mappings in Deep Residual Networks", arXiv:1603.05027.
    ("ResNet-152, ImageNet val top-5 error, single model", 4.49, "He et al. 2015, Table 4"),
    ("ResNet-1001 (pre-activation, bottleneck), CIFAR-10 test error", 4.62, "He et al. 2016, abstract"),
]
