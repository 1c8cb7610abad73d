"""The d2l adapter: run the course's own code (`d2l.train_ch6`) beside ours and compare.

`CourseRun` times a `d2l.train_ch6` call and measures its test accuracy with d2l's own
`evaluate_accuracy_gpu`; `subset_loader` gives d2l's loader over fewer images; `results_table` puts
our rows and the course's side by side.
"""

from __future__ import annotations

import contextlib
import sys
import time

import torch

from ..i18n import _
from .recipes import RunSettings
from .trainer import result_row

__all__ = ["CourseRun", "subset_loader", "results_table"]


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
    """Times a `d2l.train_ch6` call; its test accuracy comes from d2l's `evaluate_accuracy_gpu`.

    with CourseRun(settings, len(train_iter.dataset), device, net, test_iter) as course:
        d2l.train_ch6(net, train_iter, test_iter, settings.epochs, 0.05, device)
    course.row()

    After the call (outside the timed wall clock), `test_acc` is measured on `test_iter` with
    `d2l.evaluate_accuracy_gpu(net, test_iter)`, the function train_ch6 itself uses (d2l 0.17.6
    and 1.0.3): one more pass over the test set. Only `examples_per_s` is read from what
    train_ch6 prints: it is train_ch6's own timer of the training steps, which nothing else
    returns. Without `net` and `test_iter`, `test_acc` is read from the printed line too;
    `sources` says where each number came from.
    """

    def __init__(self, settings: RunSettings, train_images: int, device="cpu", net=None, test_iter=None):
        self.settings, self.train_images, self.device = settings, train_images, str(device)
        self.net, self.test_iter = net, test_iter
        self.wall_time = float("nan")
        self.printed = ""
        self.test_acc = float("nan")
        self.sources = {}

    def __enter__(self):
        import io

        self._buffer = io.StringIO()
        self._redirect = contextlib.redirect_stdout(_Tee(sys.stdout, self._buffer))
        self._redirect.__enter__()
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.wall_time = time.perf_counter() - self._start
        self._redirect.__exit__(exc_type, exc, tb)
        self.printed = self._buffer.getvalue()
        if exc_type is None:
            self._measure()
        return False

    def _measure(self) -> None:
        if self.net is not None and self.test_iter is not None:
            from d2l import torch as d2l

            self.test_acc = float(d2l.evaluate_accuracy_gpu(self.net, self.test_iter))
            self.sources["test acc"] = _("d2l.evaluate_accuracy_gpu(net, test_iter) after the run")
        else:
            self.test_acc = self._number(r"test acc ([\d.]+)")
            self.sources["test acc"] = _("train_ch6's printed line (give net and test_iter to measure it)")
        self.sources["examples/sec"] = _("train_ch6's printed line (its timer is not returned)")

    def _number(self, pattern: str) -> float:
        import re

        match = re.search(pattern, self.printed)
        return float(match.group(1)) if match else float("nan")

    @property
    def examples_per_s(self) -> float:
        """train_ch6's own figure: it times the steps only, not the data loading."""
        return self._number(r"([\d.]+) examples/sec")

    def row(self, name: str = "course recipe, d2l.train_ch6") -> dict:
        return result_row(
            name, self.device, "fp32", self.settings, self.train_images, self.wall_time, self.test_acc
        )


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
