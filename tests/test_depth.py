import math

import matplotlib
import pytest
import torch
from torch import nn

from resnet_helpers import Bottleneck, PreActResidual, Residual, count_weight_layers
from resnet_helpers.lessons.function_classes import depth_curves_figure, depth_panel
from resnet_helpers.measure import max_abs_difference
from resnet_helpers.models import (
    PlainBlock,
    add_blocks,
    build_depth_net,
    depth_config,
    valid_depths,
)
from resnet_helpers.training.experiment import (
    degradation_experiment,
    evaluate_loss,
    final_losses,
    smooth,
    train_losses,
    train_statistics,
    training_tensors,
)

matplotlib.use("Agg")

RESIDUAL_BLOCKS = (Residual, Bottleneck, PreActResidual)


@pytest.mark.parametrize(
    "block,depths", [("basic", [8, 14, 20, 32, 56]), ("preact", [8, 20, 110]), ("bottleneck", [11, 29])]
)
@pytest.mark.parametrize("plain", [False, True])
def test_depth_is_counted_from_the_model(block, depths, plain):
    for depth in depths:
        with torch.device("meta"):
            net = build_depth_net(depth, width=4, block=block, plain=plain)
        assert count_weight_layers(net) == depth
        assert net.config.blocks == ((depth - 2) // (9 if block == "bottleneck" else 6),) * 3


def test_cifar_style_layout():
    config = depth_config(20)
    assert (config.blocks, config.channels, config.stem, config.stem_channels) == (
        (3, 3, 3),
        (16, 32, 64),
        "compact",
        16,
    )
    net = build_depth_net(20)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert net.b1[0].kernel_size == (3, 3) and net.b1[0].stride == (1, 1)
    assert valid_depths("basic", 4) == [8, 14, 20, 26] and valid_depths("bottleneck", 2) == [11, 20]


@pytest.mark.parametrize("depth", [7, 21, 2, 0, 20.0, True])
def test_impossible_depths_are_refused(depth):
    with pytest.raises(ValueError, match="6n \\+ 2"):
        depth_config(depth)


def test_plain_net_has_no_shortcut():
    plain = build_depth_net(14, width=4, plain=True)
    modules = list(plain.modules())
    assert not any(isinstance(m, RESIDUAL_BLOCKS) for m in modules)
    assert all(getattr(m, "projection", None) is None for m in modules)
    assert sum(isinstance(m, PlainBlock) for m in modules) == 6
    # without shortcuts, zeroing the last BN of every block cuts the input off entirely:
    # the output no longer depends on the image. With shortcuts the image still gets through.
    residual = build_depth_net(14, width=4)
    for net in (plain, residual):
        for block in net.modules():
            if isinstance(block, (PlainBlock, Residual)):
                last_bn = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)][-1]
                nn.init.zeros_(last_bn.weight), nn.init.zeros_(last_bn.bias)
        net.eval()
    a, b = torch.rand(2, 1, 1, 12, 12)
    with torch.no_grad():
        assert torch.equal(plain(a), plain(b))
        assert not torch.allclose(residual(a), residual(b))


@pytest.mark.parametrize("block", ["basic", "preact", "bottleneck"])
def test_plain_twin_shares_the_residual_branch_weights(block):
    torch.manual_seed(0)
    residual = build_depth_net(20, width=4, block=block)
    torch.manual_seed(0)
    plain = build_depth_net(20, width=4, block=block, plain=True)
    res_convs = [m for m in residual.modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)]
    plain_convs = [m for m in plain.modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)]
    assert len(res_convs) == len(plain_convs)
    for r, p in zip(res_convs, plain_convs, strict=True):
        assert torch.equal(r.weight, p.weight)


@pytest.mark.parametrize("block", ["basic", "preact", "bottleneck"])
def test_zero_initialised_residual_blocks_leave_the_function_unchanged(block):
    torch.manual_seed(0)
    shallow = build_depth_net(valid_depths(block, 1)[0], width=4, block=block)
    X = torch.randn(8, 1, 12, 12)
    train_losses(shallow, X, torch.arange(8), steps=3, batch_size=4, progress=False)  # non-trivial BN stats
    deeper = add_blocks(shallow, per_stage=2)
    convs_per_block = 3 if block == "bottleneck" else 2
    assert count_weight_layers(deeper) == count_weight_layers(shallow) + 3 * 2 * convs_per_block
    assert deeper.config.blocks == (3, 3, 3)
    assert max_abs_difference(shallow, deeper, X) == 0.0
    assert shallow.training and deeper.training  # modes restored


def test_added_plain_layers_change_the_function():
    torch.manual_seed(0)
    shallow = build_depth_net(8, width=4, plain=True)
    deeper = add_blocks(shallow, per_stage=1, plain=True)
    assert count_weight_layers(deeper) == 14
    assert not any(isinstance(m, RESIDUAL_BLOCKS) for m in deeper.modules())
    X = torch.randn(8, 1, 12, 12)
    assert max_abs_difference(shallow, deeper, X) > 1e-3
    assert max_abs_difference(shallow, deeper, X, batch_size=3) == pytest.approx(
        max_abs_difference(shallow, deeper, X)
    )
    assert count_weight_layers(shallow) == 8  # the original is untouched


def test_training_tensors_are_real_normalised_fashion_mnist():
    X, y = training_tensors(2000, resolution=14, seed=1)
    assert X.shape == (2000, 1, 14, 14) and X.dtype == torch.float32 and y.shape == (2000,)
    # normalised with the statistics of 10,000 training images: about mean 0, std 1 on a sample
    assert abs(X.mean().item()) < 0.05 and abs(X.std().item() - 1) < 0.05
    mean, std = train_statistics(14)
    pixels = X * std + mean
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5 and 0.2 < mean < 0.4
    assert 0 <= y.min() and y.max() <= 9 and len(y.unique()) == 10
    X2, y2 = training_tensors(2000, resolution=14, seed=1)
    assert torch.equal(X, X2) and torch.equal(y, y2)


