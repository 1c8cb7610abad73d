"""Measuring a network: parameters, weight layers, FLOPs, a per-layer table, torchinfo's summary.

Everything here takes any `nn.Module`; the residual blocks of `blocks.py` mark their 1x1
shortcut with `projection`, which the paper does not count as a weight layer. Every FLOP is
counted by PyTorch's own `torch.utils.flop_counter.FlopCounterMode`: `count_flops` and the
explorer's `stage_rows` run the layers on the meta device (shapes only, no arithmetic).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import torch
from torch import nn

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


def count_flops(module: nn.Module, input_size, backward: bool = False) -> int:
    """FLOPs of one forward pass (a multiply-add counts 2), counted by `torch.utils.flop_counter`.

    With `backward=True`: the FLOPs of a whole training step, the forward pass and the backward
    pass that computes every trainable parameter's gradient. The input needs no gradient, so the
    first layer computes none for its input: the count is below the "3 x forward" rule of thumb.

    Convolutions, matmuls and linear layers are counted; biases, BN, ReLU, pooling, additions and
    the optimizer's update are not (they are < 1% for a ResNet). The layers run on the meta
    device, with shape-only copies of the parameters and buffers: nothing is computed, and the
    network (on any device), its gradients and its BN statistics are left as they were.
    """
    from torch.func import functional_call
    from torch.utils.flop_counter import FlopCounterMode

    tensors = dict(module.named_parameters())
    tensors.update(module.named_buffers())
    on_meta = {name: _shape_only(t) for name, t in tensors.items()}
    dtype = next((t.dtype for t in on_meta.values() if t.is_floating_point()), torch.float32)
    x = torch.zeros(tuple(input_size), device="meta", dtype=dtype)
    trainable = [t for t in on_meta.values() if t.requires_grad]
    with keep_modes(module), torch.set_grad_enabled(backward), FlopCounterMode(display=False) as counter:
        module.eval()  # the same FLOPs as in training; BN's running statistics are left alone
        y = functional_call(module, on_meta, (x,))
        if backward and trainable:
            torch.autograd.grad(y.sum(), trainable, allow_unused=True)
    return int(counter.get_total_flops())


def _shape_only(t: torch.Tensor) -> torch.Tensor:
    """A tensor of `t`'s shape and dtype on the meta device (no memory), needing a gradient where `t` does."""
    return torch.empty_like(t, device="meta").requires_grad_(t.requires_grad)


def summary(module: nn.Module, input_size, depth: int = 2, **kwargs):
    """torchinfo's summary: output shape, parameters and mult-adds per layer."""
    import torchinfo

    kwargs.setdefault("col_names", ("output_size", "num_params", "mult_adds"))
    kwargs.setdefault("row_settings", ("var_names",))
    kwargs.setdefault("verbose", 0)
    return torchinfo.summary(module, input_size=tuple(input_size), depth=depth, **kwargs)


def stage_table(net: nn.Module, input_size) -> list[dict]:
    """One row per top-level layer: name, output shape, parameters, forward FLOPs."""
    rows = []
    x = _example_input(net, input_size)
    with keep_modes(net), torch.no_grad():
        net.eval()
        for name, layer in net.named_children():
            x, flops = _counted(layer, x)
            rows.append(
                {"layer": name, "output shape": tuple(x.shape), "params": count_params(layer), "flops": flops}
            )
    return rows


def _example_input(module: nn.Module, input_size) -> torch.Tensor:
    """Zeros of `input_size` on the device and in the dtype of `module`'s parameters."""
    p = next(module.parameters(), None)
    if p is None:
        return torch.zeros(tuple(input_size))
    return torch.zeros(tuple(input_size), device=p.device, dtype=p.dtype)


