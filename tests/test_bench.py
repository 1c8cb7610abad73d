"""The benchmark (tools/bench.py): its reporting on made-up step times, its options, and a reduced
real run."""

import os
import re
from pathlib import Path

import pytest
import torch

import bench as bench_module
import bench_report as report
from bench import conv_peak, main, matmul_peak, model_train_flops
from bench_course import _d2l_workdir, pin


def steps(*seconds, images=256):
    return [{"wall": s, "step": s, "images": images} for s in seconds]


# --------------------------------------------------------------------------- reporting, fake clock


def test_paired_ratios_are_round_by_round():
    course = steps(2.0, 4.0, 2.0)
    ours = steps(1.0, 1.0, 2.0)
    assert report.paired_ratios(course, ours) == [2.0, 4.0, 1.0]
    # The pooled rate would say 8/4 = 2.0 too here, but the median ignores one slow round:
    s = report.spread(report.paired_ratios(course, ours))
    assert (s.median, s.low, s.high, s.n) == (2.0, 1.0, 4.0, 3)
    assert str(s) == "2.00 (1.00-4.00 over 3 paired steps)"


def test_paired_ratios_use_images_per_second():
    course = [{"wall": 1.0, "images": 100}]
    ours = [{"wall": 1.0, "images": 250}]
    assert report.paired_ratios(course, ours) == [2.5]
    assert str(report.spread([2.5])) == "2.50 (1 paired step: no spread)"


def test_paired_ratios_refuse_unpaired_rounds():
    with pytest.raises(ValueError):
        report.paired_ratios(steps(1.0, 1.0), steps(1.0))
    with pytest.raises(ValueError):
        report.spread([])


def test_rate_and_utilisation():
    assert report.rate(steps(1.0, 3.0, images=100)) == 50.0
    assert report.utilisation(100.0, 2e9, 400e9) == 0.5


@pytest.mark.parametrize(
    "device, tf32, fpmath, capability, expected",
    [
        ("cuda", True, "", (8, 0), "tf32"),  # an A100
        ("cuda", True, "", (9, 0), "tf32"),  # an H100
        ("cuda", True, "", (7, 5), "fp32"),  # Colab's T4: no TF32 at all
        ("cuda", False, "", (8, 0), "fp32"),
        ("cpu", True, "", None, "fp32"),
        ("cpu", False, "BF16", None, "bf16"),
        ("cpu", False, "", None, "fp32"),
    ],
)
def test_fp32_arithmetic(device, tf32, fpmath, capability, expected):
    assert report.fp32_arithmetic(device, tf32, fpmath, capability) == expected


