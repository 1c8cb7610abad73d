"""The experiment of notebooks 01, 05 and 06 (resnet_helpers/training/experiment.py)."""

import pytest
import torch
from torch import nn
from torchvision.transforms import v2

from resnet_helpers.data import load_fashion_mnist
from resnet_helpers.models import build_depth_net
from resnet_helpers.training.experiment import (
    KINDS,
    degradation_experiment,
    final_loss,
    final_losses,
    seeded,
    smooth,
    train_losses,
    train_statistics,
    train_twins,
    training_tensors,
)
from resnet_helpers.training.experiment import test_tensors as load_test_tensors  # not a test for pytest
from resnet_helpers.training.recipes import sgd


@pytest.mark.parametrize("resolution", [8, 14, 28, 56])
def test_images_are_prepared_like_the_course_transforms(resolution):
    """ToTensor + Resize (bilinear, antialiased when shrinking), then normalised with the training
    statistics: the same preparation as the trainer's `to_input`."""
    X, y = training_tensors(20, resolution=resolution, seed=2, device="cpu")
    data = load_fashion_mnist()
    idx = torch.randperm(len(data.train_labels), generator=torch.Generator().manual_seed(2))[:20]
    resize = v2.Resize((resolution, resolution), interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
    expected = resize(data.train_images[idx].unsqueeze(1).float() / 255)
    mean, std = train_statistics(resolution)
    torch.testing.assert_close(X * std + mean, expected, atol=1e-5, rtol=0)
    assert torch.equal(y, data.train_labels[idx])


def test_sgd_decays_the_weights_but_not_batchnorm_or_biases():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))
    optimizer = sgd(net, lr=0.1, momentum=0.5, weight_decay=1e-3)
    decay = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    assert len(decay) == len(list(net.parameters()))
    assert decay[id(net[0].weight)] == decay[id(net[3].weight)] == 1e-3
    assert decay[id(net[0].bias)] == decay[id(net[1].weight)] == decay[id(net[1].bias)] == 0.0
    assert decay[id(net[3].bias)] == 0.0
    assert all(group["momentum"] == 0.5 and group["lr"] == 0.1 for group in optimizer.param_groups)


def test_train_losses_decays_only_the_weights():
    """A weight and a scale the loss does not depend on (zero gradient): one step of plain SGD
    shrinks the weight by lr * weight_decay and leaves the 1-D scale alone."""

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 10)
            self.kernel = nn.Parameter(torch.ones(2, 2))
            self.scale = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return self.fc(x.flatten(1)) + 0 * (self.kernel.sum() + self.scale.sum())

    net = Probe()
    X, y = torch.randn(8, 1, 2, 2), torch.randint(0, 10, (8,))
    train_losses(net, X, y, steps=1, batch_size=8, lr=0.1, momentum=0.0, weight_decay=0.5, progress=False)
    torch.testing.assert_close(net.kernel.detach(), torch.full((2, 2), 1 - 0.1 * 0.5))
    assert torch.equal(net.scale.detach(), torch.ones(3))


def test_seeded_builds_the_same_network_and_restores_the_callers_rng():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    with seeded(7):
        a = build_depth_net(8, width=4)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(7)
    b = build_depth_net(8, width=4)  # the old way: the same weights
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.fixture(scope="module")
def tiny():
    X, y = training_tensors(32, resolution=8, device="cpu")
    return X, y, *load_test_tensors(40, resolution=8, device="cpu")


def test_degradation_experiment_leaves_the_global_rng_alone(tiny):
    X, y, _, _ = tiny
    torch.manual_seed(123)
    before = torch.get_rng_state()
    degradation_experiment([8], X, y, steps=2, width=4, batch_size=16, progress=False)
    assert torch.equal(torch.get_rng_state(), before)


def test_the_twins_start_from_the_seeded_weights(tiny):
    X, y, _, _ = tiny
    kwargs = dict(steps=1, width=4, batch_size=16, lr=0.0, seed=3, progress=False)
    result = degradation_experiment([8], X, y, **kwargs)
    for kind in KINDS:
        with seeded(3):
            start = build_depth_net(8, width=4, plain=kind == "plain")
        trained = result["nets"][kind, 8]
        assert all(torch.equal(p, q) for p, q in zip(trained.parameters(), start.parameters(), strict=True))


def test_train_twins_tests_every_network_and_leaves_the_rng_alone(tiny):
    X, y, X_test, y_test = tiny
    torch.manual_seed(123)
    before = torch.get_rng_state()
    result = train_twins([8, 14], X, y, X_test, y_test, steps=3, width=4, batch_size=16, progress=False)
    assert torch.equal(torch.get_rng_state(), before)
    keys = {(k, d) for k in KINDS for d in (8, 14)}
    assert set(result["histories"]) == set(result["nets"]) == set(result["accuracy"]) == keys
    assert all(len(h) == 3 for h in result["histories"].values())
    assert all(0 <= a <= 1 for a in result["accuracy"].values()) and result["seconds"] > 0


def test_final_loss_and_final_losses():
    losses = [float(v) for v in range(20)]
    assert final_loss(losses) == (18 + 19) / 2  # the last 10%: 2 of 20 steps
    assert final_loss(losses, last=0.25) == sum(range(15, 20)) / 5
    assert final_loss([5.0, 4.0]) == 4.0  # at least one step
    histories = {("residual", 20): [3.0, 1.0], ("plain", 20): [3.0, 2.0], ("plain", 8): [1.0, 0.5]}
    histories["residual", 8] = [1.0, 0.25]
    table = final_losses(histories)
    assert list(table.columns) == ["plain", "residual"] and list(table.index) == [8, 20]
    assert table.index.name == "depth"
    assert table.loc[8, "residual"] == 0.25 and table.loc[20, "plain"] == 2.0


def test_smooth_is_a_moving_average():
    assert smooth([1.0, 2.0, 3.0, 4.0], window=2) == [1.0, 1.5, 2.5, 3.5]
    assert smooth([2.0] * 40) == [2.0] * 40


@pytest.mark.parametrize("notebook", ["01_function_classes.ipynb", "05_going_deeper.ipynb"])
def test_the_notebooks_import_each_helper_from_the_module_that_holds_it(notebook):
    """The README's promise: a notebook's import line names the file to open. (The setup cell,
    written by the Colab tool for every notebook, is left out.)"""
    import ast
    import importlib
    import inspect
    import json
    from pathlib import Path

    cells = json.loads((Path(__file__).parent.parent / "notebooks" / notebook).read_text(encoding="utf-8"))
    wrong = []
    for cell in cells["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or source.startswith("# Setup:"):
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module.startswith("resnet_helpers"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    helper = getattr(module, alias.name)
                    if inspect.isfunction(helper) or inspect.isclass(helper):
                        if helper.__module__ != node.module:
                            wrong.append(f"{alias.name} from {node.module}, not {helper.__module__}")
    assert not wrong