def _counted(layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """`layer(x)` and the FLOPs it took (`torch.utils.flop_counter`: a multiply-add counts 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        y = layer(x)
    return y, int(counter.get_total_flops())


@torch.no_grad()
def max_abs_difference(net_a: nn.Module, net_b: nn.Module, X: torch.Tensor, batch_size: int = 512) -> float:
    """max |net_a(X) - net_b(X)| with both networks in eval mode (BN uses its running stats)."""
    with keep_modes(net_a, net_b):
        net_a.eval(), net_b.eval()
        return max(float((net_a(xb) - net_b(xb)).abs().max()) for xb in X.split(batch_size))


# --- The explorer's rows, from a skeleton on the meta device --------------------------------


@lru_cache(maxsize=128)
def _skeleton(config: ResNetConfig, per_stage: int) -> ResNet:
    """The network of `config` with at most `per_stage` blocks per stage, on the meta device (no
    memory), in eval mode (BN then accepts a 1x1 image of a single example)."""
    blocks = tuple(min(n, per_stage) for n in config.blocks)
    with torch.device("meta"):
        return ResNet(config.replace(blocks=blocks)).eval()


def _meta_input(config: ResNetConfig, resolution: int) -> torch.Tensor:
    return torch.zeros(1, config.in_channels, resolution, resolution, device="meta")


def _stages(config: ResNetConfig) -> dict[str, int]:
    """{stage name: blocks}, with the names `ResNet` gives its stages: b2, b3, ..."""
    return {f"b{i + 2}": n for i, n in enumerate(config.blocks)}


def _nothing_to_halve(stage: nn.Sequential, x: torch.Tensor) -> bool:
    """True when `stage` would halve `x` but `x` is a single pixel already."""
    halves = any(m.stride != (1, 1) for m in stage[0].modules() if isinstance(m, nn.Conv2d))
    return halves and tuple(x.shape[-2:]) == (1, 1)


@torch.no_grad()
def stage_rows(config: ResNetConfig, resolution: int) -> tuple[list, str | None]:
    """`stage_table`'s rows for a square input, and the stage that gets a 1x1 image to halve
    (None when every stage has pixels to work on).

    The rows are counted as `stage_table` counts them, on a meta-device skeleton with at most two
    blocks per stage: the later blocks of a stage are all equal, so the second block's FLOPs and
    parameters count n - 1 times. About 0.1 s even for ResNet-152, fast enough to follow a slider;
    the tests check every row against `stage_table` on the whole network.
    """
    net = _skeleton(config, 2)
    blocks = _stages(config)
    x = _meta_input(config, resolution)
    rows = []
    for name, layer in net.named_children():
        if name not in blocks:  # the stem, pooling, flatten, fc (and a pre-activation net's final BN-ReLU)
            x, flops = _counted(layer, x)
            params = count_params(layer)
        elif _nothing_to_halve(layer, x):
            return rows, name
        else:  # a stage: the first block, then n - 1 copies of the second
            x, flops = _counted(layer[0], x)
            params = count_params(layer[0])
            if blocks[name] > 1:
                x, block_flops = _counted(layer[1], x)
                flops += (blocks[name] - 1) * block_flops
                params += (blocks[name] - 1) * count_params(layer[1])
        rows.append({"layer": name, "output shape": tuple(x.shape), "params": params, "flops": flops})
    return rows, None


@lru_cache(maxsize=128)
@torch.no_grad()
def smallest_resolution(config: ResNetConfig, limit: int = 4096) -> int | None:
    """The smallest square input every stage of `config` can work on (None above `limit`).

    A larger input never makes a stage's input smaller, so the answer is found by bisection, with
    only the shapes run through a skeleton of one block per stage.
    """

    stages = _stages(config)

    def fits(resolution: int) -> bool:
        x = _meta_input(config, resolution)
        for name, layer in _skeleton(config, 1).named_children():
            if name in stages and _nothing_to_halve(layer, x):
                return False
            x = layer(x)
        return True

    if not fits(limit):
        return None
    too_small, big_enough = 0, limit
    while big_enough - too_small > 1:
        middle = (too_small + big_enough) // 2
        if fits(middle):
            big_enough = middle
        else:
            too_small = middle
    return big_enough
