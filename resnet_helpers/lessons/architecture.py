"""The architecture explorer (notebook 03): a whole ResNet's stage table, live.

`explore_architecture(...)` is the widget's callback and a plain function: it takes plain
values (blocks per stage, channels or a base width, block type, resolution, input
channels) and returns a dict: the rows of `stage_table` (layer, output shape, params,
FLOPs), the totals, the depth and the name ("ResNet-34" when it is one). An impossible
setting does not raise: the dict's `"error"` holds a message that names the values and the
fix. `architecture_figure(result)` draws where the parameters and FLOPs live, and
`architecture_panel()` wires both to ipywidgets controls.

Why it is fast enough to follow a slider, even for ResNet-152: the rows come from
`measure.stage_rows`, which sizes each layer from its kernel, stride and padding on a
meta-device skeleton (at most two blocks per stage) instead of running the network.
"""

from __future__ import annotations

import html
import io

from ..blocks import BLOCK_LABELS
from ..i18n import _, columns
from ..measure import smallest_resolution, stage_rows
from ..models import ResNetConfig, preset_name
from .widgets import error_box, panel_output, with_snapshot

__all__ = [
    "explore_architecture",
    "stage_frame",
    "format_headline",
    "architecture_figure",
    "architecture_diagram",
    "architecture_panel",
    "same_network_lines",
    "layer_count_lines",
    "stage_share_line",
    "computed_in",
    "same_counts_lines",
    "torchvision_flops_lines",
    "same_flops_line",
    "source_line",
    "option_a_lines",
    "vgg_comparison_line",
    "fc_share_line",
    "table1_line",
    "resolution_flops_line",
    "smallest_resolution_line",
    "fashion_mnist_line",
    "last_stage_line",
    "width_scaling_line",
]

_PRESET_BUTTONS = {
    "ResNet-18": ((2, 2, 2, 2), "basic"),
    "ResNet-34": ((3, 4, 6, 3), "basic"),
    "ResNet-50": ((3, 4, 6, 3), "bottleneck"),
    "ResNet-101": ((3, 4, 23, 3), "bottleneck"),
    "ResNet-152": ((3, 8, 36, 3), "bottleneck"),
}


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_channels(channels, base_width, stages: int) -> tuple:
    """Per-stage widths: `channels` when given ("64, 128, 256, 512" or a sequence), else base doubling."""
    if isinstance(channels, str):
        channels = channels.replace(",", " ").split()
        try:
            channels = [int(c) for c in channels]
        except ValueError:
            raise ValueError(
                _(
                    "channels: write one whole number per stage, e.g. '64, 128, 256, 512', "
                    "or leave it empty to double the base width from stage to stage."
                )
            ) from None
    if channels:  # None, "" and () mean: use the base width
        return tuple(channels)
    if not _is_count(base_width) or base_width < 1:
        raise ValueError(
            _("base width must be a positive whole number of channels, got {base_width!r}.").format(
                base_width=base_width
            )
        )
    return tuple(base_width * 2**i for i in range(stages))


