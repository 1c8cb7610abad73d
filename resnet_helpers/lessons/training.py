"""Figures of notebook 04: where a training step's time goes, a confusion matrix, and the test
images the network gets wrong.

The training curves live beside the trainer (`resnet_helpers.training.progress`); the full speed
benchmark is a maintainers' tool (`tools/`). Each figure here takes plain data: lists, tensors, dicts.
"""

from __future__ import annotations

import statistics
import time
from functools import partial

import matplotlib.pyplot as plt
import torch
from torch import nn

from ..i18n import _
from ..models import build_resnet
from ..profiles import choose_precision, synchronize
from ..training.device_data import DeviceData
from ..training.recipes import RunSettings
from .widgets import show_images

__all__ = [
    "PHASES",
    "step_time_breakdown",
    "breakdown_figure",
    "confusion_matrix",
    "plot_confusion_matrix",
    "show_mistakes",
]


# --------------------------------------------------------------- where a step's time goes

PHASES = ("loading and resizing", "moving to the device", "forward and backward (+ SGD step)", "the rest")


def _phase_label(phase: str) -> str:
    """A phase's name as the figure shows it (the result keeps the English `PHASES`)."""
    labels = {
        "loading and resizing": _("loading and resizing"),
        "moving to the device": _("moving to the device"),
        "forward and backward (+ SGD step)": _("forward and backward (+ SGD step)"),
        "the rest": _("the rest"),
    }
    return labels.get(phase, phase)


class _Laps:
    """A stopwatch that waits for the device before each reading: seconds since the last lap."""

    def __init__(self, device):
        self.device, self.seconds = device, []
        synchronize(device)
        self.last = time.perf_counter()

    def lap(self):
        synchronize(self.device)
        now = time.perf_counter()
        self.seconds.append(now - self.last)
        self.last = now


def _d2l_step(batches, net, optimizer, device, settings):
    """`d2l.train_ch6`'s step on the loader's next batch, in fp32: the seconds of each phase."""
    laps = _Laps(device)
    X, y = next(batches)  # the loader's workers read, resize (PIL) and batch the images
    laps.lap()
    if X.shape[0] != settings.batch_size or X.shape[-1] != settings.resolution:
        raise ValueError(
            _(
                "the course's batches are {shape}, ours ({batch_size}, 1, "
                "{resolution}, {resolution}): make the course's loader with "
                "batch_size={batch_size}, resize={resolution}."
            ).format(shape=tuple(X.shape), batch_size=settings.batch_size, resolution=settings.resolution)
        )
    X, y = X.to(device), y.to(device)
    laps.lap()
    optimizer.zero_grad()
    y_hat = net(X)
    loss = nn.functional.cross_entropy(y_hat, y)
    loss.backward()
    optimizer.step()
    laps.lap()
    with torch.no_grad():  # train_ch6's metric.add(...) reads each number back with float()
        float(loss * len(y)), float((y_hat.argmax(1) == y).sum())
    laps.lap()
    return laps.seconds


def _our_step(batches, net, optimizer, device, precision, sums):
    """Our trainer's step on a batch made on the device: the seconds of each phase."""
    laps = _Laps(device)
    X, y = next(batches)  # DeviceData: index the uint8 images on the device; `to_input` resizes there
    laps.lap()
    laps.lap()  # nothing to move: the data already lives on the device
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=precision.dtype, enabled=precision.dtype is not None):
        y_hat = net(X)
        loss = nn.functional.cross_entropy(y_hat, y)
    loss.backward()
    optimizer.step()
    laps.lap()
    with torch.no_grad():  # the sums stay on the device: nothing is read back
        sums[0] += loss.detach().float() * len(y)
        sums[1] += (y_hat.argmax(1) == y).sum()
    laps.lap()
    return laps.seconds


def _turn(step, steps):
    """1 + `steps` steps; the first (a warm-up: loader workers starting, kernels chosen) is dropped."""
    seconds = []
    for done in range(1 + steps):
        try:
            seconds.append(step())
        except StopIteration:
            raise ValueError(
                _(
                    "a pipeline ran out of batches after {done}; each round needs 1 + steps = {needed} "
                    "batches of each: give fewer steps or more images."
                ).format(done=done, needed=1 + steps)
            ) from None
    return seconds[1:]


def _summary(per_step):
    """Median, lowest and highest seconds of each phase, and the whole step's median and range."""
    phases, totals = list(zip(*per_step, strict=True)), [sum(step) for step in per_step]
    return {
        "median": [statistics.median(p) for p in phases],
        "low": [min(p) for p in phases],
        "high": [max(p) for p in phases],
        "total": statistics.median(totals),
        "total_range": (min(totals), max(totals)),
    }


