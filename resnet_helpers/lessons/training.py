"""Figures of notebook 04: where a training step's time goes, a confusion matrix, and the test
images the network gets wrong; and the words its cells print around the numbers they compute
(`speed_summary`, `fair_comparison`, ...), so the Chinese edition prints them in Chinese.

The training curves live beside the trainer (`resnet_helpers.training.progress`); the full speed
benchmark is a maintainers' tool (`tools/`). Each figure here takes plain data: lists, tensors, dicts.
"""

from __future__ import annotations

import re
import statistics
import textwrap
import time
import unicodedata
from functools import partial

import matplotlib.pyplot as plt
import torch
from torch import nn

from ..i18n import _, series
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
    "run_sizes",
    "image_costs",
    "feature_map_sides",
    "course_data",
    "examples_vs_wall_clock",
    "images_on_device",
    "speed_summary",
    "breakdown_summary",
    "recipe_summary",
    "recipe_gain",
    "accuracy_title",
    "most_confused",
    "checkpoint_contents",
    "resume_check",
    "lesson_time",
    "loss_floors",
    "untimed_share",
    "refusal",
    "fair_comparison",
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


# --------------------------------------------------------------- what the notebook's cells print
# Each function returns the text one cell of notebook 04 prints (lines joined by "\n"), in the
# reader's language (`resnet_helpers.i18n`): the cell computes the numbers, these put them in words.


def _size(side: int) -> str:
    """A square image's or feature map's size: '28x28'."""
    return _("{side}x{side}").format(side=side)


def _width(text: str) -> int:
    """The columns `text` takes in a terminal: 2 for a wide (CJK) character, 1 for the others."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fill(text: str, width: int = 100) -> str:
    """`text` wrapped at `width` columns: `textwrap.fill` for text without wide characters; text with
    Chinese in it (2 columns a character, no spaces between words) breaks after full-width
    punctuation or at a space."""
    if _width(text) == len(text):
        return textwrap.fill(text, width=width)
    lines = [""]
    for piece in re.split(r"(?<=[，；：。、）])|(?= )", text):
        if lines[-1] and _width(lines[-1] + piece.rstrip()) > width:
            lines.append("")
            piece = piece.lstrip()
        lines[-1] += piece
    return "\n".join(line.rstrip() for line in lines)


def run_sizes(profile: str, ours: RunSettings, improved: RunSettings, course: RunSettings) -> str:
    """What profile `profile` trains in (a) and (b) (`ours`) and in (c) (`improved`), what the
    course's run (`course`) trains, and what share of the course's run each one is."""
    first = _("profile {profile}: (a), (b): {sizes}").format(profile=profile, sizes=ours.describe())
    indent = " " * _width(first[: max(first.find("(a)"), 0)])  # "(c):" under "(a), (b):"
    return "\n".join(
        [
            first,
            indent + _("(c): {sizes}").format(sizes=improved.describe()),
            _("the course's run: {sizes}").format(sizes=course.describe()),
            _("(a), (b) train {share}").format(share=ours.share_of(course)),
            _("(c) trains {share}").format(share=improved.share_of(course)),
        ]
    )


def image_costs(params: int, flops: dict) -> str:
    """ResNet-18's parameters, and the forward FLOPs of one image of each side in `flops`
    ({side: FLOPs}) with a training step's cost, about three forward passes."""
    lines = [_("ResNet-18: {params:,} parameters").format(params=params)]
    for side, count in flops.items():
        lines.append(
            _("{size}: {forward:.3f} GFLOP forward, about {step:.2f} GFLOP per training image").format(
                size=_size(side), forward=count / 1e9, step=3 * count / 1e9
            )
        )
    return "\n".join(lines)


def feature_map_sides(side: int, sides) -> str:
    """The feature maps' sides for a `side`x`side` input: `sides`, after the stem then each stage."""
    stem, *stages = sides
    return _("{input} input: {stem} after the stem; stages {stages}").format(
        input=_size(side), stem=_size(stem), stages=series(_size(s) for s in stages)
    )


def course_data(train_images: int, test_images: int, workers: int, batches: int, ours, course) -> str:
    """The course's loaders in (a): images, loader workers and batches per epoch, and whether the run
    `ours` (RunSettings) is the course's whole run `course` or a slice of it."""
    lines = [
        _(
            "{train:,} training and {test:,} test images, {workers} loader workers, "
            "{batches} batches per epoch"
        ).format(train=train_images, test=test_images, workers=workers, batches=batches)
    ]
    if ours == course:
        lines.append(_("the course's whole run"))
    else:
        lines.append(_("a slice: {share}").format(share=ours.share_of(course)))
    return "\n".join(lines)


