"""`python tools/bench.py` (`make bench`): the course's training pipeline against ours, in one run.

All sides train the course's ResNet-18 on the same 96x96 Fashion-MNIST batches of 256 on the same
device, timed by the wall clock with data loading included:

- course: `d2l.load_data_fashion_mnist(256, resize=96)` (PIL resize in d2l's 4 loader worker
  processes), fp32 (on CUDA cuDNN's default TF32 convolutions), NCHW, xavier init, SGD lr 0.05,
  `d2l.train_ch6`'s step with its per-step `float()`. It runs in a child process started like a
  student's kernel (`bench_course.py`), so nothing our trainer sets (the CPU allocator) changes
  it. Its loader starts inside the benchmark (start-up reported on its own line), and its warm-up
  runs until the loader made a step wait (its prefetched batches are used up) or 2 x its prefetch
  depth; its workers are stopped (SIGSTOP) while the other sides run, so they load only in the
  course's own time;
- ours in fp32: `Trainer.train_step` on `DeviceData` batches, forced to the course's arithmetic;
- ours at its best precision (`--precision`, default `profiles.choose_precision`).

The sides run in rounds, in a rotating order, so a machine that gets busier slows all alike.
Each round gives one paired ratio; the report gives the median and range of the ratios: the
pipeline speedup (ours in fp32 / course) then, last, `speedup:` (ours at its best / course).
`--loader-cpus N` pins the course (its loader workers included) and ours to N cores, as Colab
gives a GPU 2 vCPUs; the default is 2 on GPUs, all cores on CPUs.

Utilisation is a side's FLOP/s over the peak of its arithmetic measured here. A training image's
FLOPs are counted exactly, forward and backward (`count_flops(..., backward=True)`: the stem needs
no input gradient). The peak is the best of n x n matmuls at several sizes and of a 3x3
convolution's training step (forward, input and weight gradients: the kernels a ResNet's step runs
most), measured before and after the steps: a whole step, with its BN, pooling and small maps,
stays below it. This is a maintainer's tool (a script, not part of the package): it imports the
package and its neighbours `bench_course.py` and `bench_report.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

import torch

import bench_report as report
from bench_course import CourseSide, course_worker, pin
from resnet_helpers.measure import count_flops, smallest_resolution
from resnet_helpers.models import PRESETS, build_resnet
from resnet_helpers.profiles import (
    Precision,
    choose_device,
    choose_precision,
    cpu_supports_bf16,
    environment_report,
    synchronize,
)
from resnet_helpers.training.device_data import DeviceData
from resnet_helpers.training.recipes import RunSettings, init_weights
from resnet_helpers.training.trainer import Trainer

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


def _measure(stmt: str, min_time: float, **values) -> float:
    """The best time of `stmt` (torch.utils.benchmark: synchronises CUDA around its blocks)."""
    timer = _timer_class()(stmt, globals={"torch": torch, **values}, num_threads=torch.get_num_threads())
    return min(timer.blocked_autorange(min_run_time=min_time).times)


@contextlib.contextmanager
def _arithmetic(arith: str):
    """CUDA's TF32 switches set for `arith` inside the block, put back after."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = arith == "tf32"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def matmul_peak(device, arith: str = "fp32", sizes=None, min_time: float = 0.3) -> float:
    """Best FLOP/s of n x n matmuls on `device` in `arith` (fp32, tf32, bf16, fp16) over the `sizes`
    n (default 1024, 2048, 4096 on CPUs; 4096, 8192 on GPUs): 2 n^3 FLOPs each."""
    device = torch.device(device)
    sizes = sizes or ((4096, 8192) if device.type == "cuda" else (1024, 2048, 4096))
    best = 0.0
    with _arithmetic(arith):
        for n in sizes:
            a, b = (torch.randn(n, n, device=device).to(_DTYPES[arith]) for _ in range(2))
            best = max(best, 2 * n**3 / _measure("a @ b", min_time, a=a, b=b))
    return best