def test_a_t4_is_measured_against_its_fp32_peak(monkeypatch):
    """Issue 25, bug 4: on a T4 (compute capability 7.5) with cuDNN's TF32 switch on (PyTorch's
    default) the course's convolutions were labelled tf32 and set against a TF32 peak."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    assert bench_module.fp32_arith(torch.device("cuda")) == "fp32"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 6))
    assert bench_module.fp32_arith(torch.device("cuda")) == "tf32"


def fake_report(best="bf16", arith="fp32", waited_at=None):
    runs = {"course": steps(2.0, 2.2, 1.8, 2.0), "fp32": steps(2.0 / 1.2, 2.0, 1.8 / 1.3, 2.0 / 1.2)}
    peaks = {arith: 400e9}
    if best != "fp32":
        runs[best] = steps(1.0, 0.8, 1.0, 1.0)
        peaks[best] = 1600e9
    for r in runs["course"]:
        r["step"] = r["wall"] - 0.5
    runs["course"][-1]["loader_affinity"] = [[0, 1]] * 4
    warm = {"startup": 1.25, "steps": 9, "waited_at": waited_at, "depth": 8}
    return report.build_report("cpu", best, arith, peaks, 2e9, warm, runs)


def test_report_gives_both_ratios_last_the_total():
    lines, result = fake_report()
    # paired ratios: ours fp32 1.2, 1.1, 1.3, 1.2; ours bf16 2.0, 2.75, 1.8, 2.0
    assert lines[-2].startswith("pipeline speedup: 1.20 (1.10-1.30 over 4 paired steps)")
    assert "ours in fp32" in lines[-2] and "same arithmetic" in lines[-2]
    assert lines[-1].startswith("speedup: 2.00 (1.80-2.75 over 4 paired steps)")
    assert "ours in bf16 / the course in fp32" in lines[-1]
    assert result["speedup"] == pytest.approx(2.0)
    assert result["pipeline_speedup"] == pytest.approx(1.2)
    text = "\n".join(lines)
    # each side against the peak of its own arithmetic: course 128 img/s x 2 GFLOP = 256 GFLOP/s of 400
    assert "128.0 images/s wall clock" in text and "= 64.0% of the fp32 peak" in text
    assert re.search(r"ours in bf16 .*= 3\d\.\d% of the bf16 peak", text)
    assert "start-up 1.25 s" in text and "4 workers on CPUs [0, 1]" in text
    assert "steps limit the course" in text
    assert "without the data loading" in text and "170.7 images/s without" in text


def test_the_printed_report_folds_long_lines_at_spaces_but_keeps_the_last_whole():
    for best in ("bf16", "fp32"):
        lines, _ = fake_report(best=best)
        printed = report.folded(lines).splitlines()
        assert any(len(line) > 100 for line in lines[:-1])  # there is something to fold
        assert all(len(line) <= 100 for line in printed[:-1])
        assert printed[-1] == lines[-1] and printed[-1].startswith("speedup: ")
        assert " ".join(printed).split() == " ".join(lines).split()  # the same words, none broken


def test_report_in_fp32_says_the_two_ratios_are_one():
    lines, result = fake_report(best="fp32", waited_at=3)
    assert lines[-1].startswith("speedup: 1.20 (1.10-1.30") and "the same measurement" in lines[-1]
    assert result["total"] == result["pipeline"]
    assert "ran out at step 3" in "\n".join(lines)
    assert "total speedup is the pipeline speedup" in result["interpretation"]


def test_report_on_cuda_uses_the_tf32_peak_for_fp32():
    lines, result = fake_report(arith="tf32")
    assert "cuDNN convolutions in tf32" in lines[3] and "of the tf32 peak" in lines[3]
    assert result["course_mfu"] == pytest.approx(128 * 2e9 / 400e9)


def test_a_share_above_the_peak_is_flagged():
    lines, result = fake_report(best="fp32")
    assert "above 100%" not in "\n".join(lines)
    runs = {"course": steps(0.5, 0.5), "fp32": steps(0.25, 0.25)}  # ours: 1024 images/s x 2 GFLOP
    runs["course"][-1]["loader_affinity"] = []
    warm = {"startup": 1.0, "steps": 2, "waited_at": None, "depth": 8}
    lines, result = report.build_report("cpu", "fp32", "fp32", {"fp32": 1000e9}, 2e9, warm, runs)
    assert result["ours_mfu"] == pytest.approx(2.048)
    assert "204.8% of the fp32 peak (above 100%: this peak was measured too low" in "\n".join(lines)


def test_interpretation_follows_the_numbers():
    slow = report.Spread(0.9, 0.8, 0.93, 5)
    noisy = report.Spread(1.0, 0.9, 1.2, 5)
    fast = report.Spread(2.0, 1.6, 2.4, 5)
    assert "slower in every paired step" in report.interpretation(slow, fast, "bf16", 0.5, 0.2)
    text = report.interpretation(noisy, fast, "bf16", 0.5, 0.2)
    assert "within the noise" in text and "faster in every paired step (1.60x at least)" in text


# --------------------------------------------------------------------------- measurements and options


class FakeTimer:
    """torch.utils.benchmark.Timer on a fake clock: `seconds(stmt, globals)` gives a run's times."""

    seen = []

    def __init__(self, stmt, globals, num_threads):
        self.stmt, self.globals = stmt, globals
        FakeTimer.seen.append((stmt, globals, num_threads))

    def blocked_autorange(self, min_run_time):
        return type("M", (), {"times": FakeTimer.seconds(self.stmt, self.globals)})()


@pytest.fixture
def fake_timer(monkeypatch):
    FakeTimer.seen = []
    monkeypatch.setattr(bench_module, "_timer_class", lambda: FakeTimer)
    return FakeTimer


def test_matmul_peak_is_two_n_cubed_over_the_best_time(fake_timer):
    fake_timer.seconds = lambda stmt, g: [0.5, 0.25]  # the blocks ran at 0.5 s and 0.25 s a matmul
    assert matmul_peak("cpu", "bf16", sizes=(64,)) == 2 * 64**3 / 0.25
    stmt, values, threads = fake_timer.seen[0]
    assert (stmt, threads, values["a"].dtype) == ("a @ b", torch.get_num_threads(), torch.bfloat16)
    assert torch.backends.cuda.matmul.allow_tf32 is False  # put back after a tf32 peak too
    matmul_peak("cpu", "tf32", sizes=(64,))
    assert torch.backends.cuda.matmul.allow_tf32 is False


