import copy
import math

import matplotlib
import pytest
import torch
from torch import nn

from resnet_helpers.blocks import Bottleneck, PreActResidual, Residual
from resnet_helpers.data import load_fashion_mnist
from resnet_helpers.lessons import going_deeper
from resnet_helpers.lessons.going_deeper import (
    bottleneck_family,
    compare_block_types,
    gradient_flow,
    gradient_flow_figure,
    gradient_norms,
    gradient_summary,
    step_seconds,
    sweep_figure,
    time_models,
    twins_figure,
    twins_table,
    very_deep_depth,
    very_deep_net,
)
from resnet_helpers.measure import count_weight_layers, weight_layers
from resnet_helpers.models import build_depth_net, build_resnet
from resnet_helpers.training.experiment import accuracy, train_twins, training_tensors
from resnet_helpers.training.experiment import test_tensors as load_test_tensors  # not a test for pytest

matplotlib.use("Agg")


def small_nets():
    yield build_depth_net(20, width=4)
    yield build_depth_net(20, width=4, plain=True)
    yield build_depth_net(14, width=4, block="preact")
    yield build_depth_net(20, width=4, block="bottleneck", plain=True)
    yield build_resnet("resnet18")


@pytest.mark.parametrize("net", list(small_nets()), ids=lambda n: f"{n.config.block}-{n.config.depth}")
def test_weight_layers_are_counted_from_the_model_in_forward_order(net):
    layers = weight_layers(net)
    assert len(layers) == count_weight_layers(net) == net.config.depth
    assert isinstance(layers[0][1], nn.Conv2d) and layers[0][0] == "b1.0"
    assert isinstance(layers[-1][1], nn.Linear) and layers[-1][0] == "fc"
    # the order is the order in which the forward pass calls them
    called = []
    hooks = [m.register_forward_hook(lambda m, i, o: called.append(m)) for _, m in layers]
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 1, 32, 32))
    for h in hooks:
        h.remove()
    assert [id(m) for m in called] == [id(m) for _, m in layers]


def test_shortcut_projections_are_not_weight_layers():
    net = build_depth_net(14, width=4)
    projections = [m.projection for m in net.modules() if getattr(m, "projection", None) is not None]
    assert len(projections) == 2  # the first block of the 2nd and 3rd stage
    layer_ids = {id(m) for _, m in weight_layers(net)}
    assert not layer_ids & {id(p) for p in projections}


@pytest.fixture(scope="module")
def batch():
    torch.manual_seed(0)
    return training_tensors(16, resolution=8, device="cpu")


def test_gradient_norms_one_value_per_weight_layer_in_order(batch):
    X, y = batch
    torch.manual_seed(0)
    net = build_depth_net(14, width=4)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    norms = gradient_norms(net, X, y)
    assert len(norms) == 14 and all(isinstance(v, float) and v > 0 for v in norms)
    # the same numbers, computed by hand in float64
    reference = copy.deepcopy(net).double()
    reference.train()
    nn.functional.cross_entropy(reference(X.double()), y).backward()
    expected = [m.weight.grad.norm().item() for _, m in weight_layers(reference)]
    assert norms == pytest.approx(expected, rel=1e-9)
    # gradients the network already holds are not added in
    nn.functional.cross_entropy(net(X), y).backward()
    assert gradient_norms(net, X, y) == pytest.approx(norms, rel=1e-9)
    # the network handed in was not touched: no gradients, BN statistics, mode
    net = build_depth_net(14, width=4)
    net.load_state_dict(before)
    net.eval()
    gradient_norms(net, X, y, batch_stats=True)
    assert not net.training and all(p.grad is None for p in net.parameters())
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert next(net.parameters()).dtype == torch.float32


def test_without_normalisation_the_plain_net_starves_and_the_residual_one_does_not(batch):
    X, y = batch
    flows = gradient_flow(56, X, y, width=4, batch_stats=False)
    plain, residual = flows["plain"], flows["residual"]
    assert len(plain) == len(residual) == 56
    assert plain[0] < 1e-6 * residual[0]  # the plain net's first layer gets (almost) nothing
    assert plain[-1] > 0.01 * residual[-1]  # while its last layer still learns
    assert max(residual) / min(residual) < 1e3