def conv_peak(
    device,
    arith: str = "fp32",
    batch: int | None = None,
    channels: int = 128,
    side: int = 24,
    min_time: float = 0.3,
) -> float:
    """FLOP/s of a 3x3 convolution's training step (`channels` to `channels` on `side` x `side`
    maps, channels_last): forward, input gradient and weight gradient, 3 x 2 x its multiply-adds."""
    device = torch.device(device)
    batch = batch or (256 if device.type == "cuda" else 32)
    dtype, fmt = _DTYPES[arith], torch.channels_last
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False).to(device, dtype, memory_format=fmt)
    x = torch.randn(batch, channels, side, side, device=device, dtype=dtype).contiguous(memory_format=fmt)
    x.requires_grad_(True)
    g = torch.randn_like(x)
    with _arithmetic(arith):
        seconds = _measure("torch.autograd.grad(conv(x), (x, conv.weight), g)", min_time, conv=conv, x=x, g=g)
    return 3 * 2 * batch * channels * channels * 9 * side * side / seconds


def peak(device, arith: str = "fp32", sizes=None, small: bool = False) -> float:
    """The peak of `arith` measured here: the best of `matmul_peak` and `conv_peak` (`small`: a
    CPU without native bf16 emulates it slowly, so small sizes)."""
    if small:
        return max(matmul_peak(device, arith, (512,)), conv_peak(device, arith, batch=4))
    return max(matmul_peak(device, arith, sizes), conv_peak(device, arith))


def model_train_flops(model: str, resolution: int) -> int:
    """FLOPs of one training image, forward and backward, counted exactly on 'meta'."""
    with torch.device("meta"):
        net = build_resnet(model)
    return count_flops(net, (1, net.config.in_channels, resolution, resolution), backward=True)


def fp32_arith(device: torch.device) -> str:
    """What fp32 convolutions compute in, in this process (see `bench_report.fp32_arithmetic`)."""
    capability = torch.cuda.get_device_capability(device) if device.type == "cuda" else None
    return report.fp32_arithmetic(
        device.type,
        torch.backends.cudnn.allow_tf32,
        os.environ.get("ONEDNN_DEFAULT_FPMATH_MODE", ""),
        capability,
    )


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device):
    """The block on a fork of the global RNG (CPU and, for CUDA, every CUDA generator) seeded with
    `seed`: the caller's random stream goes on as if the block had not run."""
    cuda = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        if cuda:
            torch.manual_seed(seed)  # the CPU's and every CUDA generator: all forked
        else:
            torch.random.default_generator.manual_seed(seed)  # other devices' left alone
        yield


# --------------------------------------------------------------------------- our side


class _Ours:
    def __init__(self, args, device: torch.device, precision: Precision, data):
        self.device, self.data, self.precision = device, data, precision
        self.settings = RunSettings(epochs=1, batch_size=args.batch_size, resolution=args.resolution)
        with _seeded(0, device):  # the caller's random stream is left as it was
            net = build_resnet(args.model)
            self.trainer = Trainer(
                net,
                data,
                "course",
                self.settings,
                precision=precision,
                progress=False,
                live_plot=False,
                log=None,
                compile=args.compile,
                tune_allocator=args.tune_allocator,  # main(): reuse memory
            )
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
    old_affinity = pin(None)  # the cores this process may use now, given back at the end
    old_threads = torch.get_num_threads()
    cpus = pin(loader_cpus)
    if loader_cpus:
        torch.set_num_threads(min(old_threads, loader_cpus))
    sides = ["course", "ours fp32"] + ([f"ours {best.name}"] if best.name != "fp32" else [])
    header = (
        f"benchmark: {args.model}, {args.resolution}x{args.resolution} images, batch {args.batch_size}, "
        f"{args.steps} rounds of {round_steps} step(s) per side ({', '.join(sides)}; rotating order) "
        f"after warm-up; device {device}; CPUs for the loaders and our process: "
        + (f"{len(cpus)} of {os.cpu_count()} ({cpus})" if loader_cpus else f"all {os.cpu_count()}")
    )
    print(report.fold(header), flush=True)
    try:
        arith = fp32_arith(device)
        native_bf16 = device.type == "cuda" or cpu_supports_bf16()
        needed = dict.fromkeys([arith, best.name])  # ordered, no repeats
        sizes = (args.peak_size,) if args.peak_size else None
        emulated = {a: a == "bf16" and not native_bf16 for a in needed}
        peaks = {a: peak(device, a, sizes, emulated[a]) for a in needed}
        flops = model_train_flops(args.model, args.resolution)
        data = DeviceData(device)
        course = CourseSide(args, device)
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
        peaks = {a: max(p, peak(device, a, sizes, emulated[a])) for a, p in peaks.items()}
    finally:
        if loader_cpus and old_affinity:
            os.sched_setaffinity(0, old_affinity)
        torch.set_num_threads(old_threads)
    lines, result = report.build_report(device.type, best.name, arith, peaks, flops, warm, runs, native_bf16)
    took = f"benchmark took {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f}"
    lines.insert(-2, took)
    print(report.folded(lines), flush=True)
    return result


