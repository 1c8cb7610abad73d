"""Residual blocks: the course's `Residual`, plus `Bottleneck` and `PreActResidual`.

Every block is `output = shortcut(x) + branch(x)`, with a ReLU after the addition for the
post-activation blocks (`Residual`, `Bottleneck`), none for `PreActResidual`. The blocks
differ only in their branch, listed by `branch_layers()`; the small base class `ResidualBlock`
holds the rest, once:
- `branch(x)`: the residual branch, F(x) in the course's notation (the dashed box);
- `shortcut(x)`: x itself, or the 1x1 convolution `projection` when the shape changes;
- `zero_init_last()`: zero the last layer of the branch (torchvision's `zero_init_residual`),
  so the branch outputs 0 at the start. An *identity-shortcut* block then passes its input
  through unchanged (for `Residual`, whose input is non-negative after a ReLU, exactly); a
  block with a projection starts as its 1x1 convolution (+ ReLU), which is not the identity.
  `zero_residual_()` is the same method under the name the notebooks use.

`Residual` keeps the d2l book's signature, submodule names (`conv1`, `conv2`, `conv3`, `bn1`,
`bn2`) and maths, so its weights load into the book's class and back. One thing is new: a
shortcut that cannot be added (the channels change, or the stride shrinks the image, without a
1x1 convolution on the shortcut) is refused when the block is built, with a message that
names the values and the fix, instead of failing deep in `forward`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ResidualBlock",
    "Residual",
    "Bottleneck",
    "PreActResidual",
    "BLOCKS",
    "BLOCK_LABELS",
    "check_shortcut",
]


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def check_shortcut(
    block: str, input_channels: int, out_channels: int, use_1x1conv: bool, strides: int
) -> None:
    """Raise ValueError when the identity shortcut cannot be added to the branch output."""
    if use_1x1conv:
        return
    problems = []
    if input_channels != out_channels:
        problems.append(f"the input has {input_channels} channels but the block outputs {out_channels}")
    if strides != 1:
        problems.append(f"strides={strides} makes the output {strides}x smaller than the input")
    if problems:
        raise ValueError(
            f"{block}: the shortcut cannot be added because "
            + " and ".join(problems)
            + ". Fix: pass use_1x1conv=True so a 1x1 convolution reshapes the shortcut"
            + (
                f", or use input_channels == {out_channels} and strides=1."
                if input_channels != out_channels
                else ", or use strides=1."
            )
        )


class ResidualBlock(nn.Module):
    """What every residual block shares; a subclass builds its layers and lists its branch."""

    expansion = 1  # output channels = num_channels * expansion
    post_activation = True  # a ReLU after the addition (False: pre-activation, He et al. 2016)

    def _validate(self, input_channels, num_channels, use_1x1conv, strides) -> int:
        """Check the arguments; return the block's output channels."""
        for name, value in [
            ("input_channels", input_channels),
            ("num_channels", num_channels),
            ("strides", strides),
        ]:
            _check_positive_int(name, value)
        out_channels = num_channels * self.expansion
        check_shortcut(type(self).__name__, input_channels, out_channels, use_1x1conv, strides)
        return out_channels

    @property
    def projection(self) -> nn.Module | None:
        """The 1x1 convolution on the shortcut, or None for the identity shortcut."""
        raise NotImplementedError

    def branch_layers(self) -> list[nn.Module]:
        """The residual branch, layer by layer, in order (ReLUs included)."""
        raise NotImplementedError

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the residual branch alone."""
        for layer in self.branch_layers():
            x = layer(x)
        return x

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.projection is None else self.projection(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.branch(x) + self.shortcut(x)
        return F.relu(y) if self.post_activation else y

    def zero_init_last(self):
        """Zero the weight and bias of the branch's last layer, so the branch outputs 0."""
        last = [layer for layer in self.branch_layers() if getattr(layer, "weight", None) is not None][-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        return self

    def zero_residual_(self):
        """`zero_init_last()`, under the name the notebooks use; returns the block."""
        return self.zero_init_last()


class Residual(ResidualBlock):
    """The course's residual block (d2l 7.6): conv3x3-BN-ReLU, conv3x3-BN, + shortcut, ReLU.

    Args:
        input_channels: channels of the input.
        num_channels: channels of the output (both 3x3 convolutions have this many).
        use_1x1conv: put a 1x1 convolution (`conv3`) on the shortcut, needed when the
            channels change or `strides > 1`.
        strides: stride of the first 3x3 convolution (and of `conv3`); 2 halves height/width.
    """

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self._validate(input_channels, num_channels, use_1x1conv, strides)
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    @property
    def projection(self):
        return self.conv3

    def branch_layers(self):
        return [self.conv1, self.bn1, nn.ReLU(), self.conv2, self.bn2]


class Bottleneck(ResidualBlock):
    """Bottleneck block (He et al. 2015, ResNet-50/101/152): 1x1 reduce, 3x3, 1x1 expand.

    `num_channels` is the width of the 3x3 convolution; the block outputs
    `num_channels * 4` channels (torchvision's `planes`). The stride sits on the 3x3
    convolution (torchvision's "ResNet v1.5"). Convolutions keep a bias like the course's
    `Residual`; the 1x1 shortcut is a plain convolution as in the course.
    """

    expansion = 4

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        out_channels = self._validate(input_channels, num_channels, use_1x1conv, strides)
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=1)
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.conv3 = nn.Conv2d(num_channels, out_channels, kernel_size=1)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut_conv = (
            nn.Conv2d(input_channels, out_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        )

    @property
    def projection(self):
        return self.shortcut_conv

    def branch_layers(self):
        return [self.conv1, self.bn1, nn.ReLU(), self.conv2, self.bn2, nn.ReLU(), self.conv3, self.bn3]


class PreActResidual(ResidualBlock):
    """Pre-activation residual block (He et al. 2016, "Identity Mappings in Deep ResNets").

    BN-ReLU-conv3x3, BN-ReLU-conv3x3, + shortcut, with no ReLU after the addition: the
    shortcut path is a pure identity from block to block, which is what lets
    ResNet-1001 train. When a 1x1 projection is needed it takes the pre-activated input.
    A network built from these blocks needs a final BN-ReLU before pooling
    (`build_resnet` adds it).
    """

    post_activation = False

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self._validate(input_channels, num_channels, use_1x1conv, strides)
        self.bn1 = nn.BatchNorm2d(input_channels)
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.shortcut_conv = (
            nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        )

    @property
    def projection(self):
        return self.shortcut_conv

    def branch_layers(self):
        return [self.bn1, nn.ReLU(), self.conv1, self.bn2, nn.ReLU(), self.conv2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.projection is None:
            return self.branch(x) + x
        # The projection takes the pre-activated input, which is computed once (running BN
        # statistics must be updated once per step).
        pre = F.relu(self.bn1(x))
        return self.conv2(F.relu(self.bn2(self.conv1(pre)))) + self.projection(pre)


BLOCKS = {"basic": Residual, "bottleneck": Bottleneck, "preact": PreActResidual}
BLOCK_LABELS = {"basic": "basic (course)", "bottleneck": "bottleneck", "preact": "pre-activation"}