def explore_architecture(
    blocks=(2, 2, 2, 2),
    channels=None,
    base_width: int = 64,
    block: str = "basic",
    resolution: int = 224,
    in_channels: int = 1,
    num_classes: int = 10,
    stem: str = "course",
    shortcut: str = "projection",
) -> dict:
    """Stage table, totals, depth and name of the ResNet these settings describe.

    Args:
        blocks: residual blocks per stage (b2, b3, ...), e.g. (3, 4, 6, 3).
        channels: width of each stage, a sequence or a string like "64, 128, 256, 512";
            None or "" means: `base_width` for the first stage, doubling every stage.
        block: "basic" (the course's `Residual`), "bottleneck", "preact" or "resnext".
        resolution: height = width of the input image, in pixels.
        in_channels: 1 for grey images (Fashion-MNIST), 3 for colour; num_classes: outputs.
        stem: "course" (7x7 conv stride 2 + max-pool: /4) or "compact" (3x3 conv, no pooling).
        The stem outputs as many channels as the first stage is wide (64 in every preset).
        shortcut: where a stage changes the shape, "projection" (1x1 convolution, the course's,
            the paper's option B) or "zero_pad" (parameter-free, the paper's option A).

    Returns a dict with the settings, `"error"` (None, or the message for an impossible
    setting, and then nothing else is filled in), and otherwise `"config"` (a
    `ResNetConfig`), `"name"` ("ResNet-34", or None for a network that is no preset),
    `"title"`, `"depth"` (weight layers, the paper's count), `"input shape"`, `"rows"`
    (exactly `stage_table`'s rows: layer, output shape, params, flops), `"params"` and
    `"flops"` (totals; FLOPs of one forward pass, a multiply-add counting 2).
    """
    result = {
        "blocks": blocks,
        "channels": channels,
        "base_width": base_width,
        "block": block,
        "resolution": resolution,
        "in_channels": in_channels,
        "num_classes": num_classes,
        "stem": stem,
        "shortcut": shortcut,
        "error": None,
    }
    try:
        if not _is_count(resolution) or resolution < 1:
            raise ValueError(
                _("resolution must be a positive whole number of pixels, got {resolution!r}.").format(
                    resolution=resolution
                )
            )
        if isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__iter__"):
            raise ValueError(
                _("blocks must list the blocks of each stage, e.g. (2, 2, 2, 2); got {blocks!r}.").format(
                    blocks=blocks
                )
            )
        blocks = tuple(blocks)
        widths = _read_channels(channels, base_width, len(blocks))
        config = ResNetConfig(
            blocks=blocks,
            channels=widths,
            block=block,
            in_channels=in_channels,
            num_classes=num_classes,
            stem=stem,
            stem_channels=widths[0] if widths and _is_count(widths[0]) else 64,
            shortcut=shortcut,
        )
        rows, problem = stage_rows(config, resolution)
    except ValueError as e:  # also a block that refuses its widths (ResNeXt groups, option A)
        result["error"] = str(e)
        return result
    if problem is not None:
        result["error"] = _too_small_message(config, resolution, rows, problem)
        return result
    name = preset_name(config)
    result.update(
        config=config,
        name=name,
        title=name or _("Custom {depth}-layer ResNet").format(depth=config.depth),
        depth=config.depth,
        rows=rows,
        params=sum(r["params"] for r in rows),
        flops=sum(r["flops"] for r in rows),
    )
    result["input shape"] = (1, in_channels, resolution, resolution)
    return result


def _too_small_message(config: ResNetConfig, resolution: int, rows: list, stage: str) -> str:
    walk = " -> ".join(
        _("{layer} {height}x{width}").format(
            layer=r["layer"], height=r["output shape"][-2], width=r["output shape"][-1]
        )
        for r in rows
    )
    smallest = smallest_resolution(config)
    bound = _("of at least {smallest}").format(smallest=smallest) if smallest else _("above 4096 pixels")
    return _(
        "A {resolution}x{resolution} image is too small for {stages} stages with the "
        "{stem} stem: it is down to 1x1 pixels before stage {stage} ({walk}), so {stage}'s "
        "stride-2 convolutions have nothing left to halve (PyTorch would still run them, on one "
        "pixel surrounded by zero padding). Fix: use a resolution "
        "{bound} (multiples of {total_stride}, the network's total "
        "stride, halve exactly at every stage), fewer stages, or the compact stem."
    ).format(
        resolution=resolution,
        stages=len(config.blocks),
        stem=config.stem,
        stage=stage,
        walk=walk,
        bound=bound,
        total_stride=config.total_stride,
    )


