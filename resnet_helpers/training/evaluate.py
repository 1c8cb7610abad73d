"""One evaluation loop for every network and every kind of batches: loss, accuracy, predictions."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..i18n import _
from ..measure import keep_modes

__all__ = ["Evaluation", "evaluate", "tensor_batches", "predict"]


@dataclass
class Evaluation:
    loss: float  # mean cross-entropy
    accuracy: float  # fraction classified correctly
    count: int  # examples seen
    predictions: torch.Tensor | None = None  # predicted labels, on the CPU, when asked for


def tensor_batches(X: torch.Tensor, y: torch.Tensor, batch_size: int = 512):
    """(X, y) in order, `batch_size` examples at a time."""
    return zip(X.split(batch_size), y.split(batch_size), strict=True)


@torch.inference_mode()
def evaluate(net: nn.Module, batches, autocast=None, keep_predictions: bool = False) -> Evaluation:
    """Evaluate `net` in eval mode (BN uses its running statistics) over (X, y) `batches`.

    Sums stay on the device until the end (one synchronisation); `autocast` is an optional
    context (mixed precision); every layer's train/eval mode is restored afterwards (`keep_modes`).
    """
    loss_sum = correct = None
    count = 0
    predictions = []
    with keep_modes(net):
        net.eval()
        with autocast if autocast is not None else contextlib.nullcontext():
            for X, y in batches:
                logits = net(X).float()
                batch_loss = F.cross_entropy(logits, y, reduction="sum")
                batch_correct = (logits.argmax(dim=1) == y).sum()
                loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
                correct = batch_correct if correct is None else correct + batch_correct
                count += len(y)
                if keep_predictions:
                    predictions.append(logits.argmax(dim=1))
    if count == 0:
        raise ValueError(_("evaluate() got no batches: there is nothing to evaluate."))
    return Evaluation(
        loss=loss_sum.item() / count,
        accuracy=correct.item() / count,
        count=count,
        predictions=torch.cat(predictions).cpu() if keep_predictions else None,
    )


def predict(net: nn.Module, data, resolution: int, batch_size: int = 512):
    """(predicted labels, true labels) of `data`'s test images (a `DeviceData`), on the CPU."""
    result = evaluate(net, data.test_batches(batch_size, resolution), keep_predictions=True)
    return result.predictions, data.test_labels.cpu()
