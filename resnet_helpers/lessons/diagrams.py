"""Block diagrams drawn with matplotlib: a normal block beside a residual block (残差块).

The drawings follow d2l's figures 7.6.2 and 7.6.3: the input x enters at the bottom, the
layers stack upwards, the dashed box is the part whose weights are learned, and in the
residual block a shortcut carries x around the box to an addition. f(x), the mapping the block
should learn, is the input of the top activation function: a normal block's dashed box must
compute f(x) itself, a residual block's box computes f(x) - x and the addition gives f(x).
Imports no model code.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch, Rectangle

from ..i18n import _

__all__ = ["draw_block", "draw_normal_vs_residual", "draw_course_blocks", "draw_block_layers"]

_COLORS = {
    "weight": "#cfe2f3",  # layers with weights: convolutions, "weight layer"
    "norm": "#fff2cc",  # batch norm
    "act": "#d9ead3",  # activation functions
    "shortcut": "#f4cccc",  # a 1x1 convolution on the shortcut
}
_BOX_W, _BOX_H, _STEP = 3.2, 0.7, 1.2


def _color(label: str) -> str:
    """A layer's colour by its label, in English or in the reader's language."""
    text = label.lower()
    if "norm" in text or _("batch norm") in label:
        return _COLORS["norm"]
    if "relu" in text or "activation" in text or _("activation function") in label:
        return _COLORS["act"]
    return _COLORS["weight"]


def _box(ax, x, y, label, color, fontsize=10):
    ax.add_patch(
        FancyBboxPatch(
            (x - _BOX_W / 2, y - _BOX_H / 2),
            _BOX_W,
            _BOX_H,
            boxstyle="round,pad=0.02,rounding_size=0.15",
            facecolor=color,
            edgecolor="black",
            linewidth=1,
        )
    )
    ax.text(x, y, label, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color="black", lw=1.2))


def draw_block(
    ax,
    layers,
    *,
    shortcut=None,
    after="activation function",
    title="",
    branch_label="f(x)",
    sum_label="f(x)",
    box_label="learned",
    fontsize=10,
):
    """Draw one block bottom-up on `ax`, as d2l's figure 7.6.2 does.

    Args:
        layers: labels of the learned layers, bottom first (the dashed box).
        shortcut: None for a normal block, "identity" for the identity shortcut, or the
            label of a layer on the shortcut (e.g. "1x1 conv").
        after: the layer after the box (and after the addition), or None.
        title: drawn above the block.
        branch_label: what the dashed box computes, written on the arrow that leaves it:
            "f(x)" in a normal block, "f(x) - x" in a residual block.
        sum_label: what the addition gives, written on the arrow that leaves it (residual
            blocks only): "f(x)", the input of the activation function.
        box_label: written along the dashed box.
        fontsize: of the labels in the boxes.
    The default `after` and `box_label` are shown in the reader's language (`i18n.set_language`).
    """
    if after == "activation function":
        after = _("activation function")
    if box_label == "learned":
        box_label = _("learned")
    x = 0.0
    y = -0.5
    ax.text(x, y, "x", ha="center", va="center", fontsize=13, style="italic")
    input_top = y + 0.25
    branch_y = y + 0.6  # where the shortcut leaves the input's arrow
    y = _STEP
    _arrow(ax, (x, input_top), (x, y - _BOX_H / 2))
    box_bottom = y - _BOX_H / 2 - 0.25
    for i, label in enumerate(layers):
        _box(ax, x, y, label, _color(label), fontsize)
        if i + 1 < len(layers):
            _arrow(ax, (x, y + _BOX_H / 2), (x, y + _STEP - _BOX_H / 2))
            y += _STEP
    box_top = y + _BOX_H / 2 + 0.25
    ax.add_patch(
        Rectangle(
            (x - _BOX_W / 2 - 0.35, box_bottom),
            _BOX_W + 0.7,
            box_top - box_bottom,
            fill=False,
            linestyle="--",
            edgecolor="gray",
            linewidth=1.2,
        )
    )
    ax.text(
        x - _BOX_W / 2 - 0.5,
        (box_bottom + box_top) / 2,
        box_label,
        rotation=90,
        ha="right",
        va="center",
        fontsize=9,
        color="gray",
    )
    start = y + _BOX_H / 2  # the arrow leaving the last layer
    y = box_top + 1.0  # the next element: the addition, the layer after, or the output
    if branch_label:
        ax.text(x + 0.15, box_top + 0.45, branch_label, ha="left", va="center", fontsize=11, style="italic")
    if shortcut is not None:
        _arrow(ax, (x, start), (x, y - 0.25))
        ax.add_patch(plt.Circle((x, y), 0.25, facecolor="white", edgecolor="black", linewidth=1.2))
        ax.text(x, y, "+", ha="center", va="center", fontsize=13)
        side = x + _BOX_W / 2 + 1.0
        ax.plot([x, side, side], [branch_y, branch_y, y], color="black", lw=1.2)
        ax.plot([x], [branch_y], marker="o", markersize=4, color="black")
        if shortcut != "identity":
            mid = (branch_y + y) / 2
            ax.add_patch(
                FancyBboxPatch(
                    (side - 0.8, mid - _BOX_H / 2),
                    1.6,
                    _BOX_H,
                    boxstyle="round,pad=0.02,rounding_size=0.15",
                    facecolor=_COLORS["shortcut"],
                    edgecolor="black",
                    zorder=3,
                )
            )
            ax.text(side, mid, shortcut, ha="center", va="center", fontsize=fontsize - 1, zorder=4)
        else:
            ax.text(side + 0.15, (branch_y + y) / 2, "x", ha="left", va="center", fontsize=12, style="italic")
        _arrow(ax, (side, y), (x + 0.25, y))
        start = y + 0.25
        if sum_label:
            ax.text(x + 0.15, y + 0.7, sum_label, ha="left", va="center", fontsize=11, style="italic")
        y += 1.2
    if after:
        y += _BOX_H / 2 - 0.25
        _arrow(ax, (x, start), (x, y - _BOX_H / 2))
        _box(ax, x, y, after, _color(after), fontsize)
        start = y + _BOX_H / 2
        y += _BOX_H / 2 + 0.9
    _arrow(ax, (x, start), (x, y))  # the block's output
    ax.set_title(title, fontsize=12)
    ax.set_xlim(-_BOX_W / 2 - 1.3, _BOX_W / 2 + 2.0)
    ax.set_ylim(-1.0, y + 0.4)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_normal_vs_residual():
    """d2l's figure 7.6.2: a normal block (left), whose dashed box must compute f(x) itself, and
    a residual block (right), whose dashed box computes f(x) - x; the shortcut adds x back, and
    f(x) enters the activation function in both."""
    layers = [_("weight layer"), _("activation function"), _("weight layer")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 5.6))
    draw_block(left, layers, title=_("normal block"), branch_label="f(x)")
    draw_block(right, layers, shortcut="identity", title=_("residual block"), branch_label="f(x) - x")
    left.set_ylim(right.get_ylim())  # the same scale, the inputs level, as in the book
    fig.tight_layout()
    return fig


def draw_course_blocks():
    """The course's `Residual`: identity shortcut (left) and 1x1 convolution on the shortcut (right).

    Only the layers: notebook 02 draws this before it defines f and g (section 2), so the arrows
    carry no formulas; `draw_normal_vs_residual` draws them."""
    layers = [_("3x3 conv"), _("batch norm"), "ReLU", _("3x3 conv"), _("batch norm")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 7.4))
    common = dict(after="ReLU", box_label=_("residual branch"), branch_label="", sum_label="")
    draw_block(left, layers, shortcut="identity", title="Residual(c, c)", **common)
    draw_block(right, layers, shortcut=_("1x1 conv"), title="Residual(c, c', use_1x1conv=True)", **common)
    fig.tight_layout()
    return fig


def draw_block_layers(branch, shortcut, after, title="", scale=0.45):
    """A figure of one block from its layer labels (the block explorer's picture)."""
    height = scale * (_STEP * len(branch) + 5.0)
    fig, ax = plt.subplots(figsize=(3.6, height))
    draw_block(
        ax,
        branch,
        shortcut=shortcut,
        after=after,
        title=title,
        branch_label="",
        sum_label="",
        box_label=_("residual branch"),
        fontsize=8.5 if max(map(len, [*branch, shortcut or ""])) <= 18 else 7.5,
    )
    fig.subplots_adjust(left=0.02, right=0.98, top=1 - 0.35 / height, bottom=0.02)
    return fig
