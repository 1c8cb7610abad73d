"""`python -m resnet_helpers.training.bench`: the course's training pipeline against ours, in one run.

All sides train the course's ResNet-18 on the same 96x96 Fashion-MNIST batches of 256 on the same
device, timed by the wall clock with data loading included:

- course: `d2l.load_data_fashion_mnist(256, resize=96)` (PIL resize in d2l's 4 loader worker
  processes), fp32 (on CUDA cuDNN's default TF32 convolutions), NCHW, xavier init, SGD lr 0.05,
  `d2l.train_ch6`'s step with its per-step `float()`. It runs in a child process started like a
  student's kernel, so nothing our trainer sets (the CPU allocator) changes it. Its loader starts
  inside the benchmark (start-up reported on its own line), and its warm-up runs until the loader
  made a step wait (its prefetched batches are used up) or 2 x its prefetch depth; its workers
  are stopped (SIGSTOP) while the other sides run, so they load only in the course's own time;
- ours in fp32: `Trainer.train_step` on `DeviceData` batches, forced to the course's arithmetic;
- ours at its best precision (`--precision`, default `profiles.choose_precision`).

The sides run in rounds, in a rotating order, so a machine that gets busier slows all alike.
Each round gives one paired ratio; the report gives the median and range of the ratios: the
pipeline speedup (ours in fp32 / course) then, last, `speedup:` (ours at its best / course).
`--loader-cpus N` pins the course (its loader workers included) and ours to N cores, as Colab
gives a GPU 2 vCPUs; the default is 2 on GPUs, all cores on CPUs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from ..data import default_root, seed_torchvision_cache
from ..measure import count_flops
from ..models import PRESETS, build_resnet
from ..profiles import (
    Precision,
    choose_device,
    choose_precision,
    cpu_supports_bf16,
    environment_report,
    synchronize,
)
from . import bench_report as report
from .cli import check_resolution, preset_resolution, run_size, whole_number
from .recipes import RunSettings, init_weights
from .runtime import seeded
from .trainer import Trainer

__all__ = ["matmul_peak", "model_train_flops", "bench", "benchmark", "main"]

PRECISIONS = {
    "fp32": Precision("fp32", None, False, "asked for"),
    "bf16": Precision("bf16", torch.bfloat16, False, "asked for"),
    "fp16": Precision("fp16", torch.float16, True, "asked for"),
}
_DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def _timer_class():
    """torch.utils.benchmark.Timer, without cpp_extension's "No CUDA runtime is found" log line."""
    import logging

    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    from torch.utils import benchmark

    return benchmark.Timer


def matmul_peak(device, arith: str = "fp32", n: int | None = None, min_time: float = 0.3) -> float:
    """Best FLOP/s of an n x n matmul on `device` in `arith` (fp32, tf32, bf16, fp16): 2 n^3 FLOPs."""
    device = torch.device(device)
    n = n or (8192 if device.type == "cuda" else 2048)
    a, b = (torch.randn(n, n, device=device).to(_DTYPES[arith]) for _ in range(2))
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = arith == "tf32"
    try:
        timer = _timer_class()("a @ b", globals={"a": a, "b": b}, num_threads=torch.get_num_threads())
        measurement = timer.blocked_autorange(min_run_time=min_time)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    return 2 * n**3 / min(measurement.times)


def model_train_flops(model: str, resolution: int) -> int:
    """FLOPs of one training image: forward + backward ~ 3 x forward (counted on 'meta')."""
    with torch.device("meta"):
        net = build_resnet(model)
    return 3 * count_flops(net, (1, net.config.in_channels, resolution, resolution))


def fp32_arith(device: torch.device) -> str:
    """What fp32 convolutions compute in, in this process (see `bench_report.fp32_arithmetic`)."""
    return report.fp32_arithmetic(
        device.type, torch.backends.cudnn.allow_tf32, os.environ.get("ONEDNN_DEFAULT_FPMATH_MODE", "")
    )


