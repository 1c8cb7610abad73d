"""The d2l adapter: run the course's own code (`d2l.train_ch6`) beside ours and compare.

`CourseRun` times a `d2l.train_ch6` call and keeps what it prints; `subset_loader` gives d2l's
loader over fewer images; `results_table` puts our rows and the course's side by side.
"""

from __future__ import annotations

import contextlib
import sys
import time

import torch

from .recipes import RunSettings

__all__ = ["CourseRun", "subset_loader", "results_table", "result_row"]


def result_row(name, device, precision, settings, train_images, wall_time, test_acc) -> dict:
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