def step_time_breakdown(
    course_batches,
    data: DeviceData,
    settings: RunSettings,
    steps=3,
    rounds=2,
    model="resnet18",
    precision=None,
) -> dict:
    """Seconds per phase (`PHASES`) of a training step in d2l's pipeline and in ours, measured in turns.

    `course_batches`: the course's loader, `d2l.load_data_fashion_mnist(batch_size, resize=...)[0]`, or
    any iterable of (X, y) batches; each round starts a new pass over it, as an epoch does. Ours come
    from `data` at `settings`' batch size and resolution, in `precision` (default: the trainer's
    choice) and channels_last. `model`: a preset name or a `ResNetConfig` (`build_resnet`).
    Each round runs 1 + `steps` steps of d2l's, then of ours, so a machine getting busier slows both
    alike; the first step of each turn is a warm-up, not counted. The device is synchronised at every
    phase boundary, for the measurement only: this shows where the time goes, not the overlap a GPU
    gains when the loop does not wait for it.
    Returns plain data: for "course" and "ours", each phase's median, low and high seconds and the
    whole step's median and range; "speedup", the ratio of the median steps.
    """
    device, precision = data.device, precision or choose_precision(data.device)
    with torch.random.fork_rng(devices=[]):  # leave the caller's random numbers alone
        d2l_net = build_resnet(model).to(device)
        our_net = build_resnet(model).to(device, memory_format=torch.channels_last)
    d2l_opt = torch.optim.SGD(d2l_net.parameters(), lr=0.05)  # the course's recipe, both sides
    our_opt, sums = torch.optim.SGD(our_net.parameters(), lr=0.05), torch.zeros(2, device=device)
    seconds = {"course": [], "ours": []}
    for r in range(rounds):
        loader = iter(course_batches)
        seconds["course"] += _turn(partial(_d2l_step, loader, d2l_net, d2l_opt, device, settings), steps)
        del loader  # stops the loader's worker processes before our turn
        ours = data.train_batches(settings.batch_size, settings.resolution, epoch=r)
        seconds["ours"] += _turn(partial(_our_step, ours, our_net, our_opt, device, precision, sums), steps)
    result = {side: _summary(per_step) for side, per_step in seconds.items()}
    return {
        **result,
        "phases": PHASES,
        "speedup": result["course"]["total"] / result["ours"]["total"],
        "steps": steps * rounds,
        "device": device.type,
        "precision": precision.name,
        "batch_size": settings.batch_size,
        "resolution": settings.resolution,
    }


def breakdown_figure(result: dict):
    """`step_time_breakdown`'s result as two stacked bars: each phase's median seconds per step."""
    sides = ("course", "ours")
    labels = [
        _("d2l: DataLoader + train_ch6 (fp32)"),
        _("ours: DeviceData + trainer ({precision})").format(precision=result["precision"]),
    ]
    colors = ["tab:orange", "tab:red", "tab:blue", "tab:gray"]
    fig, ax = plt.subplots(figsize=(8, 2.8), layout="constrained")
    left = [0.0, 0.0]
    for k, phase in enumerate(result["phases"]):
        widths = [result[side]["median"][k] for side in sides]
        ax.barh(labels, widths, left=left, color=colors[k], label=_phase_label(phase))
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for row, side in enumerate(sides):
        low, high = result[side]["total_range"]
        note = "  " + _("{seconds:.2f} s per step ({low:.2f}-{high:.2f})").format(
            seconds=result[side]["total"], low=low, high=high
        )
        ax.text(left[row], row, note, va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.45 * max(left))
    ax.set_xlabel(_("seconds (median of {steps} steps per phase)").format(steps=result["steps"]))
    ax.set_title(
        _("Where one step of {batch_size} images at {r}x{r} goes, on {device}").format(
            batch_size=result["batch_size"], r=result["resolution"], device=result["device"]
        )
    )
    fig.legend(loc="outside lower center", ncol=len(result["phases"]), fontsize=8, frameon=False)
    return fig


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
    ax.set_xlabel(_("predicted class"))
    ax.set_ylabel(_("true class"))
    threshold = counts.max().item() / 2
    for i in range(n):
        for j in range(n):
            value = counts[i, j].item()
            if value:
                color = "white" if value > threshold else "black"
                ax.text(j, i, value, ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(image, ax=ax, label=_("test images"))
    accuracy = counts.diag().sum().item() / max(1, counts.sum().item())
    ax.set_title(title or _("Confusion matrix (accuracy {accuracy:.3f})").format(accuracy=accuracy))
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
    fig.suptitle(_("Misclassified test images: true class → predicted class"), fontsize=10)
    fig.tight_layout()
    return fig
