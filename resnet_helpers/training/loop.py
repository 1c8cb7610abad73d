"""The short experiment loop of notebooks 01, 05 and 06: real Fashion-MNIST as tensors, plain SGD.

    X, y = training_tensors(2048, resolution=12)          # real images, normalised
    losses = train_losses(net, X, y, steps=400, lr=0.05)  # the loss of every step
    evaluate(net, tensor_batches(*test_tensors(1000, resolution=12))).accuracy

Unlike the trainer (`trainer.py`), this trains from tensors already in memory, for a fixed number
of steps, and returns the loss of every step: what the depth experiments compare.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn
from torch.nn import functional as F

from ..data import load_fashion_mnist
from ..profiles import choose_device
from .evaluate import evaluate, tensor_batches
from .progress import progress_bar

__all__ = [
    "training_tensors",
    "test_tensors",
    "train_statistics",
    "train_losses",
    "evaluate_loss",
    "accuracy",
]


def _prepare(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, resolution, resolution) in [0, 1]."""
    X = images.unsqueeze(1).float() / 255
    if resolution != X.shape[-1]:
        X = F.interpolate(X, size=(resolution, resolution), mode="bilinear", antialias=True)
    return X


@lru_cache(maxsize=8)
def train_statistics(resolution: int = 28, n_images: int = 10_000) -> tuple[float, float]:
    """Mean and std of the first `n_images` training images at `resolution`: what both
    `training_tensors` and `test_tensors` normalise with."""
    X = _prepare(load_fashion_mnist().train_images[:n_images], resolution)
    return float(X.mean()), float(X.std())


def _tensors(split: str, n_images: int, resolution: int, seed: int, device):
    data = load_fashion_mnist()
    images, labels = (
        (data.train_images, data.train_labels) if split == "train" else (data.test_images, data.test_labels)
    )
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(labels), generator=g)[:n_images]
    mean, std = train_statistics(resolution)
    X = (_prepare(images[idx], resolution) - mean) / std
    device = torch.device(device) if device is not None else choose_device()
    return X.to(device), labels[idx].to(device)


def training_tensors(
    n_images: int, resolution: int = 28, seed: int = 0, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random subset of the real Fashion-MNIST training set, as float tensors.

    Returns images (N, 1, resolution, resolution), normalised with `train_statistics(resolution)`
    (mean about 0, std about 1), and their labels (N,). The subset is drawn with `seed`, so every
    network sees the same images.
    """
    return _tensors("train", n_images, resolution, seed, device)


def test_tensors(
    n_images: int, resolution: int = 28, seed: int = 0, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random subset of the Fashion-MNIST *test* set, prepared exactly like `training_tensors`
    (same resizing, normalised with the same training-set statistics)."""
    return _tensors("test", n_images, resolution, seed, device)


def _batches(n: int, batch_size: int, steps: int, generator: torch.Generator):
    """Index tensors for `steps` mini-batches: shuffled epochs over n examples."""
    done = 0
    while done < steps:
        for idx in torch.randperm(n, generator=generator).split(batch_size):
            if len(idx) < batch_size or done == steps:
                break
            yield idx
            done += 1


def train_losses(
    net: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    batch_size: int = 128,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    one_cycle: bool = False,
    seed: int = 0,
    desc: str | None = None,
    progress: bool = True,
) -> list[float]:
    """Train `net` with SGD for `steps` mini-batches; the training loss of every step.

    The batches come straight from the tensors (shuffled with `seed`, so two networks
    trained with the same seed see the same batches in the same order). `one_cycle=True`
    warms the learning rate up to `lr` and anneals it to ~0 (`OneCycleLR`); else it is constant.

    A loss that is no longer finite stops the run (checked every 10 steps, to avoid waiting
    for a GPU at each step): its gradients made every weight NaN, so the remaining steps would
    only compute NaNs. They are returned as NaN, so the list always has `steps` entries.
    """
    if batch_size > len(X):
        raise ValueError(f"batch_size={batch_size} is larger than the {len(X)} training images.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    net.to(X.device).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps) if one_cycle else None
    generator = torch.Generator().manual_seed(seed)
    losses = []
    bar = progress_bar(steps, desc=desc, disable=not progress)
    for step, idx in enumerate(_batches(len(X), batch_size, steps, generator), start=1):
        idx = idx.to(X.device)
        loss = F.cross_entropy(net(X[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        losses.append(loss.detach())
        bar.update(1)
        if step % 10 == 0 and not torch.isfinite(loss).item():
            bar.set_postfix_str("loss is NaN: stopped")
            break
    bar.close()
    losses = torch.stack(losses).tolist()
    return losses + [float("nan")] * (steps - len(losses))


def evaluate_loss(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Mean cross-entropy of `net` (in eval mode) on X, y."""
    return evaluate(net, tensor_batches(X, y, batch_size)).loss


def accuracy(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Fraction of X that `net` (in eval mode) classifies correctly."""
    return evaluate(net, tensor_batches(X, y, batch_size)).accuracy


test_tensors.__test__ = False  # not a pytest test, though its name starts with "test"
