"""The d2l adapter and the figures: CourseRun, results_table, LivePlot."""

import math

import matplotlib
import pytest
import torch
from torch import nn

from resnet_helpers.training.course import CourseRun, results_table
from resnet_helpers.training.evaluate import evaluate
from resnet_helpers.training.progress import LivePlot
from resnet_helpers.training.recipes import RunSettings

matplotlib.use("Agg")

SETTINGS = RunSettings(epochs=2, batch_size=16, resolution=28, train_size=64, test_size=48)


def fake_train_ch6(net, train_iter, test_iter, num_epochs, lr, device):
    """Prints what d2l.train_ch6 prints, with a test acc that is not the network's."""
    print(f"training on {device}")
    print("loss 0.512, train acc 0.812, test acc 0.999")
    print(f"1234.5 examples/sec on {device}")


@pytest.fixture
def loaders():
    g = torch.Generator().manual_seed(0)
    X, y = torch.rand(48, 1, 28, 28, generator=g), torch.randint(0, 10, (48,), generator=g)
    test = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16)
    return test, X, y


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def test_course_run_measures_test_acc_with_d2l_and_reads_only_examples_per_s(loaders, capsys):
    test_iter, X, y = loaders
    net = small_net()
    with CourseRun(SETTINGS, 64, "cpu", net=net, test_iter=test_iter) as course:
        fake_train_ch6(net, None, test_iter, SETTINGS.epochs, 0.05, "cpu")
    assert "1234.5 examples/sec" in capsys.readouterr().out  # still printed for the reader
    expected = evaluate(net, [(X, y)]).accuracy
    assert course.test_acc == pytest.approx(expected) and course.test_acc != 0.999
    assert course.examples_per_s == 1234.5
    assert course.sources["test acc"].startswith("d2l.evaluate_accuracy_gpu")
    assert course.wall_time > 0
    row = course.row()
    assert row["test acc"] == round(expected, 3) and row["train images"] == 64 and row["precision"] == "fp32"
    course.wall_time = 2.5  # 64 images x 2 epochs in 2.5 s: 51.2 images/s
    assert course.row()["images/s (wall clock)"] == 51.2 and course.row()["wall time (s)"] == 2.5


def test_course_run_without_the_network_reads_the_printed_test_acc():
    with CourseRun(SETTINGS, 64) as course:
        fake_train_ch6(None, None, None, 2, 0.05, "cpu")
    assert course.test_acc == 0.999 and course.sources["test acc"].startswith("train_ch6's printed line")


def test_course_run_keeps_an_exception_and_measures_nothing(loaders):
    test_iter, _, _ = loaders
    with pytest.raises(RuntimeError), CourseRun(SETTINGS, 64, net=small_net(), test_iter=test_iter) as course:
        raise RuntimeError("out of memory")
    assert math.isnan(course.test_acc) and course.wall_time >= 0


def test_results_table():
    rows = [
        {"run": "a", "test acc": 0.9, "wall time (s)": 10.0},
        {"run": "b", "test acc": 0.8, "wall time (s)": float("nan")},
    ]
    table = results_table(rows)
    assert list(table.index) == ["a", "b"] and table.loc["a", "test acc"] == 0.9


class FakeHandle:
    def __init__(self):
        self.updates = 0

    def update(self, fig):
        self.updates += 1


def test_live_plot_redraws_in_place(monkeypatch):
    import IPython.display

    handles = []

    def display(obj, display_id=None):
        assert display_id is True
        handles.append(FakeHandle())
        return handles[-1]

    monkeypatch.setattr(IPython.display, "display", display)
    plot = LivePlot(epochs=2, title="test", min_interval=3600)
    history = {"epoch": [0.5], "train_loss": [2.0], "train_acc": [0.3], "test_epoch": [], "test_acc": []}
    plot.update(history, force=True)
    plot.update(history)  # within min_interval, not at an epoch's end: skipped
    assert len(handles) == 1 and handles[0].updates == 1
    history = {
        "epoch": [0.5, 1.0],
        "train_loss": [2.0, 1.0],
        "train_acc": [0.3, 0.6],
        "test_epoch": [1],
        "test_acc": [0.5],
    }
    plot.update(history)  # an epoch's end: drawn
    assert handles[0].updates == 2
    assert [line.get_label() for line in plot.ax.get_lines()] == ["train loss", "train acc", "test acc"]
    assert plot.ax.get_title() == "test" and plot.ax.get_xlim() == (0, 2)
    plot.close()


def test_run_settings_describe_and_share_of_the_course():
    course = RunSettings(epochs=10, batch_size=256, resolution=96)
    cpu = RunSettings(epochs=2, batch_size=256, resolution=28, train_size=4_000, test_size=4_000)
    assert course.describe() == (
        "60,000 training images at 96x96, 10 epoch(s), batch 256, test on 10,000 images"
    )
    assert cpu.describe().startswith("4,000 training images at 28x28, 2 epoch(s)")
    # 4,000/60,000 of the images, 2/10 of the epochs, (28/96)^2 of the pixels
    assert cpu.share_of(course) == (
        "7% of the images, 20% of the epochs, 9% of the pixels: 0.11% of the course's run"
    )
    assert course.share_of(course).endswith("100.00% of the course's run")
