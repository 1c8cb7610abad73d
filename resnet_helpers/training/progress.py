"""What a reader sees while a run trains: progress bars that leave their final state in the saved
notebook, and the course's training figure, drawn from a history or redrawn live.

    bar = progress_bar(400, desc="plain-8")
    for ...:
        bar.update(1)
    bar.close()       # the saved output now reads "plain-8: 100%|██████████| 400/400 [...]"

In a notebook, tqdm's widget bar is live while the loop runs. Its saved output, though, is what
was displayed when the bar *appeared*: a front end without the widget (GitHub, nbviewer without
the widget state, a notebook opened without a kernel) would show `plain-8: 0%| | 0/400`, as if
nothing ran. `progress_bar` displays the same widget under a display id and, on `close()`,
replaces that output with the same widget view plus `text/plain` and `text/html` pictures of the
bar's final state. JupyterLab and Colab keep showing the live widget; other readers see the end.

Outside a notebook (a terminal, the tests) it is tqdm's ordinary text bar.

The figure is d2l.train_ch6's (train loss, train acc, test acc against epoch): `plot_history` draws
it once from a history, `LivePlot` redraws it in place while a run trains. matplotlib is imported
only when a figure is drawn, so the command line never loads it.
"""

from __future__ import annotations

import html
import time

from ..i18n import _

__all__ = ["progress_bar", "plot_history", "LivePlot"]

_COLORS = {"success": "#5cb85c", "danger": "#d9534f", "": "#2196f3"}


def in_notebook() -> bool:
    """True in a Jupyter kernel (JupyterLab, Colab, nbconvert), where bars and plots are widgets."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def final_bar_html(fraction: float, left: str, right: str, style: str = "success") -> str:
    """A static HTML picture of a finished bar: `left` text, a filled bar, `right` text."""
    fraction = min(max(fraction, 0.0), 1.0)
    color = _COLORS.get(style, _COLORS[""])
    return (
        '<div style="display: flex; align-items: center; gap: 6px; font-family: monospace">'
        f"<span>{html.escape(left)}</span>"
        '<span style="display: inline-block; width: 240px; height: 12px; background: #e6e6e6">'
        f'<span style="display: block; width: {100 * fraction:.1f}%; height: 12px; background: {color}">'
        "</span></span>"
        f"<span>{html.escape(right)}</span></div>"
    )


def _notebook_class():
    """tqdm's notebook bar class when running in a Jupyter kernel with ipywidgets, else None."""
    from tqdm.auto import tqdm as auto_tqdm

    try:
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:  # pragma: no cover - tqdm always ships it
        return None
    if not (isinstance(auto_tqdm, type) and issubclass(auto_tqdm, notebook_tqdm)):
        return None

    class SavedBar(notebook_tqdm):
        """tqdm's widget bar, displayed under a display id; `close()` saves its final state."""

        def __init__(self, *args, **kwargs):
            kwargs["display"] = False  # we display it ourselves, with a display id
            super().__init__(*args, **kwargs)
            self._handle = None
            if not self.disable and getattr(self, "container", None) is not None:
                from IPython.display import display

                self._handle = display(self._bundle(), raw=True, display_id=True)
                self.displayed = True

        def _texts(self) -> tuple[str, str, str]:
            d = dict(self.format_dict)
            plain = self.format_meter(**d)
            d["bar_format"] = (d["bar_format"] or "{l_bar}<bar/>{r_bar}").replace("{bar}", "<bar/>")
            left, _bar, right = self.format_meter(**d).partition("<bar/>")
            return plain, left.rstrip("|"), right.lstrip("|")

        def _bundle(self, style: str = "") -> dict:
            plain, left, right = self._texts()
            bundle = {
                "text/plain": plain,
                "text/html": final_bar_html(self.n / self.total if self.total else 1.0, left, right, style),
            }
            view = self.container._repr_mimebundle_()
            bundle.update({k: v for k, v in view.items() if k != "text/plain"})
            return bundle

        def close(self):
            if self.disable or self._handle is None:
                return super().close()
            super().close()
            # tqdm's own rule when it closes a bar: short of its total is an error (red), else done
            finished = not self.total or self.n >= self.total
            style = "success" if finished else "danger"
            if self.leave or not finished:
                self._handle.update(self._bundle(style), raw=True)
            else:  # leave=False: the bar disappears, so does its saved picture
                self._handle.update({"text/plain": ""}, raw=True)
            self._handle = None

    return SavedBar


def progress_bar(total: int, desc: str | None = None, disable: bool = False, **kwargs):
    """A tqdm progress bar (`tqdm.auto`) of `total` steps whose saved notebook output shows its
    final state. Use it like tqdm: `update(n)`, `set_postfix_str(...)`, `close()` (or `with`).

    Extra keyword arguments go to tqdm (`leave`, `unit`, `position`, ...)."""
    cls = None if disable else _notebook_class()
    if cls is None:
        from tqdm.auto import tqdm as cls
    return cls(total=total, desc=desc, disable=disable, **kwargs)


def plot_history(history: dict, epochs: int | None = None, ax=None, title: str | None = None):
    """The course's figure (d2l.train_ch6): train loss, train acc and test acc against epoch."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.3))
    else:
        fig = ax.figure
    ax.cla()
    ax.plot(history["epoch"], history["train_loss"], "-", label=_("train loss"))
    ax.plot(history["epoch"], history["train_acc"], "m--", label=_("train acc"))
    # clip_on=False: the last epoch's marker sits on the frame's right edge; draw all of it
    test = {"marker": "o", "ms": 3, "label": _("test acc"), "clip_on": False}
    ax.plot(history["test_epoch"], history["test_acc"], "g-.", **test)
    last = epochs or (history["test_epoch"][-1] if history["test_epoch"] else 1)
    ax.set_xlim(0, last)
    ax.set_xlabel(_("epoch"))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


class LivePlot:
    """The course's figure, redrawn in place in a notebook while training runs."""

    def __init__(self, epochs: int, title: str | None = None, min_interval: float = 1.0):
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.epochs, self.title, self.min_interval = epochs, title, min_interval
        self.fig, self.ax = plt.subplots(figsize=(5, 3.3))
        self.handle = display(self.fig, display_id=True)
        self.last = 0.0

    def update(self, history: dict, force: bool = False) -> None:
        now = time.perf_counter()
        at_epoch_end = (
            len(history["test_epoch"])
            and history["epoch"]
            and (history["epoch"][-1] == history["test_epoch"][-1])
        )
        if not (force or at_epoch_end or now - self.last >= self.min_interval):
            return
        plot_history(history, self.epochs, self.ax, self.title)
        self.handle.update(self.fig)
        self.last = now

    def close(self) -> None:
        import matplotlib.pyplot as plt

        plt.close(self.fig)  # the last drawing stays in the output; no second copy at cell end
