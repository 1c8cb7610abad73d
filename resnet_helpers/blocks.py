"""Residual blocks: the course's `Residual`, plus `Bottleneck`, `PreActResidual` and `ResNeXt`.

Every block is `output = shortcut(x) + branch(x)`, with a ReLU after the addition for the
post-activation blocks (`Residual`, `Bottleneck`), none for `PreActResidual`. The blocks
differ only in their branch, listed by `branch_layers()`; the small base class `ResidualBlock`
holds the rest, once:
- `branch(x)`: the residual branch, F(x) in the course's notation (the dashed box);
- `shortcut(x)`: x itself, or the 1x1 convolution `projection` when the shape changes (the
  paper's option B), or, only when asked for with `shortcut="zero_pad"`, the parameter-free
  `ZeroPadShortcut` (option A: subsample by the stride, pad the new channels with zeros);
- `zero_init_last()`: zero `last_layer()`, the last layer with weights of the branch
  (torchvision's `zero_init_residual`), so the branch outputs 0 at the start. An
  *identity-shortcut* block then passes its input through unchanged (for `Residual`, whose
  input is non-negative after a ReLU, exactly); a block with a projection starts as its 1x1
  convolution (+ ReLU), which is not the identity.

Each block class also says how it is built: `expansion` (output channels = num_channels x
expansion) and `convs_per_block` (the convolutions of its branch: the weight layers the paper
counts per block).

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

from .i18n import _

__all__ = [
    "check_positive_int",
    "ResidualBlock",
    "Residual",
    "Bottleneck",
    "PreActResidual",
    "ResNeXt",
    "ZeroPadShortcut",
    "SHORTCUTS",
    "BLOCKS",
    "BLOCK_LABELS",
    "check_shortcut",
]


def check_positive_int(name: str, value: object) -> None:
    """Raise ValueError unless `value` is a whole number of 1 or more (True and 2.0 are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            _("{name} must be a positive integer, got {value!r}.").format(name=name, value=value)
        )


def check_shortcut(
    block: str, input_channels: int, out_channels: int, use_1x1conv: bool, strides: int
) -> None:
    """Raise ValueError when the identity shortcut cannot be added to the branch output."""
    if use_1x1conv:
        return
    problems = []
    if input_channels != out_channels:
        problems.append(
            _("the input has {input_channels} channels but the block outputs {out_channels}").format(
                input_channels=input_channels, out_channels=out_channels
            )
        )
    if strides != 1:
        problems.append(
            _("strides={strides} makes the output {strides}x smaller than the input").format(strides=strides)
        )
    if not problems:
        return
    if len(problems) == 2:
        because = _("{first} and {second}").format(first=problems[0], second=problems[1])
    else:
        because = problems[0]
    if input_channels != out_channels:
        message = _(
            "{block}: the shortcut cannot be added because {because}. Fix: pass use_1x1conv=True so a "
            "1x1 convolution reshapes the shortcut, or use input_channels == {out_channels} and strides=1."
        )
    else:
        message = _(
            "{block}: the shortcut cannot be added because {because}. Fix: pass use_1x1conv=True so a "
            "1x1 convolution reshapes the shortcut, or use strides=1."
        )
    raise ValueError(message.format(block=block, because=because, out_channels=out_channels))


SHORTCUTS = ("projection", "zero_pad")


