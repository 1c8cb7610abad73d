"""Progress bars that leave their final state in the saved notebook.

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
"""

from __future__ import annotations

import html

__all__ = ["progress_bar", "final_bar_html", "in_notebook"]

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
            left, _, right = self.format_meter(**d).partition("<bar/>")
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
            style = self.container.children[1].bar_style or ""
            if self.leave or style == "danger":
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