def pin(cpus: int | None, pid: int = 0) -> list[int]:
    """Pin process `pid` (0: this one) to the first `cpus` cores it may use; its affinity after."""
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, sorted(os.sched_getaffinity(pid))[:cpus])
    return sorted(os.sched_getaffinity(pid)) if hasattr(os, "sched_getaffinity") else []


# --------------------------------------------------------------------------- the course's side


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
                state["batches"] = _prepend(first, state["batches"])
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


class _prepend:
    """An iterator that yields `first`, then the rest of `it` (keeps `it`'s worker list)."""

    def __init__(self, first, it):
        self.first, self.it, self._workers = first, it, getattr(it, "_workers", [])

    def __next__(self):
        if self.first is not None:
            first, self.first = self.first, None
            return first
        return next(self.it)


class _Course:
    """Parent side: starts the worker and asks it for steps."""

    def __init__(self, args, device: torch.device):
        command = [
            sys.executable, "-m", "resnet_helpers.training.bench", "--course-worker",
            "--device", str(device), "--batch-size", str(args.batch_size),
            "--resolution", str(args.resolution), "--model", args.model, "--lr", str(args.lr),
        ]  # fmt: skip
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


# --------------------------------------------------------------------------- our side


class _Ours:
    def __init__(self, args, device: torch.device, precision: Precision, data):
        self.device, self.data, self.precision = device, data, precision
        self.settings = RunSettings(epochs=1, batch_size=args.batch_size, resolution=args.resolution)
        with seeded(0, device):  # the caller's random stream is left as it was
            net = build_resnet(args.model)
            self.trainer = Trainer(
                net, data, "course", self.settings, precision=precision, progress=False, live_plot=False,
                log=None, compile=args.compile, tune_allocator=args.tune_allocator,  # main(): reuse memory
            )  # fmt: skip
            init_weights(net, self.trainer.recipe)
        self.epoch = 0
        self.batches = self._batches()

    def _batches(self):
        s = self.settings
        while True:
            yield from self.data.train_batches(s.batch_size, s.resolution, epoch=self.epoch)
            self.epoch += 1

    def run(self, steps: int) -> dict:
        images = 0
        start = time.perf_counter()
        for _ in range(steps):
            X, y = next(self.batches)
            self.trainer.train_step(X, y)
            images += y.numel()
        self.trainer._sums.tolist()  # read the sums once, as an epoch end does (syncs a GPU)
        synchronize(self.device)
        return {"wall": time.perf_counter() - start, "images": images}


# --------------------------------------------------------------------------- the benchmark


