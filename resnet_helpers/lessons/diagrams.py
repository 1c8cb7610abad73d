"""Block diagrams drawn with matplotlib: a normal block beside a residual block (残差块).

The drawings follow d2l's figures 7.6.2 and 7.6.3: the input x enters at the bottom, the
layers stack upwards, the dashed box is the part whose weights are learned, and in the
residual block a shortcut carries x around the box to an addition. Imports no model code.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch, Rectangle

__all__ = ["draw_block", "draw_normal_vs_residual", "draw_course_blocks"]

_COLORS = {
    "weight": "#cfe2f3",  # layers with weights: convolutions, "weight layer"
    "norm": "#fff2cc",  # batch norm
    "act": "#d9ead3",  # activation functions
    "shortcut": "#f4cccc",  # a 1x1 convolution on the shortcut
}
_BOX_W, _BOX_H, _STEP = 3.2, 0.7, 1.2


def _color(label: str) -> str:
    text = label.lower()
    if "norm" in text:
        return _COLORS["norm"]
    if "relu" in text or "activation" in text:
        return _COLORS["act"]
    return _COLORS["weight"]


def _box(ax, x, y, label, color):
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
    ax.text(x, y, label, ha="center", va="center", fontsize=10)


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
    box_label="learned",
):
    """Draw one block bottom-up on `ax`.

    Args:
        layers: labels of the learned layers, bottom first (the dashed box).
        shortcut: None for a normal block, "identity" for the identity shortcut, or the
            label of a layer on the shortcut (e.g. "1x1 conv").
        after: the layer after the box (and after the addition), or None.
        title: drawn above the block.
        branch_label: what the dashed box must fit: "f(x)" for a normal block,
            "f(x) - x" for a residual block.
        box_label: written along the dashed box.
    """
    x = 0.0
    y = -0.5
    ax.text(x, y, "x", ha="center", va="center", fontsize=13, style="italic")
    input_top = y + 0.25
    branch_y = y + 0.6  # where the shortcut leaves the input's arrow
    y = _STEP
    _arrow(ax, (x, input_top), (x, y - _BOX_H / 2))
    box_bottom = y - _BOX_H / 2 - 0.25
    for i, label in enumerate(layers):
        _box(ax, x, y, label, _color(label))
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
    # what the box outputs, written on the arrow that leaves it
    y_label = box_top + 0.45
    ax.text(x + 0.15, y_label, branch_label, ha="left", va="center", fontsize=11, style="italic")
    y = box_top + 1.0
    if shortcut is not None:
        # the addition, with the shortcut arriving from the right
        _arrow(ax, (x, y - 1.0 + 0.0), (x, y - 0.25))
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
            ax.text(side, mid, shortcut, ha="center", va="center", fontsize=10, zorder=4)
        else:
            ax.text(side + 0.15, (branch_y + y) / 2, "x", ha="left", va="center", fontsize=12, style="italic")
        _arrow(ax, (side, y), (x + 0.25, y))
        start = y + 0.25
    else:
        start = y - 1.0
    y = start + _STEP - 0.25 if shortcut is not None else y + 0.2
    if after:
        _arrow(ax, (x, start), (x, y - _BOX_H / 2))
        _box(ax, x, y, after, _color(after))
        start = y + _BOX_H / 2
        y += _STEP
    _arrow(ax, (x, start), (x, y - 0.2))
    ax.text(x, y, "f(x)", ha="center", va="bottom", fontsize=13, style="italic")
    ax.set_title(title, fontsize=12)
    ax.set_xlim(-_BOX_W / 2 - 1.3, _BOX_W / 2 + 2.0)
    ax.set_ylim(-1.0, y + 0.9)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_normal_vs_residual():
    """A normal block (the box must fit f(x)) beside a residual block (the box fits f(x) - x)."""
    layers = ["weight layer", "activation function", "weight layer"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 5.2))
    draw_block(left, layers, title="normal block", branch_label="f(x)")
    draw_block(right, layers, shortcut="identity", title="residual block", branch_label="f(x) - x")
    fig.tight_layout()
    return fig


def draw_course_blocks():
    """The course's `Residual`: identity shortcut (left) and 1x1 convolution on the shortcut (right)."""
    layers = ["3x3 conv", "batch norm", "ReLU", "3x3 conv", "batch norm"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 7))
    draw_block(
        left,
        layers,
        shortcut="identity",
        after="ReLU",
        title="Residual(c, c)",
        branch_label="",
        box_label="residual branch",
    )
    draw_block(
        right,
        layers,
        shortcut="1x1 conv",
        after="ReLU",
        title="Residual(c, c', use_1x1conv=True)",
        branch_label="",
        box_label="residual branch",
    )
    fig.tight_layout()
    return fig
