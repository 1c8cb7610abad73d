"""What every lesson shares for display: error boxes, figure-or-message callbacks, image grids.

Imports no model code."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt

__all__ = ["show_images", "error_box", "show_or_explain"]

ERROR_BOX_STYLE = "border-left: 4px solid #c0392b; background: #fdecea; padding: 6px 10px"


def error_box(text: str, monospace: bool = False) -> str:
    """HTML of a red-edged box holding `text` (escaped): how the explorers show bad input."""
    style = ERROR_BOX_STYLE + ("; white-space: pre-wrap; font-family: monospace" if monospace else "")
    return f'<div style="{style}">{html.escape(text)}</div>'


def show_images(images, titles=None, rows=2, cols=8, scale=1.4, cmap="gray"):
    """A grid of images (a (N, H, W) tensor or array, or a list of them) with titles."""
    n = min(len(images), rows * cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * scale, rows * (scale + 0.25)))
    for i, ax in enumerate(getattr(axes, "flat", [axes])):
        ax.axis("off")
        if i >= n:
            continue
        image = images[i]
        if hasattr(image, "detach"):
            image = image.detach().cpu()
        ax.imshow(image, cmap=cmap)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def show_or_explain(callback, **values) -> None:
    """Call a panel's callback and show its figure; a ValueError is shown as a message instead."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    try:
        result = callback(**values)
    except ValueError as e:
        print(f"Cannot draw this: {e}")
        return
    if isinstance(result, plt.Figure):
        display(result)
        plt.close(result)
    else:
        display(result)