def test_training_loop_lowers_the_loss_on_a_tiny_slice():
    X, y = training_tensors(64, resolution=12, seed=0)
    torch.manual_seed(0)
    net = build_depth_net(8, width=8)
    before = evaluate_loss(net, X, y)
    losses = train_losses(net, X, y, steps=40, batch_size=32, lr=0.05, progress=False)
    assert len(losses) == 40 and all(isinstance(v, float) for v in losses)
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    assert evaluate_loss(net, X, y) < before
    with pytest.raises(ValueError, match="batch_size"):
        train_losses(net, X, y, steps=1, batch_size=65, progress=False)
    with pytest.raises(ValueError, match="steps"):
        train_losses(net, X, y, steps=0, batch_size=8, progress=False)


def test_same_seed_same_batches_same_losses():
    """The batches come from `seed` alone: another global RNG state gives the same losses, another
    `seed` other ones (the same network, the same initial weights in every run)."""
    X, y = training_tensors(64, resolution=8)

    def losses(global_seed: int, seed: int) -> list[float]:
        torch.manual_seed(0)
        net = build_depth_net(8, width=4)
        torch.manual_seed(global_seed)
        return train_losses(net, X, y, steps=5, batch_size=16, seed=seed, progress=False)

    assert losses(global_seed=1, seed=0) == losses(global_seed=2, seed=0)
    assert losses(global_seed=1, seed=0) != losses(global_seed=1, seed=1)


def test_experiment_table_figure_and_panel(capsys):
    X, y = training_tensors(32, resolution=8)
    result = degradation_experiment([8, 14], X, y, steps=4, width=4, batch_size=16, progress=False)
    assert set(result["histories"]) == {(k, d) for k in ("plain", "residual") for d in (8, 14)}
    table = final_losses(result["histories"])
    assert list(table.columns) == ["plain", "residual"] and list(table.index) == [8, 14]
    assert table.loc[8, "plain"] == pytest.approx(result["histories"]["plain", 8][-1])  # last 10% of 4 steps
    assert len(depth_curves_figure(result["histories"], 14).axes) == 1
    with pytest.raises(ValueError, match="trained depths: \\[8, 14\\]"):
        depth_curves_figure(result["histories"], 20)
    assert depth_panel(result["histories"]).children[0].options == (8, 14)


def test_smooth():
    assert smooth([1.0, 3.0, 5.0, 7.0], window=2) == [1.0, 2.0, 4.0, 6.0]
    assert len(smooth(list(range(100)))) == 100


def test_train_losses_stops_once_the_loss_is_nan():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        net[1].weight.fill_(float("nan"))
    calls = []
    net.register_forward_hook(lambda *_: calls.append(1))
    X, y = torch.randn(32, 1, 2, 2), torch.randint(0, 3, (32,))
    losses = train_losses(net, X, y, steps=100, batch_size=8, progress=False)
    assert len(losses) == 100 and all(math.isnan(v) for v in losses)
    assert len(calls) == 10  # checked every 10 steps: 90 steps of NaNs saved

    healthy = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    losses = train_losses(healthy, X, y, steps=25, batch_size=8, lr=0.01, progress=False)
    assert len(losses) == 25 and all(math.isfinite(v) for v in losses)


def test_progress_bar_saves_its_final_state(monkeypatch):
    """In a notebook the bar is tqdm's widget under a display id; close() replaces the saved output
    with the widget view plus text/plain and text/html of the final bar."""
    import IPython.display
    import tqdm.auto
    import tqdm.notebook

    from resnet_helpers.training import progress

    shown = []

    class Handle:
        def update(self, bundle, raw=False):
            shown.append(bundle)

    def display(bundle, raw=False, display_id=None):
        shown.append(bundle)
        return Handle()

    monkeypatch.setattr(tqdm.auto, "tqdm", tqdm.notebook.tqdm)
    monkeypatch.setattr(IPython.display, "display", display)
    bar = progress.progress_bar(40, desc="plain-8")
    assert isinstance(bar, tqdm.notebook.tqdm)
    bar.update(40)
    bar.close()
    first, final = shown
    view = "application/vnd.jupyter.widget-view+json"
    assert first[view] == final[view]  # the same live widget, before and after
    assert "plain-8: 100%" in final["text/plain"] and "40/40" in final["text/plain"]
    assert "40/40" in final["text/html"] and "#5cb85c" in final["text/html"]  # green: finished
    shown.clear()
    stopped = progress.progress_bar(40, desc="stopped")
    stopped.update(12)
    stopped.set_postfix_str("loss is NaN: stopped")
    stopped.close()
    final = shown[-1]
    assert "12/40" in final["text/plain"] and "loss is NaN: stopped" in final["text/plain"]
    assert "#d9534f" in final["text/html"]  # red: it did not finish


def test_progress_bar_outside_a_notebook_is_tqdm():
    from tqdm import tqdm

    from resnet_helpers.training.progress import final_bar_html, progress_bar

    bar = progress_bar(3, desc="x", disable=True)
    assert isinstance(bar, tqdm)
    bar.update(3)
    bar.close()
    html = final_bar_html(0.25, "x: 25%", "1/4 <&>")
    assert "width: 25.0%" in html and "1/4 &lt;&amp;&gt;" in html
