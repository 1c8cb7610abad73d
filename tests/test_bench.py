"""The benchmark: its reporting on made-up step times, its options, and a reduced real run."""

import os
import re
from pathlib import Path

import pytest
import torch

from resnet_helpers import build_resnet, count_flops
from resnet_helpers.training import bench as bench_module
from resnet_helpers.training import bench_report as report
from resnet_helpers.training.bench import _d2l_workdir, main, matmul_peak, model_train_flops, pin


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
    "device, tf32, fpmath, expected",
    [("cuda", True, "", "tf32"), ("cuda", False, "", "fp32"), ("cpu", True, "", "fp32"),
     ("cpu", False, "BF16", "bf16"), ("cpu", False, "", "fp32")],
)  # fmt: skip
def test_fp32_arithmetic(device, tf32, fpmath, expected):
    assert report.fp32_arithmetic(device, tf32, fpmath) == expected


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
    assert "128.0 images/s wall clock" in text and "= 64.0% of the fp32 matmul peak" in text
    assert re.search(r"ours in bf16 .*= 3\d\.\d% of the bf16 matmul peak", text)
    assert "start-up 1.25 s" in text and "4 workers on CPUs [0, 1]" in text
    assert "steps limit the course" in text
    assert "without the data loading" in text and "170.7 images/s without" in text


def test_report_in_fp32_says_the_two_ratios_are_one():
    lines, result = fake_report(best="fp32", waited_at=3)
    assert lines[-1].startswith("speedup: 1.20 (1.10-1.30") and "the same measurement" in lines[-1]
    assert result["total"] == result["pipeline"]
    assert "ran out at step 3" in "\n".join(lines)
    assert "total speedup is the pipeline speedup" in result["interpretation"]


def test_report_on_cuda_uses_the_tf32_peak_for_fp32():
    lines, result = fake_report(arith="tf32")
    assert "cuDNN convolutions in tf32" in lines[3] and "of the tf32 matmul peak" in lines[3]
    assert result["course_mfu"] == pytest.approx(128 * 2e9 / 400e9)


def test_interpretation_follows_the_numbers():
    slow = report.Spread(0.9, 0.8, 0.93, 5)
    noisy = report.Spread(1.0, 0.9, 1.2, 5)
    fast = report.Spread(2.0, 1.6, 2.4, 5)
    assert "slower in every paired step" in report.interpretation(slow, fast, "bf16", 0.5, 0.2)
    text = report.interpretation(noisy, fast, "bf16", 0.5, 0.2)
    assert "within the noise" in text and "faster in every paired step (1.60x at least)" in text


# --------------------------------------------------------------------------- measurements and options


def test_matmul_peak_is_two_n_cubed_over_the_best_time(monkeypatch):
    seen = {}

    class FakeTimer:  # a fake clock: the blocks ran at 0.5 s and 0.25 s a matmul
        def __init__(self, stmt, globals, num_threads):
            seen.update(stmt=stmt, threads=num_threads, dtype=globals["a"].dtype)

        def blocked_autorange(self, min_run_time):
            return type("M", (), {"times": [0.5, 0.25]})()

    monkeypatch.setattr(bench_module, "_timer_class", lambda: FakeTimer)
    assert matmul_peak("cpu", "bf16", n=64) == 2 * 64**3 / 0.25
    assert seen == {"stmt": "a @ b", "threads": torch.get_num_threads(), "dtype": torch.bfloat16}
    assert torch.backends.cuda.matmul.allow_tf32 is False  # put back after a tf32 peak too
    matmul_peak("cpu", "tf32", n=64)
    assert torch.backends.cuda.matmul.allow_tf32 is False


def test_model_train_flops_is_three_forwards():
    flops = model_train_flops("resnet18", 96)
    assert flops == 3 * count_flops(build_resnet("resnet18"), (1, 1, 96, 96))
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


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_bench_reduced_mode(capsys, precision):
    before = os.sched_getaffinity(0)
    args = ["--batch-size", "8", "--resolution", "32", "--steps", "2", "--warmup", "1", "--peak-size", "128",
            "--device", "cpu", "--precision", precision, "--loader-cpus", "1"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    text = "\n".join(out)
    first = sorted(os.sched_getaffinity(0))[0]
    assert f"course loader: d2l, 4 workers on CPUs [{first}]" in text  # the workers were pinned
    assert re.search(r"course \(d2l loaders.*: [\d.]+ images/s wall clock", text)
    ours = rf"ours in {precision} .*: [\d.]+ images/s wall clock.*% of the {precision} matmul peak"
    assert re.search(ours, text)
    assert re.search(r"matmul peaks measured here.*fp32 [\d.,]+ GFLOP/s", text)
    ratio = r"\d+\.\d\d \(\d+\.\d\d-\d+\.\d\d over 2 paired steps\) .*"
    assert re.fullmatch("pipeline speedup: " + ratio, out[-2])
    assert re.fullmatch("speedup: " + ratio, out[-1])
    assert os.sched_getaffinity(0) == before  # our process was pinned for the run only