def examples_vs_wall_clock(examples_per_s: float, wall_time: float, images: int, wall_rate: float) -> str:
    """train_ch6's examples/sec beside the wall clock of the whole call (`images` trained)."""
    return "\n".join(
        [
            _("train_ch6 reports {rate:.1f} examples/sec (training steps only)").format(rate=examples_per_s),
            _(
                "wall clock: {seconds:.1f} s for {images:,} training images = {rate:.1f} images/s, "
                "evaluation included"
            ).format(seconds=wall_time, images=images, rate=wall_rate),
        ]
    )


def images_on_device(
    num_train: int, num_test: int, device, megabytes: float, allocator: str | None = None
) -> str:
    """How many images `DeviceData` put on `device` and their size, and what `tune_cpu_allocator`
    did (`allocator`; None where it was not called)."""
    lines = [
        _("{train:,} training and {test:,} test images on {device}: {megabytes:.1f} MB").format(
            train=num_train, test=num_test, device=device, megabytes=megabytes
        )
    ]
    if allocator is not None:
        lines.append(_("CPU allocator: {note}").format(note=allocator))
    return "\n".join(lines)


def speed_summary(course, ours, d2l_steps: float) -> str:
    """(a) against (b): test accuracy, wall clock and its split into training steps and the rest.
    `course`: the `CourseRun` of (a); `ours`: the `TrainResult` of (b); `d2l_steps`: the seconds of
    train_ch6's timed steps (images / its examples/sec)."""
    return "\n".join(
        [
            _(
                "test acc: d2l {course:.3f}, ours {ours:.3f} "
                "(same recipe, other shuffling; d2l in fp32, ours in {precision})"
            ).format(course=course.test_acc, ours=ours.test_acc, precision=ours.precision),
            _("wall clock: d2l {course:.1f} s, ours {ours:.1f} s -> speedup {speedup:.2f}x").format(
                course=course.wall_time, ours=ours.wall_time, speedup=course.wall_time / ours.wall_time
            ),
            "  "
            + _(
                "training steps: d2l {course_steps:.1f} s, ours {our_steps:.1f} s; "
                "the rest: d2l {course_rest:.1f} s, ours {our_rest:.1f} s"
            ).format(
                course_steps=d2l_steps,
                our_steps=ours.train_time,
                course_rest=course.wall_time - d2l_steps,
                our_rest=ours.wall_time - ours.train_time,
            ),
            _("; ").join(ours.notes),
        ]
    )


def breakdown_summary(result: dict) -> str:
    """`step_time_breakdown`'s result in one line: each pipeline's median step and the speedup."""
    return _(
        "a step of {batch_size} images at {size}: d2l {course:.2f} s (fp32), "
        "ours {ours:.2f} s ({precision}): {speedup:.1f}x faster"
    ).format(
        batch_size=result["batch_size"],
        size=_size(result["resolution"]),
        course=result["course"]["total"],
        ours=result["ours"]["total"],
        precision=result["precision"],
        speedup=result["speedup"],
    )


def _recipe_description(recipe) -> str:
    """A recipe's description (`Recipe.description`, English) in the reader's language."""
    words = {
        "the book's run: SGD lr 0.05, xavier init, no augmentation": _(
            "the book's run: SGD lr 0.05, xavier init, no augmentation"
        ),
        "SGD with Nesterov momentum 0.95 -> 0.85 -> 0.95 against a one-cycle lr up to 0.2, "
        "weight decay 5e-4, label smoothing 0.1, random horizontal flip, residual branches start at zero": _(
            "SGD with Nesterov momentum 0.95 -> 0.85 -> 0.95 against a one-cycle lr up to 0.2, "
            "weight decay 5e-4, label smoothing 0.1, random horizontal flip, residual branches start at zero"
        ),
    }
    return words.get(recipe.description, recipe.description)


def recipe_summary(recipe, width: int = 100) -> str:
    """'improved recipe: SGD with ...', wrapped at `width` columns."""
    text = _("{recipe} recipe: {description}").format(
        recipe=recipe.name, description=_recipe_description(recipe)
    )
    return _fill(text, width=width)