def bench(args) -> dict:
    started = time.perf_counter()
    device = torch.device(args.device) if args.device else choose_device()
    best = choose_precision(device) if args.precision == "auto" else PRECISIONS[args.precision]
    loader_cpus = args.loader_cpus if args.loader_cpus is not None else (2 if device.type == "cuda" else 0)
    args.loader_cpus = loader_cpus
    round_steps = args.round_steps or (1 if device.type == "cpu" else 10)
    print(environment_report(), flush=True)
    old_affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    old_threads = torch.get_num_threads()
    cpus = pin(loader_cpus)
    if loader_cpus:
        torch.set_num_threads(min(old_threads, loader_cpus))
    sides = ["course", "ours fp32"] + ([f"ours {best.name}"] if best.name != "fp32" else [])
    print(
        f"benchmark: {args.model}, {args.resolution}x{args.resolution} images, batch {args.batch_size}, "
        f"{args.steps} rounds of {round_steps} step(s) per side ({', '.join(sides)}; rotating order) "
        f"after warm-up; device {device}; CPUs for the loaders and our process: "
        + (f"{len(cpus)} of {os.cpu_count()} ({cpus})" if loader_cpus else f"all {os.cpu_count()}"),
        flush=True,
    )
    try:
        arith = fp32_arith(device)
        native_bf16 = device.type == "cuda" or cpu_supports_bf16()
        needed = dict.fromkeys([arith, best.name])  # ordered, no repeats
        # Without native bf16 a CPU emulates it slowly: measure on a small matrix to keep it short.
        small = min(args.peak_size or 512, 512)
        size = {a: small if a == "bf16" and not native_bf16 else args.peak_size for a in needed}
        peaks = {a: matmul_peak(device, a, size[a]) for a in needed}
        flops = model_train_flops(args.model, args.resolution)
        from .device_data import DeviceData

        data = DeviceData(device)
        course = _Course(args, device)
        try:
            ours = {"fp32": _Ours(args, device, PRECISIONS["fp32"], data)}
            if best.name != "fp32":
                ours[best.name] = _Ours(args, device, best, data)
            warm = course.warmup(args.warmup)
            for side in ours.values():
                side.run(args.warmup)
            runs = {name: [] for name in ["course", *ours]}
            players = [("course", course), *ours.items()]
            for i in range(args.steps):
                k = i % len(players)
                for name, side in players[k:] + players[:k]:
                    runs[name].append(side.run(round_steps))
        finally:
            course.close()
        # Measured again after the steps; the best of the two is the peak (a busy machine lowers it).
        peaks = {a: max(p, matmul_peak(device, a, size[a])) for a, p in peaks.items()}
    finally:
        if loader_cpus and old_affinity:
            os.sched_setaffinity(0, old_affinity)
        torch.set_num_threads(old_threads)
    lines, result = report.build_report(device.type, best.name, arith, peaks, flops, warm, runs, native_bf16)
    took = f"benchmark took {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f}"
    lines.insert(-2, took)
    print("\n".join(lines), flush=True)
    return result


def benchmark(
    batch_size: int = 256, resolution: int = 96, steps: int = 12, warmup: int = 1,
    model: str = "resnet18", device: str | None = None, peak_size: int | None = None,
    compile: bool = False, precision: str = "auto", loader_cpus: int | None = None,
    round_steps: int | None = None, tune_allocator: bool = False,
) -> dict:  # fmt: skip
    """`python -m resnet_helpers.training.bench` from Python: prints the report, returns the numbers.
    This process's CPU allocator is tuned (`tune_cpu_allocator`) only with `tune_allocator=True`."""
    args = argparse.Namespace(**locals(), lr=0.05, course_worker=False)
    return bench(args)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m resnet_helpers.training.bench",
        description="The course's training pipeline against ours: images/s, utilisation, speedups.",
    )
    add = parser.add_argument  # sizes: the training command line's checks (cli.py), one error line
    add("--model", default="resnet18", choices=list(PRESETS), help="a preset")
    add("--batch-size", type=run_size("batch_size"), default=256)
    add("--resolution", type=preset_resolution(), default=96)
    add("--device", default=None, help="cpu, cuda, ... (default: the best there is)")
    add("--precision", choices=["auto", *PRECISIONS], default="auto", help="ours at its best")
    for name, least, example, default, text in [
        ("steps", 1, 12, 12, "timed rounds (each gives one paired ratio)"),
        ("round-steps", 1, 10, None, "steps per side per round (default: 1 on CPUs, 10 on GPUs)"),
        ("warmup", 0, 3, 1, "untimed steps of each first (the course's loader: more)"),
        ("loader-cpus", 0, 2, None, "pin the course (its loaders too) and ours to N cores (GPUs: 2; 0: all)"),
    ]:  # fmt: skip
        number = whole_number(least, f"{least} or more, e.g. --{name} {example}")
        add(f"--{name}", type=number, default=default, help=text)
    parser.add_argument("--peak-size", type=int, default=None, help="matrix side for the matmul peak")
    parser.add_argument("--compile", action="store_true", help="torch.compile our network")
    parser.add_argument("--lr", type=float, default=0.05, help=argparse.SUPPRESS)
    parser.add_argument("--course-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    check_resolution(parser, args)
    if args.course_worker:
        return course_worker(args)
    args.tune_allocator = True  # a command line owns its process: our side reuses freed memory
    bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