def test_the_peak_is_the_best_of_several_matmul_sizes_and_a_convolution_step(fake_timer):
    """Issue 25, bug 9: one 2048 x 2048 matmul ran below what the network's convolutions reached,
    and 'ours in fp32' printed 107.7% of the peak. The peak is now the best of matmuls at several
    sizes and of a 3x3 convolution's training step, the kernels a ResNet step runs."""
    rates = {64: 1e9, 128: 3e9}  # FLOP/s of each matmul size on the fake clock
    fake_timer.seconds = lambda stmt, g: [2 * g["a"].shape[0] ** 3 / rates[g["a"].shape[0]]]
    assert matmul_peak("cpu", "fp32", sizes=(64, 128)) == pytest.approx(3e9)

    step_flops = 3 * 2 * 2 * 8 * 8 * 9 * 5 * 5  # batch 2, 8 -> 8 channels, 5 x 5 maps, 3 x 3 kernel
    fake_timer.seconds = lambda stmt, g: [step_flops / 4e9]
    assert conv_peak("cpu", "fp32", batch=2, channels=8, side=5) == pytest.approx(4e9)
    stmt, values, _ = fake_timer.seen[-1]
    assert "autograd.grad" in stmt and values["x"].requires_grad  # input and weight gradients

    def seconds(stmt, g):
        if "a" in g:
            n = g["a"].shape[0]
            return [2 * n**3 / rates.get(n, 2e9)]
        return [3 * 2 * g["x"].shape[0] * 128 * 128 * 9 * 24 * 24 / 5e9]

    fake_timer.seconds = seconds
    assert bench_module.peak("cpu", "fp32", sizes=(64, 128)) == pytest.approx(5e9)
    rates[128] = 7e9
    assert bench_module.peak("cpu", "fp32", sizes=(64, 128)) == pytest.approx(7e9)