def recipe_gain(test_acc: float, gain: float, ours: RunSettings, improved: RunSettings) -> str:
    """(c)'s test accuracy and its `gain` over (b); where (c) trained other sizes than (b), both
    sizes and the warning that the gain is not the recipe's alone."""
    lines = [
        _("improved recipe: test acc {test_acc:.3f}, {gain:+.3f} over the course's recipe in (b)").format(
            test_acc=test_acc, gain=gain
        )
    ]
    if improved != ours:
        lines += [
            _("(b): {sizes}").format(sizes=ours.describe()),
            _("(c): {sizes}").format(sizes=improved.describe()),
            _(
                "(c) trained on more images and epochs than (b): this gain mixes the recipe with the data\n"
                "(exercise 5 compares the recipes on (b)'s settings)"
            ),
        ]
    return "\n".join(lines)


def accuracy_title(recipe: str, test_acc: float) -> str:
    """A figure's title: 'improved recipe, test acc 0.907'."""
    return _("{recipe} recipe, test acc {test_acc:.3f}").format(recipe=recipe, test_acc=test_acc)


def most_confused(mistakes, class_names, top: int = 3) -> str:
    """The `top` largest off-diagonal counts of a confusion matrix `mistakes` (its diagonal zeroed):
    'shirt taken for t-shirt 123 times', one line each."""
    n, lines = len(class_names), []
    for k in torch.as_tensor(mistakes).flatten().argsort(descending=True)[:top].tolist():
        i, j = divmod(k, n)
        lines.append(
            _("{true:>9} taken for {predicted:<9} {count:4d} times").format(
                true=class_names[i], predicted=class_names[j], count=int(mistakes[i, j])
            )
        )
    return "\n".join(lines)


def checkpoint_contents(path, state: dict) -> str:
    """What a checkpoint (`load_checkpoint(path)`) holds: after which epoch, and its entries."""
    return "\n".join(
        [
            _("{path}: after epoch {epoch} of {epochs}").format(
                path=path, epoch=state["epoch"], epochs=state["config"]["settings"]["epochs"]
            ),
            _("holds: {entries}").format(entries=", ".join(sorted(state))),
        ]
    )


def resume_check(test_acc: float, same: bool) -> str:
    """A resumed run's test accuracy, and whether its weights are the run's that wrote the checkpoint."""
    return _("test acc {test_acc:.3f}; same weights as the run that wrote it: {same}").format(
        test_acc=test_acc, same=same
    )


def lesson_time(minutes: float, profile: str, machine: str) -> str:
    """How long the lesson took under `profile`, on `machine` (environment_report's device line)."""
    return "\n".join(
        [
            _(
                "the lesson took {minutes:.1f} min under profile {profile} (the solutions below add a little)"
            ).format(minutes=minutes, profile=profile),
            _("on {machine}").format(machine=machine),
        ]
    )


def loss_floors(floor: float, course_loss: float, improved_loss: float) -> str:
    """Exercise 1: the smallest loss with label smoothing 0.1 (`floor`), and how far above its floor
    each run's final training loss is: (b) without smoothing, (c) with it."""
    runs = (
        (_("(b) course recipe, no smoothing"), course_loss, 0.0),
        (_("(c) improved recipe, smoothing 0.1"), improved_loss, floor),
    )
    lines = [_("smallest loss with label smoothing 0.1: {floor:.3f} (0 without)").format(floor=floor)]
    for name, loss, least in runs:
        lines.append(
            _("{run}: final training loss {loss:.3f}, {above:.3f} above its floor of {floor:.3f}").format(
                run=name, loss=loss, above=loss - least, floor=least
            )
        )
    return "\n".join(lines)


def untimed_share(steps_only: float, wall_time: float) -> str:
    """Exercise 2: train_ch6's timed steps against the wall clock, and the share it does not time."""
    return _(
        "timed steps {steps:.1f} s of {wall:.1f} s: "
        "{share:.0%} of the wall time was data loading, evaluation and plotting"
    ).format(steps=steps_only, wall=wall_time, share=1 - steps_only / wall_time)


def refusal(error: Exception, width: int = 100) -> str:
    """Exercise 4: the trainer's refusal to resume another run, wrapped at `width` columns."""
    return _fill(_("refused: {error}").format(error=error), width=width)


def fair_comparison(steps: int, course_acc: float, improved_acc: float) -> str:
    """Exercise 5: both recipes on (b)'s settings (`steps` steps), and which one wins."""
    if improved_acc > course_acc:
        winner = _("-> the improved recipe wins here")
    else:
        winner = _("-> the course recipe wins here")
    return "\n".join(
        [
            _(
                "on (b)'s settings, {steps} steps: course recipe {course:.3f}, improved recipe {improved:.3f}"
            ).format(steps=steps, course=course_acc, improved=improved_acc),
            winner,
        ]
    )
