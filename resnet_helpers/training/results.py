"""What a run produced (`TrainResult`) and the history it keeps, epoch by epoch, in its checkpoints."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch import nn

from .course import result_row
from .recipes import RunSettings

__all__ = ["TrainResult", "empty_history"]


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
        return result_row(
            name or f"{self.recipe} recipe, our trainer", self.device, self.precision, self.settings,
            self.images_seen // epochs, self.wall_time, self.test_acc,
        )  # fmt: skip


def run_wall_time(history: dict) -> float:
    """The run's wall time: the sum of its epochs' (NaN if any epoch was not timed)."""
    times = history.get("wall_time", [])
    if len(times) != len(history["epoch_time"]) or any(math.isnan(t) for t in times):
        return float("nan")
    return float(sum(times))
