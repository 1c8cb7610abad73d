"""Process-wide settings a run may want, each one explicit: cuDNN's autotuner for the duration of a
run (`cudnn_benchmark`), the global RNG seeded for a run and given back after (`seeded`), and the
process's resident memory for a report (`memory_note`). The CPU allocator setting is
`device_data.tune_cpu_allocator()`; the caller decides to call it."""

from __future__ import annotations

import contextlib
import resource
import sys

import torch

__all__ = ["cudnn_benchmark", "seeded", "resident_memory_mib", "memory_note"]


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
    VmHWM; elsewhere the current one is NaN and the peak comes from getrusage)."""
    current = peak = float("nan")
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    current = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
    except OSError:
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024  # bytes vs KiB
    return current, peak


def memory_note() -> str:
    current, peak = resident_memory_mib()
    return f"RSS {current:,.0f} MiB (peak {peak:,.0f} MiB)"
