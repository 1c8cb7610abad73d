"""Stopping a run cleanly: Ctrl-C, a notebook's interrupt button, and SIGTERM on the command line.

`Trainer.fit` turns a KeyboardInterrupt into a `TrainingInterrupted` that names the last complete
checkpoint; it is still a KeyboardInterrupt, so "Run all" in a notebook stops and a script exits.
In a notebook it shows as one line (IPython's `_render_traceback_`), not a wall of traceback.
`sigterm_as_interrupt()` makes SIGTERM (a stopped container, a shut-down kernel) stop a run the way
Ctrl-C does; only the command line installs it, a library must not take over a process's signals.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

__all__ = ["TrainingInterrupted", "Terminated", "sigterm_as_interrupt"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interrupt by `sigterm_as_interrupt()`."""


class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C, the interrupt button or SIGTERM, with what a resume needs.

    `message` says what happened and which checkpoint holds the last complete epoch;
    `str(e)` adds how to continue from Python (`resume=True`)."""

    def __init__(self, checkpoint: Path | None, saved_epoch: int, epoch: int, epochs: int, signal_name: str):
        self.checkpoint, self.saved_epoch, self.epoch, self.epochs = checkpoint, saved_epoch, epoch, epochs
        self.signal_name = signal_name
        how = "SIGTERM" if signal_name == "SIGTERM" else "Ctrl-C / interrupt"
        where = f"interrupted ({how}) during epoch {epoch + 1} of {epochs}"
        if checkpoint is None:
            self.message = f"{where}; no checkpoint path was given, so nothing was saved."
            hint = "Give checkpoint=PATH to be able to resume a run."
        elif saved_epoch == 0:
            self.message = f"{where}, before the first checkpoint was written: nothing to resume."
            hint = "Run again to start over."
        else:
            self.message = f"{where}. Last complete checkpoint: {checkpoint} (after epoch {saved_epoch})."
            hint = "To continue: the same call with resume=True."
        super().__init__(f"{self.message} {hint}")

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
