"""What the notebooks call from d2l works with both books' versions: d2l==0.17.6 (the Chinese
edition, 《动手学深度学习》) and d2l==1.0.3 (the English one).

Each version is installed with --no-deps into its own folder (`make install` does it:
build/d2l/<version>) and imported from there in a fresh process, with this project's torch,
numpy and matplotlib. The probe runs the d2l calls of notebook 04 and the bench: the SVG switch,
`try_gpu`, `get_dataloader_workers`, `load_data_fashion_mnist` (offline, from the seeded cache),
`train_ch6` on a tiny slice through our `CourseRun` and `subset_loader`, `evaluate_accuracy_gpu`.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ("0.17.6", "1.0.3")

PROBE = """
import importlib.metadata, json, sys
import matplotlib
matplotlib.use("Agg")
import torch
from torch import nn
from d2l import torch as d2l
from resnet_helpers.training.course import CourseRun, subset_loader
from resnet_helpers.training.recipes import RunSettings

version = importlib.metadata.version("d2l")
d2l.use_svg_display = lambda: None  # what notebook 04 does: keep figures as PNG
device = d2l.try_gpu()
workers = d2l.get_dataloader_workers()
train_iter, test_iter = d2l.load_data_fashion_mnist(32, resize=16)
# train_ch6 plots 5 points an epoch, so it needs at least 5 batches
train_iter, test_iter = subset_loader(train_iter, 160), subset_loader(test_iter, 64)
X, y = next(iter(train_iter))
torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                    nn.Linear(4, 10))
settings = RunSettings(epochs=1, batch_size=32, resolution=16, train_size=160, test_size=64)
with CourseRun(settings, len(train_iter.dataset), device=str(device)) as course:
    d2l.train_ch6(net, train_iter, test_iter, 1, 0.05, device)
acc = d2l.evaluate_accuracy_gpu(net, test_iter)
print(json.dumps({"version": version, "device": str(device), "workers": workers,
                  "batch": list(X.shape), "labels": list(y.shape), "course acc": course.test_acc,
                  "evaluate_accuracy_gpu": acc, "row": course.row()["test acc"]}))
"""


@pytest.fixture(scope="module")
def d2l_workdir(tmp_path_factory):
    """A working folder whose ../data is a seeded torchvision cache (d2l's hard-coded root)."""
    from resnet_helpers.data import seed_torchvision_cache

    base = tmp_path_factory.mktemp("d2l")
    seed_torchvision_cache(base / "data")
    (base / "work").mkdir()
    return base / "work"


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_notebook_d2l_calls_work_with_both_books(version, d2l_workdir):
    import json

    target = ROOT / "build" / "d2l" / version
    assert (target / "d2l" / "torch.py").exists(), f"d2l {version} is missing in {target}: run `make install`"
    env = {**os.environ, "PYTHONPATH": str(target), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=d2l_workdir, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["version"] == version
    assert result["batch"] == [32, 1, 16, 16] and result["labels"] == [32]
    assert 0 <= result["course acc"] <= 1 and result["row"] == round(result["course acc"], 3)
    assert result["evaluate_accuracy_gpu"] == pytest.approx(result["course acc"], abs=1e-3)
