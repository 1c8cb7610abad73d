"""Measuring a network: parameters, weight layers, FLOPs, a per-layer table, torchinfo's summary.

Everything here takes any `nn.Module`; the residual blocks of `blocks.py` mark their 1x1
shortcut with `projection`, which the paper does not count as a weight layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import torch
from torch import nn

from .blocks import ResidualBlock, ZeroPadShortcut
from .models import ResNet, ResNetConfig

__all__ = [
    "keep_modes",
    "count_params",
    "weight_layers",
    "count_weight_layers",
    "count_flops",
    "summary",
    "stage_table",
    "max_abs_difference",
    "stage_rows",
    "smallest_resolution",
]


@contextmanager
def keep_modes(*modules: nn.Module) -> Iterator[None]:
    """Give every submodule of `modules` its train/eval mode back when the block ends, even after
    an error. `net.train(was_training)` would put *all* layers in one mode, and so undo, e.g.,
    BatchNorm layers frozen in eval mode inside a network that trains:

        with keep_modes(net):
            net.eval()
            ...
    """
    modes = {m: m.training for module in modules for m in module.modules()}
    try:
        yield
    finally:
        for m, training in modes.items():
            m.training = training


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def weight_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, layer) of every convolution and linear layer in forward order, except the 1x1
    projections on shortcuts: the layers the paper counts as the network's depth."""
    projections = {id(m.projection) for m in net.modules() if getattr(m, "projection", None) is not None}
    return [
        (name, m)
        for name, m in net.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in projections
    ]


def count_weight_layers(module: nn.Module) -> int:
    """How many weight layers the paper would count (`len(weight_layers(module))`)."""
    return len(weight_layers(module))


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

    with keep_modes(module), torch.no_grad(), FlopCounterMode(display=False) as counter:
        module.eval()
        module(_example_input(module, input_size))
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
    with keep_modes(net), torch.no_grad():
        net.eval()
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
    return rows


@torch.no_grad()
def max_abs_difference(net_a: nn.Module, net_b: nn.Module, X: torch.Tensor, batch_size: int = 512) -> float:
    """max |net_a(X) - net_b(X)| with both networks in eval mode (BN uses its running stats)."""
    with keep_modes(net_a, net_b):
        net_a.eval(), net_b.eval()
        return max(float((net_a(xb) - net_b(xb)).abs().max()) for xb in X.split(batch_size))


# --- Shapes and FLOPs from kernel, stride and padding (no forward pass) ----------------------


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _window(size: tuple, kernel, stride, padding, dilation=1) -> tuple:
    """Output height, width of a convolution or pooling window (floor mode, as PyTorch's default)."""
    windows = zip(size, _pair(kernel), _pair(stride), _pair(padding), _pair(dilation), strict=True)
    return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1 for s, k, st, p, d in windows)


def _walk(module: nn.Module, shape: tuple) -> tuple[tuple, int]:
    """(output shape, FLOPs) of `module` for an input of `shape` (without the batch dimension)."""
    if isinstance(module, nn.Conv2d):
        if isinstance(module.padding, str):
            raise TypeError("the explorer sizes convolutions with numeric padding only.")
        hw = _window(shape[1:], module.kernel_size, module.stride, module.padding, module.dilation)
        kh, kw = module.kernel_size
        macs = module.out_channels * hw[0] * hw[1] * (module.in_channels // module.groups) * kh * kw
        return (module.out_channels, *hw), 2 * macs
    if isinstance(module, nn.MaxPool2d):
        if module.ceil_mode:
            raise TypeError("the explorer sizes max-pooling in floor mode only.")
        hw = _window(shape[1:], module.kernel_size, module.stride, module.padding, module.dilation)
        return (shape[0], *hw), 0
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return (shape[0], *_pair(module.output_size)), 0
    if isinstance(module, nn.Flatten):
        numel = 1
        for s in shape:
            numel *= s
        return (numel,), 0
    if isinstance(module, nn.Linear):
        return (module.out_features,), 2 * module.in_features * module.out_features
    if isinstance(module, (nn.BatchNorm2d, nn.ReLU)):
        return shape, 0
    if isinstance(module, ZeroPadShortcut):  # option A: subsample, pad channels; no arithmetic
        hw = tuple(-(-s // module.stride) for s in shape[1:])
        return (module.out_channels, *hw), 0
    if isinstance(module, ResidualBlock):
        # The branch runs layer after layer; the shortcut (1x1 projection or zero padding) takes
        # the block's input. A convolution's `groups` (ResNeXt) is in the Conv2d formula above.
        out, flops = _walk(nn.Sequential(*module.branch_layers()), shape)
        if module.shortcut_module is not None:
            shortcut, f = _walk(module.shortcut_module, shape)
            flops += f
            if shortcut != out:
                raise RuntimeError(f"shortcut {shortcut} and branch {out} differ in {type(module).__name__}")
        return out, flops
    if isinstance(module, nn.Sequential):
        flops = 0
        for layer in module:
            shape, f = _walk(layer, shape)
            flops += f
        return shape, flops
    raise TypeError(f"the explorer cannot size a {type(module).__name__} layer.")


def _skeleton(config: ResNetConfig) -> ResNet:
    """The network of `config` with at most 2 blocks per stage, on the meta device (no memory)."""
    return _build_on_meta(config.replace(blocks=tuple(min(n, 2) for n in config.blocks)))


@lru_cache(maxsize=128)
def _build_on_meta(config: ResNetConfig) -> ResNet:
    with torch.device("meta"):
        return ResNet(config)


def stage_rows(config: ResNetConfig, resolution: int) -> tuple[list, str | None]:
    """`stage_table`'s rows for a square input, computed without running the network, and the
    stage that gets a 1x1 image to halve (None when every stage has pixels to work on).

    Shapes and FLOPs come from each layer's kernel, stride and padding with the formulas of
    `torch.utils.flop_counter` (a multiply-add counts 2; biases, BN, ReLU, pooling count 0), on
    a meta-device skeleton with at most two blocks per stage (the later blocks of a stage are
    all equal): milliseconds even for ResNet-152. The tests check every row against `stage_table`.
    """
    net = _skeleton(config)
    shape = (config.in_channels, resolution, resolution)
    rows = []
    for name, layer in net.named_children():
        params, layer_input = count_params(layer), shape
        if name in ("b1", "final_act", "pool", "flatten", "fc"):
            shape, flops = _walk(layer, shape)
        else:  # a stage: the first block, then n - 1 copies of the second
            n = config.blocks[int(name[1:]) - 2]
            shape, flops = _walk(layer[0], shape)
            if n > 1:
                shape, block_flops = _walk(layer[1], shape)
                params += (n - 2) * count_params(layer[1])  # layer holds the first 2 blocks
                flops += (n - 1) * block_flops
            halves = any(m.stride != (1, 1) for m in layer[0].modules() if isinstance(m, nn.Conv2d))
            if halves and layer_input[1:] == (1, 1):
                return rows, name
        if min(shape) < 1:
            return rows, name
        rows.append({"layer": name, "output shape": (1, *shape), "params": params, "flops": flops})
    return rows, None


def smallest_resolution(config: ResNetConfig, limit: int = 4096) -> int | None:
    """The smallest square input every stage of `config` can work on (None above `limit`)."""
    for resolution in range(1, limit + 1):
        if stage_rows(config, resolution)[1] is None:
            return resolution
    return None
