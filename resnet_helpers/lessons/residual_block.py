"""The block explorer (notebook 02): one residual block's shapes, parameters and FLOPs.

`explore_block(...)` is the widget's callback and a plain function: it takes plain values
and returns a dict. An impossible combination (say, the channels change but there is no
1x1 convolution on the shortcut) does not raise: the dict's `"error"` holds the block's
own ValueError message, which names the values and the fix. `block_explorer_panel()`
wraps the callback in ipywidgets controls.

`input_gradient_norms(...)` measures the shortcut's effect on the gradient: the norm of
the gradient at a block's input, with the shortcut and without it (the plain block).

`Paths` (parallel paths and a merge) answers the course's exercise 1: a residual block is an
Inception-like block with two paths, one of them the identity, merged by addition instead of
concatenation.
"""

from __future__ import annotations

import html
import unicodedata

import torch
from torch import nn

from ..blocks import BLOCK_LABELS, BLOCKS, SHORTCUTS, check_positive_int
from ..i18n import _
from ..measure import count_params
from ..models import PlainBlock
from .widgets import error_box, panel_output, with_snapshot

__all__ = [
    "explore_block",
    "compare_blocks",
    "format_block_report",
    "block_explorer_panel",
    "input_gradient_norms",
    "block_figure",
    "Paths",
]


