"""Helpers for the ResNet teaching notebooks (d2l 7.6, 残差网络 ResNet).

Every name a notebook uses is importable from here: `from resnet_helpers import Residual`.
"""

from .blocks import BLOCKS, Bottleneck, PreActResidual, Residual
from .data import CLASS_NAMES, DataError, FashionMNIST, load_fashion_mnist, seed_torchvision_cache
from .models import (
    PRESETS,
    ResNet,
    ResNetConfig,
    build_resnet,
    count_flops,
    count_params,
    count_weight_layers,
    make_stage,
    preset_name,
    resnet_block,
    stage_table,
    summary,
)
from .plots import show_images
from .profiles import (
    Precision,
    Profile,
    choose_device,
    choose_precision,
    environment_report,
    get_profile,
)

__version__ = "0.1.0"

__all__ = [
    "BLOCKS",
    "Bottleneck",
    "CLASS_NAMES",
    "DataError",
    "FashionMNIST",
    "PRESETS",
    "Precision",
    "PreActResidual",
    "Profile",
    "ResNet",
    "ResNetConfig",
    "Residual",
    "build_resnet",
    "choose_device",
    "choose_precision",
    "count_flops",
    "count_params",
    "count_weight_layers",
    "environment_report",
    "get_profile",
    "load_fashion_mnist",
    "make_stage",
    "preset_name",
    "resnet_block",
    "seed_torchvision_cache",
    "show_images",
    "stage_table",
    "summary",
]
