"""Train a ResNet on Fashion-MNIST: the course's recipe, faster, and an improved recipe.

What makes it faster than `d2l.train_ch6` + `d2l.load_data_fashion_mnist` (all measured by
`python -m resnet_helpers.bench`):
- the 70,000 images stay a uint8 tensor on the device; each batch is shuffled by index,
  augmented and resized (bilinear, like the course's `Resize`) on the device: no worker
  processes, no PIL, no per-image Python;
- channels_last memory format, which oneDNN (CPU) and cuDNN (GPU) convolutions prefer;
- mixed precision where the hardware gains from it (`choose_precision`: bf16 on CPUs with
  AVX512-BF16/AMX and Ampere+ GPUs, fp16 + GradScaler on T4/V100, fp32 otherwise);
- loss and accuracy are summed on the device and read a few times an epoch, never each step;
- on the CPU, freed memory is kept for reuse (`tune_cpu_allocator`) instead of being handed
  back to the operating system and faulted in again each step; `cudnn.benchmark` on GPUs.

Checkpoints are written every epoch, atomically (a temporary file, then `os.replace`), and
read with `torch.load(weights_only=True)`; `resume=True` continues where a run stopped and
reproduces the uninterrupted run exactly (on the CPU, same seed).

    result = train_resnet("resnet18", recipe="course", epochs=10, resolution=96)
    python -m resnet_helpers.train --recipe improved --profile cpu
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .data import load_fashion_mnist
from .models import ResNetConfig, build_resnet, count_flops, preset_name
from .profiles import Precision, Profile, choose_device, choose_precision, get_profile

__all__ = [
    "Recipe",
    "RECIPES",
    "RunSettings",
    "run_settings",
    "DeviceData",
    "Trainer",
    "TrainResult",
    "CheckpointError",
    "train_resnet",
    "save_checkpoint",
    "load_checkpoint",
    "autocast",
    "make_grad_scaler",
    "tune_cpu_allocator",
    "subset_loader",
    "checkpoint_dir",
    "predict",
    "results_table",
    "CourseRun",
]


# --------------------------------------------------------------------------- recipes


@dataclass(frozen=True)
class Recipe:
    """How to train: optimiser, schedule, loss and augmentation. Epochs and batch size are
    not part of a recipe: both recipes run with the same ones."""

    name: str
    lr: float
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"  # "constant" or "onecycle"
    label_smoothing: float = 0.0
    flip: bool = False  # random horizontal flip
    translate: int = 0  # random shift of up to this many pixels (on the 28x28 image)
    init: str = "xavier"  # "xavier" (train_ch6's init_weights) or "default" (PyTorch's)
    zero_init_residual: bool = False
    description: str = ""


RECIPES = {
    "course": Recipe(
        "course",
        lr=0.05,
        description="the book's run: SGD lr 0.05, xavier init, no augmentation",
    ),
    "improved": Recipe(
        "improved",
        lr=0.2,
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        schedule="onecycle",
        label_smoothing=0.1,
        flip=True,
        # No random shift (translate=0): Fashion-MNIST's garments are centred, and shifts of up to
        # 2 px lowered test accuracy in 10 epochs (H200, full profile: 0.934 with, 0.943 without;
        # 2-core CPU, 1 epoch of 60,000 images at 28x28: 0.864 with, 0.881 without).
        init="default",
        zero_init_residual=True,
        description=(
            "SGD momentum 0.9 (Nesterov), one-cycle lr up to 0.2, weight decay 5e-4, "
            "label smoothing 0.1, random horizontal flip, residual branches start at zero"
        ),
    ),
}


def get_recipe(recipe: Recipe | str) -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}.")
    return RECIPES[recipe]


# --------------------------------------------------------------------------- run sizes


@dataclass(frozen=True)
class RunSettings:
    """Sizes of a run. `train_size`/`test_size` None: all 60,000 / 10,000 images."""

    epochs: int = 10
    batch_size: int = 256
    resolution: int = 96
    train_size: int | None = None
    test_size: int | None = None

    def replace(self, **changes) -> RunSettings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def run_settings(profile: Profile | str | None = None) -> RunSettings:
    """The sizes a profile trains with (notebook 04 and the command line).

    - full: the course's run, 10 epochs of all 60,000 images at 96x96, batch 256;
    - cpu: what a 2-core CPU does in minutes: the images at their own 28x28 (no upscaling, ~10x
      fewer FLOPs per image), 2 epochs of the first 8,000 training images, 5,000 test images;
    - smoke: every code path on a tiny slice.
    """
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    return profile.pick(
        smoke=RunSettings(epochs=1, batch_size=64, resolution=32, train_size=320, test_size=256),
        cpu=RunSettings(epochs=2, batch_size=256, resolution=28, train_size=8_000, test_size=5_000),
        full=RunSettings(epochs=10, batch_size=256, resolution=96),
    )


# --------------------------------------------------------------------------- speed helpers

_ALLOCATOR_NOTE: str | None = None


def tune_cpu_allocator() -> str:
    """Keep freed CPU memory in the process for reuse (glibc only; a no-op elsewhere).

    A training step frees and re-allocates gigabytes of activations. By default glibc returns
    every block above 32 MiB to the operating system, which must then zero and map the pages
    again on the next step (page faults: up to a third of a CPU step). This raises the mmap
    threshold and turns trimming off, as jemalloc/tcmalloc would; the cost is that the process
    keeps its peak memory. Process-wide, once; returns what it did.
    """
    global _ALLOCATOR_NOTE
    if _ALLOCATOR_NOTE is not None:
        return _ALLOCATOR_NOTE
    note = "default"
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
            m_trim_threshold, m_mmap_threshold, m_mmap_max = -1, -3, -4
            # Newer glibc accepts a large threshold; older ones cap it at 32 MiB, then mmap goes.
            ok = libc.mallopt(m_mmap_threshold, 1 << 30) or libc.mallopt(m_mmap_max, 0)
            ok = ok and libc.mallopt(m_trim_threshold, -1)  # -1: never trim (man mallopt)
            note = "glibc keeps freed memory (no mmap, no trim)" if ok else "default (mallopt refused)"
        except (OSError, AttributeError):
            note = "default (not glibc)"
    _ALLOCATOR_NOTE = note
    return note


def autocast(device: torch.device, precision: Precision):
    """The autocast context of a precision (a no-op for fp32)."""
    if precision.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=precision.dtype)


def make_grad_scaler(device: torch.device, precision: Precision) -> torch.amp.GradScaler:
    """A GradScaler, enabled only for fp16 (bf16 and fp32 have fp32's range)."""
    return torch.amp.GradScaler(device.type, enabled=precision.use_grad_scaler)


# --------------------------------------------------------------------------- data on the device


class DeviceData:
    """Fashion-MNIST kept as uint8 tensors on the device; batches are made there.

    Each training epoch draws its own permutation (and augmentation) from a generator seeded
    by (seed, epoch), so epoch 5 sees the same batches whether or not the run was resumed.
    """

    def __init__(
        self,
        device: torch.device | str | None = None,
        train_size: int | None = None,
        test_size: int | None = None,
        data=None,
    ):
        self.device = torch.device(device) if device is not None else choose_device()
        data = data if data is not None else load_fashion_mnist()
        n_train = len(data.train_labels) if train_size is None else min(train_size, len(data.train_labels))
        n_test = len(data.test_labels) if test_size is None else min(test_size, len(data.test_labels))
        self.train_images = data.train_images[:n_train].to(self.device)
        self.train_labels = data.train_labels[:n_train].to(self.device)
        self.test_images = data.test_images[:n_test].to(self.device)
        self.test_labels = data.test_labels[:n_test].to(self.device)

    @property
    def num_train(self) -> int:
        return len(self.train_labels)

    @property
    def num_test(self) -> int:
        return len(self.test_labels)

    def num_batches(self, batch_size: int) -> int:
        return math.ceil(self.num_train / batch_size)

    def generator(self, seed: int, epoch: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(seed * 100_003 + epoch)

    def train_batches(self, batch_size, resolution, epoch=0, seed=0, flip=False, translate=0):
        """Shuffled (X, y) batches: X float (B, 1, R, R) in [0, 1], channels_last."""
        g = self.generator(seed, epoch)
        order = torch.randperm(self.num_train, generator=g, device=self.device)
        for start in range(0, self.num_train, batch_size):
            idx = order[start : start + batch_size]
            images = self.train_images[idx]
            if translate or flip:
                images = augment(images, g, flip=flip, translate=translate)
            yield to_input(images, resolution), self.train_labels[idx]

    def test_batches(self, batch_size, resolution):
        for start in range(0, self.num_test, batch_size):
            images = self.test_images[start : start + batch_size]
            yield to_input(images, resolution), self.test_labels[start : start + batch_size]


def to_input(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float (B, 1, R, R) in [0, 1], channels_last (ToTensor + Resize)."""
    x = images.unsqueeze(1).float().div_(255)
    if x.shape[-1] != resolution:
        # Bilinear like torchvision's Resize; antialias matters only when shrinking.
        x = F.interpolate(
            x, size=(resolution, resolution), mode="bilinear", align_corners=False,
            antialias=resolution < x.shape[-1],
        )  # fmt: skip
    return x.contiguous(memory_format=torch.channels_last)


def augment(images: torch.Tensor, g: torch.Generator, flip=True, translate=2) -> torch.Tensor:
    """Random horizontal flips and shifts of up to `translate` pixels, per image, on the device."""
    n, h, w = images.shape
    device = images.device
    if translate:
        t = translate
        padded = F.pad(images, (t, t, t, t))
        dy = torch.randint(0, 2 * t + 1, (n, 1, 1), generator=g, device=device)
        dx = torch.randint(0, 2 * t + 1, (n, 1, 1), generator=g, device=device)
        rows = dy + torch.arange(h, device=device).view(1, h, 1)
        cols = dx + torch.arange(w, device=device).view(1, 1, w)
        images = padded[torch.arange(n, device=device).view(n, 1, 1), rows, cols]
    if flip:
        flipped = torch.rand(n, generator=g, device=device) < 0.5
        images = torch.where(flipped.view(n, 1, 1), images.flip(-1), images)
    return images


# --------------------------------------------------------------------------- checkpoints


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: corrupt, truncated, or from other settings."""


CHECKPOINT_FORMAT = 1


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write `state` to `path` atomically: a temporary file beside it, then os.replace.

    A crash while writing leaves the previous checkpoint as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Read a checkpoint with `weights_only=True`; a clear CheckpointError if it is damaged."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - zip, pickle and EOF errors all mean the same here
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated and cannot be read ({type(e).__name__}: {e}). "
            "It was probably cut off while being copied; checkpoints written by this trainer are "
            "replaced atomically, so an interrupted save never damages them. Delete the file to "
            "start over, or point to another copy."
        ) from e
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a checkpoint of resnet_helpers.train (format {CHECKPOINT_FORMAT})."
        )
    return state


def checkpoint_dir(use_drive: bool = True, folder: str = "resnet-notebooks") -> Path:
    """Where notebooks keep checkpoints: Google Drive on Colab (asks to mount it) when
    `use_drive`, so a disconnect loses nothing; else `checkpoints/` here."""
    if use_drive and "google.colab" in sys.modules:
        from google.colab import drive  # type: ignore[import-not-found]

        drive.mount("/content/drive")
        path = Path("/content/drive/MyDrive") / folder
    else:
        path = Path("checkpoints")
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- trainer


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _flatten(config: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = list(value) if isinstance(value, tuple) else value
    return flat


def _model_name(net: nn.Module) -> str:
    config = getattr(net, "config", None)
    if isinstance(config, ResNetConfig):
        return preset_name(config) or f"ResNet ({config.depth} layers)"
    return type(net).__name__


def init_weights(net: nn.Module, recipe: Recipe) -> None:
    if recipe.init == "xavier":
        # train_ch6's init_weights, exactly: xavier_uniform_ on Linear and Conv2d weights.
        for m in net.modules():
            if type(m) is nn.Linear or type(m) is nn.Conv2d:
                nn.init.xavier_uniform_(m.weight)
    elif recipe.init != "default":
        raise ValueError(f"unknown init {recipe.init!r}; use 'xavier' or 'default'.")
    if recipe.zero_init_residual:
        net.zero_init_residual_()


def make_optimizer(net: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    if recipe.weight_decay:
        # No weight decay on BatchNorm parameters and biases (1-D tensors).
        decay = [p for p in net.parameters() if p.ndim > 1]
        no_decay = [p for p in net.parameters() if p.ndim <= 1]
        groups = [
            {"params": decay, "weight_decay": recipe.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
    else:
        groups = [{"params": list(net.parameters())}]
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov)


def make_scheduler(optimizer, recipe: Recipe, total_steps: int):
    if recipe.schedule == "constant":
        return None
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=total_steps, pct_start=0.25
        )
    raise ValueError(f"unknown schedule {recipe.schedule!r}; use 'constant' or 'onecycle'.")


def _empty_history() -> dict:
    return {
        "epoch": [],  # fractional epoch of each train point (5 per epoch, like train_ch6)
        "train_loss": [],
        "train_acc": [],
        "test_epoch": [],
        "test_acc": [],
        "epoch_time": [],  # seconds of training steps per epoch (data on the device included)
        "eval_time": [],
    }


@dataclass
class TrainResult:
    """What a run produced: the network, its history and the numbers of the results table."""

    net: nn.Module
    recipe: str
    model: str
    device: str
    precision: str
    settings: RunSettings
    history: dict
    wall_time: float  # seconds of the whole call this session (training, evaluation, plotting)
    train_time: float  # seconds of training steps, all epochs (resumed ones included)
    images_seen: int
    flops_per_image: int = 0
    resumed_from: int = 0
    notes: list = field(default_factory=list)

    @property
    def test_acc(self) -> float:
        return self.history["test_acc"][-1] if self.history["test_acc"] else float("nan")

    @property
    def images_per_s(self) -> float:
        """Training images per second of the training steps (data preparation included)."""
        return self.images_seen / self.train_time if self.train_time else float("nan")

    def row(self, name: str | None = None) -> dict:
        """A row of the results table; images/s is over the whole call's wall time."""
        return _row(
            name or f"{self.recipe} recipe, our trainer", self.device, self.precision, self.settings,
            self.images_seen // max(1, len(self.history["epoch_time"])), self.wall_time, self.test_acc,
        )  # fmt: skip


def _row(name, device, precision, settings, train_images, wall_time, test_acc) -> dict:
    return {
        "run": name,
        "device": device,
        "precision": precision,
        "resolution": settings.resolution,
        "train images": train_images,
        "epochs": settings.epochs,
        "batch": settings.batch_size,
        "wall time (s)": round(wall_time, 1),
        "images/s (wall clock)": round(train_images * settings.epochs / wall_time, 1),
        "test acc": round(test_acc, 3),
    }


class _Tee:
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()


class CourseRun:
    """Times a `d2l.train_ch6` call and keeps what it prints (test acc, examples/sec).

    with CourseRun(settings, len(train_iter.dataset)) as course:
        d2l.train_ch6(net, train_iter, test_iter, settings.epochs, 0.05, d2l.try_gpu())
    course.row()
    """

    def __init__(self, settings: RunSettings, train_images: int, device: str = "cpu"):
        self.settings, self.train_images, self.device = settings, train_images, str(device)
        self.wall_time = float("nan")
        self.printed = ""

    def __enter__(self):
        import io

        self._buffer = io.StringIO()
        self._redirect = contextlib.redirect_stdout(_Tee(sys.stdout, self._buffer))
        self._redirect.__enter__()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall_time = time.perf_counter() - self._start
        self._redirect.__exit__(*exc)
        self.printed = self._buffer.getvalue()
        return False

    def _number(self, pattern: str) -> float:
        import re

        match = re.search(pattern, self.printed)
        return float(match.group(1)) if match else float("nan")

    @property
    def test_acc(self) -> float:
        return self._number(r"test acc ([\d.]+)")

    @property
    def examples_per_s(self) -> float:
        """train_ch6's own figure: it times the steps only, not the data loading."""
        return self._number(r"([\d.]+) examples/sec")

    def row(self, name: str = "course recipe, d2l.train_ch6") -> dict:
        return _row(
            name, self.device, "fp32", self.settings, self.train_images, self.wall_time, self.test_acc
        )


class Trainer:
    """Trains one network with one recipe; `fit()` runs the epochs, `train_step` one batch."""

    def __init__(
        self,
        net: nn.Module,
        data: DeviceData,
        recipe: Recipe | str = "course",
        settings: RunSettings | None = None,
        precision: Precision | None = None,
        seed: int = 0,
        checkpoint: str | Path | None = None,
        progress: bool | None = None,
        live_plot: bool | None = None,
        log=print,
        compile: bool = False,
    ):
        self.device = data.device
        self.data = data
        self.recipe = get_recipe(recipe)
        self.settings = settings or RunSettings()
        self.precision = precision or choose_precision(self.device)
        self.seed = seed
        self.checkpoint = Path(checkpoint) if checkpoint else None
        notebook = _in_notebook()
        self.progress = notebook if progress is None else progress
        self.live_plot = notebook if live_plot is None else live_plot
        self.log = log or (lambda *a, **k: None)
        self.notes = [f"precision {self.precision} ({self.precision.reason})"]
        if self.device.type == "cpu":
            self.notes.append(f"CPU allocator: {tune_cpu_allocator()}")
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True

        self.net = net.to(self.device, memory_format=torch.channels_last)
        # torch.compile pays off on GPUs; on a 2-core CPU it takes minutes and gains little.
        self.model = torch.compile(self.net) if compile else self.net
        self.steps_per_epoch = data.num_batches(self.settings.batch_size)
        self.optimizer = make_optimizer(self.net, self.recipe)
        self.scheduler = make_scheduler(
            self.optimizer, self.recipe, self.settings.epochs * self.steps_per_epoch
        )
        self.scaler = make_grad_scaler(self.device, self.precision)
        self.loss = nn.CrossEntropyLoss(label_smoothing=self.recipe.label_smoothing)
        self.history = _empty_history()
        self.epoch = 0  # epochs completed
        self._sums = torch.zeros(3, device=self.device)  # loss sum, correct, count (on device)

    # -- one step -------------------------------------------------------------------------
    def train_step(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """One optimiser step; adds loss and accuracy to the sums on the device (no sync)."""
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.precision):
            logits = self.model(X)
            loss = self.loss(logits, y)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler is not None:
            self.scheduler.step()
        with torch.no_grad():
            n = y.numel()
            self._sums[0] += loss.detach().float() * n
            self._sums[1] += (logits.argmax(dim=1) == y).sum()
            self._sums[2] += n

    @torch.inference_mode()
    def evaluate(self) -> float:
        """Test accuracy (the course's evaluate_accuracy_gpu, batched on the device)."""
        self.net.eval()
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        with autocast(self.device, self.precision):
            for X, y in self.data.test_batches(2 * self.settings.batch_size, self.settings.resolution):
                correct += (self.net(X).argmax(dim=1) == y).sum()
        self.net.train()
        return correct.item() / self.data.num_test

    # -- one epoch ------------------------------------------------------------------------
    def train_epoch(self, epoch: int, bar=None, plot=None) -> None:
        s = self.settings
        self.net.train()
        self._sums.zero_()
        n = self.steps_per_epoch
        marks = {max(1, round(n * k / 5)) for k in range(1, 6)}  # 5 points per epoch
        start = time.perf_counter()
        batches = self.data.train_batches(
            s.batch_size, s.resolution, epoch, self.seed, self.recipe.flip, self.recipe.translate
        )
        for i, (X, y) in enumerate(batches, start=1):
            self.train_step(X, y)
            if bar is not None:
                bar.update(1)
            if i in marks:
                loss_sum, correct, count = self._sums.tolist()  # the only sync: 5 per epoch
                self.history["epoch"].append(epoch + i / n)
                self.history["train_loss"].append(loss_sum / count)
                self.history["train_acc"].append(correct / count)
                if bar is not None:
                    bar.set_postfix(loss=f"{loss_sum / count:.3f}", acc=f"{correct / count:.3f}")
                if plot is not None:
                    plot.update(self.history)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.history["epoch_time"].append(time.perf_counter() - start)
        start = time.perf_counter()
        self.history["test_acc"].append(self.evaluate())
        self.history["test_epoch"].append(epoch + 1)
        self.history["eval_time"].append(time.perf_counter() - start)

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(),
            "rng": rng,
            "history": self.history,
            "config": self.config(),
        }

    def config(self) -> dict:
        """What must match for a resume to continue the same run (plain types only)."""
        model_config = getattr(self.net, "config", None)
        return {
            "model": model_config.to_dict()
            if isinstance(model_config, ResNetConfig)
            else type(self.net).__name__,
            "recipe": asdict(self.recipe),
            "settings": asdict(self.settings),
            "train_size": self.data.num_train,
            "test_size": self.data.num_test,
            "seed": self.seed,
            "precision": self.precision.name,
        }

    def load_state_dict(self, state: dict) -> None:
        mine, theirs = _flatten(self.config()), _flatten(state["config"])
        if mine != theirs:
            diff = [
                f"{k} {theirs.get(k)!r} -> {mine.get(k)!r}"
                for k in sorted(mine.keys() | theirs.keys())
                if mine.get(k) != theirs.get(k)
            ]
            raise CheckpointError(
                f"the checkpoint {self.checkpoint} was written by a run with other settings "
                f"(saved -> now: {'; '.join(diff)}). A resumed run must be the same run: resume with "
                "the saved settings, or give another checkpoint path to start a new run."
            )
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.history = state["history"]
        self.epoch = state["epoch"]

    def save(self) -> None:
        if self.checkpoint is not None:
            save_checkpoint(self.checkpoint, self.state_dict())

    # -- the run --------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        wall = time.perf_counter()
        s = self.settings
        resumed_from = 0
        if resume:
            if self.checkpoint is None:
                raise ValueError("resume=True needs a checkpoint path.")
            if self.checkpoint.exists():
                # Loaded to the CPU: the RNG states must stay CPU tensors (torch.set_rng_state
                # refuses CUDA ones); load_state_dict copies weights and optimiser state over.
                self.load_state_dict(load_checkpoint(self.checkpoint, map_location="cpu"))
                resumed_from = self.epoch
                self.log(f"resumed from {self.checkpoint} after epoch {self.epoch} of {s.epochs}")
            else:
                self.log(f"no checkpoint at {self.checkpoint} yet: starting from epoch 1")
        bar = plot = None
        if self.progress and self.epoch < s.epochs:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=s.epochs * self.steps_per_epoch,
                initial=self.epoch * self.steps_per_epoch,
                desc=f"{self.recipe.name} recipe",
                unit="batch",
            )
        if self.live_plot:
            from .training_plots import LivePlot

            plot = LivePlot(s.epochs, title=f"{self.recipe.name} recipe")
            plot.update(self.history)
        try:
            while self.epoch < s.epochs:
                self.train_epoch(self.epoch, bar, plot)
                self.epoch += 1
                h = self.history
                if plot is not None:
                    plot.update(h)
                self.save()
                if not self.progress:
                    self.log(
                        f"epoch {self.epoch}/{s.epochs}: loss {h['train_loss'][-1]:.3f}, "
                        f"train acc {h['train_acc'][-1]:.3f}, test acc {h['test_acc'][-1]:.3f}, "
                        f"{self.data.num_train / h['epoch_time'][-1]:.1f} images/s"
                    )
        finally:
            if bar is not None:
                bar.close()
            if plot is not None:
                plot.close()
        h = self.history
        if self.progress and h["test_acc"]:
            self.log(
                f"{self.recipe.name} recipe: test acc {h['test_acc'][-1]:.3f} after {self.epoch} epoch(s); "
                f"{self.data.num_train * len(h['epoch_time']) / sum(h['epoch_time']):.1f} images/s in the "
                f"training steps; {time.perf_counter() - wall:.1f} s wall clock"
            )
        return TrainResult(
            net=self.net,
            recipe=self.recipe.name,
            model=_model_name(self.net),
            device=self.device.type,
            precision=self.precision.name,
            settings=s,
            history=self.history,
            wall_time=time.perf_counter() - wall,
            train_time=sum(self.history["epoch_time"]),
            images_seen=self.data.num_train * len(self.history["epoch_time"]),
            resumed_from=resumed_from,
            notes=self.notes,
        )


def train_resnet(
    model="resnet18",
    recipe: Recipe | str = "course",
    settings: RunSettings | None = None,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    resolution: int | None = None,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    device=None,
    precision: Precision | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    data: DeviceData | None = None,
    progress: bool | None = None,
    live_plot: bool | None = None,
    log=print,
    compile: bool = False,
) -> TrainResult:
    """Build `model` (a preset name, a ResNetConfig or a module), train it, return the result.

    Sizes come from `settings` (default: `run_settings()` of the current profile), each
    overridden by the keyword of the same name. The network is initialised from `seed`.
    """
    settings = (settings or run_settings()).replace(
        epochs=epochs, batch_size=batch_size, resolution=resolution,
        train_size=train_size, test_size=test_size,
    )  # fmt: skip
    recipe = get_recipe(recipe)
    if data is None:
        data = DeviceData(device, settings.train_size, settings.test_size)
    torch.manual_seed(seed)
    net = model if isinstance(model, nn.Module) else build_resnet(model)
    init_weights(net, recipe)
    trainer = Trainer(
        net, data, recipe, settings, precision=precision, seed=seed, checkpoint=checkpoint,
        progress=progress, live_plot=live_plot, log=log, compile=compile,
    )  # fmt: skip
    result = trainer.fit(resume=resume)
    if isinstance(net, nn.Module) and hasattr(net, "config"):
        with torch.device("meta"):
            meta = build_resnet(net.config)
        result.flops_per_image = 3 * count_flops(
            meta, (1, net.config.in_channels, settings.resolution, settings.resolution)
        )
    return result


# --------------------------------------------------------------------------- analysis helpers


@torch.inference_mode()
def predict(net: nn.Module, data: DeviceData, resolution: int, batch_size: int = 512):
    """(predicted labels, true labels) of the test images, on the CPU."""
    net.eval()
    preds = []
    for X, _ in data.test_batches(batch_size, resolution):
        preds.append(net(X).argmax(dim=1))
    return torch.cat(preds).cpu(), data.test_labels.cpu()


def results_table(rows: list[dict]):
    """A pandas DataFrame of result rows (`TrainResult.row()` and the course's run)."""
    import pandas as pd

    return pd.DataFrame(rows).set_index("run")


def subset_loader(loader, size: int | None):
    """The same DataLoader (batch size, shuffling, workers) over the first `size` examples."""
    if size is None or size >= len(loader.dataset):
        return loader
    subset = torch.utils.data.Subset(loader.dataset, range(size))
    shuffle = isinstance(loader.sampler, torch.utils.data.RandomSampler)
    return torch.utils.data.DataLoader(
        subset, loader.batch_size, shuffle=shuffle, num_workers=loader.num_workers
    )


# --------------------------------------------------------------------------- command line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m resnet_helpers.train",
        description="Train ResNet-18 on Fashion-MNIST with the course's or the improved recipe.",
    )
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="course")
    parser.add_argument(
        "--profile", choices=["smoke", "cpu", "full"], default=None,
        help="run sizes (default: RESNET_PROFILE, else full with a GPU, cpu without)",
    )  # fmt: skip
    parser.add_argument("--model", default="resnet18", help="a preset: resnet18 .. resnet152")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--resolution", type=int, help="image side after resizing (course: 96)")
    parser.add_argument("--train-size", type=int, help="train on the first N images only")
    parser.add_argument("--test-size", type=int, help="test on the first N test images (10000: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile", action="store_true", help="torch.compile the network (GPUs)")
    parser.add_argument("--checkpoint", help="file to save every epoch (and to resume from)")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    args = parser.parse_args(argv)
    if args.resume and not args.checkpoint:
        parser.error("--resume needs --checkpoint PATH")
    profile = get_profile(args.profile)
    settings = run_settings(profile).replace(
        epochs=args.epochs, batch_size=args.batch_size, resolution=args.resolution,
        train_size=args.train_size, test_size=args.test_size,
    )  # fmt: skip
    device = choose_device()
    precision = choose_precision(device)
    print(
        f"recipe {args.recipe} | model {args.model} | profile {profile} | device {device.type} | "
        f"precision {precision} | {settings}",
        flush=True,
    )
    try:
        result = train_resnet(
            args.model, args.recipe, settings, seed=args.seed, device=device, precision=precision,
            checkpoint=args.checkpoint, resume=args.resume, progress=False, live_plot=False,
            log=lambda line: print(line, flush=True), compile=args.compile,
        )  # fmt: skip
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        f"{result.images_per_s:.1f} images/s (wall clock of the training steps, data included); "
        + "; ".join(result.notes)
    )
    print(f"test acc {result.test_acc:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
