"""The course's training figure (d2l.train_ch6's: train loss, train acc, test acc against epoch),
drawn once from a history (`plot_history`) or redrawn in place while a run trains (`LivePlot`)."""

from __future__ import annotations

import time

import matplotlib.pyplot as plt

__all__ = ["plot_history", "LivePlot"]


def plot_history(history: dict, epochs: int | None = None, ax=None, title: str | None = None):
    """The course's figure (d2l.train_ch6): train loss, train acc and test acc against epoch."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.3))
    else:
        fig = ax.figure
    ax.cla()
    ax.plot(history["epoch"], history["train_loss"], "-", label="train loss")
    ax.plot(history["epoch"], history["train_acc"], "m--", label="train acc")
    # clip_on=False: the last epoch's marker sits on the frame's right edge; draw all of it
    test = {"marker": "o", "ms": 3, "label": "test acc", "clip_on": False}
    ax.plot(history["test_epoch"], history["test_acc"], "g-.", **test)
    last = epochs or (history["test_epoch"][-1] if history["test_epoch"] else 1)
    ax.set_xlim(0, last)
    ax.set_xlabel("epoch")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


class LivePlot:
    """The course's figure, redrawn in place in a notebook while training runs."""

    def __init__(self, epochs: int, title: str | None = None, min_interval: float = 1.0):
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
        plt.close(self.fig)  # the last drawing stays in the output; no second copy at cell end
