"""The trainer: one network, one recipe, epochs with checkpoints, resume, progress and a live plot.

    result = train_resnet("resnet18", recipe="course", epochs=10, resolution=96)

Checkpoints are written every epoch, atomically, and `resume=True` continues where a run stopped
and reproduces the uninterrupted run exactly (on the CPU, same seed). Data: `device_data.py`;
recipes and run sizes: `recipes.py`; checkpoint files: `checkpoints.py`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..measure import count_flops
from ..models import ResNetConfig, build_resnet, model_name
from ..profiles import Precision, choose_precision
from .checkpoints import CHECKPOINT_FORMAT, CheckpointError, load_checkpoint, save_checkpoint
from .course import result_row
from .device_data import DeviceData, autocast, make_grad_scaler, tune_cpu_allocator
from .evaluate import evaluate
from .recipes import (
    Recipe,
    RunSettings,
    get_recipe,
    init_weights,
    make_optimizer,
    make_scheduler,
    run_settings,
)

__all__ = ["Trainer", "TrainResult", "train_resnet", "predict"]


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
        return result_row(
            name or f"{self.recipe} recipe, our trainer", self.device, self.precision, self.settings,
            self.images_seen // max(1, len(self.history["epoch_time"])), self.wall_time, self.test_acc,
        )  # fmt: skip


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

    def evaluate(self) -> float:
        """Test accuracy (the course's evaluate_accuracy_gpu, batched on the device)."""
        batches = self.data.test_batches(2 * self.settings.batch_size, self.settings.resolution)
        return evaluate(self.net, batches, autocast(self.device, self.precision)).accuracy

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
            from .live_plot import LivePlot

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
            model=model_name(self.net),
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


def predict(net: nn.Module, data: DeviceData, resolution: int, batch_size: int = 512):
    """(predicted labels, true labels) of the test images, on the CPU."""
    result = evaluate(net, data.test_batches(batch_size, resolution), keep_predictions=True)
    return result.predictions, data.test_labels.cpu()
