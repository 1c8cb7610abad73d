"""Residual blocks: the course's `Residual`, plus `Bottleneck` and `PreActResidual`.

`Residual` keeps the d2l book's signature, submodule names (`conv1`, `conv2`, `conv3`,
`bn1`, `bn2`) and maths, so its weights load into the book's class and back. One thing
is new: a shortcut that cannot be added (the channels change, or the stride shrinks the
image, without a 1x1 convolution on the shortcut) is refused when the block is built,
with a message that names the values and the fix, instead of failing deep in `forward`.

Every block has:
- `expansion`: output channels = `num_channels * expansion`;
- `projection`: the 1x1 convolution on the shortcut, or None for the identity shortcut;
- `zero_residual_()`: zero the last layer of the residual branch, so the branch outputs 0
  and the block passes its (non-negative, post-ReLU) input through unchanged: the
  identity mapping. torchvision calls this `zero_init_residual`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Residual", "Bottleneck", "PreActResidual", "BLOCKS", "check_shortcut"]


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


class Residual(nn.Module):
    """The course's residual block (d2l 7.6): conv3x3-BN-ReLU, conv3x3-BN, + shortcut, ReLU.

    Args:
        input_channels: channels of the input.
        num_channels: channels of the output (both 3x3 convolutions have this many).
        use_1x1conv: put a 1x1 convolution (`conv3`) on the shortcut, needed when the
            channels change or `strides > 1`.
        strides: stride of the first 3x3 convolution (and of `conv3`); 2 halves height/width.
    """

    expansion = 1

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        for name, value in [
            ("input_channels", input_channels),
            ("num_channels", num_channels),
            ("strides", strides),
        ]:
            _check_positive_int(name, value)
        check_shortcut("Residual", input_channels, num_channels, use_1x1conv, strides)
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

    def zero_residual_(self):
        nn.init.zeros_(self.bn2.weight)
        nn.init.zeros_(self.bn2.bias)
        return self

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        Y = Y + X
        return F.relu(Y)


class Bottleneck(nn.Module):
    """Bottleneck block (He et al. 2015, ResNet-50/101/152): 1x1 reduce, 3x3, 1x1 expand.

    `num_channels` is the width of the 3x3 convolution; the block outputs
    `num_channels * 4` channels (torchvision's `planes`). The stride sits on the 3x3
    convolution (torchvision's "ResNet v1.5"). Convolutions keep a bias like the course's
    `Residual`; the 1x1 shortcut is a plain convolution as in the course.
    """

    expansion = 4

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        for name, value in [
            ("input_channels", input_channels),
            ("num_channels", num_channels),
            ("strides", strides),
        ]:
            _check_positive_int(name, value)
        out_channels = num_channels * self.expansion
        check_shortcut("Bottleneck", input_channels, out_channels, use_1x1conv, strides)
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=1)
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.conv3 = nn.Conv2d(num_channels, out_channels, kernel_size=1)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut = (
            nn.Conv2d(input_channels, out_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        )

    @property
    def projection(self):
        return self.shortcut

    def zero_residual_(self):
        nn.init.zeros_(self.bn3.weight)
        nn.init.zeros_(self.bn3.bias)
        return self

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = F.relu(self.bn2(self.conv2(Y)))
        Y = self.bn3(self.conv3(Y))
        if self.shortcut is not None:
            X = self.shortcut(X)
        return F.relu(Y + X)


class PreActResidual(nn.Module):
    """Pre-activation residual block (He et al. 2016, "Identity Mappings in Deep ResNets").

    BN-ReLU-conv3x3, BN-ReLU-conv3x3, + shortcut, with no ReLU after the addition: the
    shortcut path is a pure identity from block to block, which is what lets
    ResNet-1001 train. When a 1x1 projection is needed it takes the pre-activated input.
    A network built from these blocks needs a final BN-ReLU before pooling
    (`build_resnet` adds it).
    """

    expansion = 1

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        for name, value in [
            ("input_channels", input_channels),
            ("num_channels", num_channels),
            ("strides", strides),
        ]:
            _check_positive_int(name, value)
        check_shortcut("PreActResidual", input_channels, num_channels, use_1x1conv, strides)
        self.bn1 = nn.BatchNorm2d(input_channels)
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.shortcut = (
            nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        )

    @property
    def projection(self):
        return self.shortcut

    def zero_residual_(self):
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        return self

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(X))
        shortcut = self.shortcut(out) if self.shortcut is not None else X
        Y = self.conv1(out)
        Y = self.conv2(F.relu(self.bn2(Y)))
        return Y + shortcut


BLOCKS = {"basic": Residual, "bottleneck": Bottleneck, "preact": PreActResidual}
