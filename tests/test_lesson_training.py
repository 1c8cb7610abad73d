"""Notebook 04's lesson module: where a training step's time goes, in d2l's pipeline and in ours."""

import time

import matplotlib
import pytest
import torch

from resnet_helpers.lessons import training as lesson
from resnet_helpers.lessons.training import PHASES, breakdown_figure, step_time_breakdown
from resnet_helpers.models import ResNetConfig
from resnet_helpers.profiles import Precision
from resnet_helpers.training.device_data import DeviceData
from resnet_helpers.training.recipes import RunSettings

matplotlib.use("Agg")

SETTINGS = RunSettings(epochs=1, batch_size=4, resolution=16, train_size=16, test_size=8)
FP32 = Precision("fp32", None, False, "for the test")
SMALL = ResNetConfig(blocks=(1, 1), channels=(8, 16), stem_channels=8)  # a narrow ResNet: fast steps


class FakeLoader:
    """Batches of random tensors, like d2l's loader; counts the passes and the batches drawn,
    and may wait before each batch, as a loader's workers keep a step waiting."""

    def __init__(self, batches=4, side=16, batch_size=4, wait=0.0):
        g = torch.Generator().manual_seed(0)
        images = torch.rand(batches, batch_size, 1, side, side, generator=g)
        labels = torch.randint(0, 10, (batches, batch_size), generator=g)
        self.batches = list(zip(images, labels, strict=True))
        self.wait, self.passes, self.drawn = wait, 0, 0

    def __iter__(self):
        self.passes += 1
        for batch in self.batches:
            time.sleep(self.wait)
            self.drawn += 1
            yield batch


@pytest.fixture(scope="module")
def data():
    return DeviceData("cpu", SETTINGS.train_size, SETTINGS.test_size)


def breakdown(loader, data, steps=1, rounds=1):
    """step_time_breakdown on the small network in fp32."""
    kwargs = dict(steps=steps, rounds=rounds, precision=FP32, model=SMALL)
    return step_time_breakdown(loader, data, SETTINGS, **kwargs)


def test_breakdown_times_every_phase_of_both_pipelines_in_turns(data):
    loader = FakeLoader()
    result = breakdown(loader, data, steps=2, rounds=2)
    assert (loader.passes, loader.drawn) == (2, 2 * 3)  # a new pass each round, 1 warm-up + 2 steps
    assert result["phases"] == PHASES and result["steps"] == 4
    for side in ("course", "ours"):
        r = result[side]
        assert len(r["median"]) == len(r["low"]) == len(r["high"]) == len(PHASES)
        assert all(0 <= lo <= med <= hi for lo, med, hi in zip(r["low"], r["median"], r["high"], strict=True))
        assert r["total_range"][0] <= r["total"] <= r["total_range"][1]
    assert result["speedup"] == pytest.approx(result["course"]["total"] / result["ours"]["total"])
    assert (result["device"], result["precision"], result["resolution"]) == ("cpu", "fp32", 16)
    # Our data lives on the device: moving it is an empty phase, far shorter than the step's work.
    move, compute = result["ours"]["median"][1], result["ours"]["median"][2]
    assert move < compute / 10


def test_a_slow_loader_shows_as_loading_time_not_compute(data):
    wait = 0.05
    result = breakdown(FakeLoader(wait=wait), data)
    load, _, compute, _ = result["course"]["median"]
    assert load >= wait
    assert result["ours"]["median"][0] < wait  # our batches are made on the device, no waiting
    assert compute < result["course"]["total"]


def test_the_device_is_synchronised_at_every_phase_boundary(data, monkeypatch):
    calls = []
    monkeypatch.setattr(lesson, "synchronize", lambda device: calls.append(torch.device(device).type))
    breakdown(FakeLoader(), data)
    steps = 2 * 2  # (1 warm-up + 1 step) per pipeline
    assert calls == ["cpu"] * steps * (1 + len(PHASES))  # the start of a step, then each phase's end


def test_breakdown_leaves_the_callers_random_numbers_alone(data):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    breakdown(FakeLoader(), data)
    assert torch.equal(torch.get_rng_state(), before)


def test_breakdown_refuses_batches_of_another_size_naming_the_fix(data):
    with pytest.raises(ValueError, match=r"batch_size=4, resize=16"):
        breakdown(FakeLoader(side=28), data)


def test_breakdown_says_when_a_pipeline_runs_out_of_batches(data):
    with pytest.raises(ValueError, match=r"ran out of batches after 2; each round needs 1 \+ steps = 4"):
        breakdown(FakeLoader(batches=2), data, steps=3)


def test_figure_stacks_each_phase_median_on_one_bar_per_pipeline():
    def side(medians):
        total = sum(medians)
        return {"median": medians, "low": medians, "high": medians, "total": total, "total_range": (0, total)}

    result = {
        "course": side([0.5, 0.1, 2.0, 0.2]),
        "ours": side([0.01, 0.0, 1.0, 0.05]),
        "phases": PHASES,
        "speedup": 2.8 / 1.06,
        "steps": 6,
        "device": "cpu",
        "precision": "bf16",
        "batch_size": 256,
        "resolution": 96,
    }
    fig = breakdown_figure(result)
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 2 * len(PHASES)
    assert [b.get_width() for b in bars[0::2]] == pytest.approx(result["course"]["median"])
    assert [b.get_width() for b in bars[1::2]] == pytest.approx(result["ours"]["median"])
    # stacked: each phase starts where the phases before it end
    assert bars[4].get_x() == pytest.approx(0.5 + 0.1)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(PHASES)
    assert "ours: DeviceData + trainer (bf16)" in [t.get_text() for t in ax.get_yticklabels()]
    assert "96x96" in ax.get_title()
    matplotlib.pyplot.close(fig)
