"""The course's side of the benchmark (`bench.py`): d2l's own pipeline, in a child process.

The child (`course_worker`, which `bench.py` starts with its hidden `--course-worker` flag)
builds what a student's kernel builds: `d2l.load_data_fashion_mnist` with its 4 loader workers,
the course's ResNet-18 with `train_ch6`'s xavier init, SGD and `train_ch6`'s step, verbatim. The
parent (`CourseSide`) asks it for warm-up and timed steps over a pipe, one JSON line each, so
nothing our side sets in its own process (the CPU allocator, threads) changes the course's run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from resnet_helpers.data import default_root, seed_torchvision_cache
from resnet_helpers.models import build_resnet
from resnet_helpers.profiles import synchronize


def pin(cpus: int | None, pid: int = 0) -> list[int]:
    """Pin process `pid` (0: this one) to the first `cpus` cores it may use; its affinity after."""
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, sorted(os.sched_getaffinity(pid))[:cpus])
    return sorted(os.sched_getaffinity(pid)) if hasattr(os, "sched_getaffinity") else []


def _d2l_workdir() -> Path:
    """A folder whose ../data is a seeded torchvision cache, for d2l's hard-coded root."""
    root = default_root()
    if root.name != "data":
        root = root / "d2l" / "data"
    seed_torchvision_cache(root)
    return root  # "../data" seen from <x>/data is <x>/data itself


def course_worker(args) -> int:
    """The child process: the course's pipeline, stepping when the parent says so.

    Protocol on the original stdout: a JSON line when ready, then one JSON line for each
    `warmup N` or `run N` read from stdin; `quit` ends it. Libraries print to stderr."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    affinity = pin(args.loader_cpus)  # before the loader exists: its workers inherit it
    if args.loader_cpus:
        torch.set_num_threads(min(torch.get_num_threads(), args.loader_cpus))
    import warnings

    from d2l import torch as d2l
    from torch import nn

    # PyTorch warns when d2l's 4 workers exceed the cores; the report says how many ran on what.
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    os.chdir(_d2l_workdir())
    device = torch.device(args.device)
    train_iter, _ = d2l.load_data_fashion_mnist(
        args.batch_size, resize=args.resolution if args.resolution != 28 else None
    )
    torch.manual_seed(0)
    net = build_resnet(args.model)

    def init_weights(m):  # train_ch6's, verbatim
        if type(m) == nn.Linear or type(m) == nn.Conv2d:  # noqa: E721
            nn.init.xavier_uniform_(m.weight)

    net.apply(init_weights)
    net.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr)
    loss = nn.CrossEntropyLoss()
    metric = d2l.Accumulator(3)
    net.train()
    state = {"batches": None}

    def workers(sig=None) -> list[int]:
        pids = [w.pid for w in getattr(state["batches"], "_workers", [])]
        for pid in pids if sig else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return pids

    def step() -> tuple[float, float, int]:
        start = time.perf_counter()
        try:
            X, y = next(state["batches"])
        except StopIteration:
            state["batches"] = iter(train_iter)
            X, y = next(state["batches"])
        loaded = time.perf_counter()
        # train_ch6's step, verbatim
        optimizer.zero_grad()
        X, y = X.to(device), y.to(device)
        y_hat = net(X)
        l = loss(y_hat, y)  # noqa: E741
        l.backward()
        optimizer.step()
        with torch.no_grad():
            metric.add(l * X.shape[0], d2l.accuracy(y_hat, y), X.shape[0])
        synchronize(device)
        return loaded - start, time.perf_counter() - loaded, X.shape[0]

    protocol.write(json.dumps({"cudnn_tf32": torch.backends.cudnn.allow_tf32, "affinity": affinity}) + "\n")
    try:
        for line in sys.stdin:
            command = line.split()
            if not command or command[0] == "quit":
                break
            workers(signal.SIGCONT)
            if command[0] == "warmup":  # start the loader, then step until it made a step wait
                start = time.perf_counter()
                state["batches"] = iter(train_iter)
                first = next(state["batches"])
                startup = time.perf_counter() - start
                state["batches"] = _Prepend(first, state["batches"])
                waits, waited_at, depth = 0, None, train_iter.num_workers * (train_iter.prefetch_factor or 2)
                for i in range(1, max(int(command[1]), 2 * depth + 1) + 1):
                    load, compute, _ = step()
                    waits = waits + 1 if i > 1 and load > max(0.005, 0.05 * compute) else 0
                    if waits == 2:  # two steps in a row waited: the prefetched batches ran out
                        waited_at = waited_at or i - 1
                    if i >= int(command[1]) and (waited_at or i > depth):
                        break
                info = {"startup": startup, "steps": i, "waited_at": waited_at, "depth": depth}
            else:
                wall = step_only = 0.0
                images = 0
                for _ in range(int(command[1])):
                    load, compute, n = step()
                    wall, step_only, images = wall + load + compute, step_only + compute, images + n
                info = {"wall": wall, "step": step_only, "images": images}
            info["loader_affinity"] = [pin(None, pid) for pid in workers()]
            workers(signal.SIGSTOP)  # the loader works only in the course's own time
            protocol.write(json.dumps(info) + "\n")
    finally:
        workers(signal.SIGCONT)
    return 0


class _Prepend:
    """An iterator that yields `first`, then the rest of `it` (keeps `it`'s worker list)."""

    def __init__(self, first, it):
        self.first, self.it, self._workers = first, it, getattr(it, "_workers", [])

    def __next__(self):
        if self.first is not None:
            first, self.first = self.first, None
            return first
        return next(self.it)


class CourseSide:
    """Parent side: starts the worker and asks it for steps."""

    def __init__(self, args, device: torch.device):
        command = [sys.executable, str(Path(__file__).with_name("bench.py")), "--course-worker"]
        command += ["--device", str(device), "--batch-size", str(args.batch_size)]
        command += ["--resolution", str(args.resolution), "--model", args.model, "--lr", str(args.lr)]
        command += ["--loader-cpus", str(args.loader_cpus)] if args.loader_cpus else []
        pipe = subprocess.PIPE
        self.proc = subprocess.Popen(command, stdin=pipe, stdout=pipe, text=True, bufsize=1)
        self.info = self._ask(None)

    def _ask(self, command: str | None) -> dict:
        if command:
            self.proc.stdin.write(command + "\n")
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError(f"the course's worker process ended (exit code {code}); see its errors above")
        return json.loads(line)

    def warmup(self, steps: int) -> dict:
        return self._ask(f"warmup {steps}")

    def run(self, steps: int) -> dict:
        return self._ask(f"run {steps}")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
