"""What every lesson shares for display: error boxes, figure-or-message callbacks, image grids,
and static snapshots of interactive panels.

Imports no model code."""

from __future__ import annotations

import base64
import html
import io
import traceback

import matplotlib.pyplot as plt

from ..i18n import _

__all__ = [
    "show_images",
    "error_box",
    "show_or_explain",
    "with_snapshot",
    "Snapshot",
    "WIDGET_VIEW",
    "panel_output",
    "captured_outputs",
]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

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
        print(_("Cannot draw this: {error}").format(error=e))
        return
    if isinstance(result, plt.Figure):
        display(result)
        plt.close(result)
    else:
        display(result)


def _figure_png(fig) -> bytes:
    """The PNG bytes of a matplotlib Figure, as the inline backend draws it; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return buffer.getvalue()


class Snapshot:
    """An interactive panel that also carries static pictures of what it shows at its defaults.

    In Jupyter it displays as one output whose bundle holds the live widget view
    (application/vnd.jupyter.widget-view+json) beside `image/png` and `text/html` snapshots: a
    front end that runs widgets (JupyterLab, Colab, VS Code with a kernel) shows the live panel,
    one that cannot (GitHub, nbviewer, nbconvert, a notebook opened without a kernel) shows the
    snapshot. `.panel` is the widget itself; other public attributes are looked up on it, so
    `snapshot.children` is `snapshot.panel.children`.
    """

    def __init__(self, panel, png: bytes | None = None, html: str | None = None, text: str | None = None):
        self.panel = panel
        self.png = png
        self.html = html
        self.text = text or _(
            "<interactive panel ({widget}): run the notebook to use it; "
            "its default view is saved as a picture>"
        ).format(widget=type(panel).__name__)

    def __getattr__(self, name):
        if name.startswith("_"):  # keep IPython's display protocol (_repr_*_) our own
            raise AttributeError(name)
        return getattr(self.panel, name)

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {}
        view = getattr(self.panel, "_repr_mimebundle_", None)
        if view is not None:
            bundle.update(view(include=include, exclude=exclude) or {})
        bundle["text/plain"] = self.text
        if self.png is not None:
            bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        if self.html is not None:
            bundle["text/html"] = self.html
        return bundle

    def __repr__(self) -> str:
        return self.text


def with_snapshot(panel, *views) -> Snapshot:
    """Wrap an ipywidgets `panel` with static snapshots of what it shows at its defaults.

    `views`, in the order the panel shows them (None is skipped):
    - a matplotlib Figure: becomes the `image/png` snapshot (the first figure) and an <img> in
      the HTML snapshot; the figure is closed, so the notebook does not also show it below;
    - an HTML string, or an object with `_repr_html_` (a pandas DataFrame or Styler): goes into
      the HTML snapshot.
    With only figures, the HTML snapshot is the <img>, so an HTML-only renderer shows them too.

        return with_snapshot(panel, figure, table.to_html())
    """
    png, parts = None, []
    for view in views:
        if view is None:
            continue
        if isinstance(view, plt.Figure):
            data = _figure_png(view)
            png = png or data
            encoded = base64.b64encode(data).decode("ascii")
            parts.append(f'<img src="data:image/png;base64,{encoded}" style="max-width: 100%">')
        elif isinstance(view, str):
            parts.append(view)
        elif hasattr(view, "_repr_html_"):
            parts.append(view._repr_html_())
        else:
            raise TypeError(
                _(
                    "with_snapshot takes matplotlib Figures and HTML (a str or an object with _repr_html_), "
                    "got {kind}"
                ).format(kind=type(view).__name__)
            )
    return Snapshot(panel, png, "\n".join(parts) if parts else None)


# --- panel_output: `ipywidgets.interactive_output` without the front end's capture round trip ---
#
# `interactive_output` draws into its Output widget with `with out: ...`: the kernel tells the front
# end "capture the outputs of this request" (the widget's msg_id), and the front end moves each
# output into the widget and sends the widget's new state back to the kernel. Executed by
# nbconvert/nbclient, that front end is nbclient, which sends those messages on the shell socket
# while it waits on the same socket for the cell's execute_reply; jupyter_client sends through a
# plain shadow of the asyncio socket, so now and then the wait misses its wake-up and the kernel
# sits idle for the whole cell timeout (nbclient issue #312; measured here: 1-2% of panel cells).
# `panel_output` captures the outputs in the kernel and sets the widget's `outputs` directly: the
# same view in JupyterLab, Colab and saved notebooks, and no message for a client to answer.


def _json_data(data: dict) -> dict:
    """Mime bundle with bytes (e.g. a PNG) base64-encoded, as the kernel would publish it."""
    return {k: base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v for k, v in data.items()}


def captured_outputs(f, **kwargs) -> tuple[dict, ...]:
    """Call f(**kwargs) and return what it printed and displayed as nbformat output dicts.

    Printed text comes first, then the displays in order; an exception becomes an error output
    (the panel keeps working).
    """
    from IPython.utils.capture import capture_output
    from ipywidgets.widgets.interaction import show_inline_matplotlib_plots

    error = None
    with capture_output() as cap:
        try:
            f(**kwargs)
            show_inline_matplotlib_plots()  # figures left open by f, as interactive_output does
        except Exception as e:
            error = e
    outputs = [
        {"output_type": "stream", "name": name, "text": text}
        for name, text in (("stdout", cap.stdout), ("stderr", cap.stderr))
        if text
    ]
    outputs += [
        {"output_type": "display_data", "data": _json_data(o.data), "metadata": o.metadata or {}}
        for o in cap.outputs
    ]
    if error is not None:
        outputs.append(
            {
                "output_type": "error",
                "ename": type(error).__name__,
                "evalue": str(error),
                "traceback": traceback.format_exception(error),
            }
        )
    return tuple(outputs)


def panel_output(f, controls: dict):
    """An Output widget showing f(**values of controls), redrawn when a control changes.

    A drop-in for `ipywidgets.interactive_output(f, controls)`.
    """
    import ipywidgets as widgets
    from ipywidgets.widgets.interaction import show_inline_matplotlib_plots

    out = widgets.Output()

    def redraw(_change=None):
        out.outputs = captured_outputs(f, **{name: w.value for name, w in controls.items()})

    for w in controls.values():
        w.observe(redraw, "value")
    show_inline_matplotlib_plots()  # the cell's own open figures stay in the cell, not the panel
    redraw()
    return out
