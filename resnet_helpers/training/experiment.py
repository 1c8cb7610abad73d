"""The experiment of notebooks 01, 05 and 06: plain and residual twins trained side by side.

    X, y = training_tensors(2048, resolution=12)          # real Fashion-MNIST images, normalised
    losses = train_losses(net, X, y, steps=400, lr=0.05)  # the loss of every SGD step
    result = degradation_experiment([8, 20, 32], X, y, steps=400)   # twins of every depth
    final_losses(result["histories"])                     # depth x (plain, residual): the last 10%
    result = train_twins([8, 20], X, y, *test_tensors(1000, resolution=12), steps=400)  # + accuracy

The twins of a depth (`build_depth_net`, with and without shortcuts) start from the same weights
and see the same batches in the same order: they differ only in the shortcuts. Unlike the trainer
(`trainer.py`), this trains from tensors already in memory, for a fixed number of steps, and
returns the loss of every step: what the depth experiments compare.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from functools import lru_cache

import torch
from torch import nn
from torch.nn import functional as F

from ..blocks import check_positive_int
from ..data import load_fashion_mnist
from ..i18n import _
from ..models import build_depth_net
from ..profiles import choose_device
from .device_data import to_input
from .evaluate import evaluate, tensor_batches
from .progress import progress_bar
from .recipes import sgd

__all__ = [
    "training_tensors",
    "test_tensors",
    "train_statistics",
    "train_losses",
    "evaluate_loss",
    "accuracy",
    "seeded",
    "KINDS",
    "degradation_experiment",
    "train_twins",
    "final_loss",
    "final_losses",
    "smooth",
]

KINDS = ("plain", "residual")


@lru_cache(maxsize=8)
def train_statistics(resolution: int = 28, n_images: int = 10_000) -> tuple[float, float]:
    """Mean and std of the first `n_images` training images at `resolution`: what both
    `training_tensors` and `test_tensors` normalise with."""
    X = to_input(load_fashion_mnist().train_images[:n_images], resolution)
    return float(X.mean()), float(X.std())


def _tensors(split: str, n_images: int, resolution: int, seed: int, device):
    data = load_fashion_mnist()
    images, labels = (
        (data.train_images, data.train_labels) if split == "train" else (data.test_images, data.test_labels)
    )
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(labels), generator=g)[:n_images]
    mean, std = train_statistics(resolution)
    X = (to_input(images[idx], resolution) - mean) / std
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

    The optimiser is `recipes.sgd`: weight decay on the weights, none on BatchNorm parameters
    and biases.

    The batches come straight from the tensors (shuffled with `seed`, so two networks
    trained with the same seed see the same batches in the same order). `one_cycle=True`
    warms the learning rate up to `lr` and anneals it to ~0 (`OneCycleLR`); else it is constant.

    A loss that is no longer finite stops the run (checked every 10 steps, to avoid waiting
    for a GPU at each step): its gradients made every weight NaN, so the remaining steps would
    only compute NaNs. They are returned as NaN, so the list always has `steps` entries.
    """
    if batch_size > len(X):
        raise ValueError(
            _("batch_size={batch_size} is larger than the {n} training images.").format(
                batch_size=batch_size, n=len(X)
            )
        )
    check_positive_int("steps", steps)
    net.to(X.device).train()
    optimizer = sgd(net, lr, momentum, weight_decay)
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
            bar.set_postfix_str(_("loss is NaN: stopped"))
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


@contextmanager
def seeded(seed: int):
    """Inside the block, the CPU's random numbers (where networks are built) start from `seed`;
    after it, the caller's random state is back as it was.

        with seeded(0):
            net = build_depth_net(20)   # the same initial weights every time
    """
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


def degradation_experiment(
    depths,
    X: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    width: int = 16,
    block: str = "basic",
    seed: int = 0,
    **train_kwargs,
) -> dict:
    """Train a plain and a residual network of every depth the same way on the same batches.

    Both twins of a depth start from the same weights (built `seeded(seed)`), see the same
    batches in the same order and differ only in the shortcuts. `train_kwargs` go to
    `train_losses`. Returns {"histories": {(kind, depth): losses}, "nets": {(kind, depth):
    trained network}}. The caller's random state is left as it was.
    """
    histories, nets = {}, {}
    for depth in depths:
        for kind in KINDS:
            with seeded(seed):
                net = build_depth_net(depth, width, block, plain=kind == "plain", in_channels=X.shape[1])
            desc = f"{kind}-{depth}"
            histories[kind, depth] = train_losses(net, X, y, steps, seed=seed, desc=desc, **train_kwargs)
            nets[kind, depth] = net
    return {"histories": histories, "nets": nets}


def train_twins(
    depths,
    X: torch.Tensor,
    y: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    steps: int,
    width: int = 16,
    block: str = "basic",
    seed: int = 0,
    **train_kwargs,
) -> dict:
    """`degradation_experiment`, then each network tested: its {"histories", "nets"} plus
    "accuracy" {(kind, depth): test accuracy} and "seconds" (wall clock for everything)."""
    start = time.perf_counter()
    result = degradation_experiment(depths, X, y, steps, width, block, seed, **train_kwargs)
    result["accuracy"] = {key: accuracy(net, X_test, y_test) for key, net in result["nets"].items()}
    result["seconds"] = time.perf_counter() - start
    return result


def final_loss(losses, last: float = 0.1) -> float:
    """The mean loss over the last `last` fraction of the steps (at least one step)."""
    n = max(1, round(len(losses) * last))
    return sum(losses[-n:]) / n


def final_losses(histories: dict, last: float = 0.1):
    """A DataFrame (rows: depth; columns: plain, residual) of the mean loss over the last 10% of steps."""
    import pandas as pd

    rows = {}
    for (kind, depth), losses in histories.items():
        rows.setdefault(depth, {})[kind] = final_loss(losses, last)
    table = pd.DataFrame.from_dict(rows, orient="index")[list(KINDS)].sort_index()
    table.index.name = "depth"
    return table


def smooth(losses, window: int | None = None) -> list[float]:
    """Moving average over `window` steps (default: 1/20 of the run), for readable curves."""
    window = window or max(1, len(losses) // 20)
    out, total = [], 0.0
    for i, v in enumerate(losses):
        total += v - (losses[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


test_tensors.__test__ = False  # not a pytest test, though its name starts with "test"