def test_with_batch_statistics_the_plain_net_explodes_instead(batch):
    X, y = batch
    flows = gradient_flow(56, X, y, width=4, batch_stats=True)
    plain, residual = flows["plain"], flows["residual"]
    assert plain[0] / plain[-1] > 1e3 * residual[0] / residual[-1]
    assert max(residual) / min(residual) < 1e3


def test_gradient_summary_and_figure():
    flows = {"plain": [1e-6, 1e-3, 1.0], "residual": [0.5, 0.2, 1.0]}
    table = gradient_summary(flows)
    assert list(table.index) == ["plain", "residual"]
    assert table.loc["plain", "first / last"] == pytest.approx(1e-6)
    assert table.loc["residual", "largest / smallest"] == pytest.approx(5.0)
    assert table.loc["plain", "layers"] == 3
    fig = gradient_flow_figure({"a": flows, "b": flows})
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"


def test_test_tensors_come_from_the_test_set():
    X, y = load_test_tensors(50, resolution=14, seed=3, device="cpu")
    assert X.shape == (50, 1, 14, 14) and y.shape == (50,)
    assert abs(X.mean().item()) < 0.3 and 0.7 < X.std().item() < 1.3
    data = load_fashion_mnist()
    idx = torch.randperm(len(data.test_labels), generator=torch.Generator().manual_seed(3))[:50]
    assert torch.equal(y, data.test_labels[idx])
    X2, _ = load_test_tensors(50, resolution=14, seed=3, device="cpu")
    assert torch.equal(X, X2)


def test_accuracy_counts_correct_predictions_and_restores_the_mode():
    class Always(nn.Module):
        def forward(self, x):
            return nn.functional.one_hot(torch.full((len(x),), 3), 10).float()

    net = Always().train()
    y = torch.tensor([3, 3, 1, 3, 0, 3, 3, 3])
    assert accuracy(net, torch.zeros(8, 1, 4, 4), y, batch_size=3) == 6 / 8
    assert net.training


def test_train_twins_on_a_tiny_slice():
    X, y = training_tensors(32, resolution=8, device="cpu")
    X_test, y_test = load_test_tensors(40, resolution=8, device="cpu")
    result = train_twins([8, 14], X, y, X_test, y_test, steps=3, width=4, batch_size=16, progress=False)
    keys = {(k, d) for k in ("plain", "residual") for d in (8, 14)}
    assert set(result["histories"]) == set(result["nets"]) == set(result["accuracy"]) == keys
    assert all(0 <= a <= 1 for a in result["accuracy"].values()) and result["seconds"] > 0
    table = twins_table(result)
    assert list(table.index) == [8, 14] and list(table["layers"]) == [8, 14]
    columns = ["layers", "plain loss", "residual loss", "plain accuracy", "residual accuracy"]
    assert list(table.columns) == columns
    assert table.loc[14, "plain accuracy"] == result["accuracy"]["plain", 14]
    assert len(sweep_figure(table).axes) == 2
    assert len(twins_figure(result, 14).axes) == 1


def test_the_thousand_layer_network():
    assert very_deep_depth(1000, "preact") == very_deep_depth(1000, "basic") == 1004
    assert very_deep_depth(1000, "bottleneck") == 1001  # ResNet-1001's layout (He et al. 2016)
    assert very_deep_depth(8) == 8 and very_deep_depth(9) == 14
    with torch.device("meta"):
        net = very_deep_net(1000)
        plain = very_deep_net(1000, plain=True)
        bottleneck = very_deep_net(1000, block="bottleneck")
    assert count_weight_layers(net) == len(weight_layers(net)) == 1004
    assert net.config.blocks == (167, 167, 167) and net.config.channels == (4, 8, 16)
    assert sum(isinstance(m, PreActResidual) for m in net.modules()) == 501
    assert count_weight_layers(plain) == 1004
    assert not any(isinstance(m, (Residual, Bottleneck, PreActResidual)) for m in plain.modules())
    assert count_weight_layers(bottleneck) == 1001 and bottleneck.config.blocks == (111, 111, 111)