def stage_frame(result: dict):
    """The stage table as a pandas DataFrame, with each layer's share and a total row."""
    import pandas as pd

    params, flops = result["params"], result["flops"]
    rows = [
        {
            "layer": r["layer"],
            "output shape": str(r["output shape"]),
            "params": f"{r['params']:,}",
            "params %": f"{100 * r['params'] / params:.1f}",
            "MFLOPs": f"{r['flops'] / 1e6:,.1f}",
            "FLOPs %": f"{100 * r['flops'] / flops:.1f}" if flops else "0.0",
        }
        for r in result["rows"]
    ]
    rows.append(
        {
            "layer": "total",
            "output shape": "",
            "params": f"{params:,}",
            "params %": "100.0",
            "MFLOPs": f"{flops / 1e6:,.1f}",
            "FLOPs %": "100.0",
        }
    )
    return pd.DataFrame(rows).set_index("layer")


def format_headline(result: dict) -> str:
    """One line: name, depth, parameters and FLOPs (or the error message)."""
    if result["error"]:
        return _("Impossible setting: {error}").format(error=result["error"])
    _batch, c, h, w = result["input shape"]
    return _(
        "{title}: depth {depth} (weight layers), {params:,} parameters, "
        "{gflops:.2f} GFLOPs ({gmacs:.2f} G multiply-adds) "
        "per {channels}x{height}x{width} image"
    ).format(
        title=result["title"],
        depth=result["depth"],
        params=result["params"],
        gflops=result["flops"] / 1e9,
        gmacs=result["flops"] / 2e9,
        channels=c,
        height=h,
        width=w,
    )


def _share(part: int, total: int) -> str:
    if not total or not part:
        return "0%" if total else ""
    return "<1%" if part < total / 200 else f"{100 * part / total:.0f}%"


def architecture_figure(result: dict):
    """Two bar charts: each layer's parameters and FLOPs, with its share of the total."""
    import matplotlib.pyplot as plt

    if result["error"]:
        raise ValueError(_("nothing to draw: {error}").format(error=result["error"]))
    rows = [r for r in result["rows"] if r["params"] or r["flops"]]
    names = [r["layer"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.4 * len(rows) + 1.2), sharey=True)
    panels = [
        ("params", 1e6, _("parameters (millions)"), "tab:blue", result["params"]),
        ("flops", 1e9, _("GFLOPs per image (forward)"), "tab:orange", result["flops"]),
    ]
    for ax, (key, unit, label, color, total) in zip(axes, panels, strict=True):
        values = [r[key] / unit for r in rows]
        bars = ax.barh(names, values, color=color)
        shares = [_share(r[key], total) for r in rows]
        ax.bar_label(bars, labels=shares, padding=3, fontsize=9)
        ax.set_xlabel(label)
        ax.set_xlim(0, max(values) * 1.18 if max(values) > 0 else 1)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].invert_yaxis()
    axes[0].set_ylabel(_("layer (b1 = stem, b2.. = stages)"))
    _batch, c, h, w = result["input shape"]
    fig.suptitle(
        _(
            "{title}, {channels}x{height}x{width} input: {mparams:.2f} M parameters, {gflops:.2f} GFLOPs"
        ).format(
            title=result["title"],
            channels=c,
            height=h,
            width=w,
            mparams=result["params"] / 1e6,
            gflops=result["flops"] / 1e9,
        ),
        fontsize=11,
    )
    # fixed margins instead of tight_layout: half the drawing time, so the panel stays instant
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.14, right=0.97, wspace=0.08, top=1 - 0.45 / height, bottom=0.55 / height)
    return fig


def _shape(shape) -> str:
    """(1, 64, 56, 56) -> '64x56x56': one example's channels x height x width."""
    return "x".join(str(n) for n in shape[1:])


