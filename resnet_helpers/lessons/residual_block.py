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

import torch
from torch import nn

from ..blocks import BLOCK_LABELS, BLOCKS, SHORTCUTS, check_positive_int
from ..i18n import _, center, columns, pad, text_width
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
    "same_block_line",
    "option_line",
    "option_a_shortcut_lines",
    "branch_at_zero_lines",
    "zero_init_line",
    "gain_table",
    "gain_conclusions",
    "explored_line",
    "conv2_line",
    "block_rows_table",
    "tradeoff_table",
    "resnext_summary",
    "identity_at_zero_lines",
    "zero_branch_gain_line",
    "relu_share_text",
    "paths_header",
    "paths_row",
    "two_paths_line",
    "concatenated_line",
    "same_output_line",
    "shortcut_need_line",
    "formula_line",
    "shortcut_cost_line",
    "stack_gain_header",
    "stack_gain_line",
    "gain_per_block_conclusion",
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






def format_block_report(result: dict) -> str:
    """The explorer's answer as text: a heading, one line a layer, the totals (or the error)."""
    if result["error"]:
        return _("Impossible combination: {error}").format(error=result["error"])
    rows = result["layers"]
    head_layer, head_kind, head_shape, head_params = _("layer"), _("kind"), _("output shape"), _("params")
    w_layer = max(text_width(head_layer), *(len(row["layer"]) for row in rows))
    w_kind = max(text_width(head_kind), *(len(row["kind"]) for row in rows))
    header = (
        f"{pad(head_layer, w_layer)}  {pad(head_kind, w_kind)}  {pad(head_shape, 18)} "
        f"{pad(head_params, 11, right=True)} {'FLOPs':>15}"
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
    total = pad(_("total"), w_layer)
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


# --- What the notebook's cells print: the wording lives here, so that it can be translated ---------
# (the notebook computes; each function below only words the values it is given)






def _mode_heading(mode: str) -> str:
    return {"eval": _("evaluation mode"), "train": _("training mode")}[mode]


def same_block_line(name: str, same: bool, output, params: int, params_helper: int) -> str:
    """The book's block and the helpers' block with the same weights: same output? shapes, parameters."""
    return _(
        "{name}: same output {same}, output {output}, parameters {params:,} and {params_helper:,}"
    ).format(name=name, same=same, output=tuple(output), params=params, params_helper=params_helper)


def option_line(option: str, output, params: int) -> str:
    """Option "A" (zero-padding shortcut) or "B" (1x1 convolution): output shape and parameters."""
    name = {"A": _("option A (zero padding)"), "B": _("option B (1x1 conv)")}[option]
    return _("{name:<24} output {output}, {params:,} parameters").format(
        name=name, output=tuple(output), params=params
    )


def option_a_shortcut_lines(first_equal: bool, last_zero: bool) -> str:
    """What option A's shortcut holds: the input's channels subsampled, then zeros."""
    head, first, last = (
        _("option A's shortcut:"),
        _("first 3 channels == X[:, :, ::2, ::2]:"),
        _("last 3 channels are all zero:"),
    )
    return "\n".join(
        [
            f"{head} {first} {first_equal}",
            f"{pad('', text_width(head))} {pad(last, 35)} {last_zero}",
        ]
    )


def branch_at_zero_lines(identity: bool, all_zero: bool) -> str:
    """The residual block with its branch at zero is the identity; the same layers without the
    shortcut (a normal block) output only zeros."""
    return columns(
        [
            [_("residual block, branch at zero:"), "block(X) == X", str(identity)],
            [_("normal block, same weights:"), _("all outputs are zero"), str(all_zero)],
        ],
        [31, 21],
    )


def zero_init_line(identity: bool) -> str:
    """Is a block with zero_init_last() the identity?"""
    return _("rh.Residual(64, 64).zero_init_last() is the identity: {identity}").format(identity=identity)


def gain_table(scales, gains: dict) -> str:
    """The gradient gain |dL/dx| / |u| of one block for each scale γ of its residual branch, in
    evaluation and training mode, with and without the shortcut (`gains`: (mode, "with shortcut"
    or "without shortcut") -> one gain per scale)."""
    lines = [
        " " * 8 + "".join(center(_mode_heading(mode), 30) for mode in ("eval", "train")),
        pad("γ", 8, right=True)
        + (pad(_("with shortcut"), 15, right=True) + pad(_("without"), 15, right=True)) * 2,
    ]
    for i, gamma in enumerate(scales):
        lines.append(
            f"{gamma:>8}"
            + "".join(
                f"{gains[mode, key][i]:>15.3f}"
                for mode in ("eval", "train")
                for key in ("with shortcut", "without shortcut")
            )
        )
    return "\n".join(lines)


def gain_figure(scales, gains: dict):
    """`gain_table`'s gains against the scale γ (γ = 0 left out: log axes), evaluation mode in blue,
    training mode in orange; solid with the shortcut, dashed without. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for mode, color in [("eval", "C0"), ("train", "C1")]:
        ax.plot(scales[1:], gains[mode, "with shortcut"][1:], "o-", color=color,
                label=_("with shortcut ({mode})").format(mode=mode))
        ax.plot(scales[1:], gains[mode, "without shortcut"][1:], "s--", color=color,
                label=_("without ({mode})").format(mode=mode))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(_("scale of the residual branch (bn2 weight γ)"))
    ax.set_ylabel(_("gradient gain |dL/dx| / |u|"))
    ax.set_title(_("one block: the gradient that reaches its input"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def gain_conclusions(
    smallest: float, gain_at_zero: float, eval_gain: float, train_with: float, train_without: float
) -> str:
    """The reading of the gain table: the smallest gain with the shortcut, the gain without it at
    γ = 0, and a fresh block's (γ = 1) gains in evaluation and training mode."""
    amplified = min(train_with, train_without) > 1
    return "\n".join(
        [
            _(
                "With the shortcut, the smallest gain in the table is {smallest:.3f}; "
                "without it, the gain at γ = 0 is {gain_at_zero:.0f}."
            ).format(smallest=smallest, gain_at_zero=gain_at_zero),
            _(
                "Evaluation mode, fresh block (γ = 1): without the shortcut it passes on {gain:.1%} of the "
                "gradient (about 1/{inverse:.0f})."
            ).format(gain=eval_gain, inverse=1 / eval_gain),
            _(
                "Training mode, fresh block (γ = 1): gains {gain_with:.2f} with and "
                "{gain_without:.2f} without the shortcut: {verdict}"
            ).format(
                gain_with=train_with,
                gain_without=train_without,
                verdict=_("batch norm amplifies the gradient in both.")
                if amplified
                else _("batch norm does not amplify it here."),
            ),
        ]
    )


def explored_line(settings: dict, result: dict) -> str:
    """One `explore_block` call: its settings, then the output shape, parameters and FLOPs."""
    return _("{settings} -> {output} {params:,} parameters, {flops:,} FLOPs").format(
        settings=settings, output=result["output shape"], params=result["params"], flops=result["flops"]
    )


def conv2_line(name: str, input_shape, output_shape, conv: nn.Conv2d, params: int) -> str:
    """A block's shapes, its 3x3 convolution (`conv`: channels in, out, groups) and its parameters."""
    return _(
        "{name:<15} {input} -> {output}: 3x3 conv {cin} -> {cout} channels in {groups} group(s), "
        "{params:,} parameters"
    ).format(
        name=name,
        input=tuple(input_shape),
        output=tuple(output_shape),
        cin=conv.in_channels,
        cout=conv.out_channels,
        groups=conv.groups,
        params=params,
    )


def block_rows_table(rows) -> str:
    """Rows of blocks (`compare_blocks`, or explore_block results with a "block" name) as a table:
    block, output shape, parameters, FLOPs."""
    lines = [
        pad(_("block"), 12)
        + pad(_("output shape"), 20)
        + pad(_("params"), 12, right=True)
        + f"{'FLOPs':>16}"
    ]
    for row in rows:
        lines.append(
            f"{row['block']:<12}{str(row['output shape']):<20}{row['params']:>12,}{row['flops']:>16,}"
        )
    return "\n".join(lines)


def tradeoff_table(tradeoff) -> str:
    """(name, explore_block result) pairs as a table: the 3x3 convolution, parameters, FLOPs and
    the 3x3 convolution's share of the FLOPs."""
    lines = [
        pad(_("block"), 24)
        + pad(_("3x3 conv"), 22, right=True)
        + pad(_("params"), 10, right=True)
        + f"{'FLOPs':>15}"
        + pad(_("3x3 share"), 11, right=True)
    ]
    for name, r in tradeoff:
        conv2 = next(row for row in r["layers"] if row["layer"] == "conv2")
        lines.append(
            f"{name:<24}{conv2['kind']:>22}{r['params']:>10,}{r['flops']:>15,}"
            f"{conv2['flops'] / r['flops']:>11.1%}"
        )
    return "\n".join(lines)


def resnext_summary(
    params_vs_bottleneck: float, flops_vs_bottleneck: float, flops_kept: float, params_kept: float
) -> str:
    """ResNeXt (32 groups) against the bottleneck block, and against its own 1-group version."""
    return "\n".join(
        [
            _(
                "ResNeXt (32 groups) vs bottleneck: {params:.2f}x the parameters, {flops:.2f}x the FLOPs,\n"
                "    with a 3x3 convolution twice as wide (128 vs 64 channels)."
            ).format(params=params_vs_bottleneck, flops=flops_vs_bottleneck),
            _(
                "From 1 to 32 groups the block keeps {flops:.0%} of its FLOPs and {params:.0%} of its "
                "parameters: the 1x1 convolutions now dominate."
            ).format(flops=flops_kept, params=params_kept),
        ]
    )


def identity_at_zero_lines(basic: bool, preact: bool) -> str:
    """Is the block with its branch at zero the identity on inputs with negative entries?"""
    return columns(
        [
            [_("basic block, branch at zero:"), "block(X) == X", str(basic)],
            [_("pre-activation block, branch at zero:"), "block(X) == X", str(preact)],
        ],
        [37, 13],
    )


def zero_branch_gain_line(name: str, gain: float) -> str:
    """The gradient gain of a block ("basic" or "pre-activation") whose branch is at zero."""
    label = {"basic": _("basic"), "pre-activation": _("pre-activation")}.get(name, name)
    return _("{name:<15} branch at zero, gradient gain with the shortcut: {gain:.3f}").format(
        name=label, gain=gain
    )


def relu_share_text(kept: float) -> str:
    """Why the basic block's gain is below 1: its last ReLU keeps `kept` of the entries."""
    return _(
        "The basic block's last ReLU keeps {kept:.0%} of the entries here; a gradient of independent\n"
        "random entries keeps about the square root of that share of its norm: √{kept:.2f} = {root:.3f}."
    ).format(kept=kept, root=kept**0.5)


def paths_header() -> str:
    """The heading of the Inception-versus-residual table (see `paths_row`)."""
    return (
        pad(_("block"), 45)
        + pad(_("paths"), 6, right=True)
        + "  "
        + pad(_("merge"), 12)
        + pad(_("output"), 18)
        + pad(_("params"), 10, right=True)
        + f"{'FLOPs':>15}"
    )


def paths_row(name: str, paths: int, merge: str, output, params: int, flops: int) -> str:
    """One block: its paths, how they merge ("concatenate" or "add"), output, parameters, FLOPs."""
    label = {"concatenate": _("concatenate"), "add": _("add")}.get(merge, merge)
    return f"{name:<45}{paths:>6}  {pad(label, 12)}{str(tuple(output)):<18}{params:>10,}{flops:>15,}"


def two_paths_line(mode: str, same: bool) -> str:
    """In `mode` ("train" or "eval"): is the 2-path block with an identity path the residual block?"""
    label = {"train": _("train"), "eval": _("eval")}.get(mode, mode)
    return _("{mode:<5} mode: 2-path block with an identity path, added == Residual: {same}").format(
        mode=label, same=same
    )


def concatenated_line(output) -> str:
    """The same two paths concatenated instead of added."""
    return _(
        "the same 2 paths concatenated, Inception-style: {output} (twice the channels, nothing added)"
    ).format(output=tuple(output))


def same_output_line(name: str, input_shape, output_shape, reference: str, same: bool) -> str:
    """A block written in the notebook against the helpers' `reference`: shapes, same output?"""
    return _("{name}: {input} -> {output}, same output as {reference}: {same}").format(
        name=name, input=tuple(input_shape), output=tuple(output_shape), reference=reference, same=same
    )


def shortcut_need_line(cin: int, cout: int, strides: int, needs_1x1: bool) -> str:
    """Does a basic block from `cin` to `cout` channels at `strides` need the 1x1 convolution?"""
    return _("{cin:>3} -> {cout:>3}, stride {strides}: {shortcut}").format(
        cin=cin,
        cout=cout,
        strides=strides,
        shortcut=_("needs the 1x1 conv") if needs_1x1 else _("identity shortcut"),
    )


def formula_line(c: int, formula: int, counted: int) -> str:
    """The formula 18c² + 6c for Residual(c, c) against the parameters counted."""
    return _("c = {c:>3}: 18c² + 6c = {formula:>9,}  counted {counted:>9,}  equal: {equal}").format(
        c=c, formula=formula, counted=counted, equal=formula == counted
    )


def shortcut_cost_line(c: int, conv3: dict, result: dict) -> str:
    """The 1x1 shortcut convolution of a block from c to 2c channels (its row `conv3` in the
    explore_block `result`): parameters and FLOPs, and their share of the block's."""
    return _(
        "{cin:>3} -> {cout:>3}: 1x1 shortcut {params:>7,} params ({params_share:.1%}), "
        "{flops:>11,} FLOPs ({flops_share:.1%})"
    ).format(
        cin=c,
        cout=2 * c,
        params=conv3["params"],
        params_share=conv3["params"] / result["params"],
        flops=conv3["flops"],
        flops_share=conv3["flops"] / result["flops"],
    )


def stack_gain_header() -> str:
    """The two heading lines of the stacked blocks' gain table (blocks, then with shortcuts and
    without, in evaluation and training mode)."""
    return "\n".join(
        [
            " " * 6 + "".join(center(_mode_heading(mode), 26) for mode in ("eval", "train")),
            pad(_("blocks"), 6, right=True)
            + (pad(_("with shortcuts"), 15, right=True) + pad(_("without"), 11, right=True)) * 2,
        ]
    )


def stack_gain_line(mode: str, blocks: int, gain_with: float, gain_without: float, factor: float) -> str:
    """`blocks` stacked blocks in `mode` ("eval" or "train"): the gain with and without shortcuts,
    and the average factor per block without them."""
    name = {"eval": _("Evaluation mode"), "train": _("Training mode")}[mode]
    return _(
        "{mode}, {blocks} blocks: gain {gain_with:.3g} with shortcuts, {gain_without:.3g} without "
        "({factor:.2f} per block)."
    ).format(mode=name, blocks=blocks, gain_with=gain_with, gain_without=gain_without, factor=factor)


def gain_per_block_conclusion(per_depth, first: int, last: int) -> str:
    """Training mode with shortcuts: the gain divided by the number of blocks, over the depths
    `first`..`last`; within a factor of 3 it grows in proportion to the depth."""
    low, high = min(per_depth), max(per_depth)
    return _(
        "Training mode with shortcuts, gain / blocks: from {low:.2f} to {high:.2f} "
        "over {first}..{last} blocks:\n{verdict}"
    ).format(
        low=low,
        high=high,
        first=first,
        last=last,
        verdict=_("the gain grows roughly in proportion to the depth, not exponentially.")
        if high < 3 * low
        else _("the gain grows faster than in proportion to the depth."),
    )
