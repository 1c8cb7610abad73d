"""The trainer: one network, one recipe, epochs with checkpoints, resume, progress and a live plot.

    result = train_resnet("resnet18", recipe="course", epochs=10, resolution=96)

Checkpoints are written every epoch, atomically, and `resume=True` continues where a run stopped
and reproduces the uninterrupted run exactly (on the CPU, same seed). Ctrl-C (or a notebook's
interrupt button) stops a run with a `TrainingInterrupted` naming the last complete checkpoint.

This file, top to bottom: `Trainer` (a step, an epoch, the run) and `train_resnet`; what a run
returns (`TrainResult`, `result_row`); checkpoint files (`save_checkpoint`, `load_checkpoint`,
`checkpoint_dir`); stopping a run (`TrainingInterrupted`, `sigterm_as_interrupt`); and the
process-wide settings a run touches, each explicit (`seeded`, `cudnn_benchmark`, `memory_note`).
Data: `device_data.py`; recipes and run sizes: `recipes.py`; several processes under torchrun
(DistributedDataParallel): `distributed.py`, whose few hooks here are each marked "torchrun".

Nothing here changes process-wide settings for good: the CPU allocator is tuned only when asked
(`tune_allocator=True`, or `device_data.tune_cpu_allocator()` yourself), and cuDNN's autotuner is
on only while `fit()` runs (`cudnn_benchmark=True`, the default, CUDA only).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..i18n import _
from ..measure import count_flops
from ..models import ResNetConfig, build_resnet, is_plain, model_name
from ..profiles import Precision, choose_precision, synchronize
from . import distributed
from .device_data import DeviceData, autocast, batch_bounds, make_grad_scaler, tune_cpu_allocator
from .evaluate import evaluate
from .progress import in_notebook, progress_bar
from .recipes import (
    Recipe,
    RunSettings,
    get_recipe,
    init_weights,
    make_optimizer,
    make_scheduler,
    run_settings,
)

__all__ = [
    "Trainer",
    "train_resnet",
    "TrainResult",
    "TrainingInterrupted",
    "CheckpointError",
    "CHECKPOINT_FORMAT",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_dir",
]


class Trainer:
    """Trains one network with one recipe; `fit()` runs the epochs, `train_step` one batch.

    The network is trained as given (no initialisation here). Process-wide settings, explicit:
    `tune_allocator=True` calls `tune_cpu_allocator()` on a CPU (glibc keeps freed memory: faster
    steps, for the whole process; default off); `cudnn_benchmark=True` (default) turns
    `torch.backends.cudnn.benchmark` on while `fit()` runs on CUDA and restores it after.
    `report_memory=True` adds the process's resident memory to each epoch's log line.
    """

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
        tune_allocator: bool = False,
        cudnn_benchmark: bool = True,
        report_memory: bool = False,
    ):
        self.device = data.device
        self.data = data
        self.recipe = get_recipe(recipe)
        self.settings = settings or RunSettings()
        self.precision = precision or choose_precision(self.device)
        self.seed = seed
        self.checkpoint = Path(checkpoint) if checkpoint else None
        notebook = in_notebook()
        main = distributed.is_main()  # torchrun: only rank 0 prints and draws
        self.progress = main and (notebook if progress is None else progress)
        self.live_plot = main and (notebook if live_plot is None else live_plot)
        self.log = (log if main else None) or (lambda *a, **k: None)
        self.notes = [
            _("precision {precision} ({reason})").format(
                precision=self.precision, reason=self.precision.reason
            )
        ]
        if tune_allocator and self.device.type == "cpu":
            self.notes.append(_("CPU allocator: {note}").format(note=tune_cpu_allocator()))
        self.cudnn_benchmark = cudnn_benchmark and self.device.type == "cuda"
        self.report_memory = report_memory

        self.net = net.to(self.device, memory_format=torch.channels_last)
        # torchrun: DistributedDataParallel around the network (self.net stays the bare one).
        distributed.check_batches(batch_bounds(data.num_train, self.settings.batch_size))
        self.model = distributed.wrap(self.net, self.device)
        # torch.compile pays off on GPUs; on a 2-core CPU it takes minutes and gains little.
        self.model = torch.compile(self.model) if compile else self.model
        self.steps_per_epoch = data.num_batches(self.settings.batch_size)
        self.optimizer = make_optimizer(self.net, self.recipe)
        self.scheduler = make_scheduler(
            self.optimizer, self.recipe, self.settings.epochs * self.steps_per_epoch
        )
        self.scaler = make_grad_scaler(self.device, self.precision)
        self.loss = nn.CrossEntropyLoss(label_smoothing=self.recipe.label_smoothing)
        self.history = empty_history()
        self.epoch = 0  # epochs completed
        self.saved_epoch = 0  # epoch held by the checkpoint file (0: none written or loaded)
        self._sums = torch.zeros(3, device=self.device)  # loss sum, correct, count (on device)

    # -- one step -------------------------------------------------------------------------
    def train_step(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """One optimiser step on the batch (X, y); adds loss and accuracy to the sums on the device
        (no sync). torchrun: (X, y) is the global batch, of which this rank trains its shard."""
        part, weight = distributed.shard(len(y)), distributed.shard_weight(len(y))
        X, y = X[part], y[part]
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.precision):
            logits = self.model(X)
            loss = self.loss(logits, y)
        self.scaler.scale(loss * weight if weight != 1 else loss).backward()
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
        """Test accuracy (the course's evaluate_accuracy_gpu, batched on the device). torchrun:
        each rank evaluates its shard of every test batch, with rank 0's BatchNorm statistics, and
        the correct answers and counts are summed over the ranks."""
        batches = self.data.test_batches(2 * self.settings.batch_size, self.settings.resolution)
        if not distributed.active():
            return evaluate(self.net, batches, autocast(self.device, self.precision)).accuracy
        distributed.broadcast_buffers(self.net)
        mine = list(distributed.shard_batches(batches))
        result = evaluate(self.net, mine, autocast(self.device, self.precision)) if mine else None
        sums = torch.tensor(
            [result.accuracy * result.count, result.count] if result else [0.0, 0.0],
            dtype=torch.float64,
            device=self.device,
        )
        correct, count = distributed.all_reduce_sum(sums).tolist()
        return round(correct) / count

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
                # The only sync: 5 per epoch (torchrun: the sums over every rank's shard).
                loss_sum, correct, count = distributed.all_reduce_sum(self._sums.clone()).tolist()
                self.history["epoch"].append(epoch + i / n)
                self.history["train_loss"].append(loss_sum / count)
                self.history["train_acc"].append(correct / count)
                if bar is not None:
                    bar.set_postfix(loss=f"{loss_sum / count:.3f}", acc=f"{correct / count:.3f}")
                if plot is not None:
                    plot.update(self.history)
        synchronize(self.device)  # the steps are queued on a GPU: wait for them before the clock
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
        """What must match for a resume to continue the same run (plain types only). The network:
        its config, whether it is a plain twin (no shortcuts), and a fingerprint of its weights'
        names and shapes (a plain twin has the config of its residual twin)."""
        model_config = getattr(self.net, "config", None)
        shapes = ";".join(f"{k}:{tuple(v.shape)}" for k, v in self.net.state_dict().items())
        return {
            "model": model_config.to_dict()
            if isinstance(model_config, ResNetConfig)
            else type(self.net).__name__,
            "plain": is_plain(self.net),
            "weights": hashlib.sha1(shapes.encode()).hexdigest()[:12],
            "recipe": asdict(self.recipe),
            "settings": asdict(self.settings),
            "train_size": self.data.num_train,
            "test_size": self.data.num_test,
            "seed": self.seed,
            "precision": self.precision.name,
        }

    def load_state_dict(self, state: dict) -> None:
        mine = self.config()
        for key in ("plain", "weights"):  # not in checkpoints written before they were saved
            if key not in state["config"]:
                del mine[key]
        check_same_run(mine, state["config"], self.checkpoint)
        # Weights and optimiser state are copied into the trainer's tensors, on its device (the
        # optimiser casts its state to each parameter's device); the RNG states stay CPU tensors.
        try:
            self.net.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            why = " ".join(str(e).split())  # load_state_dict's message runs over many lines
            raise CheckpointError(
                _(
                    "the weights in {checkpoint} do not fit this network ({why}). A resumed "
                    "run must train the network that wrote the checkpoint: resume with that network, or "
                    "give another checkpoint path to start a new run."
                ).format(checkpoint=self.checkpoint, why=why[:300])
            ) from e
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng"]["cuda"]])
        self.history = {**empty_history(), **state["history"]}
        # A checkpoint from before wall times were saved: those epochs' wall time is unknown.
        self.history["wall_time"] += [float("nan")] * (
            len(self.history["epoch_time"]) - len(self.history["wall_time"])
        )
        self.epoch = self.saved_epoch = state["epoch"]

    def save(self) -> None:
        if self.checkpoint is not None:
            if distributed.is_main():  # torchrun: rank 0 writes; every rank knows what was saved
                save_checkpoint(self.checkpoint, self.state_dict())
            self.saved_epoch = self.epoch

    def read_checkpoint(self) -> dict | None:
        """The checkpoint's state (loaded to the CPU), or None when there is no file yet.
        torchrun: rank 0 reads the file (other nodes may not see it) and sends it to every rank."""
        state = None
        if distributed.is_main() and self.checkpoint.exists():
            try:
                state = load_checkpoint(self.checkpoint, map_location="cpu")
            except CheckpointError as e:
                state = e  # sent on, so that every rank stops with it
        state = distributed.broadcast_object(state)
        if isinstance(state, CheckpointError):
            raise state
        return state

    def _interrupted(self, error: KeyboardInterrupt) -> TrainingInterrupted:
        signal_name = "SIGTERM" if isinstance(error, Terminated) else "SIGINT"
        return TrainingInterrupted(
            self.checkpoint, self.saved_epoch, self.epoch, self.settings.epochs, signal_name
        )

    # -- the run --------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        """Run the remaining epochs. Ctrl-C raises `TrainingInterrupted` (a KeyboardInterrupt: a
        notebook's "Run all" stops there) whose one-line message names the last complete
        checkpoint; the run continues from it with `resume=True`."""
        wall = mark = time.perf_counter()
        s = self.settings
        resumed_from = 0
        if resume:
            if self.checkpoint is None:
                raise ValueError(_("resume=True needs a checkpoint path."))
            state = self.read_checkpoint()
            if state is not None:
                # Loaded to the CPU: the RNG states must stay CPU tensors (torch.set_rng_state
                # refuses CUDA ones); load_state_dict copies weights and optimiser state over.
                self.load_state_dict(state)
                resumed_from = self.epoch
                self.log(
                    _("resumed from {checkpoint} after epoch {epoch} of {epochs}").format(
                        checkpoint=self.checkpoint, epoch=self.epoch, epochs=s.epochs
                    )
                )
            else:
                self.log(
                    _("no checkpoint at {checkpoint} yet: starting from epoch 1").format(
                        checkpoint=self.checkpoint
                    )
                )
        bar = plot = None
        if self.progress and self.epoch < s.epochs:
            bar = progress_bar(
                s.epochs * self.steps_per_epoch,
                desc=_("{recipe} recipe").format(recipe=self.recipe.name),
                initial=self.epoch * self.steps_per_epoch,
                unit="batch",
            )
        if self.live_plot:
            from .progress import LivePlot  # matplotlib: imported only for a live plot

            plot = LivePlot(s.epochs, title=_("{recipe} recipe").format(recipe=self.recipe.name))
            plot.update(self.history)
        tuning = cudnn_benchmark() if self.cudnn_benchmark else contextlib.nullcontext()
        try:
            with tuning:
                while self.epoch < s.epochs:
                    self.train_epoch(self.epoch, bar, plot)
                    self.epoch += 1
                    h = self.history
                    if plot is not None:
                        plot.update(h)
                    now = time.perf_counter()
                    h["wall_time"].append(now - mark)
                    mark = now
                    self.save()
                    self._log_epoch()
        except KeyboardInterrupt as e:
            raise self._interrupted(e) from None  # from None: no second traceback of where it hit
        finally:
            if bar is not None:
                bar.close()
            if plot is not None:
                plot.close()
        h = self.history
        if self.progress and h["test_acc"] and resumed_from == s.epochs:
            self.log(
                _(
                    "{recipe} recipe: the checkpoint holds a finished run (test acc "
                    "{test_acc:.3f} after {epochs} epoch(s)): nothing was trained now"
                ).format(recipe=self.recipe.name, test_acc=h["test_acc"][-1], epochs=self.epoch)
            )
        elif self.progress and h["test_acc"]:
            self.log(
                _(
                    "{recipe} recipe: test acc {test_acc:.3f} after {epochs} epoch(s); "
                    "{images_per_s:.1f} images/s in the training steps; {wall:.1f} s wall clock"
                ).format(
                    recipe=self.recipe.name,
                    test_acc=h["test_acc"][-1],
                    epochs=self.epoch,
                    images_per_s=self.data.num_train * len(h["epoch_time"]) / sum(h["epoch_time"]),
                    wall=time.perf_counter() - wall,
                )
            )
        return TrainResult(
            net=self.net,
            recipe=self.recipe.name,
            model=model_name(self.net),
            device=self.device.type,
            precision=self.precision.name,
            settings=s,
            history=self.history,
            wall_time=run_wall_time(self.history),
            train_time=sum(self.history["epoch_time"]),
            images_seen=self.data.num_train * len(self.history["epoch_time"]),
            resumed_from=resumed_from,
            session_time=time.perf_counter() - wall,
            notes=self.notes,
        )

    def _log_epoch(self) -> None:
        h, s = self.history, self.settings
        memory = f", {memory_note()}" if self.report_memory else ""
        if not self.progress:
            self.log(
                _(
                    "epoch {epoch}/{epochs}: loss {loss:.3f}, "
                    "train acc {train_acc:.3f}, test acc {test_acc:.3f}, "
                    "{images_per_s:.1f} images/s{memory}"
                ).format(
                    epoch=self.epoch,
                    epochs=s.epochs,
                    loss=h["train_loss"][-1],
                    train_acc=h["train_acc"][-1],
                    test_acc=h["test_acc"][-1],
                    images_per_s=self.data.num_train / h["epoch_time"][-1],
                    memory=memory,
                )
            )
        elif memory:
            self.log(
                _("epoch {epoch}/{epochs}{memory}").format(epoch=self.epoch, epochs=s.epochs, memory=memory)
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
    tune_allocator: bool = False,
    report_memory: bool = False,
) -> TrainResult:
    """Train `model` (a preset name, a ResNetConfig or a module) and return the result.

    A preset name or a config is built and initialised by the recipe (course: Xavier, like
    train_ch6; improved: PyTorch's default, residual branches zeroed), from `seed`, on a fork of the
    global RNG: the caller's random stream is the same after the call as before. A module is
    trained as given: its weights are not touched (a log line says so); call
    `init_weights(net, get_recipe(recipe))` first to give it the recipe's initialisation.
    Sizes come from `settings` (default: `run_settings()` of the current profile), each
    overridden by the keyword of the same name. `tune_allocator` and `report_memory`: see `Trainer`.
    Ctrl-C raises `TrainingInterrupted`, which names the checkpoint to resume from.
    """
    log = (log if distributed.is_main() else None) or (lambda *args, **kwargs: None)
    sizes = dict(epochs=epochs, batch_size=batch_size, resolution=resolution)
    settings = (settings or run_settings()).replace(**sizes, train_size=train_size, test_size=test_size)
    recipe = get_recipe(recipe)
    if data is None:
        data = DeviceData(device, settings.train_size, settings.test_size)
    with seeded(seed, data.device):  # the caller's random stream is given back as it was
        if isinstance(model, nn.Module):
            net = model
            name = type(net).__name__
            notes = [
                _("the given {network} is trained as it is: its weights were not re-initialised").format(
                    network=name
                )
            ]
            log(
                _("{note} (init_weights(net, recipe) gives it the {recipe} recipe's init)").format(
                    note=notes[0], recipe=recipe.name
                )
            )
        else:
            net = build_resnet(model)
            notes = init_weights(net, recipe)
        trainer = Trainer(
            net,
            data,
            recipe,
            settings,
            precision=precision,
            seed=seed,
            checkpoint=checkpoint,
            progress=progress,
            live_plot=live_plot,
            log=log,
            compile=compile,
            tune_allocator=tune_allocator,
            report_memory=report_memory,
        )
        trainer.notes += notes
        result = trainer.fit(resume=resume)
    # Counted on the network that was trained (a plain twin has no 1x1 projections to charge);
    # a training step counted exactly, forward and backward (FlopCounterMode).
    image = (1, 1, settings.resolution, settings.resolution)  # Fashion-MNIST: one grey channel
    result.flops_per_image = count_flops(net, image, backward=True)
    return result


# --------------------------------------------------------- what a run returns


def empty_history() -> dict:
    return {
        "epoch": [],  # fractional epoch of each train point (5 per epoch, like train_ch6)
        "train_loss": [],
        "train_acc": [],
        "test_epoch": [],
        "test_acc": [],
        "epoch_time": [],  # seconds of training steps per epoch (data on the device included)
        "eval_time": [],
        # Wall-clock seconds per epoch: from the previous epoch's end (or the session's start) to
        # this epoch's end, before its checkpoint is written (that write counts in the next epoch).
        # Saved in the checkpoint, so a resumed run reports the original sessions' time.
        "wall_time": [],
    }


@dataclass
class TrainResult:
    """What a run produced: the network, its history and the numbers of the results table.

    Times are the run's, over every session: a resumed run reports the epochs of the sessions
    before it from its checkpoint's history, not this call's (shorter) time."""

    net: nn.Module
    recipe: str
    model: str
    device: str
    precision: str
    settings: RunSettings
    history: dict
    wall_time: float  # seconds of wall clock of all epochs, all sessions (history["wall_time"])
    train_time: float  # seconds of training steps, all epochs (resumed ones included)
    images_seen: int
    flops_per_image: int = 0
    resumed_from: int = 0
    session_time: float = float("nan")  # seconds of this call (for a resumed run: this session only)
    notes: list = field(default_factory=list)

    @property
    def test_acc(self) -> float:
        return self.history["test_acc"][-1] if self.history["test_acc"] else float("nan")

    @property
    def images_per_s(self) -> float:
        """Training images per second of the training steps (data preparation included)."""
        return self.images_seen / self.train_time if self.train_time else float("nan")

    def row(self, name: str | None = None) -> dict:
        """A row of the results table; images/s is over the run's wall time (all sessions; NaN
        when a checkpoint from before wall times were saved left some epochs untimed)."""
        epochs = max(1, len(self.history["epoch_time"]))
        name = name or f"{self.recipe} recipe, our trainer"
        images, wall_time = self.images_seen // epochs, self.wall_time
        return result_row(name, self.device, self.precision, self.settings, images, wall_time, self.test_acc)


def run_wall_time(history: dict) -> float:
    """The run's wall time: the sum of its epochs' (NaN if any epoch was not timed)."""
    times = history.get("wall_time", [])
    if len(times) != len(history["epoch_time"]) or any(math.isnan(t) for t in times):
        return float("nan")
    return float(sum(times))


def result_row(name, device, precision, settings, train_images, wall_time, test_acc) -> dict:
    """A row of the results table (`course.results_table`): ours (`TrainResult.row`) or d2l's
    (`course.CourseRun.row`); `train_images` is per epoch."""
    return {
        "run": name,
        "device": device,
        "precision": precision,
        "resolution": settings.resolution,
        "train images": train_images,
        "epochs": settings.epochs,
        "batch": settings.batch_size,
        "wall time (s)": round(wall_time, 1),
        "images/s (wall clock)": round(train_images * settings.epochs / wall_time, 1)
        if wall_time > 0
        else float("nan"),
        "test acc": round(test_acc, 3),
    }


# ---------------------------------------------------------------- checkpoints


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
        # Only the error's type: torch's messages run over many lines, and for a damaged file its
        # advice (weights_only=False) would run arbitrary code without helping.
        raise CheckpointError(
            _(
                "checkpoint {path} is corrupt or truncated and cannot be read ({error_type}). "
                "It was probably cut off while being copied; checkpoints written by this trainer are "
                "replaced atomically, so an interrupted save never damages them. Delete the file to "
                "start over, or point to another copy."
            ).format(path=path, error_type=type(e).__name__)
        ) from e
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            _("{path} is not a checkpoint of resnet_helpers.training (format {format}).").format(
                path=path, format=CHECKPOINT_FORMAT
            )
        )
    return state


def _flatten(config: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = list(value) if isinstance(value, tuple) else value
    return flat


def check_same_run(mine: dict, saved: dict, path) -> None:
    """A CheckpointError listing every difference when a checkpoint's run config is not `mine`."""
    mine, theirs = _flatten(mine), _flatten(saved)
    if mine != theirs:
        diff = [
            f"{k} {theirs.get(k)!r} -> {mine.get(k)!r}"
            for k in sorted(mine.keys() | theirs.keys())
            if mine.get(k) != theirs.get(k)
        ]
        raise CheckpointError(
            _(
                "the checkpoint {path} was written by a run with other settings "
                "(saved -> now: {differences}). A resumed run must be the same run: resume with "
                "the saved settings, or give another checkpoint path to start a new run."
            ).format(path=path, differences="; ".join(diff))
        )


def checkpoint_dir(
    folder: str = "resnet-notebooks", *, mount_drive: bool = False, use_drive: bool | None = None, log=print
) -> Path:
    """Where notebooks keep checkpoints; nothing is mounted unless asked.

    On Colab with `mount_drive=True`: Google Drive (mounted here, which asks for permission), so
    a disconnect loses nothing. On Colab with Drive already mounted: Drive, without asking.
    Otherwise `checkpoints/` in the current folder; on Colab a line says that it is lost with the
    machine and how to keep it on Drive. `use_drive` is the old name of `mount_drive`.
    """
    if use_drive is not None:
        mount_drive = use_drive
    log = log or (lambda *args, **kwargs: None)
    drive = Path("/content/drive/MyDrive")
    on_colab = "google.colab" in sys.modules
    if on_colab and mount_drive and not drive.is_dir():
        from google.colab import drive as colab_drive  # type: ignore[import-not-found]

        colab_drive.mount("/content/drive")
    if on_colab and drive.is_dir():
        path = drive / folder
        log(_("checkpoints go to Google Drive: {path}").format(path=path))
    else:
        path = Path("checkpoints")
        if on_colab:
            log(
                _(
                    "checkpoints go to {path} on this Colab machine and are lost when it "
                    "disconnects; checkpoint_dir(mount_drive=True) keeps them on Google Drive."
                ).format(path=path.resolve())
            )
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------- stopping a run


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interrupt by `sigterm_as_interrupt()`."""


class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C, the interrupt button or SIGTERM, with what a resume needs.

    `message` says what happened and which checkpoint holds the last complete epoch;
    `str(e)` adds how to continue from Python (`resume=True`)."""

    def __init__(self, checkpoint: Path | None, saved_epoch: int, epoch: int, epochs: int, signal_name: str):
        self.checkpoint, self.saved_epoch, self.epoch, self.epochs = checkpoint, saved_epoch, epoch, epochs
        self.signal_name = signal_name
        how = "SIGTERM" if signal_name == "SIGTERM" else _("Ctrl-C / interrupt")
        where = _("interrupted ({how}) during epoch {epoch} of {epochs}").format(
            how=how, epoch=epoch + 1, epochs=epochs
        )
        if checkpoint is None:
            self.message = _("{where}; no checkpoint path was given, so nothing was saved.").format(
                where=where
            )
            hint = _("Give checkpoint=PATH to be able to resume a run.")
        elif saved_epoch == 0:
            self.message = _("{where}, before the first checkpoint was written: nothing to resume.").format(
                where=where
            )
            hint = _("Run again to start over.")
        else:
            self.message = _(
                "{where}. Last complete checkpoint: {checkpoint} (after epoch {saved_epoch})."
            ).format(where=where, checkpoint=checkpoint, saved_epoch=saved_epoch)
            hint = _("To continue: the same call with resume=True.")
        super().__init__(_("{message} {hint}").format(message=self.message, hint=hint))

    @property
    def resumable(self) -> bool:
        return self.checkpoint is not None and self.saved_epoch > 0

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for this exception: its message, without the traceback."""
        return [f"{type(self).__name__}: {self}"]


@contextlib.contextmanager
def sigterm_as_interrupt():
    """While inside, SIGTERM raises `Terminated` (a KeyboardInterrupt) in the main thread, so a run
    stops between two steps and says where its checkpoint is; the previous handler comes back
    after. Outside the main thread (where Python cannot set handlers) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --------------------------------------- process-wide settings, each explicit


@contextlib.contextmanager
def cudnn_benchmark(enabled: bool = True):
    """Set `torch.backends.cudnn.benchmark` inside the block and restore the previous value after.

    With it on, cuDNN times its convolution algorithms for each new input shape and keeps the
    fastest: worth it when the shapes repeat (training). It changes nothing on the CPU."""
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | str = "cpu"):
    """Run the block with the global RNG seeded with `seed`, on a fork of it (`torch.random.fork_rng`):
    after the block the caller's random stream goes on as if the block had not run.

    The CPU's generator is seeded and forked; for a CUDA `device` every CUDA generator too (as
    `torch.manual_seed` seeds them all). Other devices' generators are left alone."""
    cuda = list(range(torch.cuda.device_count())) if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        if cuda:
            torch.manual_seed(seed)  # the CPU's and every CUDA generator: all forked
        else:
            torch.random.default_generator.manual_seed(seed)
        yield


def resident_memory_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB (Linux: /proc/self/status VmRSS and
    VmHWM; elsewhere the current one is NaN and the peak comes from getrusage; Windows: both NaN)."""
    current = peak = float("nan")
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    current = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
    except OSError:
        try:
            import resource  # POSIX only: Windows has neither /proc nor resource
        except ImportError:
            return current, peak
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024  # bytes vs KiB
    return current, peak


def memory_note() -> str:
    """'RSS 812 MiB (peak 950 MiB)'; a number this system does not give reads 'unknown'."""
    current, peak = resident_memory_mib()
    current, peak = (f"{m:,.0f} MiB" if math.isfinite(m) else _("unknown") for m in (current, peak))
    return _("RSS {current} (peak {peak})").format(current=current, peak=peak)