def architecture_diagram(result: dict):
    """d2l's Fig. 7.6.4 drawn from the network `explore_architecture` built: the input, the stem,
    every stage (blocks, block type, channels, stride), pooling and the fully connected layer, left
    to right, each with the shape of its output under it. Raises ValueError for an impossible setting."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    if result["error"]:
        raise ValueError(_("nothing to draw: {error}").format(error=result["error"]))
    config, rows = result["config"], {r["layer"]: r for r in result["rows"]}
    stem_width = config.stem_channels
    stem = (
        _("7x7 conv, {width}, /2\n3x3 max-pool, /2").format(width=stem_width)
        if config.stem == "course"
        else _("3x3 conv, {width}").format(width=stem_width)
    )
    boxes = [(_("input"), "", _shape(result["input shape"]), "#eeeeee")]
    boxes.append((_("b1: stem"), stem, _shape(rows["b1"]["output shape"]), "#cfe2f3"))
    previous = rows["b1"]["output shape"]
    block = BLOCK_LABELS[config.block].replace(" (course)", "")
    for i, n in enumerate(config.blocks):
        name = f"b{i + 2}"
        out = rows[name]["output shape"]
        halves = _("/2, ") if out[-1] < previous[-1] else ""
        detail = (
            _("{n} {block}\nblocks, {halves}{channels} ch")
            if n > 1
            else _("{n} {block}\nblock, {halves}{channels} ch")
        )
        detail = detail.format(n=n, block=block, halves=halves, channels=out[1])
        boxes.append((name, detail, _shape(out), "#d9ead3"))
        previous = out
    boxes.append(("pool", _("global average\npooling"), _shape(rows["pool"]["output shape"]), "#fff2cc"))
    boxes.append(
        (
            "fc",
            _("linear\n{inputs} -> {outputs}").format(inputs=config.out_channels, outputs=config.num_classes),
            _shape(rows["fc"]["output shape"]),
            "#f4cccc",
        )
    )
    width, gap, height = 1.55, 0.38, 1.3
    fig, ax = plt.subplots(figsize=(0.98 * len(boxes) * (width + gap), 2.3))
    for i, (name, detail, shape, color) in enumerate(boxes):
        x = i * (width + gap)
        ax.add_patch(
            FancyBboxPatch(
                (x, 0),
                width,
                height,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                facecolor=color,
                edgecolor="black",
                linewidth=1,
            )
        )
        ax.text(x + width / 2, height - 0.25, name, ha="center", va="center", fontsize=10, weight="bold")
        ax.text(x + width / 2, height / 2 - 0.15, detail, ha="center", va="center", fontsize=8.5)
        ax.text(x + width / 2, -0.28, shape, ha="center", va="center", fontsize=9, family="monospace")
        if i + 1 < len(boxes):
            ax.annotate(
                "",
                xy=(x + width + gap, height / 2),
                xytext=(x + width, height / 2),
                arrowprops=dict(arrowstyle="-|>", color="black", lw=1.2),
            )
    _batch, c, h, w = result["input shape"]
    ax.set_title(
        _(
            "{title} on a {channels}x{height}x{width} input: "
            "each module, and the shape of its output under it"
        ).format(title=result["title"], channels=c, height=h, width=w),
        fontsize=11,
    )
    ax.set_xlim(-0.1, len(boxes) * (width + gap) - gap + 0.1)
    ax.set_ylim(-0.55, height + 0.1)
    ax.axis("off")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.86, bottom=0.02)
    return fig


def architecture_panel(
    blocks=(2, 2, 2, 2),
    base_width=64,
    block="basic",
    resolution=224,
    in_channels=1,
    stem="course",
    shortcut="projection",
):
    """The explorer as an ipywidgets panel: preset buttons and controls on top, the answer below.

    Four sliders set the blocks of stages b2..b5; the channels box, when filled in
    ("64, 128, 256, 512"), overrides the base width. A preset button sets the controls and
    redraws once. The panel keeps its controls in `panel.controls`, the last result in
    `panel.last_result` and counts its redraws in `panel.renders` (handy in tests). Returns
    `with_snapshot(panel, ...)`: the live panel, carrying a picture of its default
    view (headline, diagram, stage table, chart) for readers without a kernel; `.panel` is the widget.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import HTML, Image, display

    if len(blocks) != 4:
        raise ValueError(
            _("the panel has four stages (b2..b5); got blocks={blocks!r}.").format(blocks=blocks)
        )
    style = {"description_width": "110px"}
    wide = widgets.Layout(width="420px")
    controls = {
        f"b{i + 2}": widgets.IntSlider(
            value=n,
            min=1,
            max=40,
            description=_("blocks in {stage}").format(stage=f"b{i + 2}"),
            style=style,
            layout=wide,
        )
        for i, n in enumerate(blocks)
    }
    controls.update(
        block=widgets.ToggleButtons(
            options=[(label, key) for key, label in BLOCK_LABELS.items()],
            value=block,
            description=_("block type"),
            style=style,
        ),
        base_width=widgets.Dropdown(
            options=[8, 16, 32, 64, 96, 128], value=base_width, description=_("base width"), style=style
        ),
        channels=widgets.Text(
            value="",
            placeholder=_("e.g. 64, 128, 256, 512 (empty: base width, doubling)"),
            description=_("channels"),
            style=style,
            layout=wide,
        ),
        resolution=widgets.IntSlider(
            value=resolution, min=4, max=448, step=4, description=_("resolution"), style=style, layout=wide
        ),
        in_channels=widgets.Dropdown(
            options=[(_("1 (grey)"), 1), (_("3 (colour)"), 3)],
            value=in_channels,
            description=_("input channels"),
            style=style,
        ),
        stem=widgets.Dropdown(
            options=[(_("course (7x7, /4)"), "course"), (_("compact (3x3, /1)"), "compact")],
            value=stem,
            description=_("stem"),
            style=style,
        ),
        shortcut=widgets.Dropdown(
            options=[(_("1x1 conv (option B)"), "projection"), (_("zero-pad (option A)"), "zero_pad")],
            value=shortcut,
            description=_("shortcut"),
            style=style,
        ),
        refresh=widgets.IntText(value=0),  # never shown: bumped once after a preset is loaded
    )
    panel = widgets.VBox()
    panel.controls = controls
    panel.last_result = None
    panel.renders = 0
    loading = [False]

    def show_figure(fig):
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=80)  # one drawing (the inline backend draws twice)
        plt.close(fig)
        display(Image(png.getvalue()))

    def show(b2, b3, b4, b5, channels, base_width, block, resolution, in_channels, stem, shortcut, refresh):
        if loading[0]:
            return
        panel.renders += 1
        try:
            result = explore_architecture(
                (b2, b3, b4, b5),
                channels,
                base_width,
                block,
                resolution,
                in_channels,
                stem=stem,
                shortcut=shortcut,
            )
            panel.last_result = result
            headline = format_headline(result)
            if result["error"]:
                display(HTML(error_box(headline)))
                return
            display(HTML(f"<b>{html.escape(headline)}</b>"))
            show_figure(architecture_diagram(result))
            display(stage_frame(result))
            show_figure(architecture_figure(result))
        except Exception as e:  # the panel shows a message, never a traceback
            display(HTML(error_box(_("Unexpected error: {error!r}").format(error=e))))

    def load(name):
        def on_click(_button):
            preset_blocks, preset_block = _PRESET_BUTTONS[name]
            loading[0] = True
            try:
                for i, n in enumerate(preset_blocks):
                    controls[f"b{i + 2}"].value = n
                controls["block"].value = preset_block
                controls["base_width"].value = 64
                controls["channels"].value = ""
                controls["stem"].value = "course"
                controls["shortcut"].value = "projection"
            finally:
                loading[0] = False
            controls["refresh"].value += 1

        return on_click

    buttons = []
    for name in _PRESET_BUTTONS:
        button = widgets.Button(description=name, layout=widgets.Layout(width="100px"))
        button.on_click(load(name))
        buttons.append(button)
    panel.buttons = buttons
    out = panel_output(show, controls)
    panel.children = [
        widgets.HBox([widgets.Label(_("load a preset:")), *buttons]),
        widgets.HBox(
            [
                widgets.VBox([controls[f"b{i}"] for i in range(2, 6)] + [controls["resolution"]]),
                widgets.VBox(
                    [
                        controls["base_width"],
                        controls["channels"],
                        controls["in_channels"],
                        controls["stem"],
                        controls["shortcut"],
                    ]
                ),
            ]
        ),
        controls["block"],
        out,
    ]
    result = panel.last_result
    if result is None or result["error"]:
        return with_snapshot(panel, error_box(format_headline(result)) if result else None)
    headline = f"<b>{html.escape(format_headline(result))}</b>"
    return with_snapshot(
        panel, headline, architecture_diagram(result), stage_frame(result), architecture_figure(result)
    )


