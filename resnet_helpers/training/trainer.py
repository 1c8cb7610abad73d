"""The trainer: one network, one recipe, epochs with checkpoints, resume, progress and a live plot.

    result = train_resnet("resnet18", recipe="course", epochs=10, resolution=96)

Checkpoints are written every epoch, atomically, and `resume=True` continues where a run stopped
and reproduces the uninterrupted run exactly (on the CPU, same seed). Ctrl-C (or a notebook's
interrupt button) stops a run with a `TrainingInterrupted` naming the last complete checkpoint.
Data: `device_data.py`; recipes and run sizes: `recipes.py`; checkpoint files: `checkpoints.py`;
the result: `results.py`. Nothing here changes process-wide settings: the CPU allocator is tuned
only when asked (`tune_allocator=True`, or `device_data.tune_cpu_allocator()` yourself), and cuDNN's
autotuner is on only while `fit()` runs (`cudnn_benchmark=True`, the default, CUDA only).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from ..measure import count_flops
from ..models import ResNetConfig, build_resnet, is_plain, model_name
from ..profiles import Precision, choose_precision
from .checkpoints import CHECKPOINT_FORMAT, CheckpointError, check_same_run, load_checkpoint, save_checkpoint
from .device_data import DeviceData, autocast, make_grad_scaler, tune_cpu_allocator
from .evaluate import evaluate
from .interrupts import Terminated, TrainingInterrupted
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
from .results import TrainResult, empty_history, run_wall_time
from .runtime import cudnn_benchmark, memory_note, seeded

__all__ = ["Trainer", "TrainResult", "train_resnet"]


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
        self.progress = notebook if progress is None else progress
        self.live_plot = notebook if live_plot is None else live_plot
        self.log = log or (lambda *a, **k: None)
        self.notes = [f"precision {self.precision} ({self.precision.reason})"]
        if tune_allocator and self.device.type == "cpu":
            self.notes.append(f"CPU allocator: {tune_cpu_allocator()}")
        self.cudnn_benchmark = cudnn_benchmark and self.device.type == "cuda"
        self.report_memory = report_memory

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
        self.history = empty_history()
        self.epoch = 0  # epochs completed
        self.saved_epoch = 0  # epoch held by the checkpoint file (0: none written or loaded)
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
                f"the weights in {self.checkpoint} do not fit this network ({why[:300]}). A resumed "
                "run must train the network that wrote the checkpoint: resume with that network, or "
                "give another checkpoint path to start a new run."
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
            save_checkpoint(self.checkpoint, self.state_dict())
            self.saved_epoch = self.epoch

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
            bar = progress_bar(
                s.epochs * self.steps_per_epoch,
                desc=f"{self.recipe.name} recipe",
                initial=self.epoch * self.steps_per_epoch,
                unit="batch",
            )
        if self.live_plot:
            from .live_plot import LivePlot

            plot = LivePlot(s.epochs, title=f"{self.recipe.name} recipe")
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
                f"{self.recipe.name} recipe: the checkpoint holds a finished run (test acc "
                f"{h['test_acc'][-1]:.3f} after {self.epoch} epoch(s)): nothing was trained now"
            )
        elif self.progress and h["test_acc"]:
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
                f"epoch {self.epoch}/{s.epochs}: loss {h['train_loss'][-1]:.3f}, "
                f"train acc {h['train_acc'][-1]:.3f}, test acc {h['test_acc'][-1]:.3f}, "
                f"{self.data.num_train / h['epoch_time'][-1]:.1f} images/s{memory}"
            )
        elif memory:
            self.log(f"epoch {self.epoch}/{s.epochs}{memory}")


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
    log = log or (lambda *args, **kwargs: None)
    settings = (settings or run_settings()).replace(
        epochs=epochs, batch_size=batch_size, resolution=resolution,
        train_size=train_size, test_size=test_size,
    )  # fmt: skip
    recipe = get_recipe(recipe)
    if data is None:
        data = DeviceData(device, settings.train_size, settings.test_size)
    with seeded(seed, data.device):  # the caller's random stream is given back as it was
        if isinstance(model, nn.Module):
            net = model
            name = type(net).__name__
            notes = [f"the given {name} is trained as it is: its weights were not re-initialised"]
            log(f"{notes[0]} (init_weights(net, recipe) gives it the {recipe.name} recipe's init)")
        else:
            net = build_resnet(model)
            notes = init_weights(net, recipe)
        trainer = Trainer(
            net, data, recipe, settings, precision=precision, seed=seed, checkpoint=checkpoint,
            progress=progress, live_plot=live_plot, log=log, compile=compile,
            tune_allocator=tune_allocator, report_memory=report_memory,
        )  # fmt: skip
        trainer.notes += notes
        result = trainer.fit(resume=resume)
    if isinstance(getattr(net, "config", None), ResNetConfig):
        with torch.device("meta"):
            meta = build_resnet(net.config)
        result.flops_per_image = 3 * count_flops(
            meta, (1, net.config.in_channels, settings.resolution, settings.resolution)
        )
    return result