def benchmark(
    batch_size: int = 256,
    resolution: int = 96,
    steps: int = 12,
    warmup: int = 1,
    model: str = "resnet18",
    device: str | None = None,
    peak_size: int | None = None,
    compile: bool = False,
    precision: str = "auto",
    loader_cpus: int | None = None,
    round_steps: int | None = None,
    tune_allocator: bool = False,
) -> dict:
    """`python tools/bench.py` from Python: prints the report, returns the numbers.
    This process's CPU allocator is tuned (`tune_cpu_allocator`) only with `tune_allocator=True`."""
    args = argparse.Namespace(**locals(), lr=0.05, course_worker=False)
    return bench(args)


def whole_number(minimum: int, advice: str):
    """An argparse `type=`: an int >= `minimum`, else one error line naming the value and the fix."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; {advice}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is too small; {advice}")
        return value

    return parse


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/bench.py",
        description="The course's training pipeline against ours: images/s, utilisation, speedups.",
    )
    add = parser.add_argument
    smallest = min(smallest_resolution(config) for config in PRESETS.values())
    add("--model", default="resnet18", choices=list(PRESETS), help="a preset")
    add(
        "--batch-size",
        default=256,
        type=whole_number(2, "BatchNorm needs 2 or more images per batch, e.g. --batch-size 256"),
    )
    add(
        "--resolution",
        default=96,
        type=whole_number(smallest, f"the presets need {smallest} pixels or more (the course uses 96)"),
    )
    add("--device", default=None, help="cpu, cuda, ... (default: the best there is)")
    add("--precision", choices=["auto", *PRECISIONS], default="auto", help="ours at its best")
    for name, least, example, default, text in [
        ("steps", 1, 12, 12, "timed rounds (each gives one paired ratio)"),
        ("round-steps", 1, 10, None, "steps per side per round (default: 1 on CPUs, 10 on GPUs)"),
        ("warmup", 0, 3, 1, "untimed steps of each first (the course's loader: more)"),
        ("loader-cpus", 0, 2, None, "pin the course (its loaders too) and ours to N cores (GPUs: 2; 0: all)"),
    ]:
        number = whole_number(least, f"{least} or more, e.g. --{name} {example}")
        add(f"--{name}", type=number, default=default, help=text)
    add(
        "--peak-size",
        type=whole_number(1, "e.g. --peak-size 2048"),
        default=None,
        help="matrix side for the matmul peak (default: several)",
    )
    add("--compile", action="store_true", help="torch.compile our network")
    add("--lr", type=float, default=0.05, help=argparse.SUPPRESS)
    add("--course-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.course_worker:
        return course_worker(args)
    args.tune_allocator = True  # a command line owns its process: our side reuses freed memory
    bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
