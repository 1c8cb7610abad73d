"""Fashion-MNIST as tensors on the device, batches made there; autocast and the grad scaler.

What makes our pipeline faster than `d2l.load_data_fashion_mnist` + `d2l.train_ch6`: the 70,000
images stay a uint8 tensor on the device; each batch is shuffled by index, augmented and resized
(bilinear, like the course's `Resize`) on the device, in channels_last: no worker processes, no
PIL, no per-image Python.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys

import torch
import torch.nn.functional as F

from ..blocks import check_positive_int
from ..data import load_fashion_mnist
from ..profiles import Precision, choose_device
from .recipes import check_run_size

__all__ = ["DeviceData", "to_input", "tune_cpu_allocator"]


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
        for name, size in (("train_size", train_size), ("test_size", test_size)):
            if size is not None:  # None: all the images
                check_run_size(name, size)
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
        return len(batch_bounds(self.num_train, batch_size))

    def generator(self, seed: int, epoch: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(seed * 100_003 + epoch)

    def train_batches(self, batch_size, resolution, epoch=0, seed=0, flip=False, translate=0):
        """Shuffled (X, y) batches: X float (B, 1, R, R) in [0, 1], channels_last.

        Every image once per epoch; a last batch of a single image joins the one before it
        (`batch_bounds`): BatchNorm cannot train on one image."""
        g = self.generator(seed, epoch)
        order = torch.randperm(self.num_train, generator=g, device=self.device)
        for start, stop in batch_bounds(self.num_train, batch_size):
            idx = order[start:stop]
            images = self.train_images[idx]
            if translate or flip:
                images = augment(images, g, flip=flip, translate=translate)
            yield to_input(images, resolution), self.train_labels[idx]

    def test_batches(self, batch_size, resolution):
        for start in range(0, self.num_test, batch_size):
            images = self.test_images[start : start + batch_size]
            yield to_input(images, resolution), self.test_labels[start : start + batch_size]


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of each batch of `n` examples: full batches, then the rest; a rest of one
    example is merged into the batch before (in training BatchNorm needs more than one value per
    channel: "Expected more than 1 value per channel" at a 1x1 stage)."""
    check_positive_int("batch_size", batch_size)
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def to_input(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float (B, 1, R, R) in [0, 1], channels_last (ToTensor + Resize)."""
    x = images.unsqueeze(1).float().div_(255)
    if x.shape[-1] != resolution:
        # Bilinear like torchvision's Resize; antialias matters only when shrinking.
        size, shrink = (resolution, resolution), resolution < x.shape[-1]
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
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


def autocast(device: torch.device, precision: Precision):
    """The autocast context of a precision (a no-op for fp32)."""
    if precision.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=precision.dtype)


def make_grad_scaler(device: torch.device, precision: Precision) -> torch.amp.GradScaler:
    """A GradScaler, enabled only for fp16 (bf16 and fp32 have fp32's range)."""
    return torch.amp.GradScaler(device.type, enabled=precision.use_grad_scaler)


_ALLOCATOR_NOTE: str | None = None


def tune_cpu_allocator() -> str:
    """Keep freed CPU memory in the process for reuse (glibc only; a no-op elsewhere).

    A training step frees and re-allocates gigabytes of activations. By default glibc returns
    every block above 32 MiB to the operating system, which must then zero and map the pages
    again on the next step (page faults: up to a third of a CPU step). This raises the mmap
    threshold and turns trimming off, as jemalloc/tcmalloc would; the cost is that the process
    keeps its peak memory. Process-wide, once; returns what it did. A library must not do this on
    its own: the command line calls it, a notebook calls it and prints what it did, and
    `Trainer(tune_allocator=True)` does it on request.
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