def _layer_kind(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        k = "x".join(map(str, module.kernel_size))
        stride = f", stride {module.stride[0]}" if module.stride != (1, 1) else ""
        groups = f", {module.groups} groups" if module.groups > 1 else ""
        return f"conv {k}{stride}{groups}"
    if isinstance(module, nn.BatchNorm2d):
        return "batch norm"
    if type(module).__name__ == "ZeroPadShortcut":
        return "zero-pad (option A)"
    return type(module).__name__


def _diagram_label(module: nn.Module) -> str:
    """A layer as the block's drawing names it: '3x3 conv, 64->128, /2', 'batch norm', 'ReLU'."""
    if isinstance(module, nn.Conv2d):
        k = "x".join(map(str, module.kernel_size))
        groups = f"{module.groups} groups" if module.groups > 1 else ""
        label = f"{k} conv, " + (groups or f"{module.in_channels}->{module.out_channels}")
        return label + (f", /{module.stride[0]}" if module.stride != (1, 1) else "")
    return {"BatchNorm2d": "batch norm", "ReLU": "ReLU"}.get(type(module).__name__, type(module).__name__)


def _num_channels(block: str, output_channels: int) -> int:
    """The block's `num_channels` argument that gives `output_channels` output channels."""
    expansion = BLOCKS[block].expansion
    if output_channels % expansion:
        lower = output_channels // expansion * expansion
        choices = (
            _("{lower} or {upper}").format(lower=lower, upper=lower + expansion) if lower else f"{expansion}"
        )
        raise ValueError(
            _(
                "{cls}: the block outputs {expansion} x the width of its 3x3 "
                "convolution, so output channels must be a multiple of {expansion}, got {output_channels}. "
                "Fix: use output channels {choices}."
            ).format(
                cls=BLOCKS[block].__name__,
                expansion=expansion,
                output_channels=output_channels,
                choices=choices,
            )
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
    groups: int = 32,
    shortcut: str = "projection",
) -> dict:
    """Shapes, parameters and FLOPs of one residual block, layer by layer.

    Args:
        block: "basic" (the course's `Residual`), "bottleneck", "preact" or "resnext".
        input_channels, output_channels: channels in and out of the block. A bottleneck's
            3x3 convolution is `output_channels // 4` wide, a ResNeXt block's
            `output_channels // 2`, in `groups` groups (`groups` is used by "resnext" only).
        strides: stride of the block (2 halves height and width).
        use_1x1conv: put a 1x1 convolution on the shortcut.
        size: height = width of the input; batch_size: images in the batch.
        shortcut: "projection" (the course: a changed shape needs `use_1x1conv=True`) or
            "zero_pad" (the paper's option A: a changed shape gets a zero-padding shortcut).

    Returns a dict with the arguments, `"error"` (None, or the ValueError message of an
    impossible combination, in which case nothing else is filled in), and otherwise
    `"class"`, `"input shape"`, `"output shape"`, `"layers"` (one row a layer in the order
    `forward` runs them: layer, kind, output shape, params, flops; the identity shortcut
    is a row with 0 parameters and 0 FLOPs), `"params"` and `"flops"` (totals), and
    `"diagram"` (the labels `block_figure` draws). FLOPs of
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
    if block == "resnext":
        result["groups"] = groups
    if shortcut != "projection":
        result["shortcut"] = shortcut
    try:
        if block not in BLOCKS:
            raise ValueError(
                _("block type must be one of {blocks}, got {block!r}.").format(
                    blocks=list(BLOCKS), block=block
                )
            )
        for name in ("input_channels", "output_channels", "strides", "size", "batch_size"):
            check_positive_int(name, result[name])
        if shortcut not in SHORTCUTS:
            raise ValueError(
                _("shortcut must be one of {shortcuts}, got {shortcut!r}.").format(
                    shortcuts=list(SHORTCUTS), shortcut=shortcut
                )
            )
        num_channels = _num_channels(block, output_channels)
        kwargs = {"groups": groups} if block == "resnext" else {}
        kwargs.update(use_1x1conv=use_1x1conv, strides=strides, shortcut=shortcut)
        with torch.device("meta"):
            blk = BLOCKS[block](input_channels, num_channels, **kwargs)
    except ValueError as e:
        result["error"] = str(e)
        return result
    result.update(_measure(blk, (batch_size, input_channels, size, size)))
    shortcut_module = blk.shortcut_module
    result["diagram"] = {
        "branch": [_diagram_label(layer) for layer in blk.branch_layers()],
        "shortcut": "identity" if shortcut_module is None else _shortcut_label(shortcut_module),
        "after": "ReLU" if blk.post_activation else None,
    }
    return result


def _shortcut_label(module: nn.Module) -> str:
    stride = module.stride if isinstance(module.stride, int) else module.stride[0]
    name = "1x1 conv" if isinstance(module, nn.Conv2d) else "zero-pad"
    return name + (f", /{stride}" if stride != 1 else "")


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
    if blk.shortcut_module is None:
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
    """One row a block type (basic, bottleneck, pre-activation, ResNeXt) at the same input and output."""
    rows = []
    for block in BLOCKS:
        r = explore_block(block, input_channels, output_channels, strides, use_1x1conv, size)
        measured = {key: r.get(key) for key in ("class", "output shape", "params", "flops")}
        rows.append({"block": block, **measured, "error": r["error"]})
    return rows


def _width(text: str) -> int:
    """Columns `text` takes in a monospace font: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    """`text` padded with spaces to `width` columns (`f"{text:<{width}}"`, or `>` with `right`)."""
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def format_block_report(result: dict) -> str:
    """The explorer's answer as text: a heading, one line a layer, the totals (or the error)."""
    if result["error"]:
        return _("Impossible combination: {error}").format(error=result["error"])
    rows = result["layers"]
    head_layer, head_kind, head_shape, head_params = _("layer"), _("kind"), _("output shape"), _("params")
    w_layer = max(_width(head_layer), *(len(row["layer"]) for row in rows))
    w_kind = max(_width(head_kind), *(len(row["kind"]) for row in rows))
    header = (
        f"{_pad(head_layer, w_layer)}  {_pad(head_kind, w_kind)}  {_pad(head_shape, 18)} "
        f"{_pad(head_params, 11, right=True)} {'FLOPs':>15}"
    )
    lines = [
        _("{cls}: input {input_shape} -> output {output_shape}").format(
            cls=result["class"], input_shape=result["input shape"], output_shape=result["output shape"]
        ),
        "",
        header,
    ]
    for row in rows:
        lines.append(
            f"{row['layer']:<{w_layer}}  {row['kind']:<{w_kind}}  {str(row['output shape']):<18} "
            f"{row['params']:>11,} {row['flops']:>15,}"
        )
    total = _pad(_("total"), w_layer)
    lines.append(f"{total}  {'':<{w_kind}}  {'':<18} {result['params']:>11,} {result['flops']:>15,}")
    return "\n".join(lines)


def block_figure(result: dict, title: str | None = None):
    """The block of an `explore_block` result, drawn bottom-up: its branch, shortcut and last ReLU."""
    from .diagrams import draw_block_layers

    if result["error"]:
        raise ValueError(_("nothing to draw: {error}").format(error=result["error"]))
    d = result["diagram"]
    title = title or _("{cls}: {input_channels} -> {output_channels} channels").format(
        cls=result["class"],
        input_channels=result["input shape"][1],
        output_channels=result["output shape"][1],
    )
    return draw_block_layers(d["branch"], d["shortcut"], d["after"], title=title)


def _report_html(result: dict) -> str:
    text = format_block_report(result)
    if result["error"]:
        return error_box(text, monospace=True)
    style = "line-height: 1.3; font-family: monospace; white-space: pre; overflow-x: auto; margin: 0"
    return f'<pre style="{style}">{html.escape(text)}</pre>'


def block_explorer_panel(**defaults):
    """The explorer as an ipywidgets panel: controls on top, the report and a drawing below.

    `defaults` set the controls' starting values (the names of `explore_block`). The panel
    keeps the last result in `panel.last_result` (handy in tests and for the curious). Returns
    `with_snapshot(panel, figure, report)`: the live panel, which carries a picture of its
    default view for readers without a kernel (`.panel` is the widget itself).
    """
    import base64
    import io

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import HTML, display

    values = dict(
        block="basic", input_channels=64, output_channels=64, strides=1, use_1x1conv=False, size=56, groups=32
    )
    unknown = set(defaults) - set(values)
    if unknown:
        raise ValueError(
            _("block_explorer_panel: unknown controls {unknown}; use {known}.").format(
                unknown=sorted(unknown), known=list(values)
            )
        )
    values.update(defaults)
    style = {"description_width": "120px"}
    controls = {
        "block": widgets.ToggleButtons(
            options=[(label, key) for key, label in BLOCK_LABELS.items()],
            value=values["block"],
            description=_("block type"),
            style=style,
        ),
        "input_channels": widgets.BoundedIntText(
            value=values["input_channels"], min=1, max=4096, description=_("input channels"), style=style
        ),
        "output_channels": widgets.BoundedIntText(
            value=values["output_channels"], min=1, max=4096, description=_("output channels"), style=style
        ),
        "strides": widgets.Dropdown(
            options=[1, 2], value=values["strides"], description=_("stride"), style=style
        ),
        "use_1x1conv": widgets.Checkbox(
            value=values["use_1x1conv"], description=_("use_1x1conv (1x1 conv on the shortcut)"), indent=False
        ),
        "size": widgets.IntSlider(
            value=values["size"], min=1, max=224, description=_("image size"), style=style
        ),
        "groups": widgets.Dropdown(
            options=[1, 2, 4, 8, 16, 32, 64],
            value=values["groups"],
            description=_("ResNeXt groups"),
            style=style,
        ),
    }
    panel = widgets.VBox()
    panel.controls = controls
    panel.last_result = None

    def draw(result):
        fig = block_figure(result)
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=72)
        plt.close(fig)
        return base64.b64encode(png.getvalue()).decode("ascii")

    def show(**kwargs):
        result = explore_block(**kwargs)
        panel.last_result = result
        if result["error"]:
            display(HTML(_report_html(result)))
            return
        image = f'<img src="data:image/png;base64,{draw(result)}" style="flex: none">'
        row = '<div style="display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start">{}{}</div>'
        display(HTML(row.format(_report_html(result), image)))

    out = panel_output(show, controls)
    panel.children = [
        controls["block"],
        widgets.HBox([controls["input_channels"], controls["output_channels"]]),
        widgets.HBox([controls["strides"], controls["use_1x1conv"]]),
        widgets.HBox([controls["size"], controls["groups"]]),
        out,
    ]
    result = panel.last_result
    figure = None if result["error"] else block_figure(result)
    return with_snapshot(panel, figure, _report_html(result))


