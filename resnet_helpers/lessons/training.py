"""Figures of notebook 04: a confusion matrix and the test images the network gets wrong.

The training curves (`plot_history`, `LivePlot`) live beside the trainer, in
`resnet_helpers.training.progress`. Each function here takes plain tensors or lists.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .widgets import show_images

__all__ = ["confusion_matrix", "plot_confusion_matrix", "show_mistakes"]


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
                color = "white" if value > threshold else "black"
                ax.text(j, i, value, ha="center", va="center", fontsize=7, color=color)
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