# --- What the notebook's cells print: the wording lives here, so that it can be translated ---------
# (the notebook computes; each function below only words the values it is given)


def same_network_lines(
    params_course: int, params_ours: int, same_layers: bool, same_shapes: bool, stage_names
) -> str:
    """The course's ResNet-18 against build_resnet("resnet18"): parameters, layers, weight shapes."""
    return "\n".join(
        [
            columns(
                [
                    [_("parameters, course code:"), f"{params_course:,}"],
                    [_("parameters, build_resnet:"), f"{params_ours:,}"],
                ],
                [28],
            ),
            _("same layers in the same order: {same_layers} | same weight shapes: {same_shapes}").format(
                same_layers=same_layers, same_shapes=same_shapes
            ),
            _("stage names: {names}").format(names=stage_names),
        ]
    )


def layer_count_lines(kernels: dict, linear: int, shortcuts: int, without: int) -> str:
    """Cell 13's count: convolutions by kernel size, fully connected layers, 1x1 convolutions on
    the shortcuts, and the weight layers that count for the depth (without those)."""
    return "\n".join(
        [
            columns(
                [
                    [_("convolutions by kernel size:"), str(kernels)],
                    [_("fully connected layers:"), str(linear)],
                ],
                [28],
            ),
            _("1x1 convolutions on shortcuts: {count}").format(count=shortcuts),
            _("weight layers without the shortcuts: {count}").format(count=without),
        ]
    )