def test_the_thousand_layer_network_runs_a_step():
    torch.manual_seed(0)
    net = very_deep_net(1000)
    X, y = torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,))
    nn.functional.cross_entropy(net(X), y).backward()
    first, last = weight_layers(net)[0][1], weight_layers(net)[-1][1]
    assert torch.isfinite(first.weight.grad).all() and first.weight.grad.norm() > 0
    assert torch.isfinite(last.weight.grad).all()


def test_compare_block_types_on_a_tiny_slice():
    X, y = training_tensors(32, resolution=8, device="cpu")
    table, histories = compare_block_types(14, X, y, X, y, steps=2, width=4, batch_size=16, progress=False)
    assert list(table.index) == ["basic", "preact"] and list(table["layers"]) == [14, 14]
    assert set(histories) == {"basic", "preact"} and all(len(h) == 2 for h in histories.values())
    assert all(0 <= a <= 1 for a in table["test accuracy"])


def test_bottleneck_family_sizes_and_paper_errors():
    rows = {r["model"]: r for r in bottleneck_family()}
    assert [r["depth"] for r in rows.values()] == [50, 101, 152]
    assert rows["ResNet-152"]["blocks"] == (3, 8, 36, 3)
    assert rows["ResNet-50"]["paper top-1 error %"] == 22.85
    assert rows["ResNet-152"]["source"] == "He et al. 2015, Table 3"
    assert rows["ResNet-50"]["params"] < rows["ResNet-101"]["params"] < rows["ResNet-152"]["params"]
    # torchvision's ResNet-152: 11.5 G multiply-adds at 224x224; ours counts 2 FLOPs a multiply-add
    assert rows["ResNet-152"]["flops at 224"] / 1e9 == pytest.approx(2 * 11.5, rel=0.02)


def test_step_seconds_and_time_models():
    torch.manual_seed(0)
    net = build_depth_net(8, width=4)
    seconds = step_seconds(net, (2, 1, 8, 8), repeats=2)
    assert 0 < seconds < 10 and all(p.grad is None for p in net.parameters())
    times = time_models(("resnet50",), (2, 3, 32, 32), repeats=1, device="cpu")
    assert list(times) == ["ResNet-50"] and math.isfinite(times["ResNet-50"]) and times["ResNet-50"] > 0


def _leaves_the_global_rng_alone(call):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    call()
    return torch.equal(torch.get_rng_state(), before)


def test_the_experiments_leave_the_callers_rng_alone(batch):
    X, y = batch
    assert _leaves_the_global_rng_alone(lambda: gradient_flow(8, X, y, width=4))
    kwargs = dict(steps=1, width=4, batch_size=16, progress=False)
    assert _leaves_the_global_rng_alone(lambda: compare_block_types(8, X, y, X, y, **kwargs))
    net = build_depth_net(8, width=4)
    assert _leaves_the_global_rng_alone(lambda: step_seconds(net, (2, 1, 8, 8), repeats=1))
    assert _leaves_the_global_rng_alone(
        lambda: time_models(("resnet18",), (2, 3, 32, 32), repeats=1, device="cpu")
    )


def test_gradient_flow_twins_start_from_the_same_weights(batch):
    """The seed alone fixes the networks: the global RNG state before the call does not matter."""
    X, y = batch
    torch.manual_seed(1)
    first = gradient_flow(8, X, y, width=4, seed=5)
    torch.manual_seed(2)
    assert gradient_flow(8, X, y, width=4, seed=5) == first


def test_step_seconds_waits_for_the_device_around_each_step(monkeypatch):
    waits = []
    monkeypatch.setattr(going_deeper, "synchronize", waits.append)
    step_seconds(build_depth_net(8, width=4), (2, 1, 8, 8), repeats=2)
    assert waits == [torch.device("cpu")] * 6  # before and after the warm-up step and the 2 timed ones