class ZeroPadShortcut(nn.Module):
    """The paper's option A (He et al. 2015, 3.3 and 4.2): an identity shortcut for a block that
    changes the shape, without parameters.

    It takes every `stride`-th pixel (a 1x1 "convolution" with stride 2 and weight 1) and
    appends `out_channels - in_channels` channels of zeros. Used only when a block is built with
    `shortcut="zero_pad"`; it can add channels, never remove them.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(
                _(
                    "a zero-padding shortcut (option A) can only add channels, but the input has "
                    "{in_channels} channels and the block outputs {out_channels}. Fix: use the 1x1 "
                    "convolution (use_1x1conv=True)."
                ).format(in_channels=in_channels, out_channels=out_channels)
            )
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


class ResidualBlock(nn.Module):
    """What every residual block shares; a subclass builds its layers and lists its branch."""

    expansion = 1  # output channels = num_channels * expansion
    convs_per_block = 2  # convolutions in the branch: the paper's weight layers per block
    post_activation = True  # a ReLU after the addition (False: pre-activation, He et al. 2016)

    def _validate(self, input_channels, num_channels, use_1x1conv, strides, shortcut="projection") -> int:
        """Check the arguments; return the block's output channels.

        With `shortcut="zero_pad"` and no 1x1 convolution, a shape change gets a
        `ZeroPadShortcut` (registered as `self.zero_pad`) instead of the error."""
        for name, value in [
            ("input_channels", input_channels),
            ("num_channels", num_channels),
            ("strides", strides),
        ]:
            check_positive_int(name, value)
        if shortcut not in SHORTCUTS:
            raise ValueError(
                _("shortcut must be one of {choices}, got {shortcut!r}.").format(
                    choices=list(SHORTCUTS), shortcut=shortcut
                )
            )
        out_channels = num_channels * self.expansion
        reshapes = input_channels != out_channels or strides != 1
        if shortcut == "zero_pad" and reshapes and not use_1x1conv:
            self.zero_pad = ZeroPadShortcut(input_channels, out_channels, strides)
        else:
            check_shortcut(type(self).__name__, input_channels, out_channels, use_1x1conv, strides)
        return out_channels

    @property
    def projection(self) -> nn.Module | None:
        """The 1x1 convolution on the shortcut, or None for the identity shortcut."""
        return getattr(self, "shortcut_conv", None)

    def branch_layers(self) -> list[nn.Module]:
        """The residual branch, layer by layer, in order (ReLUs included)."""
        raise NotImplementedError

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): the residual branch alone."""
        for layer in self.branch_layers():
            x = layer(x)
        return x

    @property
    def shortcut_module(self) -> nn.Module | None:
        """What the shortcut applies to x: the 1x1 `projection`, a `ZeroPadShortcut`, or None (x itself)."""
        return self.projection if self.projection is not None else getattr(self, "zero_pad", None)

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """What `forward` adds the branch to: x itself, or `shortcut_module(x)`."""
        module = self.shortcut_module
        return x if module is None else module(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.branch(x) + self.shortcut(x)
        return F.relu(y) if self.post_activation else y

    def last_layer(self) -> nn.Module:
        """The branch's last layer with weights: its last BN (post-activation blocks) or its last
        convolution (pre-activation blocks, whose branch ends in one)."""
        return [layer for layer in self.branch_layers() if getattr(layer, "weight", None) is not None][-1]

    def zero_init_last(self):
        """Zero the weight and bias of `last_layer()`, so the branch outputs 0; returns the block."""
        last = self.last_layer()
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        return self


class Residual(ResidualBlock):
    """The course's residual block (d2l 7.6): conv3x3-BN-ReLU, conv3x3-BN, + shortcut, ReLU.

    Args:
        input_channels: channels of the input.
        num_channels: channels of the output (both 3x3 convolutions have this many).
        use_1x1conv: put a 1x1 convolution (`conv3`) on the shortcut, needed when the
            channels change or `strides > 1`.
        strides: stride of the first 3x3 convolution (and of `conv3`); 2 halves height/width.
        shortcut: keyword only. "projection" (default): the course's block exactly, an identity
            shortcut that cannot be added is refused. "zero_pad": such a shortcut becomes the
            paper's parameter-free option A (`ZeroPadShortcut`, stored as `zero_pad`).
    """

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1, *, shortcut="projection"):
        super().__init__()
        self._validate(input_channels, num_channels, use_1x1conv, strides, shortcut)
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
    convs_per_block = 3

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1, *, shortcut="projection"):
        super().__init__()
        out_channels = self._validate(input_channels, num_channels, use_1x1conv, strides, shortcut)
        self._build(input_channels, num_channels, out_channels, strides, use_1x1conv)

    def _build(self, input_channels, width, out_channels, strides, use_1x1conv, groups=1):
        """1x1 reduce to `width`, 3x3 (in `groups` groups) with the stride, 1x1 expand, each + BN."""
        self.conv1 = nn.Conv2d(input_channels, width, kernel_size=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, padding=1, stride=strides, groups=groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, kernel_size=1)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.shortcut_conv = (
            nn.Conv2d(input_channels, out_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        )

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

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1, *, shortcut="projection"):
        super().__init__()
        self._validate(input_channels, num_channels, use_1x1conv, strides, shortcut)
        self.bn1 = nn.BatchNorm2d(input_channels)
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.shortcut_conv = (
            nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        )

    def branch_layers(self):
        return [self.bn1, nn.ReLU(), self.conv1, self.bn2, nn.ReLU(), self.conv2]

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """x (or its zero-padded copy), or the 1x1 projection of the *pre-activated* input
        relu(bn1(x)), which is what `forward` adds. Called on its own in training mode, it runs
        bn1 once more (and so updates bn1's running statistics again)."""
        if self.projection is not None:
            return self.projection(F.relu(self.bn1(x)))
        return super().shortcut(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.projection is None:
            return self.branch(x) + self.shortcut(x)
        # The projection takes the pre-activated input, which is computed once (running BN
        # statistics must be updated once per step).
        pre = F.relu(self.bn1(x))
        return self.conv2(F.relu(self.bn2(self.conv1(pre)))) + self.projection(pre)


class ResNeXt(Bottleneck):
    """ResNeXt block (Xie et al. 2017; d2l-en 8.6.5 `ResNeXtBlock`): a bottleneck whose 3x3
    convolution is grouped.

    1x1 conv to `bot_channels`, 3x3 conv in `groups` groups (the cardinality: each group sees
    `bot_channels // groups` channels), 1x1 conv out, + shortcut, ReLU. With the defaults
    (`groups=32`, `bot_mul=0.5`) and `num_channels` = 64, 128, 256, 512 these are the blocks of
    ResNeXt-50 (32x4d), torchvision's `resnext50_32x4d`.

    Our signature convention: the block outputs `num_channels * 4` channels (like `Bottleneck`);
    `bot_channels = round(output channels * bot_mul)` as in d2l-en. d2l-en's `groups` argument
    is the width of a group (it passes `groups=bot_channels // groups` to the convolution); ours
    is the number of groups. The stride sits on the 3x3 convolution; like the course's blocks,
    convolutions keep their bias and the 1x1 shortcut is a plain convolution (d2l-en and
    torchvision add a batch norm after it).
    """

    def __init__(
        self,
        input_channels,
        num_channels,
        use_1x1conv=False,
        strides=1,
        *,
        groups=32,
        bot_mul=0.5,
        shortcut="projection",
    ):
        ResidualBlock.__init__(self)  # the layers are Bottleneck's, built with another width
        out_channels = self._validate(input_channels, num_channels, use_1x1conv, strides, shortcut)
        check_positive_int("groups", groups)
        if isinstance(bot_mul, bool) or not isinstance(bot_mul, (int, float)) or bot_mul <= 0:
            raise ValueError(_("bot_mul must be a positive number, got {bot_mul!r}.").format(bot_mul=bot_mul))
        bot_channels = max(1, int(round(out_channels * bot_mul)))
        if bot_channels % groups:
            raise ValueError(
                _(
                    "ResNeXt: the grouped 3x3 convolution has {bot_channels} channels "
                    "(= {out_channels} output channels x bot_mul {bot_mul}), which {groups} groups cannot "
                    "share equally. Fix: make groups a divisor of {bot_channels}, or the output channels "
                    "a multiple of {multiple}."
                ).format(
                    bot_channels=bot_channels,
                    out_channels=out_channels,
                    bot_mul=bot_mul,
                    groups=groups,
                    multiple=_multiple(groups, bot_mul, self.expansion),
                )
            )
        self.groups, self.bot_mul = groups, bot_mul
        self._build(input_channels, bot_channels, out_channels, strides, use_1x1conv, groups)


def _multiple(groups: int, bot_mul: float, expansion: int) -> int:
    """The smallest multiple of `expansion` whose bottleneck (x bot_mul, at least 1 channel, as the
    block builds it) `groups` groups share."""
    out = expansion
    while max(1, int(round(out * bot_mul))) % groups and out < 1_000_000:
        out += expansion
    return out


BLOCKS = {"basic": Residual, "bottleneck": Bottleneck, "preact": PreActResidual, "resnext": ResNeXt}
BLOCK_LABELS = {
    "basic": "basic (course)",
    "bottleneck": "bottleneck",
    "preact": "pre-activation",
    "resnext": "ResNeXt (grouped)",
}
