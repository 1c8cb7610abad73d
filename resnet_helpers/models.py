"""ResNet networks: the course's `resnet_block`, a configurable `ResNet` and its presets.

`build_resnet("resnet18")` is the course's ResNet-18 exactly (same layers, same order,
11,178,378 parameters for 1 input channel and 10 classes); other presets use the block
counts of He et al. 2015, Table 1. The network is an `nn.Sequential` named like the book
(`b1` stem, `b2`.. stages, then `pool`, `flatten`, `fc`), so `for layer in net:` walks it
stage by stage as in the book, and it has timm's `forward_features` / `forward_head`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from .blocks import BLOCKS, PreActResidual, Residual

__all__ = [
    "resnet_block",
    "make_stage",
    "ResNetConfig",
    "ResNet",
    "PRESETS",
    "build_resnet",
    "preset_name",
    "count_params",
    "count_weight_layers",
    "count_flops",
    "summary",
    "stage_table",
]


def make_stage(block, input_channels, num_channels, num_blocks, strides=1):
    """A list of `num_blocks` blocks (torchvision's `_make_layer`).

    The first block takes `input_channels`, applies `strides`, and gets a 1x1 projection
    shortcut exactly when the shape changes; the others keep the shape.
    """
    if isinstance(block, str):
        block = BLOCKS[block]
    if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks < 1:
        raise ValueError(f"num_blocks (residual blocks per stage) must be >= 1, got {num_blocks!r}.")
    out_channels = num_channels * block.expansion
    needs_projection = strides != 1 or input_channels != out_channels
    blocks = [block(input_channels, num_channels, use_1x1conv=needs_projection, strides=strides)]
    blocks += [block(out_channels, num_channels) for _ in range(num_blocks - 1)]
    return blocks


def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    """The course's `resnet_block`: a list of `num_residuals` `Residual` blocks.

    The first block of every stage but the first halves height and width (stride 2) and
    changes the channels through a 1x1 convolution; `first_block=True` keeps both (the
    stem's max-pool has already halved the image).
    """
    if first_block and input_channels != num_channels:
        raise ValueError(
            f"resnet_block(first_block=True) keeps the channels, but input_channels="
            f"{input_channels} and num_channels={num_channels} differ. Fix: pass "
            f"input_channels={num_channels}, or first_block=False to add a 1x1 convolution."
        )
    if isinstance(num_residuals, bool) or not isinstance(num_residuals, int) or num_residuals < 1:
        raise ValueError(f"num_residuals must be a positive integer, got {num_residuals!r}.")
    if first_block:
        return [Residual(num_channels, num_channels) for _ in range(num_residuals)]
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
    - `block`: "basic" (the course's `Residual`), "bottleneck" or "preact".
    - `stem`: "course" (7x7 conv stride 2 + BN + ReLU + 3x3 max-pool stride 2, /4) or
      "compact" (3x3 conv stride 1 + BN + ReLU, no pooling: for 28x28 inputs).
    """

    blocks: tuple = (2, 2, 2, 2)
    channels: tuple = (64, 128, 256, 512)
    block: str = "basic"
    in_channels: int = 1
    num_classes: int = 10
    stem: str = "course"
    stem_channels: int = 64

    def __post_init__(self):
        object.__setattr__(self, "blocks", tuple(self.blocks))
        object.__setattr__(self, "channels", tuple(self.channels))
        if not self.blocks:
            raise ValueError("blocks must name at least one stage, e.g. blocks=(2, 2, 2, 2).")
        if len(self.blocks) != len(self.channels):
            raise ValueError(
                f"blocks has {len(self.blocks)} stages but channels has {len(self.channels)}: "
                f"give one channel count per stage, e.g. channels={(64, 128, 256, 512)[: len(self.blocks)]}."
            )
        for name, values in [("blocks", self.blocks), ("channels", self.channels)]:
            for v in values:
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise ValueError(f"{name} must hold positive integers, got {values!r}.")
        if self.block not in BLOCKS:
            raise ValueError(f"block must be one of {sorted(BLOCKS)}, got {self.block!r}.")
        if self.stem not in STEMS:
            raise ValueError(f"stem must be one of {list(STEMS)}, got {self.stem!r}.")
        for name in ("in_channels", "num_classes", "stem_channels"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}.")

    @property
    def out_channels(self) -> int:
        return self.channels[-1] * BLOCKS[self.block].expansion

    @property
    def depth(self) -> int:
        """Weight layers counted as the paper does: stem conv + branch convs + the fc layer."""
        convs_per_block = 3 if self.block == "bottleneck" else 2
        return 1 + convs_per_block * sum(self.blocks) + 1

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
    """'ResNet-34' when `config` has a preset's blocks, channels, block type and stem."""
    for name, preset in PRESETS.items():
        if (preset.blocks, preset.channels, preset.block, preset.stem, preset.stem_channels) == (
            config.blocks,
            config.channels,
            config.block,
            config.stem,
            config.stem_channels,
        ):
            return "ResNet-" + name.removeprefix("resnet")
    return None


class ResNet(nn.Sequential):
    """b1 (stem), b2.. (stages), [final BN-ReLU for pre-activation], pool, flatten, fc."""

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
                *make_stage(block, channels_in, width, n, strides=1 if i == 0 else 2)
            )
            channels_in = width * block.expansion
        if block is PreActResidual:
            layers["final_act"] = nn.Sequential(nn.BatchNorm2d(channels_in), nn.ReLU())
        layers["pool"] = nn.AdaptiveAvgPool2d((1, 1))
        layers["flatten"] = nn.Flatten()
        layers["fc"] = nn.Linear(channels_in, c.num_classes)
        super().__init__()
        for name, module in layers.items():
            self.add_module(name, module)
        self.config = config

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
        """Zero every block's residual branch: each block starts as the identity mapping."""
        for module in self.modules():
            if hasattr(module, "zero_residual_"):
                module.zero_residual_()
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
                f"unknown ResNet preset {name_or_config!r}; choose one of {list(PRESETS)} "
                "or pass a ResNetConfig."
            )
        config = PRESETS[key]
    else:
        raise TypeError(
            f"build_resnet takes a preset name or a ResNetConfig, got {type(name_or_config).__name__}."
        )
    if in_channels is not None:
        changes["in_channels"] = in_channels
    if num_classes is not None:
        changes["num_classes"] = num_classes
    if changes:
        config = config.replace(**changes)
    return ResNet(config)


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def count_weight_layers(module: nn.Module) -> int:
    """Convolution and linear layers, not counting 1x1 shortcut projections (the paper's depth)."""
    projections = {id(m.projection) for m in module.modules() if getattr(m, "projection", None) is not None}
    return sum(
        1 for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in projections
    )