def input_gradient_norms(
    blocks, X: torch.Tensor, upstream: torch.Tensor | None = None, seed: int = 0
) -> dict:
    """Norm of the gradient at the input, through `blocks` with and without their shortcuts.

    `blocks` is one block or a sequence of them (an `nn.Sequential`, a list), applied in turn.
    The gradient that arrives at the output is `upstream`, by default a fixed random one
    u (normal, `seed`): the backward pass of any loss hands a block such a tensor. Returns
    {"upstream": |u|, "with shortcut": |dx|, "without shortcut": |dx|}. The norms are taken in
    float64: a float32 norm squares the entries and underflows to 0 for gradients below ~1e-23,
    which are small but not 0. The blocks run in the mode they are in (in training mode batch norm
    updates its running statistics).
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
    norms = {"upstream": upstream.double().norm().item()}
    for key, with_shortcut in [("with shortcut", True), ("without shortcut", False)]:
        if not with_shortcut:
            x, y = through(False)
        (grad,) = torch.autograd.grad(y, x, upstream)
        norms[key] = grad.double().norm().item()
    return norms


# --- Exercise 1 of the course: a residual block is a two-path Inception block that adds ------------


class Paths(nn.Module):
    """Parallel paths on the same input, merged: `merge="cat"` concatenates the channels (Inception),
    `merge="add"` sums them (same shapes needed); an optional `after` module follows the merge.

    `Paths(branch, nn.Identity(), merge="add", after=nn.ReLU())` is the course's residual block:
    an Inception block cut down to two paths, one of them the identity, summed, not concatenated.
    """

    def __init__(self, *paths: nn.Module, merge: str = "cat", after: nn.Module | None = None):
        super().__init__()
        if merge not in ("cat", "add"):
            raise ValueError(_("merge must be 'cat' or 'add', got {merge!r}.").format(merge=merge))
        self.paths = nn.ModuleList(paths)
        self.merge = merge
        self.after = after if after is not None else nn.Identity()

    def forward(self, x):
        outs = [path(x) for path in self.paths]
        y = torch.cat(outs, dim=1) if self.merge == "cat" else torch.stack(outs).sum(dim=0)
        return self.after(y)