def stage_share_line(row: dict, result: dict) -> str:
    """One stage of `result` (a row of its stage table): output shape, and its share of the
    network's parameters and FLOPs."""
    return _("{layer}: {shape} {params:6.1%} of the parameters, {flops:6.1%} of the FLOPs").format(
        layer=row["layer"],
        shape=f"{row['output shape']!s:<18}",
        params=row["params"] / result["params"],
        flops=row["flops"] / result["flops"],
    )


def computed_in(seconds: float) -> str:
    """How long `explore_architecture` took."""
    return _("computed in {seconds:.3f} s").format(seconds=seconds)


def same_counts_lines(same_table: bool, same_params: bool, same_flops: bool) -> str:
    """The explorer's stage table, parameters and FLOPs against those of the built network."""
    return columns(
        [
            [_("same stage table:"), str(same_table)],
            [_("same parameters:"), str(same_params)],
            [_("same FLOPs:"), str(same_flops)],
        ],
        [17],
    )


def torchvision_flops_lines(num_params: int, ops: float, flops: int) -> str:
    """torchvision's metadata for ResNet-50 (its "_ops" are multiply-adds) against count_flops."""
    return "\n".join(
        [
            _("torchvision metadata, ResNet-50: {params:,} parameters, _ops = {ops} 'GFLOPS'").format(
                params=num_params, ops=ops
            ),
            columns(
                [
                    [_("count_flops at 224:"), f"{flops / 1e9:.3f} GFLOPs"],
                    [_("  = multiply-adds:"), f"{flops / 2e9:.3f} G"],
                ],
                [32],
            ),
        ]
    )


