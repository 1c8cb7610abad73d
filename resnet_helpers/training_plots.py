"""Figures of notebook 04: the course's training curves (live), a confusion matrix, mistakes.

Imports no model code: each function takes plain tensors, lists or a history dict.
"""

from __future__ import annotations

import time

import matplotlib.pyplot as plt
import torch

from .plots import show_images

__all__ = ["LivePlot", "plot_history", "confusion_matrix", "plot_confusion_matrix", "show_mistakes"]


def plot_history(history: dict, epochs: int | None = None, ax=None, title: str | None = None):
    """The course's figure (d2l.train_ch6): train loss, train acc and test acc against epoch."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.3))
    else:
        fig = ax.figure
    ax.cla()
    ax.plot(history["epoch"], history["train_loss"], "-", label="train loss")
    ax.plot(history["epoch"], history["train_acc"], "m--", label="train acc")
    ax.plot(history["test_epoch"], history["test_acc"], "g-.", marker="o", markersize=3, label="test acc")
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


def confusion_matrix(pred, true, num_classes: int = 10) -> torch.Tensor:
    """counts[i, j] = test images of class i predicted as class j."""
    pred, true = torch.as_tensor(pred).long().cpu(), torch.as_tensor(true).long().cpu()
    return torch.bincount(true * num_classes + pred, minlength=num_classes**2).view(num_classes, num_classes)


def plot_confusion_matrix(pred, true, class_names, title: str | None = None):
    """The confusion matrix as a heat map, with the count in each cell."""
    counts = confusion_matrix(pred, true, len(class_names))
    fig, ax = plt.subplots(figsize=(6.2, 5.4))
    image = ax.imshow(counts.numpy(), cmap="Blues")
    n = len(class_names)
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    threshold = counts.max().item() / 2
    for i in range(n):
        for j in range(n):
            value = counts[i, j].item()
            if value:
                ax.text(j, i, value, ha="center", va="center", fontsize=7,
                        color="white" if value > threshold else "black")  # fmt: skip
    fig.colorbar(image, ax=ax, label="test images")
    accuracy = counts.diag().sum().item() / max(1, counts.sum().item())
    ax.set_title(title or f"Confusion matrix (accuracy {accuracy:.3f})")
    fig.tight_layout()
    return fig


def show_mistakes(images, pred, true, class_names, rows: int = 2, cols: int = 8):
    """A grid of misclassified test images titled 'true / predicted'; None if there are none."""
    pred, true = torch.as_tensor(pred).cpu(), torch.as_tensor(true).cpu()
    wrong = (pred != true).nonzero().flatten()[: rows * cols]
    if len(wrong) == 0:
        return None
    titles = [f"{class_names[true[i]]}\n→ {class_names[pred[i]]}" for i in wrong.tolist()]
    fig = show_images(torch.as_tensor(images).cpu()[wrong].numpy(), titles, rows=rows, cols=cols, scale=1.5)
    fig.suptitle("Misclassified test images: true class → predicted class", fontsize=10)
    fig.tight_layout()
    return fig