def _example_input(module: nn.Module, input_size) -> torch.Tensor:
    try:
        p = next(module.parameters())
        device, dtype = p.device, p.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    return torch.zeros(tuple(input_size), device=device, dtype=dtype)


def count_flops(module: nn.Module, input_size) -> int:
    """FLOPs of one forward pass (a multiply-add counts 2), by `torch.utils.flop_counter`.

    Convolutions, matmuls and linear layers are counted; BN, ReLU, pooling and additions
    are not (they are < 1% for a ResNet). A model built on the meta device
    (`with torch.device("meta"): net = build_resnet(...)`) is counted without memory or time.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = module.training
    module.eval()
    try:
        x = _example_input(module, input_size)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(x)
    finally:
        module.train(was_training)
    return int(counter.get_total_flops())


def summary(module: nn.Module, input_size, depth: int = 2, **kwargs):
    """torchinfo's summary: output shape, parameters and mult-adds per layer."""
    import torchinfo

    kwargs.setdefault("col_names", ("output_size", "num_params", "mult_adds"))
    kwargs.setdefault("row_settings", ("var_names",))
    kwargs.setdefault("verbose", 0)
    return torchinfo.summary(module, input_size=tuple(input_size), depth=depth, **kwargs)


def stage_table(net: nn.Module, input_size) -> list[dict]:
    """One row per top-level layer: name, output shape, parameters, forward FLOPs."""
    from torch.utils.flop_counter import FlopCounterMode

    rows = []
    x = _example_input(net, input_size)
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            for name, layer in net.named_children():
                with FlopCounterMode(display=False) as counter:
                    x = layer(x)
                rows.append(
                    {
                        "layer": name,
                        "output shape": tuple(x.shape),
                        "params": count_params(layer),
                        "flops": int(counter.get_total_flops()),
                    }
                )
    finally:
        net.train(was_training)
    return rows