def same_flops_line(same: bool) -> str:
    """The explorer's ResNeXt-50 FLOPs against torchvision's resnext50_32x4d."""
    return _("same FLOPs as torchvision's resnext50_32x4d: {same}").format(same=same)


def source_line(paper: str) -> str:
    """Where the table's numbers come from."""
    return _("Source: {paper}").format(paper=paper)


def option_a_lines(
    name: str, params_b: int, params_a: int, saved_params: int, saved_flops_share: float
) -> str:
    """A network with option B shortcuts (1x1 projections) against option A (zero padding)."""
    return _(
        "{name}: option B {params_b:,} parameters, option A {params_a:,}:\n"
        "  {saved_params:,} parameters and {saved_flops:.2%} of the FLOPs fewer (the three 1x1 projections)"
    ).format(
        name=name,
        params_b=params_b,
        params_a=params_a,
        saved_params=saved_params,
        saved_flops=saved_flops_share,
    )


def vgg_comparison_line(name: str, flops_ratio: float, params_ratio: float) -> str:
    """A ResNet's FLOPs and parameters as multiples of VGG-16's."""
    return _("{name:<10} vs VGG-16: {flops:.2f}x the FLOPs, {params:.2f}x the parameters").format(
        name=name, flops=flops_ratio, params=params_ratio
    )


def fc_share_line(share: float) -> str:
    """The share of VGG-16's parameters in its fully connected layers."""
    return _("VGG-16's fully connected layers hold {share:.0%} of its parameters").format(share=share)


def table1_line(name: str, depth: int, sizes, macs: float, paper: float, preset: str, same: bool) -> str:
    """A network built from a row of He et al.'s Table 1: depth, stage output sizes, multiply-adds
    against the table's, and whether its parameters are the helpers' preset's."""
    return _(
        "{name:>9}: depth {depth:3d}, outputs {sizes}, {macs:5.2f} G mult-adds (Table 1: {paper}), "
        "parameters as {preset}: {same}"
    ).format(name=name, depth=depth, sizes=sizes, macs=macs, paper=paper, preset=preset, same=same)


def resolution_flops_line(flops_224: int, flops_96: int) -> str:
    """ResNet-18's FLOPs at 224x224 and 96x96, their ratio and the ratio of the areas."""
    return _(
        "224x224: {gflops_224:.2f} GFLOPs, 96x96: {gflops_96:.2f} GFLOPs, {ratio:.1f}x less at 96 "
        "(the area ratio is {area:.1f})"
    ).format(
        gflops_224=flops_224 / 1e9, gflops_96=flops_96 / 1e9, ratio=flops_224 / flops_96, area=(224 / 96) ** 2
    )


def smallest_resolution_line(resolution: int, output) -> str:
    """The smallest resolution the explorer accepts, and the last stage's output there."""
    return _("smallest resolution: {resolution} -> b5 output {output}").format(
        resolution=resolution, output=output
    )


def fashion_mnist_line(b4_output, b5_output) -> str:
    """The last two stages' outputs at Fashion-MNIST's own 28x28."""
    return _("28x28, Fashion-MNIST's own size: b4 output {b4} -> b5 output {b5}").format(
        b4=b4_output, b5=b5_output
    )


def last_stage_line(output) -> str:
    """The last stage's output shape, indented under a headline."""
    return _("    last stage output: {output}").format(output=output)


def width_scaling_line(width: int, params_ratio: float, flops_ratio: float) -> str:
    """A base width's parameters and FLOPs as multiples of those at base width 64."""
    return _("base width {width:>3}: {params:.2f}x the parameters, {flops:.2f}x the FLOPs").format(
        width=width, params=params_ratio, flops=flops_ratio
    )
