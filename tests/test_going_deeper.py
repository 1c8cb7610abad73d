import copy
import functools
import math

import matplotlib
import pytest
import torch
from torch import nn

from resnet_helpers.blocks import Bottleneck, PreActResidual, Residual
from resnet_helpers.data import load_fashion_mnist
from resnet_helpers.i18n import set_language
from resnet_helpers.lessons import going_deeper
from resnet_helpers.lessons.going_deeper import (
    NO_BN_VARIANTS,
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
from resnet_helpers.measure import count_flops, count_params, count_weight_layers, weight_layers
from resnet_helpers.models import build_depth_net, build_resnet
from resnet_helpers.profiles import get_profile
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


@pytest.mark.filterwarnings("ignore:Glyph")  # no CJK font picked here; the titles' text is the point
def test_the_panel_titles_notebook_05_passes_are_in_the_readers_language(english):
    flows = {"plain": [1e-6, 1e-3, 1.0]}
    set_language("zh", font=False)
    titles = ("no BN, He init", "BN with batch statistics (training mode)", "x")
    fig = gradient_flow_figure(dict.fromkeys(titles, flows))
    expected = ["无 BN，He 初始化", "有 BN，使用批量统计量（训练模式）", "x"]
    assert [ax.get_title() for ax in fig.axes] == expected


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


# --- The sentences notebook 05 prints (i18n): each function, called with the values behind the
# committed notebook's output (cpu profile), prints that output in English, and the catalog's
# Chinese under set_language("zh") ---


@functools.cache
def _family():
    return going_deeper.bottleneck_family()


@functools.cache
def _resnet_1001():
    with torch.device("meta"):
        net = build_depth_net(
            very_deep_depth(1000, "bottleneck"), width=16, block="bottleneck", in_channels=3
        )
    return net, count_flops(net, (1, 3, 32, 32))


@functools.cache
def _very_deep_twins():
    return very_deep_net(1000), very_deep_net(1000, plain=True)


def _parameter_breakdown():
    """Notebook 05's count of ResNet-1001's parameters by kind, as its cell does it."""
    net, _flops = _resnet_1001()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    bn = sum(p.numel() for m in net.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())
    bias = sum(m.bias.numel() for m in convs if m.bias is not None)
    projections = sum(m.weight.numel() for name, m in net.named_modules() if name.endswith("shortcut_conv"))
    total = count_params(net)
    return going_deeper.parameter_breakdown("ResNet-1001", total, total - bn - bias, projections, bn, bias)


def _sweep_summary():
    """The gap columns of notebook 05's `seeds_summary` table (3 seeds), with its printed values."""
    import pandas as pd

    gaps = {  # depth: loss gap mean, min, max; accuracy gap mean, min, max
        8: (-0.021, -0.043, 0.009, -0.001, -0.017, 0.011),
        20: (-0.292, -0.399, -0.163, 0.091, 0.062, 0.129),
        56: (-0.970, -1.306, -0.682, 0.394, 0.269, 0.506),
    }
    columns = [f"{q} gap {s}" for q in ("loss", "accuracy") for s in ("mean", "min", "max")]
    table = pd.DataFrame.from_dict(gaps, orient="index", columns=columns)
    table["seeds"] = 3
    return table


def _without_bn_table():
    """A `without_bn_table` (3 seeds) with notebook 05's printed values."""
    import pandas as pd

    printed = {  # (variant, depth): logits std at init, final loss per seed, test accuracy
        (NO_BN_VARIANTS[0], 20): (0.572, (0.61, 0.62, 0.59), 0.767),
        (NO_BN_VARIANTS[1], 20): (1.77, (2.30, 2.31, 2.30), 0.089),
        (NO_BN_VARIANTS[2], 20): (0.309, (0.97, 0.73, 0.83), 0.695),
        (NO_BN_VARIANTS[0], 56): (1.64, (0.87, 0.75, 1.06), 0.646),
        (NO_BN_VARIANTS[1], 56): (1.69e3, (math.nan,) * 3, 0.106),
        (NO_BN_VARIANTS[2], 56): (0.534, (0.76, 2.31, 0.76), 0.69),
    }
    rows = {
        (variant, depth, seed): {
            "logits std at init": std,
            "final training loss": losses[seed],
            "test accuracy": accuracy,
        }
        for (variant, depth), (std, losses, accuracy) in printed.items()
        for seed in range(3)
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["variant", "depth", "seed"]
    return table.sort_index()


def _twins_1004():
    """A `train_twins` result for 1,004 layers with notebook 05's printed losses and accuracies."""
    return {
        "histories": {
            ("residual", 1004): [2.306] + [2.3] * 89 + [2.222] * 10,
            ("plain", 1004): [2.345] + [math.nan] * 99,
        },
        "accuracy": {("residual", 1004): 0.202, ("plain", 1004): 0.106},
    }


PRINTED = [  # (function, call, English as notebook 05 prints it, Chinese)
    (
        "scale_summary",
        lambda: going_deeper.scale_summary(
            get_profile("cpu"),
            resolution=14,
            train_images=10_000,
            test_images=2_000,
            sweep_depths=(8, 20, 56),
            width=8,
            steps=150,
            batch_size=64,
            seeds=(0, 1, 2),
            deep_min_layers=1000,
            deep_steps=100,
            deep_batch_size=32,
            deep_lr=0.2,
        ),
        "profile cpu: images 14x14, 10,000 for training, 2,000 for testing\n"
        "sweep: depths (8, 20, 56), width 8, 150 steps of 64 images, seeds (0, 1, 2)\n"
        "very deep: at least 1000 layers, 100 steps of 32 images, lr 0.2",
        "档位 cpu：14×14 的图像，训练用 10,000 张，测试用 2,000 张\n"
        "深度扫描：深度 (8, 20, 56)，宽度 8，150 步，每步 64 张图像，随机种子 (0, 1, 2)\n"
        "极深网络：至少 1000 层，100 步，每步 32 张图像，学习率 0.2",
    ),
    (
        "weight_layers_line",
        lambda: "\n".join(
            going_deeper.weight_layers_line(
                kind, [name for name, _m in weight_layers(net)], count_weight_layers(net)
            )
            for kind, net in (
                ("plain", build_depth_net(56, plain=True)),
                ("residual", build_depth_net(56)),
            )
        ),
        "plain   : 56 weight layers = count_weight_layers 56: ['b1.0', 'b2.0.0', 'b2.0.3'] ... ['b4.8.3', "
        "'fc']\n"
        "residual: 56 weight layers = count_weight_layers 56: ['b1.0', 'b2.0.conv1', 'b2.0.conv2'] ... "
        "['b4.8.conv2', 'fc']",
        "plain：56 个权重层 = count_weight_layers 56：['b1.0', 'b2.0.0', 'b2.0.3'] ... ['b4.8.3', 'fc']\n"
        "residual：56 个权重层 = count_weight_layers 56：['b1.0', 'b2.0.conv1', 'b2.0.conv2'] ... "
        "['b4.8.conv2', 'fc']",
    ),
    (
        "logits_std_report",
        lambda: going_deeper.logits_std_report(
            {"pytorch": {"plain": 0.0495, "residual": 0.0934}, "he": {"plain": 0.0475, "residual": 1120.0}},
            56,
        ),
        "pytorch init, no BN: std of the logits  plain-56 0.0495, residual-56 0.0934\n"
        "     he init, no BN: std of the logits  plain-56 0.0475, residual-56 1.12e+03",
        "pytorch 初始化，无 BN：logits 的标准差 plain-56 为 0.0495，residual-56 为 0.0934\n"
        "he 初始化，无 BN：logits 的标准差 plain-56 为 0.0475，residual-56 为 1.12e+03",
    ),
    (
        "correlation_report",
        lambda: going_deeper.correlation_report(
            {
                ("plain", 8): 0.90,
                ("residual", 8): 0.91,
                ("plain", 20): 0.36,
                ("residual", 20): 0.74,
                ("plain", 56): -0.02,
                ("residual", 56): 0.48,
            }
        ),
        "correlation of neighbouring input gradients: plain-8 +0.90, residual-8 +0.91\n"
        "correlation of neighbouring input gradients: plain-20 +0.36, residual-20 +0.74\n"
        "correlation of neighbouring input gradients: plain-56 -0.02, residual-56 +0.48",
        "相邻输入梯度的相关系数：plain-8 +0.90、residual-8 +0.91\n"
        "相邻输入梯度的相关系数：plain-20 +0.36、residual-20 +0.74\n"
        "相邻输入梯度的相关系数：plain-56 -0.02、residual-56 +0.48",
    ),
    (
        "tensors_summary",
        lambda: going_deeper.tensors_summary(torch.empty(10_000, 1, 14, 14), torch.empty(2_000, 1, 14, 14)),
        "training images (10000, 1, 14, 14), test images (2000, 1, 14, 14), device cpu",
        "训练图像 (10000, 1, 14, 14)，测试图像 (2000, 1, 14, 14)，设备 cpu",
    ),
    (
        "networks_trained",
        lambda: going_deeper.networks_trained(18, 108.3),
        "trained 18 networks in 108 s",
        "训练了 18 个网络，用时 108 秒",
    ),
    (
        "gap_report",
        lambda: going_deeper.gap_report(_sweep_summary()),
        "depth   8: residual - plain = -0.021 training loss (range -0.043 to +0.009), -0.1 points of test "
        "accuracy (range -1.7 to +1.1) over 3 seeds\n"
        "depth  20: residual - plain = -0.292 training loss (range -0.399 to -0.163), +9.1 points of test "
        "accuracy (range +6.2 to +12.9) over 3 seeds\n"
        "depth  56: residual - plain = -0.970 training loss (range -1.306 to -0.682), +39.4 points of test "
        "accuracy (range +26.9 to +50.6) over 3 seeds\n"
        "(a negative loss difference and a positive accuracy difference: the residual network is ahead)",
        "深度 8：residual - plain 的训练损失之差为 -0.021（范围 -0.043 至 +0.009），测试精度之差为 -0.1 "
        "个百分点（范围 -1.7 至 +1.1），共 3 个随机种子\n"
        "深度 20：residual - plain 的训练损失之差为 -0.292（范围 -0.399 至 -0.163），测试精度之差为 +9.1 "
        "个百分点（范围 +6.2 至 +12.9），共 3 个随机种子\n"
        "深度 56：residual - plain 的训练损失之差为 -0.970（范围 -1.306 至 -0.682），测试精度之差为 +39.4 "
        "个百分点（范围 +26.9 至 +50.6），共 3 个随机种子\n"
        "（损失之差为负、精度之差为正：残差网络领先）",
    ),
    (
        "without_bn_summary",
        lambda: going_deeper.without_bn_summary(_without_bn_table()),
        "depth 20, BN (the course's block): logits std at init 0.572; final training loss per seed 0.61, "
        "0.62, 0.59: 3 of 3 below 0.8 x chance; median test accuracy 76.7%\n"
        "depth 20, no BN, He init         : logits std at init 1.77; final training loss per seed 2.30, "
        "2.31, 2.30: 0 of 3 below 0.8 x chance; median test accuracy 8.9%\n"
        "depth 20, no BN, SkipInit        : logits std at init 0.309; final training loss per seed 0.97, "
        "0.73, 0.83: 3 of 3 below 0.8 x chance; median test accuracy 69.5%\n"
        "depth 56, BN (the course's block): logits std at init 1.64; final training loss per seed 0.87, "
        "0.75, 1.06: 3 of 3 below 0.8 x chance; median test accuracy 64.6%\n"
        "depth 56, no BN, He init         : logits std at init 1.69e+03; final training loss per seed NaN, "
        "NaN, NaN: 0 of 3 below 0.8 x chance; median test accuracy 10.6%\n"
        "depth 56, no BN, SkipInit        : logits std at init 0.534; final training loss per seed 0.76, "
        "2.31, 0.76: 2 of 3 below 0.8 x chance; median test accuracy 69.0%",
        "深度 20，有 BN（课程的块）：初始化时 logits 的标准差 0.572；各随机种子的最终训练损失 0.61、0.62、"
        "0.59：3 个中有 3 个低于随机猜测损失的 0.8 倍；测试精度中位数 76.7%\n"
        "深度 20，无 BN，He 初始化：初始化时 logits 的标准差 1.77；各随机种子的最终训练损失 2.30、2.31、"
        "2.30：3 个中有 0 个低于随机猜测损失的 0.8 倍；测试精度中位数 8.9%\n"
        "深度 20，无 BN，SkipInit：初始化时 logits 的标准差 0.309；各随机种子的最终训练损失 0.97、0.73、"
        "0.83：3 个中有 3 个低于随机猜测损失的 0.8 倍；测试精度中位数 69.5%\n"
        "深度 56，有 BN（课程的块）：初始化时 logits 的标准差 1.64；各随机种子的最终训练损失 0.87、0.75、"
        "1.06：3 个中有 3 个低于随机猜测损失的 0.8 倍；测试精度中位数 64.6%\n"
        "深度 56，无 BN，He 初始化：初始化时 logits 的标准差 1.69e+03；各随机种子的最终训练损失 NaN、NaN、"
        "NaN：3 个中有 0 个低于随机猜测损失的 0.8 倍；测试精度中位数 10.6%\n"
        "深度 56，无 BN，SkipInit：初始化时 logits 的标准差 0.534；各随机种子的最终训练损失 0.76、2.31、"
        "0.76：3 个中有 2 个低于随机猜测损失的 0.8 倍；测试精度中位数 69.0%",
    ),
    (
        "very_deep_report",
        lambda: going_deeper.very_deep_report(*_very_deep_twins()),
        "weight layers, counted on the model: 1,004\n"
        "blocks per stage: (167, 167, 167), stage widths: (4, 8, 16)\n"
        "pre-activation residual blocks: 501\n"
        "parameters: 1,037,042\n"
        "plain twin: 1,004 weight layers, 1,036,858 parameters (no 1x1 shortcut projections), "
        "residual blocks: 0",
        "权重层数（在模型上数出）：1,004\n"
        "每个阶段的块数：(167, 167, 167)，各阶段的宽度：(4, 8, 16)\n"
        "预激活残差块：501 个\n"
        "参数个数：1,037,042\n"
        "普通孪生网络：1,004 个权重层，1,036,858 个参数（没有 1×1 投影捷径），残差块：0 个",
    ),
    (
        "step_time_line",
        lambda: going_deeper.step_time_line("ResNet-1004", 0.82, (32, 1, 14, 14)),
        "ResNet-1004: 0.82 s per forward + backward on a batch of shape (32, 1, 14, 14)",
        "ResNet-1004：在形状为 (32, 1, 14, 14) 的一批数据上，一次前向 + 反向传播用时 0.82 秒",
    ),
    (
        "training_estimate",
        lambda: going_deeper.training_estimate(2, 100, 0.82),
        "2 networks x 100 steps: about 3 min at the step time measured above",
        "2 个网络 × 100 步：按上面测得的每步用时，大约需要 3 分钟",
    ),
    (
        "trained_in",
        lambda: going_deeper.trained_in(96.0),
        "trained in 1.6 min",
        "训练用时 1.6 分钟",
    ),
    (
        "deep_twins_report",
        lambda: going_deeper.deep_twins_report(_twins_1004(), 1004, 91, 8, 0.775),
        "residual-1004: training loss 2.306 at the first step -> 2.222 over the last 10% of steps, "
        "test accuracy 20.2% (chance: 10%)\n"
        "   plain-1004: training loss 2.345 at the first step -> nan over the last 10% of steps, "
        "test accuracy 10.6% (chance: 10%)\n"
        "residual-1004: the smoothed loss stays within 0.1 of its start for the first 91 of 100 steps\n"
        "for reference, residual-8 of section 2 (seed 0): test accuracy 77.5%",
        "residual-1004：训练损失从第一步的 2.306 变为最后 10% 步的平均值 2.222，测试精度 20.2%（随机猜测："
        "10%）\n"
        "plain-1004：训练损失从第一步的 2.345 变为最后 10% 步的平均值 nan，测试精度 10.6%（随机猜测：10%）\n"
        "residual-1004：在 100 步中的前 91 步，平滑后的损失与起始值之差保持在 0.1 以内\n"
        "作为参照，第 2 节的 residual-8（随机种子 0）：测试精度 77.5%",
    ),
    (
        "bottleneck_summary",
        lambda: going_deeper.bottleneck_summary(*going_deeper.bottleneck_vs_basic(size=56)),
        "the bottleneck: 4x the channels, 0.96x the parameters, 0.94x the FLOPs, 3 weight layers instead of "
        "2",
        "瓶颈块：通道数是基本块的 4 倍，参数是 0.96 倍，FLOPs 是 0.94 倍，权重层是 3 个而不是 2 个",
    ),
    (
        "family_report",
        lambda: going_deeper.family_report(_family()),
        "ResNet-50: 50 weight layers, blocks (3, 4, 6, 3), 8.18 GFLOPs at 224x224\n"
        "ResNet-101: 101 weight layers, blocks (3, 4, 23, 3), 15.60 GFLOPs at 224x224\n"
        "ResNet-152: 152 weight layers, blocks (3, 8, 36, 3), 23.03 GFLOPs at 224x224",
        "ResNet-50：50 个权重层，各阶段块数 (3, 4, 6, 3)，224×224 输入下 8.18 GFLOPs\n"
        "ResNet-101：101 个权重层，各阶段块数 (3, 4, 23, 3)，224×224 输入下 15.60 GFLOPs\n"
        "ResNet-152：152 个权重层，各阶段块数 (3, 8, 36, 3)，224×224 输入下 23.03 GFLOPs",
    ),
    (
        "timing_report",
        lambda: going_deeper.timing_report(
            _family(), {"ResNet-50": 0.164, "ResNet-101": 0.31, "ResNet-152": 0.4153}, (2, 3, 96, 96)
        ),
        "ResNet-50    0.16 s per step on (2, 3, 96, 96) (1.0x ResNet-50's time, 1.0x its FLOPs), "
        "top-1 error 22.85% (+0.00 points)\n"
        "ResNet-101   0.31 s per step on (2, 3, 96, 96) (1.9x ResNet-50's time, 1.9x its FLOPs), "
        "top-1 error 21.75% (-1.10 points)\n"
        "ResNet-152   0.42 s per step on (2, 3, 96, 96) (2.5x ResNet-50's time, 2.8x its FLOPs), "
        "top-1 error 21.43% (-1.42 points)",
        "ResNet-50：在 (2, 3, 96, 96) 上每步 0.16 秒（用时是 ResNet-50 的 1.0 倍，FLOPs 是它的 1.0 倍），"
        "top-1 错误率 22.85%（与 ResNet-50 相差 +0.00 个百分点）\n"
        "ResNet-101：在 (2, 3, 96, 96) 上每步 0.31 秒（用时是 ResNet-50 的 1.9 倍，FLOPs 是它的 1.9 倍），"
        "top-1 错误率 21.75%（与 ResNet-50 相差 -1.10 个百分点）\n"
        "ResNet-152：在 (2, 3, 96, 96) 上每步 0.42 秒（用时是 ResNet-50 的 2.5 倍，FLOPs 是它的 2.8 倍），"
        "top-1 错误率 21.43%（与 ResNet-50 相差 -1.42 个百分点）",
    ),
    (
        "paper_quotes_report",
        going_deeper.paper_quotes_report,
        "ResNet-152, ImageNet val top-5 error, single model: 4.49% (He et al. 2015, Table 4)\n"
        "ResNet-1001 (pre-activation, bottleneck), CIFAR-10 test error: 4.62% (He et al. 2016, abstract)",
        "ResNet-152 单模型在 ImageNet 验证集上的 top-5 错误率：4.49%（He et al. 2015，表 4）\n"
        "ResNet-1001（预激活，瓶颈块）在 CIFAR-10 上的测试错误率：4.62%（He et al. 2016，摘要）",
    ),
    (
        "float32_overflow_report",
        lambda: going_deeper.float32_overflow_report([1.08e69] + [1.0] * 1003, 390),
        "plain-1004, float64: first layer / last layer = 1.08e+69\n"
        "largest float32: 3.4e+38\n"
        "in float32, weight layers whose gradient is inf or NaN: 390 of 1004",
        "plain-1004，float64：第一层 / 最后一层 = 1.08e+69\n"
        "float32 能表示的最大数：3.4e+38\n"
        "在 float32 中，梯度为 inf 或 NaN 的权重层：1004 个中有 390 个",
    ),
    (
        "growth_line",
        lambda: (
            going_deeper.growth_line("residual-8", 1004, 0.0, 0.775, 0.775)
            + "\n"
            + going_deeper.growth_line("plain-8", 1004, 12.2, 0.764, 0.111)
        ),
        "residual-8 -> 1004 layers: max |change of output| 0, test accuracy 77.5% -> 77.5%\n"
        "plain-8 -> 1004 layers: max |change of output| 12.2, test accuracy 76.4% -> 11.1%",
        "residual-8 → 1004 层：输出变化的最大绝对值 0，测试精度 77.5% → 77.5%\n"
        "plain-8 → 1004 层：输出变化的最大绝对值 12.2，测试精度 76.4% → 11.1%",
    ),
    (
        "size_comparison",
        lambda: going_deeper.size_comparison(*_resnet_1001(), 32, _family()[-1]),
        "ResNet-1001: 1001 weight layers, blocks (111, 111, 111), 10.4 M parameters, 3.0 GFLOPs per 32x32 "
        "image\n"
        "ResNet-152:  152 weight layers, 60.3 M parameters, 23.0 GFLOPs per 224x224 image",
        "ResNet-1001：1001 个权重层，各阶段块数 (111, 111, 111)，10.4 M 个参数，每张 32×32 图像 3.0 GFLOPs\n"
        "ResNet-152：152 个权重层，60.3 M 个参数，每张 224×224 图像 23.0 GFLOPs",
    ),
    (
        "parameter_breakdown",
        _parameter_breakdown,
        "ResNet-1001 = 10.18 M convolution and linear weights (the 1x1 projection shortcuts: 41,984)\n"
        "  + 0.15 M BN scales and shifts + 0.08 M convolution biases = 10.40 M",
        "ResNet-1001 = 10.18 M 个卷积层和全连接层权重（其中 1×1 投影捷径：41,984 个）\n"
        "  + 0.15 M 个 BN 拉伸参数和偏移参数 + 0.08 M 个卷积偏置 = 10.40 M",
    ),
    (
        "throughput_report",
        lambda: going_deeper.throughput_report(5.98e9, 0.82, 9.03e9, 0.1523),
        "ResNet-1004: 5.98 GFLOPs per step in 0.82 s = 7.3 GFLOP/s\n"
        "ResNet-50:   9.03 GFLOPs per step in 0.15 s = 59.3 GFLOP/s (both in float32)\n"
        "ResNet-50 does 8.1x the arithmetic per second of the 1,004-layer network",
        "ResNet-1004：每步 5.98 GFLOPs，用时 0.82 秒，即 7.3 GFLOP/s\n"
        "ResNet-50：每步 9.03 GFLOPs，用时 0.15 秒，即 59.3 GFLOP/s（两者均为 float32）\n"
        "ResNet-50 每秒完成的运算量是 1,004 层网络的 8.1 倍",
    ),
    (
        "running_time",
        lambda: going_deeper.running_time(354.0),
        "this notebook ran in 5.9 min",
        "本笔记本运行了 5.9 分钟",
    ),
]


@pytest.mark.parametrize("call, english_text", [case[1:3] for case in PRINTED], ids=[c[0] for c in PRINTED])
def test_printed_sentences_are_the_committed_notebooks_output(call, english_text):
    assert call() == english_text


@pytest.mark.parametrize("call, chinese", [(c[1], c[3]) for c in PRINTED], ids=[c[0] for c in PRINTED])
def test_printed_sentences_in_chinese(english, call, chinese):
    set_language("zh", font=False)
    assert call() == chinese


def test_every_paper_quote_is_translated(english):
    """A quote added to paper.PAPER_QUOTES without a translation in paper_quotes_report shows in English."""
    from resnet_helpers.lessons.paper import PAPER_QUOTES

    set_language("zh", font=False)
    for line, (what, _value, source) in zip(
        going_deeper.paper_quotes_report().splitlines(), PAPER_QUOTES, strict=True
    ):
        assert what not in line and source not in line
