"""ResNet networks: the course's `resnet_block`, a configurable `ResNet` and its presets.

`build_resnet("resnet18")` is the course's ResNet-18 exactly (same layers, same order,
11,178,378 parameters for 1 input channel and 10 classes); other presets use the block
counts of He et al. 2015, Table 1. The network is an `nn.Sequential` named like the book
(`b1` stem, `b2`.. stages, then `pool`, `flatten`, `fc`), so `for layer in net:` walks it
stage by stage as in the book, and it has timm's `forward_features` / `forward_head`.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from .blocks import BLOCKS, SHORTCUTS, PreActResidual, Residual, ResidualBlock, check_positive_int
from .i18n import _

__all__ = [
    "resnet_block",
    "make_stage",
    "ResNetConfig",
    "ResNet",
    "PRESETS",
    "build_resnet",
    "preset_name",
    "model_name",
    "PlainBlock",
    "valid_depths",
    "depth_config",
    "build_depth_net",
    "remove_shortcuts_",
    "is_plain",
    "add_blocks",
]


def make_stage(block, input_channels, num_channels, num_blocks, strides=1, shortcut="projection"):
    """A list of `num_blocks` blocks (torchvision's `_make_layer`).

    The first block takes `input_channels`, applies `strides`, and gets a 1x1 projection
    shortcut exactly when the shape changes (`shortcut="zero_pad"`: the parameter-free
    zero-padding shortcut there instead, the paper's option A); the others keep the shape.
    """
    if isinstance(block, str):
        block = BLOCKS[block]
    check_positive_int("num_blocks", num_blocks)
    out_channels = num_channels * block.expansion
    projection = shortcut == "projection" and (strides != 1 or input_channels != out_channels)
    # the block checks `shortcut`, and with "zero_pad" pads where the shape changes
    blocks = [block(input_channels, num_channels, use_1x1conv=projection, strides=strides, shortcut=shortcut)]
    blocks += [block(out_channels, num_channels) for _block in range(num_blocks - 1)]
    return blocks


def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    """The course's `resnet_block`: a list of `num_residuals` `Residual` blocks.

    The first block of every stage but the first halves height and width (stride 2) and
    changes the channels through a 1x1 convolution; `first_block=True` keeps both (the
    stem's max-pool has already halved the image).
    """
    if first_block and input_channels != num_channels:
        raise ValueError(
            _(
                "resnet_block(first_block=True) keeps the channels, but input_channels="
                "{input_channels} and num_channels={num_channels} differ. Fix: pass "
                "input_channels={num_channels}, or first_block=False to add a 1x1 convolution."
            ).format(input_channels=input_channels, num_channels=num_channels)
        )
    check_positive_int("num_residuals", num_residuals)
    if first_block:
        return [Residual(num_channels, num_channels) for _block in range(num_residuals)]
    # Not the first stage: the first block always halves the image, so it always needs
    # the 1x1 convolution, exactly as in the book.
    return make_stage(Residual, input_channels, num_channels, num_residuals, strides=2)


STEMS = ("course", "compact")


@dataclass(frozen=True)
class ResNetConfig:
    """What defines a ResNet here: blocks and channels per stage, block type, stem, I/O.

    - `blocks`: residual blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
    - `channels`: width of each stage (a block outputs `channels * expansion`, expansion
      4 for bottlenecks). Stage 1 keeps the resolution, every later stage halves it.
    - `block`: "basic" (the course's `Residual`), "bottleneck", "preact" or "resnext".
    - `stem`: "course" (7x7 conv stride 2 + BN + ReLU + 3x3 max-pool stride 2, /4) or
      "compact" (3x3 conv stride 1 + BN + ReLU, no pooling: for 28x28 inputs).
    - `shortcut`: where a stage changes the shape, "projection" (a 1x1 convolution, the course's
      and the paper's option B) or "zero_pad" (no parameters: the paper's option A).
    """

    blocks: tuple = (2, 2, 2, 2)
    channels: tuple = (64, 128, 256, 512)
    block: str = "basic"
    in_channels: int = 1
    num_classes: int = 10
    stem: str = "course"
    stem_channels: int = 64
    shortcut: str = "projection"

    def __post_init__(self):
        object.__setattr__(self, "blocks", tuple(self.blocks))
        object.__setattr__(self, "channels", tuple(self.channels))
        if not self.blocks:
            raise ValueError(_("blocks must name at least one stage, e.g. blocks=(2, 2, 2, 2)."))
        if len(self.blocks) != len(self.channels):
            raise ValueError(
                _(
                    "blocks has {stages} stages but channels has {channel_counts}: "
                    "give one channel count per stage, e.g. channels={example}."
                ).format(
                    stages=len(self.blocks),
                    channel_counts=len(self.channels),
                    example=(64, 128, 256, 512)[: len(self.blocks)],
                )
            )
        for name, values in [("blocks", self.blocks), ("channels", self.channels)]:
            for i, value in enumerate(values):
                check_positive_int(_("{name}[{i}] of {values}").format(name=name, i=i, values=values), value)
        if self.block not in BLOCKS:
            raise ValueError(
                _("block must be one of {choices}, got {block!r}.").format(
                    choices=sorted(BLOCKS), block=self.block
                )
            )
        if self.stem not in STEMS:
            raise ValueError(
                _("stem must be one of {choices}, got {stem!r}.").format(choices=list(STEMS), stem=self.stem)
            )
        if self.shortcut not in SHORTCUTS:
            raise ValueError(
                _("shortcut must be one of {choices}, got {shortcut!r}.").format(
                    choices=list(SHORTCUTS), shortcut=self.shortcut
                )
            )
        for name in ("in_channels", "num_classes", "stem_channels"):
            check_positive_int(name, getattr(self, name))

    @property
    def out_channels(self) -> int:
        return self.channels[-1] * BLOCKS[self.block].expansion

    @property
    def convs_per_block(self) -> int:
        """Convolutions in a block's branch, as the block class says (3 for bottlenecks, else 2)."""
        return BLOCKS[self.block].convs_per_block

    @property
    def depth(self) -> int:
        """Weight layers counted as the paper does: stem conv + branch convs + the fc layer."""
        return 1 + self.convs_per_block * sum(self.blocks) + 1

    @property
    def total_stride(self) -> int:
        """How many times smaller the last stage's feature map is than the input (32 for the course's)."""
        return (4 if self.stem == "course" else 1) * 2 ** (len(self.blocks) - 1)

    def replace(self, **changes) -> ResNetConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "resnet18": ResNetConfig(blocks=(2, 2, 2, 2)),
    "resnet34": ResNetConfig(blocks=(3, 4, 6, 3)),
    "resnet50": ResNetConfig(blocks=(3, 4, 6, 3), block="bottleneck"),
    "resnet101": ResNetConfig(blocks=(3, 4, 23, 3), block="bottleneck"),
    "resnet152": ResNetConfig(blocks=(3, 8, 36, 3), block="bottleneck"),
}


def preset_name(config: ResNetConfig) -> str | None:
    """'ResNet-34' when `config` has a preset's blocks, channels, block type and stem; with
    zero-padding shortcuts 'ResNet-34 (option A)'; ResNeXt blocks on ResNet-50's plan 'ResNeXt-50 (32x4d)'."""
    resnext = config.block == "resnext"
    block = "bottleneck" if resnext else config.block
    plan = (config.blocks, config.channels, block, config.stem, config.stem_channels)
    for name, p in PRESETS.items():
        if (p.blocks, p.channels, p.block, p.stem, p.stem_channels) == plan:
            title = model_name(name)
            title = title.replace("ResNet", "ResNeXt") + " (32x4d)" if resnext else title
            return title + (" (option A)" if config.shortcut == "zero_pad" else "")
    return None


def model_name(model) -> str:
    """'ResNet-50' for a preset key ('resnet50'), a config or a network; else 'ResNet (N layers)'.
    A network whose shortcuts were removed (`remove_shortcuts_`) is named as in the paper: 'plain-18'."""
    if isinstance(model, str):
        return "ResNet-" + model.lower().removeprefix("resnet").lstrip("-_")
    config = getattr(model, "config", model)
    if isinstance(config, ResNetConfig):
        if isinstance(model, nn.Module) and is_plain(model):
            return f"plain-{config.depth}"
        return preset_name(config) or f"ResNet ({config.depth} layers)"
    return type(model).__name__


class ResNet(nn.Sequential):
    """b1 (stem), b2.. (stages), [final BN-ReLU for pre-activation], pool, flatten, fc.

    Indexing and slicing work as on any `nn.Sequential`: `net[0]` is the stem, and `net[:5]`
    is a plain `nn.Sequential` of the first five layers (with their weights).
    """

    def __init__(self, config: ResNetConfig):
        c = config
        layers = {}
        if c.stem == "course":
            layers["b1"] = nn.Sequential(
                nn.Conv2d(c.in_channels, c.stem_channels, kernel_size=7, stride=2, padding=3),
                nn.BatchNorm2d(c.stem_channels),
                nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            )
        else:
            layers["b1"] = nn.Sequential(
                nn.Conv2d(c.in_channels, c.stem_channels, kernel_size=3, stride=1, padding=1),
                nn.BatchNorm2d(c.stem_channels),
                nn.ReLU(),
            )
        block = BLOCKS[c.block]
        channels_in = c.stem_channels
        for i, (n, width) in enumerate(zip(c.blocks, c.channels, strict=True)):
            layers[f"b{i + 2}"] = nn.Sequential(
                *make_stage(block, channels_in, width, n, strides=1 if i == 0 else 2, shortcut=c.shortcut)
            )
            channels_in = width * block.expansion
        if block is PreActResidual:
            layers["final_act"] = nn.Sequential(nn.BatchNorm2d(channels_in), nn.ReLU())
        layers["pool"] = nn.AdaptiveAvgPool2d((1, 1))
        layers["flatten"] = nn.Flatten()
        layers["fc"] = nn.Linear(channels_in, c.num_classes)
        super().__init__(OrderedDict(layers))
        self.config = config

    def __getitem__(self, idx):
        # nn.Sequential builds a slice with `type(self)(OrderedDict(...))`, but a ResNet is built
        # from a config: a slice is a plain Sequential of the same layers.
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)

    @property
    def stages(self) -> list:
        return [m for name, m in self.named_children() if name.startswith("b") and name != "b1"]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for name, module in self.named_children():
            if name in ("pool", "flatten", "fc"):
                break
            x = module(x)
        return x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def zero_init_residual_(self):
        """Zero the last layer of every block's residual branch (torchvision's `zero_init_residual`).

        Every block with an identity shortcut then starts as the identity mapping; the first
        block of a stage, whose shortcut is a 1x1 projection, starts as that projection (+ ReLU).
        """
        for module in self.modules():
            if isinstance(module, ResidualBlock):
                module.zero_init_last()
        return self


def build_resnet(name_or_config="resnet18", in_channels=None, num_classes=None, **changes):
    """A `ResNet` from a preset name ('resnet18'..'resnet152') or a `ResNetConfig`.

    Presets default to 1 input channel and 10 classes (Fashion-MNIST); pass
    `in_channels=3, num_classes=1000` for ImageNet. Keyword `changes` override config
    fields, e.g. `build_resnet("resnet18", stem="compact")`.
    """
    if isinstance(name_or_config, ResNetConfig):
        config = name_or_config
    elif isinstance(name_or_config, str):
        key = name_or_config.lower().replace("-", "").replace("_", "")
        if key not in PRESETS:
            raise ValueError(
                _("unknown ResNet preset {name!r}; choose one of {choices} or pass a ResNetConfig.").format(
                    name=name_or_config, choices=list(PRESETS)
                )
            )
        config = PRESETS[key]
    else:
        raise TypeError(
            _("build_resnet takes a preset name or a ResNetConfig, got {type_name}.").format(
                type_name=type(name_or_config).__name__
            )
        )
    given = {"in_channels": in_channels, "num_classes": num_classes}
    changes.update({name: value for name, value in given.items() if value is not None})
    return ResNet(config.replace(**changes))


# --- Plain twins and networks of a given depth (He et al. 2015, section 4.2) ---------------


class PlainBlock(nn.Sequential):
    """A residual block with its shortcut cut away: the branch's layers, one after the other.

    `PlainBlock.from_residual(block)` reuses the block's own layers (same weights), so a
    plain network and its residual twin differ in nothing but the shortcuts:
    - `Residual`: conv-BN-ReLU, conv-BN, (+ x), ReLU  ->  conv-BN-ReLU, conv-BN-ReLU
    - `Bottleneck`: the same with three convolutions
    - `PreActResidual`: BN-ReLU-conv, BN-ReLU-conv, (+ x)  ->  the same without + x
    """

    projection = None  # no shortcut, so no 1x1 projection either

    def branch_layers(self) -> list[nn.Module]:
        """The layers, in order: a plain block is nothing but its branch."""
        return list(self)

    # The layer a residual block's `zero_init_last` zeroes, found by the same search.
    last_layer = ResidualBlock.last_layer

    @classmethod
    def from_residual(cls, block: nn.Module) -> PlainBlock:
        if not isinstance(block, ResidualBlock):
            raise TypeError(
                _("PlainBlock.from_residual takes a residual block, got {type_name}.").format(
                    type_name=type(block).__name__
                )
            )
        return cls(*block.branch_layers(), *([nn.ReLU()] if block.post_activation else []))


def valid_depths(block: str = "basic", count: int = 6) -> list[int]:
    """The first `count` depths a 3-stage network of `block`s can have: 8, 14, 20, ... for basic."""
    per_stage = 3 * ResNetConfig(block=block).convs_per_block
    return [per_stage * n + 2 for n in range(1, count + 1)]


def depth_config(
    depth: int, width: int = 16, block: str = "basic", in_channels: int = 1, num_classes: int = 10
) -> ResNetConfig:
    """The `ResNetConfig` of a 3-stage network with `depth` weight layers (He et al. 2015, 4.2).

    A compact 3x3 stem, stages of widths `width`, `2 * width`, `4 * width` and the same number
    of blocks n = (depth - 2) / 6 for basic and pre-activation blocks, (depth - 2) / 9 for
    bottlenecks, then global average pooling and a linear layer. The paper's CIFAR networks
    (widths 16/32/64) use zero-padded identity shortcuts where the shape changes (option A);
    these use the course's 1x1 projections there (two per network; three with bottleneck or
    ResNeXt blocks, whose first block widens the stem's `width` channels 4x) unless you ask for
    option A: `depth_config(...).replace(shortcut="zero_pad")`.
    """
    if block not in BLOCKS:
        raise ValueError(
            _("block must be one of {choices}, got {block!r}.").format(choices=sorted(BLOCKS), block=block)
        )
    per_stage = 3 * ResNetConfig(block=block).convs_per_block
    n, remainder = divmod(depth - 2, per_stage) if isinstance(depth, int) else (0, 0)
    if isinstance(depth, bool) or not isinstance(depth, int) or n < 1 or remainder:
        raise ValueError(
            _(
                "a 3-stage network of {block!r} blocks has {per_stage}n + 2 weight layers; "
                "depth={depth!r} is not one of them. Try one of {depths}, ..."
            ).format(block=block, per_stage=per_stage, depth=depth, depths=valid_depths(block))
        )
    return ResNetConfig(
        blocks=(n, n, n),
        channels=(width, 2 * width, 4 * width),
        block=block,
        stem="compact",
        stem_channels=width,
        in_channels=in_channels,
        num_classes=num_classes,
    )


def remove_shortcuts_(net: ResNet) -> ResNet:
    """Replace every residual block of `net` by its `PlainBlock` (in place); returns `net`."""
    for stage in net.stages:
        for i, block in enumerate(stage):
            stage[i] = PlainBlock.from_residual(block)
    return net


def is_plain(net: nn.Module) -> bool:
    """True for a plain twin (`remove_shortcuts_`): a network with `PlainBlock`s."""
    return any(isinstance(m, PlainBlock) for m in net.modules())


def build_depth_net(
    depth: int,
    width: int = 16,
    block: str = "basic",
    plain: bool = False,
    in_channels: int = 1,
    num_classes: int = 10,
) -> ResNet:
    """A residual network with `depth` weight layers, or with `plain=True` the same without shortcuts."""
    net = build_resnet(depth_config(depth, width, block, in_channels, num_classes))
    return remove_shortcuts_(net) if plain else net


def add_blocks(net: ResNet, per_stage: int = 1, plain: bool = False) -> ResNet:
    """A deeper copy of `net`: `per_stage` new blocks at the end of every stage.

    The new blocks keep the shape (stride 1, the stage's width). Residual ones have their
    branch zeroed (`zero_init_last`, torchvision's `zero_init_residual`), so each starts as
    the identity mapping; plain ones are freshly initialised layers. They take the device, dtype
    and train/eval mode of `net`. `net` is not changed.
    """
    check_positive_int("per_stage", per_stage)
    deeper = copy.deepcopy(net)
    block = BLOCKS[net.config.block]
    p = next(net.parameters())
    for stage, width in zip(deeper.stages, net.config.channels, strict=True):
        for _block in range(per_stage):
            new = block(width * block.expansion, width)
            new = PlainBlock.from_residual(new) if plain else new.zero_init_last()
            stage.append(new.to(device=p.device, dtype=p.dtype).train(net.training))
    deeper.config = net.config.replace(blocks=tuple(n + per_stage for n in net.config.blocks))
    return deeper