def test_he_init_draws_convolutions_with_variance_two_over_fan_in():
    torch.manual_seed(0)
    net = going_deeper.he_init_(build_depth_net(20, width=16))
    conv = net.b3[1].conv1  # 32 in, 3x3: fan_in 288
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 288), rel=0.05)
    assert torch.count_nonzero(conv.bias) == 0
    with pytest.raises(ValueError, match="init='xavier'"):
        gradient_flow(8, torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.long), width=4, init="xavier")


def test_relative_gradient_norms_divide_by_the_weight_norm(batch):
    X, y = batch
    torch.manual_seed(0)
    net = build_depth_net(8, width=4)
    raw = gradient_norms(net, X, y)
    relative = gradient_norms(net, X, y, relative=True)
    weights = [m.weight.double().norm().item() for _, m in weight_layers(net)]
    assert relative == pytest.approx([g / w for g, w in zip(raw, weights, strict=True)], rel=1e-9)
    table = gradient_summary({"plain": raw}, {"plain": relative})
    assert table.loc["plain", "first / last of |g|/|W|"] == pytest.approx(relative[0] / relative[-1])


def test_with_he_init_and_no_bn_the_plain_gradient_does_not_vanish_but_the_residual_output_explodes(batch):
    """He et al.'s initialisation keeps a plain network's signal (and so its gradient) at scale;
    without BN the residual stream's variance grows block by block (De & Smith 2020)."""
    X, y = batch
    flows = gradient_flow(56, X, y, width=8, batch_stats=False, init="he")
    assert 1e-2 < flows["plain"][0] / flows["plain"][-1] < 1e2
    stds = going_deeper.output_stds(56, X, width=8, batch_stats=False, init="he")
    default = going_deeper.output_stds(56, X, width=8, batch_stats=False)
    assert stds["residual"] > 100 * max(stds["plain"], default["residual"])


def test_output_stds_one_per_twin_and_the_rng_left_alone(batch):
    X, _ = batch
    stds = going_deeper.output_stds(8, X, width=4)
    assert set(stds) == {"plain", "residual"} and all(v > 0 for v in stds.values())
    assert _leaves_the_global_rng_alone(lambda: going_deeper.output_stds(8, X, width=4, init="he"))


def test_sweep_seeds_summary_and_figure():
    X, y = training_tensors(32, resolution=8, device="cpu")
    X_test, y_test = load_test_tensors(40, resolution=8, device="cpu")
    kwargs = dict(steps=2, width=4, batch_size=16, progress=False)
    result = going_deeper.sweep_seeds([8], X, y, X_test, y_test, seeds=(0, 1), **kwargs)
    first, second = result["tables"]
    assert first.equals(twins_table(train_twins([8], X, y, X_test, y_test, seed=0, **kwargs)))
    assert not first.equals(second)  # another seed: other weights, other batches
    summary = going_deeper.seeds_summary(result["tables"])
    gaps = [t.loc[8, "residual accuracy"] - t.loc[8, "plain accuracy"] for t in (first, second)]
    assert summary.loc[8, "accuracy gap mean"] == pytest.approx(sum(gaps) / 2)
    assert summary.loc[8, "accuracy gap min"] == pytest.approx(min(gaps))
    assert summary.loc[8, "plain loss"] == pytest.approx(
        (first.loc[8, "plain loss"] + second.loc[8, "plain loss"]) / 2
    )
    assert summary.loc[8, "seeds"] == 2
    assert len(sweep_figure(result["tables"]).axes) == 2


def test_bottleneck_vs_basic_is_he_et_al_fig_5():
    basic, bottleneck = going_deeper.bottleneck_vs_basic(size=56)
    # basic: two 3x3 convolutions 64 -> 64 (+ biases, BN); bottleneck: 256 -> 64 -> 64 -> 256
    assert basic["params"] == 2 * (64 * 64 * 9 + 64) + 2 * 2 * 64
    assert bottleneck["params"] == (256 * 64 + 64) + (64 * 64 * 9 + 64) + (64 * 256 + 256) + 2 * (
        64 + 64 + 256
    )
    assert basic["channels in and out"] == 64 and bottleneck["channels in and out"] == 256
    assert basic["flops"] == 2 * 56 * 56 * 2 * 64 * 64 * 9
    assert bottleneck["flops"] == 2 * 56 * 56 * (256 * 64 + 64 * 64 * 9 + 64 * 256)  # a similar cost
    assert _leaves_the_global_rng_alone(going_deeper.bottleneck_vs_basic)


