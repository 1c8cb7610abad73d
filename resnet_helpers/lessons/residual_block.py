"""The block explorer (notebook 02): one residual block's shapes, parameters and FLOPs.

`explore_block(...)` is the widget's callback and a plain function: it takes plain values
and returns a dict. An impossible combination (say, the channels change but there is no
1x1 convolution on the shortcut) does not raise: the dict's `"error"` holds the block's
own ValueError message, which names the values and the fix. `block_explorer_panel()`
wraps the callback in ipywidgets controls.

`input_gradient_norms(...)` measures the shortcut's effect on the gradient: the norm of
the gradient at a block's input, with the shortcut and without it (the plain block).
"""

from __future__ import annotations

import html

import torch
from torch import nn

from ..blocks import BLOCK_LABELS, BLOCKS, _check_positive_int
from ..measure import count_params
from ..models import PlainBlock
from .widgets import error_box

__all__ = [
    "explore_block",
    "compare_blocks",
    "format_block_report",
    "block_explorer_panel",
    "input_gradient_norms",
]



def _layer_kind(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        k = "x".join(map(str, module.kernel_size))
        stride = f", stride {module.stride[0]}" if module.stride != (1, 1) else ""
        return f"conv {k}{stride}"
    if isinstance(module, nn.BatchNorm2d):
        return "batch norm"
    return type(module).__name__


def _check_block_type(block: str) -> None:
    if block not in BLOCKS:
        raise ValueError(f"block type must be one of {list(BLOCKS)}, got {block!r}.")


def _num_channels(block: str, output_channels: int) -> int:
    """The block's `num_channels` argument that gives `output_channels` output channels."""
    expansion = BLOCKS[block].expansion
    if output_channels % expansion:
        lower = output_channels // expansion * expansion
        choices = f"{lower} or {lower + expansion}" if lower else f"{expansion}"
        raise ValueError(
            f"{BLOCKS[block].__name__}: the block outputs {expansion} x the width of its 3x3 "
            f"convolution, so output channels must be a multiple of {expansion}, got {output_channels}. "
            f"Fix: use output channels {choices}."
        )
    return output_channels // expansion


def explore_block(
    block: str = "basic",
    input_channels: int = 64,
    output_channels: int = 64,
    strides: int = 1,
    use_1x1conv: bool = False,
    size: int = 56,
    batch_size: int = 1,
) -> dict:
    """Shapes, parameters and FLOPs of one residual block, layer by layer.

    Args:
        block: "basic" (the course's `Residual`), "bottleneck" or "preact".
        input_channels, output_channels: channels in and out of the block. A bottleneck's
            3x3 convolution is `output_channels // 4` wide.
        strides: stride of the block (2 halves height and width).
        use_1x1conv: put a 1x1 convolution on the shortcut.
        size: height = width of the input; batch_size: images in the batch.

    Returns a dict with the arguments, `"error"` (None, or the ValueError message of an
    impossible combination, in which case nothing else is filled in), and otherwise
    `"class"`, `"input shape"`, `"output shape"`, `"layers"` (one row a layer in the order
    `forward` runs them: layer, kind, output shape, params, flops; the identity shortcut
    is a row with 0 parameters and 0 FLOPs), `"params"` and `"flops"` (totals). FLOPs of
    one forward pass, a multiply-add counting 2, as `count_flops` counts them. The block is
    built on the meta device: no memory, no arithmetic, instant even for big blocks.
    """
    result = {
        "block": block,
        "input_channels": input_channels,
        "output_channels": output_channels,
        "strides": strides,
        "use_1x1conv": use_1x1conv,
        "size": size,
        "batch_size": batch_size,
        "error": None,
    }
    try:
        _check_block_type(block)
        for name in ("input_channels", "output_channels", "strides", "size", "batch_size"):
            _check_positive_int(name, result[name])
        num_channels = _num_channels(block, output_channels)
        with torch.device("meta"):
            blk = BLOCKS[block](input_channels, num_channels, use_1x1conv=use_1x1conv, strides=strides)
    except ValueError as e:
        result["error"] = str(e)
        return result
    result.update(_measure(blk, (batch_size, input_channels, size, size)))
    return result


def _measure(blk: nn.Module, input_shape: tuple) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    blk.eval()
    shapes = {}  # leaf name -> output shape, in the order forward runs the leaves

    def record(name):
        def hook(module, args, out):
            shapes.setdefault(name, tuple(out.shape))  # a hook that returns a value replaces the output

        return hook

    leaves = [(name, m) for name, m in blk.named_modules() if name and not list(m.children())]
    hooks = [module.register_forward_hook(record(name)) for name, module in leaves]
    x = torch.zeros(input_shape, device="meta")
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            y = blk(x)
    finally:
        for hook in hooks:
            hook.remove()
    counts = counter.get_flop_counts()
    prefix = type(blk).__name__
    modules = dict(blk.named_modules())
    rows = [
        {
            "layer": name,
            "kind": _layer_kind(modules[name]),
            "output shape": shape,
            "params": count_params(modules[name]),
            "flops": int(sum(counts.get(f"{prefix}.{name}", {}).values())),
        }
        for name, shape in shapes.items()
    ]
    if blk.projection is None:
        rows.append(
            {"layer": "shortcut", "kind": "identity", "output shape": input_shape, "params": 0, "flops": 0}
        )
    return {
        "class": prefix,
        "input shape": tuple(input_shape),
        "output shape": tuple(y.shape),
        "layers": rows,
        "params": count_params(blk),
        "flops": int(counter.get_total_flops()),
    }


def compare_blocks(input_channels=256, output_channels=256, size=56, strides=1, use_1x1conv=False) -> list:
    """One row a block type (basic, bottleneck, pre-activation) at the same input and output."""
    rows = []
    for block in BLOCKS:
        r = explore_block(block, input_channels, output_channels, strides, use_1x1conv, size)
        rows.append(
            {
                "block": block,
                "class": r.get("class"),
                "output shape": r.get("output shape"),
                "params": r.get("params"),
                "flops": r.get("flops"),
                "error": r["error"],
            }
        )
    return rows


def format_block_report(result: dict) -> str:
    """The explorer's answer as text: a heading, one line a layer, the totals (or the error)."""
    if result["error"]:
        return f"Impossible combination: {result['error']}"
    lines = [
        f"{result['class']}: input {result['input shape']} -> output {result['output shape']}",
        "",
        f"{'layer':<10} {'kind':<18} {'output shape':<22} {'params':>11} {'FLOPs':>15}",
    ]
    for row in result["layers"]:
        lines.append(
            f"{row['layer']:<10} {row['kind']:<18} {str(row['output shape']):<22} "
            f"{row['params']:>11,} {row['flops']:>15,}"
        )
    lines.append(f"{'total':<10} {'':<18} {'':<22} {result['params']:>11,} {result['flops']:>15,}")
    return "\n".join(lines)


def block_explorer_panel(**defaults):
    """The explorer as an ipywidgets panel: controls on top, the report below.

    `defaults` set the controls' starting values (the names of `explore_block`). The panel
    keeps the last result in `panel.last_result` (handy in tests and for the curious).
    """
    import ipywidgets as widgets
    from IPython.display import HTML, display

    values = dict(block="basic", input_channels=64, output_channels=64, strides=1, use_1x1conv=False, size=56)
    unknown = set(defaults) - set(values)
    if unknown:
        raise ValueError(f"block_explorer_panel: unknown controls {sorted(unknown)}; use {list(values)}.")
    values.update(defaults)
    style = {"description_width": "120px"}
    controls = {
        "block": widgets.ToggleButtons(
            options=[(label, key) for key, label in BLOCK_LABELS.items()],
            value=values["block"],
            description="block type",
            style=style,
        ),
        "input_channels": widgets.BoundedIntText(
            value=values["input_channels"], min=1, max=4096, description="input channels", style=style
        ),
        "output_channels": widgets.BoundedIntText(
            value=values["output_channels"], min=1, max=4096, description="output channels", style=style
        ),
        "strides": widgets.Dropdown(
            options=[1, 2], value=values["strides"], description="stride", style=style
        ),
        "use_1x1conv": widgets.Checkbox(
            value=values["use_1x1conv"], description="use_1x1conv (1x1 conv on the shortcut)", indent=False
        ),
        "size": widgets.IntSlider(
            value=values["size"], min=1, max=224, description="image size", style=style
        ),
    }
    panel = widgets.VBox()
    panel.controls = controls
    panel.last_result = None

    def show(**kwargs):
        result = explore_block(**kwargs)
        panel.last_result = result
        text = format_block_report(result)
        if result["error"]:
            display(HTML(error_box(text, monospace=True)))
        else:
            display(HTML(f'<pre style="line-height: 1.3">{html.escape(text)}</pre>'))

    out = widgets.interactive_output(show, controls)
    panel.children = [
        controls["block"],
        widgets.HBox([controls["input_channels"], controls["output_channels"]]),
        widgets.HBox([controls["strides"], controls["use_1x1conv"]]),
        controls["size"],
        out,
    ]
    return panel


def input_gradient_norms(
    blocks, X: torch.Tensor, upstream: torch.Tensor | None = None, seed: int = 0
) -> dict:
    """Norm of the gradient at the input, through `blocks` with and without their shortcuts.

    `blocks` is one block or a sequence of them (an `nn.Sequential`, a list), applied in turn.
    The gradient that arrives at the output is `upstream`, by default a fixed random one
    (normal, `seed`): the backward pass of any loss hands a block such a tensor. Returns
    {"upstream": |g|, "with shortcut": |dx|, "without shortcut": |dx|}. The blocks run in
    the mode they are in (in training mode batch norm updates its running statistics).
    """
    if isinstance(blocks, nn.Module) and not isinstance(blocks, nn.Sequential):
        blocks = [blocks]
    blocks = list(blocks)

    def through(with_shortcut: bool):
        x = X.detach().clone().requires_grad_(True)
        y = x
        for blk in blocks:
            y = blk(y) if with_shortcut else PlainBlock.from_residual(blk)(y)  # same layers, no + x
        return x, y

    x, y = through(True)
    if upstream is None:
        generator = torch.Generator().manual_seed(seed)
        upstream = torch.randn(y.shape, generator=generator).to(y.device, y.dtype)
    norms = {"upstream": upstream.norm().item()}
    for key, with_shortcut in [("with shortcut", True), ("without shortcut", False)]:
        if not with_shortcut:
            x, y = through(False)
        (grad,) = torch.autograd.grad(y, x, upstream)
        norms[key] = grad.norm().item()
    return norms
