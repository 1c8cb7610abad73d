"""`python -m resnet_helpers.training.bench`: the course's training pipeline against ours, in one run.

Both train the course's ResNet-18 on the same 96x96 Fashion-MNIST batches of 256 on the same
device, timed by the wall clock with data loading included, after a few warm-up steps:

- course: `d2l.load_data_fashion_mnist(256, resize=96)` (PIL resize in d2l's 4 worker
  processes), fp32, NCHW, xavier init, SGD lr 0.05, and `d2l.train_ch6`'s step (with its
  per-step `float()` of loss and accuracy). It runs in a child process started like a student's
  kernel, so nothing our trainer sets (the CPU allocator) changes it;
- ours: `resnet_helpers.training.trainer.Trainer.train_step` on `DeviceData` batches (uint8 on the device,
  resized there, channels_last, the chosen precision, sums on the device).

The two alternate step by step (course, ours, ours, course, ...), so a machine that gets
busier or quieter during the run slows both alike. The report gives images/s of each, the
model FLOPs per image, the FLOP utilisation against a matmul peak measured here, and last
`speedup: N.NN` (ours / course, wall clock).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from ..data import default_root, seed_torchvision_cache
from ..measure import count_flops
from ..models import build_resnet
from ..profiles import choose_device, choose_precision, cpu_supports_bf16, environment_report, synchronize

__all__ = ["matmul_peak", "model_train_flops", "bench", "benchmark", "main"]


def matmul_peak(
    device: torch.device, dtype: torch.dtype = torch.float32, n: int | None = None, repeats: int = 3
):
    """Best FLOP/s of an n x n matmul on `device` in `dtype` (2 n^3 FLOPs each)."""
    device = torch.device(device)
    if n is None:
        n = 8192 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def model_train_flops(model: str, resolution: int) -> int:
    """FLOPs of one training image: forward + backward ~ 3 x forward (counted on 'meta')."""
    with torch.device("meta"):
        net = build_resnet(model)
    return 3 * count_flops(net, (1, net.config.in_channels, resolution, resolution))


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

    Protocol on the original stdout: it writes `ready`, then answers each `run N` line read
    from stdin with a JSON line of the wall and step times; `quit` ends it. Anything the
    libraries print goes to stderr."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    if args.tune_course_allocator:
        from .device_data import tune_cpu_allocator

        tune_cpu_allocator()
    from d2l import torch as d2l
    from torch import nn

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
    batches = iter(train_iter)
    protocol.write("ready\n")
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        wall = step_only = 0.0
        images = 0
        for _ in range(int(command[1])):
            start = time.perf_counter()
            try:
                X, y = next(batches)
            except StopIteration:
                batches = iter(train_iter)
                X, y = next(batches)
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
            end = time.perf_counter()
            wall += end - start
            step_only += end - loaded
            images += X.shape[0]
        protocol.write(json.dumps({"wall": wall, "step": step_only, "images": images}) + "\n")
    return 0


class _Course:
    """Parent side: starts the worker and asks it for steps."""

    def __init__(self, args, device: torch.device):
        command = [
            sys.executable, "-m", "resnet_helpers.training.bench", "--course-worker",
            "--device", str(device), "--batch-size", str(args.batch_size),
            "--resolution", str(args.resolution), "--model", args.model, "--lr", str(args.lr),
        ]  # fmt: skip
        if args.tune_course_allocator:
            command.append("--tune-course-allocator")
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self._expect("ready")

    def _expect(self, what: str) -> str:
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError(f"the course's worker process ended (exit code {code}); see its errors above")
        if what and line.strip() != what:
            raise RuntimeError(f"the course's worker said {line!r}, expected {what!r}")
        return line

    def run(self, steps: int) -> dict:
        self.proc.stdin.write(f"run {steps}\n")
        return json.loads(self._expect(""))

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
    def __init__(self, args, device: torch.device):
        from .device_data import DeviceData
        from .recipes import RunSettings, init_weights
        from .trainer import Trainer

        self.device = device
        self.settings = RunSettings(epochs=1, batch_size=args.batch_size, resolution=args.resolution)
        self.data = DeviceData(device)
        torch.manual_seed(0)
        net = build_resnet(args.model)
        self.trainer = Trainer(
            net, self.data, "course", self.settings, progress=False, live_plot=False, log=None,
            compile=args.compile,
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
    precision = choose_precision(device)
    print(environment_report(), flush=True)
    print(
        f"benchmark: {args.model}, {args.resolution}x{args.resolution} images, batch {args.batch_size}, "
        f"{args.warmup} warm-up + {args.steps} timed steps each, interleaved; device {device}",
        flush=True,
    )
    native_bf16 = device.type == "cuda" or cpu_supports_bf16()
    # Without native bf16 a CPU emulates it slowly: measure on a small matrix to keep it short.
    bf16_size = args.peak_size if native_bf16 else min(args.peak_size or 512, 512)
    peaks = {
        "fp32": matmul_peak(device, torch.float32, args.peak_size),
        "bf16": matmul_peak(device, torch.bfloat16, bf16_size, repeats=2),
    }
    if precision.name == "fp16":
        peaks["fp16"] = matmul_peak(device, torch.float16, args.peak_size)
    flops = model_train_flops(args.model, args.resolution)

    course = _Course(args, device)
    try:
        ours = _Ours(args, device)
        for _ in range(args.warmup):
            course.run(1)
            ours.run(1)
        c_runs, o_runs = [], []
        for i in range(args.steps):
            pair = [(course, c_runs), (ours, o_runs)]
            for side, runs in pair if i % 2 == 0 else reversed(pair):
                runs.append(side.run(1))
    finally:
        course.close()
    # Measured again after the steps; the best of the two is the peak (a busy machine lowers it).
    peaks[precision.name] = max(
        peaks[precision.name], matmul_peak(device, precision.dtype or torch.float32, args.peak_size)
    )
    if precision.name != "fp32":
        peaks["fp32"] = max(peaks["fp32"], matmul_peak(device, torch.float32, args.peak_size))
    print(
        "matmul peak measured here (best before/after): "
        + ", ".join(f"{k} {v / 1e9:,.1f} GFLOP/s" for k, v in peaks.items())
        + ("" if native_bf16 else " (this CPU has no native bf16: emulated)"),
        flush=True,
    )

    def rate(runs, key="wall"):
        return sum(r["images"] for r in runs) / sum(r[key] for r in runs)

    c_rate, o_rate = rate(c_runs), rate(o_runs)
    c_steps = [r["images"] / r["wall"] for r in c_runs]
    o_steps = [r["images"] / r["wall"] for r in o_runs]
    speedup = o_rate / c_rate
    result = {
        "device": str(device),
        "precision": precision.name,
        "course_images_per_s": c_rate,
        "course_images_per_s_without_loading": rate(c_runs, "step"),
        "ours_images_per_s": o_rate,
        "flops_per_image": flops,
        "peaks": peaks,
        "course_mfu": c_rate * flops / peaks["fp32"],
        "ours_mfu": o_rate * flops / peaks[precision.name],
        "speedup": speedup,
    }
    print(f"model: {flops / 1e9:.2f} GFLOP per training image (forward + backward = 3 x forward)")
    print(
        f"course (d2l loaders, {os.cpu_count()} CPUs, fp32, NCHW, train_ch6 step): "
        f"{c_rate:.1f} images/s wall clock (per step: {_spread(c_steps)}); "
        f"{result['course_images_per_s_without_loading']:.1f} images/s without data loading "
        "(what train_ch6's examples/sec reports); "
        f"{c_rate * flops / 1e9:.1f} GFLOP/s = {100 * result['course_mfu']:.1f}% of the fp32 matmul peak"
    )
    print(
        f"ours (data on {device.type}, channels_last, {precision.name}, sums on device): "
        f"{o_rate:.1f} images/s wall clock (per step: {_spread(o_steps)}); "
        f"{o_rate * flops / 1e9:.1f} GFLOP/s = MFU {100 * result['ours_mfu']:.1f}% of the "
        f"{precision.name} matmul peak"
    )
    ceiling = peaks[precision.name] / flops
    print(
        f"ceiling at 100% of the {precision.name} matmul peak: {ceiling:.1f} images/s "
        f"= {ceiling / c_rate:.1f}x the course's pipeline"
    )
    print(f"benchmark took {time.perf_counter() - started:.0f} s")
    print(f"speedup: {speedup:.2f}")
    return result


def benchmark(
    batch_size: int = 256,
    resolution: int = 96,
    steps: int = 3,
    warmup: int = 1,
    model: str = "resnet18",
    device: str | None = None,
    peak_size: int | None = None,
    compile: bool = False,
    tune_course_allocator: bool = False,
) -> dict:
    """`python -m resnet_helpers.training.bench` from Python: prints the report, returns the numbers."""
    args = argparse.Namespace(**locals(), lr=0.05, course_worker=False)
    return bench(args)


def _spread(values) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"median {statistics.median(values):.1f}, min {min(values):.1f}, max {max(values):.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m resnet_helpers.training.bench",
        description="The course's training pipeline against ours: images/s, MFU and the speedup.",
    )
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--resolution", type=int, default=96)
    parser.add_argument("--steps", type=int, default=3, help="timed steps of each pipeline")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps of each first")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the best there is)")
    parser.add_argument("--peak-size", type=int, default=None, help="matrix side for the matmul peak")
    parser.add_argument("--compile", action="store_true", help="torch.compile our network (GPUs)")
    parser.add_argument(
        "--tune-course-allocator", action="store_true",
        help="give the course's process our CPU allocator setting too (isolates the pipeline's gain)",
    )  # fmt: skip
    parser.add_argument("--lr", type=float, default=0.05, help=argparse.SUPPRESS)
    parser.add_argument("--course-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.course_worker:
        return course_worker(args)
    bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