def test_input_gradients_of_a_linear_network_are_perfectly_correlated(batch):
    """Balduzzi et al.'s measure on a case with a known answer: a linear map has one gradient
    everywhere, so neighbouring points' gradients correlate exactly (BN in eval mode is affine)."""
    X, _ = batch
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(3 * 6 * 6, 10))
    before = copy.deepcopy(linear.state_dict())
    assert going_deeper.input_gradient_correlation(linear, X[:1], X[1:2], 16, bn_images=X) == pytest.approx(1)
    assert all(torch.equal(v, before[k]) for k, v in linear.state_dict().items())
    with_relu = nn.Sequential(*linear[:2], nn.ReLU(), *linear[2:])
    assert going_deeper.input_gradient_correlation(with_relu, X[:1], X[1:2], 16, bn_images=X) < 1 - 1e-6
    net = build_depth_net(8, width=4)
    assert _leaves_the_global_rng_alone(
        lambda: going_deeper.input_gradient_correlation(net, X[:1], X[1:2], 8, bn_images=X)
    )


def test_skipinit_starts_every_block_as_the_identity_without_any_bn():
    from resnet_helpers.blocks import ResidualBlock
    from resnet_helpers.lessons.going_deeper import Scale, without_bn_

    torch.manual_seed(0)
    net = without_bn_(build_depth_net(20, width=4), skipinit=True)
    blocks = [m for m in net.modules() if isinstance(m, ResidualBlock)]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert sum(isinstance(m, Scale) for m in net.modules()) == len(blocks) == 9
    identity_blocks = [b for b in blocks if b.shortcut_module is None]
    assert len(identity_blocks) == 7  # all but the two that change the width
    for b in identity_blocks:
        x = torch.rand(2, b.conv1.in_channels, 6, 6)  # non-negative, as after a ReLU
        assert torch.equal(b(x), x)
    assert any(p.dim() == 0 and p.requires_grad for p in net.parameters())  # α is learned
    with pytest.raises(ValueError, match="does not end in a BN"):
        without_bn_(build_depth_net(14, width=4, block="preact"), skipinit=True)


def test_without_bn_he_init_explodes_forward_with_depth_and_skipinit_does_not():
    from resnet_helpers.lessons.going_deeper import without_bn_

    X = torch.randn(64, 1, 14, 14)
    stds = {}
    for depth in (8, 56):
        for skip in (False, True):
            torch.manual_seed(0)
            net = without_bn_(build_depth_net(depth, width=8), skipinit=skip)
            with torch.no_grad():
                stds[depth, skip] = net(X).std().item()
    assert stds[56, False] > 30 * stds[8, False]  # the un-normalised stream grows block by block
    assert stds[56, True] < stds[56, False] / 100  # every block starts as the identity


def test_train_without_bn_on_a_tiny_slice():
    from resnet_helpers.lessons.going_deeper import NO_BN_VARIANTS, train_without_bn, without_bn_table

    X, y = training_tensors(32, resolution=8, device="cpu")
    X_test, y_test = load_test_tensors(40, resolution=8, device="cpu")
    result = train_without_bn(
        [8], X, y, X_test, y_test, steps=3, width=4, seeds=(0, 1), batch_size=16, progress=False
    )
    table = without_bn_table(result)
    assert list(table.index) == [(v, 8, seed) for v in NO_BN_VARIANTS for seed in (0, 1)]
    again = without_bn_table(
        train_without_bn(
            [8], X, y, X_test, y_test, steps=3, width=4, seeds=(1,), batch_size=16, progress=False
        )
    )
    assert again.loc[NO_BN_VARIANTS[2], 8, 1].equals(table.loc[NO_BN_VARIANTS[2], 8, 1])  # a seed is a seed
    assert list(table.columns) == ["logits std at init", "final training loss", "test accuracy"]
    assert all(0 <= a <= 1 for a in table["test accuracy"])