def test_the_convolution_peak_counts_what_the_flop_counter_counts():
    """conv_peak's FLOPs by hand = torch's FlopCounterMode over the same forward and backward."""
    from torch.utils.flop_counter import FlopCounterMode

    conv = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
    x = torch.randn(2, 8, 5, 5, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        conv(x).backward(torch.ones(2, 8, 5, 5))  # the input and weight gradients
    assert counter.get_total_flops() == 3 * 2 * 2 * 8 * 8 * 9 * 5 * 5


def test_model_train_flops_counts_forward_and_backward_exactly():
    """Issue 25, bug 9: '3 x forward' charged the stem for an input gradient nobody computes.
    ResNet-18 at 32x32, multiply-adds by hand: stem 7x7 conv to 64 x 16x16: 802,816; the max-pool
    leaves 8x8; b2, four 3x3 convs 64->64 at 8x8: 4 x 2,359,296; b3, b4 and b5 each 8,388,608 (the
    stride-2 3x3 conv 1,179,648, three 3x3 convs 3 x 2,359,296, the 1x1 projection 131,072, as the
    maps halve while the channels double); fc 512 x 10 = 5,120. Forward 35,410,944; a training step
    computes every layer's forward, its weight gradient and, but for the stem (its input is the
    image), its input gradient."""
    assert model_train_flops("resnet18", 32) == 2 * (3 * 35_410_944 - 802_816)
    flops = model_train_flops("resnet18", 96)
    assert 1.85e9 < flops < 1.95e9  # the 1.90 GFLOP per training image


def test_d2l_workdir_sees_the_data():
    workdir = _d2l_workdir()
    raw = (Path(workdir) / ".." / "data" / "FashionMNIST" / "raw").resolve()
    assert (raw / "train-images-idx3-ubyte").is_file()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_pin_takes_the_first_cores_of_a_child():
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pin(1, child.pid) == sorted(os.sched_getaffinity(0))[:1]
        assert pin(None, child.pid) == sorted(os.sched_getaffinity(0))[:1]  # None: unchanged
    finally:
        child.kill()
        child.wait()


def unfolded(printed: str) -> list[str]:
    """The report's lines as built: each folded continuation (indented 4) joined to its line."""
    lines = []
    for line in printed.splitlines():
        if line.startswith("    ") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_bench_reduced_mode(capsys, precision):
    before = os.sched_getaffinity(0)
    args = ["--batch-size", "8", "--resolution", "32", "--steps", "2", "--warmup", "1"]
    args += ["--peak-size", "128", "--device", "cpu", "--precision", precision, "--loader-cpus", "1"]
    assert main(args) == 0
    out = unfolded(capsys.readouterr().out.strip())
    text = "\n".join(out)
    first = sorted(os.sched_getaffinity(0))[0]
    assert f"course loader: d2l, 4 workers on CPUs [{first}]" in text  # the workers were pinned
    assert re.search(r"course \(d2l loaders.*: [\d.]+ images/s wall clock", text)
    ours = rf"ours in {precision} .*: [\d.]+ images/s wall clock.*% of the {precision} peak"
    assert re.search(ours, text)
    assert re.search(r"peaks measured here.*fp32 [\d.,]+ GFLOP/s", text)
    ratio = r"\d+\.\d\d \(\d+\.\d\d-\d+\.\d\d over 2 paired steps\) .*"
    assert re.fullmatch("pipeline speedup: " + ratio, out[-2])
    assert re.fullmatch("speedup: " + ratio, out[-1])
    assert os.sched_getaffinity(0) == before  # our process was pinned for the run only


BENCH = "python tools/bench.py: error: "


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--steps", "0"], "argument --steps: 0 is too small; 1 or more, e.g. --steps 12"),
        (["--steps", "2.5"], "argument --steps: '2.5' is not a whole number; 1 or more, e.g. --steps 12"),
        (["--round-steps", "0"], "argument --round-steps: 0 is too small; 1 or more, e.g. --round-steps 10"),
        (["--warmup", "-1"], "argument --warmup: -1 is too small; 0 or more, e.g. --warmup 3"),
        (["--loader-cpus", "-1"], "argument --loader-cpus: -1 is too small; 0 or more, e.g. --loader-cpus 2"),
        (
            ["--batch-size", "0"],
            "argument --batch-size: 0 is too small; BatchNorm needs 2 or more images per "
            "batch, e.g. --batch-size 256",
        ),
        (
            ["--resolution", "8"],
            "argument --resolution: 8 is too small; the presets need 17 pixels or more (the course uses 96)",
        ),
        (
            ["--model", "foo"],
            "argument --model: invalid choice: 'foo' (choose from 'resnet18', 'resnet34', "
            "'resnet50', 'resnet101', 'resnet152')",
        ),
    ],
)
def test_bad_bench_options_stop_at_once_with_one_line(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(bench_module, "bench", lambda args: pytest.fail("the benchmark started"))
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == BENCH + message


def test_only_the_command_line_tunes_the_allocator(monkeypatch):
    """benchmark() from Python leaves the process's allocator alone (a notebook opts in with
    tune_cpu_allocator() or tune_allocator=True); the command line owns its process and tunes it."""
    seen = []
    monkeypatch.setattr(bench_module, "bench", lambda args: seen.append(args.tune_allocator) or {})
    bench_module.benchmark(steps=1)
    bench_module.benchmark(steps=1, tune_allocator=True)
    assert main(["--steps", "1"]) == 0
    assert seen == [False, True, True]


@pytest.mark.parametrize("tune", [False, True])
def test_our_side_tunes_only_when_asked_and_leaves_the_rng_alone(monkeypatch, tune):
    import argparse

    from resnet_helpers.profiles import Precision
    from resnet_helpers.training import trainer
    from resnet_helpers.training.device_data import DeviceData

    calls = []
    monkeypatch.setattr(trainer, "tune_cpu_allocator", lambda: calls.append(1) or "tuned")
    args = argparse.Namespace(model="resnet18", batch_size=8, resolution=32, compile=False)
    args.tune_allocator = tune
    torch.manual_seed(123)
    expected = torch.rand(2)
    torch.manual_seed(123)
    cpu, fp32, data = torch.device("cpu"), Precision("fp32", None, False, "x"), DeviceData("cpu", 16, 8)
    ours = bench_module._Ours(args, cpu, fp32, data)
    assert torch.equal(torch.rand(2), expected)  # its seeded initialisation ran on a fork of the RNG
    assert calls == ([1] if tune else [])
    torch.manual_seed(0)
    other = bench_module._Ours(args, cpu, fp32, data)  # seeded with 0 whatever the caller's state
    pairs = zip(ours.trainer.net.parameters(), other.trainer.net.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
