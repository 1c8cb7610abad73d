"""The benchmark: its measurements and a reduced run of the whole comparison."""

import re
from pathlib import Path

import pytest
import torch

from resnet_helpers import build_resnet, count_flops
from resnet_helpers.training.bench import _d2l_workdir, main, matmul_peak, model_train_flops


def test_matmul_peak_is_positive():
    assert matmul_peak("cpu", torch.float32, n=128, repeats=1) > 1e6


def test_model_train_flops_is_three_forwards():
    flops = model_train_flops("resnet18", 96)
    assert flops == 3 * count_flops(build_resnet("resnet18"), (1, 1, 96, 96))
    assert 1.85e9 < flops < 1.95e9  # the 1.90 GFLOP per training image


def test_d2l_workdir_sees_the_data():
    workdir = _d2l_workdir()
    raw = (Path(workdir) / ".." / "data" / "FashionMNIST" / "raw").resolve()
    assert (raw / "train-images-idx3-ubyte").is_file()


@pytest.mark.slow
def test_bench_reduced_mode(capsys):
    args = ["--batch-size", "8", "--resolution", "32", "--steps", "2", "--warmup", "1", "--peak-size", "128"]
    assert main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    text = "\n".join(out)
    assert re.search(r"course \(d2l loaders.*: [\d.]+ images/s wall clock", text)
    assert re.search(r"ours \(data on cpu.*: [\d.]+ images/s wall clock.*MFU [\d.]+%", text)
    assert re.search(r"matmul peak measured here.*: fp32 [\d.,]+ GFLOP/s", text)
    assert re.fullmatch(r"speedup: \d+\.\d\d", out[-1])
