"""Notebook 06's helpers: lesions, paths, loss landscapes, residual responses, the cache."""

import itertools
import math
import random

import matplotlib
import numpy as np
import pytest
import torch

from resnet_helpers.i18n import set_language
from resnet_helpers.lessons.why_it_works import (
    ShortcutOnly,
    all_but_downsampling_shape,
    basin_widths,
    blocks_of,
    cached_net,
    cached_twins,
    chance_to_miss,
    checkpoint_path,
    contour_figure,
    critical_blocks_report,
    curvature,
    delete_blocks,
    deletion_shapes,
    deletion_vs_response,
    deletion_vs_response_report,
    direction_check,
    downsampling_names,
    filter_normalized_direction,
    gradient_by_length,
    kept_after_one,
    kept_curve,
    landscape_finding,
    landscape_report,
    landscape_slices,
    landscape_table,
    lesion_figure,
    lesion_finding,
    lesion_panel,
    lesion_view,
    loss_along,
    path_count_line,
    path_counts,
    path_finding,
    path_gradient,
    path_gradients,
    path_share_report,
    paths_figure,
    random_deletion_caption,
    random_deletions,
    reordering_line,
    residual_responses,
    response_finding,
    response_report,
    responses_figure,
    run_time,
    setup_summary,
    single_deletion_report,
    single_deletions,
    slices_caption,
    slices_figure,
    stage_deletion_line,
    stochastic_depth_,
    twins_report,
    unroll,
    unwrap_,
    zero_init_accuracy,
)
from resnet_helpers.models import build_depth_net
from resnet_helpers.training.evaluate import evaluate, tensor_batches
from resnet_helpers.training.trainer import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint

matplotlib.use("Agg")


def net(plain=False, block="basic", depth=20, seed=0):
    torch.manual_seed(seed)
    return build_depth_net(depth, width=4, block=block, plain=plain).eval()


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 1, 12, 12, generator=g), torch.randint(0, 10, (16,), generator=g)


# --- lesions ---


def test_blocks_are_named_by_stage_and_the_downsampling_ones_are_found():
    names = [name for name, _ in blocks_of(net())]
    assert names == [f"b{s}.{i}" for s in (2, 3, 4) for i in range(3)]
    assert downsampling_names(net()) == downsampling_names(net(plain=True)) == ["b3.0", "b4.0"]


@pytest.mark.parametrize("block", ["basic", "preact", "bottleneck"])
def test_deleting_a_residual_block_keeps_shapes(block, batch):
    X, _ = batch
    full = net(block=block, depth=29 if block == "bottleneck" else 20)
    for name, _ in blocks_of(full):
        lesioned = delete_blocks(full, [name])
        assert lesioned(X).shape == full(X).shape == (16, 10)
    every = delete_blocks(full, [name for name, _ in blocks_of(full)])
    assert every(X).shape == (16, 10)


def test_deleting_a_plain_block_keeps_shapes_and_refuses_downsampling_blocks(batch):
    X, _ = batch
    plain = net(plain=True)
    for name in ["b2.0", "b3.1", "b4.2"]:
        assert delete_blocks(plain, [name])(X).shape == (16, 10)
    with pytest.raises(ValueError, match="changes the shape"):
        delete_blocks(plain, ["b3.0"])
    with pytest.raises(ValueError, match="no blocks named"):
        delete_blocks(plain, ["b9.9"])


def test_a_deleted_identity_block_passes_its_input_through_and_the_original_is_untouched(batch):
    X, _ = batch
    full = net()
    before = full(X)
    lesioned = delete_blocks(full, ["b2.1"])
    kept = lesioned.b2[1]
    assert isinstance(kept, ShortcutOnly)
    h = torch.relu(torch.randn(4, 4, 12, 12))  # a block's input is non-negative (after a ReLU)
    assert torch.equal(kept(h), h)
    assert torch.equal(full(X), before)  # delete_blocks worked on a copy
    assert torch.equal(delete_blocks(full, [])(X), before)


def test_single_and_random_deletions(batch):
    X, y = batch
    plain = net(plain=True)
    singles = single_deletions(plain, X, y)
    assert list(singles) == [name for name, _ in blocks_of(plain)]
    assert singles["b3.0"] is None and singles["b4.0"] is None
    assert all(0 <= a <= 1 for a in singles.values() if a is not None)
    curves = random_deletions(net(), X, y, draws=2, seed=3)
    assert sorted(curves) == list(range(8))  # 7 blocks keep the shape: k = 0..7
    assert len(curves[0]) == len(curves[7]) == 1 and len(curves[3]) == 2
    assert curves[0][0] == evaluate(net(), tensor_batches(X, y)).accuracy
    assert curves == random_deletions(net(), X, y, draws=2, seed=3)  # deterministic


def test_lesion_figures_and_panel(batch):
    X, y = batch
    nets = {"residual-20": net(), "plain-20": net(plain=True)}
    singles = {k: single_deletions(n, X, y) for k, n in nets.items()}
    randoms = {k: random_deletions(n, X, y, ks=[0, 1, 2], draws=1) for k, n in nets.items()}
    lesion_figure(singles, randoms, ["b3.0", "b4.0"])
    fig = lesion_view(nets, ["b3.0"], X, y)  # the plain twin cannot lose it: a note, no bar
    assert any("cannot" in t.get_text() for t in fig.axes[0].texts)
    panel = lesion_panel(nets, X, y)
    bundle = panel._repr_mimebundle_()
    assert "image/png" in bundle and "application/vnd.jupyter.widget-view+json" in bundle


def test_stochastic_depth_unwraps_to_the_same_test_time_function(batch):
    X, _ = batch
    wrapped = stochastic_depth_(net(), p_last=0.5).eval()
    before = wrapped(X)
    unwrapped = unwrap_(wrapped)
    assert not any(type(b).__name__ == "StochasticDepth" for _, b in blocks_of(unwrapped))
    assert torch.allclose(unwrapped(X), before, atol=1e-5)
    wrapped = stochastic_depth_(net(), p_last=1.0).train()
    assert wrapped(X).shape == (16, 10)


# --- paths ---


@pytest.mark.parametrize("n", [1, 3, 9, 27, 54])
def test_path_counts_sum_to_two_to_the_n(n):
    counts = path_counts(n)
    assert len(counts) == n + 1 and sum(counts) == 2**n
    assert counts == counts[::-1] and counts[1] == n


def test_path_gradients_of_the_all_shortcut_and_all_branch_paths(batch):
    X, y = batch
    residual = net()
    grads = path_gradients(residual, X, y, samples=2)
    assert sorted(grads) == list(range(10)) and all(math.isfinite(g) and g >= 0 for g in grads.values())
    share = gradient_by_length(grads)
    assert sum(share.values()) == pytest.approx(1)
    paths_figure(grads)
    with pytest.raises(ValueError, match="residual network"):
        path_gradients(net(plain=True), X, y)


@pytest.mark.parametrize("block", ["basic", "preact"])
def test_the_gradients_of_all_2_to_the_n_paths_add_up_to_the_full_gradient(block, batch):
    """The backward pass is linear in the gradient, so summing the gradient of every path (every
    subset of branches) gives the full network's gradient at the first block's input."""
    X, y = batch
    model = net(block=block, depth=14 if block == "basic" else 8)
    unrolled = unroll(model, X, y)
    n = len(unrolled["saved"])
    total = sum(
        path_gradient(unrolled, set(s)) for k in range(n + 1) for s in itertools.combinations(range(n), k)
    )
    h = model.b1(X).detach().requires_grad_()
    out = h
    for name, module in model.named_children():
        if name != "b1":
            out = module(out)
    (full,) = torch.autograd.grad(torch.nn.functional.cross_entropy(out, y), h)
    torch.testing.assert_close(total, full, rtol=1e-4, atol=1e-7)


# --- loss landscapes ---


@pytest.mark.parametrize("block", ["basic", "preact"])
def test_a_filter_normalised_direction_has_each_filters_norm_equal_to_the_weights(block):
    model = net(block=block)
    direction = filter_normalized_direction(model, seed=1)
    for p, d in zip(model.parameters(), direction, strict=True):
        assert d.shape == p.shape
        if p.dim() <= 1:
            assert not d.any()  # BN parameters and biases are not perturbed
        else:
            torch.testing.assert_close(d.flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1))
    again = filter_normalized_direction(model, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(direction, again, strict=True))


def test_loss_along_is_the_loss_at_zero_and_leaves_the_network_alone(batch):
    X, y = batch
    model = net()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    d1, d2 = filter_normalized_direction(model, 0), filter_normalized_direction(model, 1)
    line = loss_along(model, X, y, [d1], [-0.5, 0.0, 0.5])
    grid = loss_along(model, X, y, [d1, d2], [-0.5, 0.0, 0.5], [0.0, 0.5])
    full = evaluate(model, tensor_batches(X, y)).loss
    assert line.shape == (3,) and grid.shape == (2, 3)
    assert line[1] == pytest.approx(full, rel=1e-5) and grid[0, 1] == pytest.approx(full, rel=1e-5)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    contour_figure({"residual-20": grid}, [-0.5, 0.0, 0.5], [0.0, 0.5])


def test_curvature_of_a_parabola_and_the_landscape_table(batch):
    alphas = [x / 4 for x in range(-4, 5)]
    assert curvature(alphas, [3 * a * a + 1 for a in alphas]) == pytest.approx(6)
    X, y = batch
    nets = {"plain-20": net(plain=True), "residual-20": net()}
    slices = landscape_slices(nets, X, y, [-1, 0, 1], n_directions=2)
    assert slices["plain-20"].shape == (2, 3)
    table = landscape_table(slices, [-1, 0, 1])
    assert list(table.index) == ["plain-20", "residual-20"]
    assert {"curvature d²L/dα²", "basin width (median)"} <= set(table.columns)
    widths = basin_widths([-1, 0, 1], slices["plain-20"])
    assert table.loc["plain-20", "basin width (median)"] == pytest.approx(float(np.median(widths)))
    slices_figure(slices, [-1, 0, 1])


# --- residual responses ---


def test_residual_responses_measure_the_branch_before_the_addition(batch):
    X, _ = batch
    model = net()
    rows = residual_responses(model, X)
    assert [r["block"] for r in rows] == [name for name, _ in blocks_of(model)]
    first = model.b2[0]
    h = model.b1(X)
    assert rows[0]["response std"] == pytest.approx(first.branch(h).std().item(), rel=1e-5)
    assert rows[0]["shortcut std"] == pytest.approx(h.std().item(), rel=1e-5)
    plain_rows = residual_responses(net(plain=True), X)
    assert "shortcut std" not in plain_rows[0]
    assert model.training is False
    table = deletion_vs_response({r["block"]: 0.5 for r in rows}, 0.6, rows)
    assert table["accuracy lost"].tolist() == pytest.approx([0.1] * len(rows))
    responses_figure({"residual-20": rows, "plain-20": plain_rows})


# --- the cache ---


def test_twins_are_trained_once_then_read_back(tmp_path):
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(64, 1, 8, 8, generator=g), torch.randint(0, 10, (64,), generator=g)
    kwargs = dict(key="test", folder=tmp_path, width=2, batch_size=16, progress=False)
    first = cached_twins([8], X, y, steps=3, **kwargs)
    assert first["loaded"] == []
    state = load_checkpoint(checkpoint_path(tmp_path, "test", "residual-8"))
    assert state["format"] == CHECKPOINT_FORMAT and len(state["history"]["loss"]) == 3
    assert state["kind"] == "lesson-net"  # one layout, marked: not a trainer checkpoint
    again = cached_twins([8], X, y, steps=3, **kwargs)
    assert again["loaded"] == [("plain", 8), ("residual", 8)]
    for key in first["nets"]:
        assert torch.equal(first["nets"][key](X), again["nets"][key](X))
    other = cached_twins([8], X, y, steps=4, **kwargs)  # other settings: trained again
    assert other["loaded"] == []
    _, losses, loaded = cached_net(
        "x", lambda: build_depth_net(8, 2), X, y, 2, "test", tmp_path, batch_size=16
    )
    assert not loaded and len(losses) == 2


def tiny_data(seed, n=64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_another_data_subset_of_the_same_size_is_not_read_from_the_cache(tmp_path):
    """Bug 7: the key left out the data's seed and subset, so a network trained on other images
    (same count, same shape) was read back as if it had been trained on these."""
    kwargs = dict(key="test", folder=tmp_path, width=2, batch_size=16, progress=False)
    first = cached_twins([8], *tiny_data(0), steps=2, **kwargs)
    other = cached_twins([8], *tiny_data(1), steps=2, **kwargs)  # another subset: trained again
    assert first["loaded"] == [] and other["loaded"] == []
    again = cached_twins([8], *tiny_data(1), steps=2, **kwargs)
    assert again["loaded"] == [("plain", 8), ("residual", 8)]


def test_the_cache_key_holds_the_training_defaults_and_the_architecture(tmp_path):
    X, y = tiny_data(0)
    args = ("net", None, X, y, 2, "test", tmp_path)
    cached_net(args[0], lambda: build_depth_net(8, 2), *args[2:], batch_size=16, progress=False)
    state = load_checkpoint(checkpoint_path(tmp_path, "test", "net"))
    assert {"lr", "momentum", "weight_decay", "one_cycle", "batch_size", "seed", "steps"} <= set(
        state["config"]
    )
    # the same name, another network (width 3): not the cached one
    _, _, loaded = cached_net("net", lambda: build_depth_net(8, 3), *args[2:], batch_size=16, progress=False)
    assert not loaded
    _, _, loaded = cached_net("net", lambda: build_depth_net(8, 3), *args[2:], batch_size=16, progress=False)
    assert loaded


def test_a_trainer_checkpoint_under_the_cache_name_is_not_taken_for_a_cached_network(tmp_path):
    X, y = tiny_data(0)
    kwargs = dict(batch_size=16, progress=False)
    cached_net("net", lambda: build_depth_net(8, 2), X, y, 2, "test", tmp_path, **kwargs)
    path = checkpoint_path(tmp_path, "test", "net")
    state = load_checkpoint(path)
    del state["kind"]  # what a trainer checkpoint with the same config would look like
    save_checkpoint(path, state)
    _, _, loaded = cached_net("net", lambda: build_depth_net(8, 2), X, y, 2, "test", tmp_path, **kwargs)
    assert not loaded


def rng_states():
    return torch.get_rng_state(), random.getstate()


def test_no_helper_changes_the_callers_random_generators(tmp_path, batch):
    """Bug 8: cached_net reseeded torch's global generator (torch.manual_seed)."""
    X, y = batch
    torch.manual_seed(123)
    random.seed(123)
    residual = net()  # built before the snapshot: `net` itself seeds
    calls = {
        "cached_net": lambda: cached_net(
            "sd",
            lambda: stochastic_depth_(build_depth_net(8, 2), 0.5),
            X,
            y,
            2,
            "t",
            tmp_path,
            batch_size=8,
            progress=False,
        ),
        "cached_twins": lambda: cached_twins(
            [8], X, y, 2, "t", tmp_path, width=2, batch_size=8, progress=False
        ),
        "random_deletions": lambda: random_deletions(residual, X, y, ks=[0, 2], draws=2),
        "path_gradients": lambda: path_gradients(residual, X, y, samples=2),
        "filter_normalized_direction": lambda: filter_normalized_direction(residual, seed=1),
        "landscape_slices": lambda: landscape_slices({"r": residual}, X, y, [0.0, 0.5]),
    }
    for name, call in calls.items():
        torch_before, python_before = rng_states()
        call()
        torch_after, python_after = rng_states()
        assert torch.equal(torch_before, torch_after), f"{name} changed torch's generator"
        assert python_before == python_after, f"{name} changed Python's random generator"


# --- The printed conclusions: numbers in, the notebook's saved English (and its Chinese) out --------
# Each case calls a wording function with the numbers behind a saved output of notebook 06 (profile
# cpu); the English is that output, copied.

ACC = {"plain-20": 0.685, "residual-20": 0.793, "plain-56": 0.308, "residual-56": 0.781}
AFTER_ONE = {"residual-20": 0.635, "plain-20": 0.127}
NAMES = ["b2.0", "b2.1", "b2.2", "b3.0", "b3.1", "b3.2", "b4.0", "b4.1", "b4.2"]
LESIONS = {
    "residual-20": dict(
        intact=0.793,
        median=11.1,
        mean=19.6,
        blocks=9,
        costliest={"b2.0": 60.2, "b4.0": 42.9, "b3.0": 22.5, "b4.1": 14.0, "b2.1": 11.1},
        recalibrated=(2.0, 3.3),
    ),
    "plain-20": dict(
        intact=0.685,
        median=57.5,
        mean=55.8,
        blocks=7,
        costliest={"b4.2": 63.5, "b2.0": 60.5, "b3.1": 58.1, "b2.2": 57.5, "b4.1": 57.0},
    ),
    "residual-56": dict(
        intact=0.781,
        median=2.8,
        mean=6.9,
        blocks=27,
        costliest={"b2.0": 50.4, "b2.1": 38.7, "b3.0": 17.2, "b2.2": 13.6, "b2.4": 8.2},
        recalibrated=(1.1, 2.3),
    ),
}


def landscape_rows():
    """The plain-56 and residual-56 rows of the notebook's landscape table (the columns the text reads)."""
    import pandas as pd

    columns = ["loss at the weights", "basin width (median)", "loss at α = ±max (median)", "|λmin / λmax|"]
    values = [[1.760, 0.63, 146, 0.0083], [0.512, 0.34, 6.55, 0.009]]
    table = pd.DataFrame(values, ["plain-56", "residual-56"], columns)
    return table.loc["plain-56"], table.loc["residual-56"]


def by_kind(downsampling_lost, other_lost, downsampling_ratio, other_ratio):
    """`deletion_vs_response`'s table grouped by "downsampling", as notebook 06 makes it."""
    import pandas as pd

    return pd.DataFrame(
        {
            "accuracy lost": {False: other_lost, True: downsampling_lost},
            "response / shortcut": {False: other_ratio, True: downsampling_ratio},
        }
    ).rename_axis("downsampling")


WORDING = {
    # cell 3
    "setup_summary": lambda: setup_summary("cpu", 14, 10_000, 1_000, (20, 56), 8, 250, 64),
    # cell 5
    "twins_report": lambda: twins_report(ACC, (20, 56), 1000, 91.2, read_back=False),
    # cell 7 (its residual network, then the last line)
    "deletion_shapes": lambda: (
        deletion_shapes("plain", NAMES, ["b3.0", "b4.0"], {(2, 10)})
        + "\n"
        + all_but_downsampling_shape((2, 10))
    ),
    # cell 10
    "single_deletion_report": lambda: single_deletion_report(LESIONS, {"plain-20": 0.05}, AFTER_ONE),
    "critical_blocks_report": lambda: (
        critical_blocks_report(
            "residual-56",
            ["b2.0", "b2.1", "b2.2", "b2.4", "b4.1", "b4.6"],
            25,
            {k: chance_to_miss(25, 6, k) for k in (2, 4, 8)},
        )
        + "\n"
        + random_deletion_caption(20, 56, 20)
    ),
    # cell 12
    "deletion_vs_response_report": lambda: deletion_vs_response_report(
        "residual-56", by_kind(0.111, 0.066, 0.32, 0.55), 0.45, 0.12, 27, 18, largest="b2.0", costliest="b2.0"
    ),
    # cell 17 (the first stage, the first and the last number of swaps)
    "stage_lines": lambda: "\n".join(
        [
            stage_deletion_line("b2", 4, 9, 66.6, 37.9, 69.1, 20, all_lost=69.1),
            reordering_line(1, 0.7, -0.4, 11.2, 20),
            reordering_line(16, 60.7, 5.9, 69.1, 20),
        ]
    ),
    # cell 20 (the first and the last depth)
    "path_count_line": lambda: "\n".join(
        [path_count_line(8, 3, 8, True, 1, 0.5), path_count_line(110, 54, 2**54, True, 27, 0.446)]
    ),
    # cell 23 (the trained network)
    "path_share_report": lambda: path_share_report(
        "residual-56",
        "trained",
        27,
        100,
        0.5,
        0.9991,
        (0.9988, 0.9993),
        0.003,
        0.52,
        (0.45, 0.60),
        lengths=(np.int64(3), np.int64(10)),
        ratio=0.3,
    ),
    # cell 25
    "direction_check": lambda: direction_check(True, 550, 17_610),
    # cell 27
    "slices_caption": lambda: slices_caption(6, 17, 256),
    # cell 30 (depth 56)
    "landscape_report": lambda: landscape_report(56, *landscape_rows()),
    # cell 33
    "response_report": lambda: response_report(
        (20, 56),
        {"residual-20": 0.990, "plain-20": 1.026, "residual-56": 0.987, "plain-56": 1.026},
        {"residual-20": 0.986, "residual-56": 0.529},
        {"residual-20": 1.228, "residual-56": 0.703},
        {"residual-20": 0.979, "residual-56": 0.971},
    ),
    # cell 35, numbered as the cell prints it
    "findings": lambda: "\n".join(
        [
            "1. " + lesion_finding("residual-56", 2.8, 6.9, AFTER_ONE, ACC),
            "2. " + path_finding("residual-56", 0.9991, 0.5, 0.52, (0.45, 0.60)),
            "3. " + landscape_finding(56, *landscape_rows()),
            "4. " + response_finding(20, 56, trained=(0.986, 0.529), initial=(1.228, 0.703)),
        ]
    ),
    # cell 37
    "kept_after_one": lambda: kept_after_one("pre-activation-20", 0.808, 0.681, course_kept=0.635 / 0.793),
    # cell 39
    "zero_init_accuracy": lambda: zero_init_accuracy(0.758, 0.793),
    # cell 41 (the stochastic-depth network, then the last line)
    "kept_curve": lambda: (
        kept_curve("stochastic-20", 0.723, dict(enumerate([1.0, 0.84, 0.58, 0.43, 0.29, 0.31, 0.23, 0.22])))
        + "\n"
        + run_time(7.4, "cpu")
    ),
}

ENGLISH = {
    "setup_summary": (
        "profile cpu: images 14x14, 10,000 for training, 1,000 for testing\n"
        "twins of depths (20, 56), width 8, 250 steps of 64 images"
    ),
    "twins_report": (
        "4 networks trained (and cached) in 91 s; test accuracy on 1,000 images:\n"
        "  depth  20: plain 68.5%, residual 79.3%\n"
        "  depth  56: plain 30.8%, residual 78.1%"
    ),
    "deletion_shapes": (
        "plain   : 9 blocks ['b2.0', 'b2.1', 'b2.2', 'b3.0', 'b3.1', 'b3.2', 'b4.0', 'b4.1', "
        "'b4.2']\n"
        "          downsampling ['b3.0', 'b4.0']; output shapes after one deletion: {(2, 10)}\n"
        "residual, all but the downsampling blocks deleted: (2, 10)"
    ),
    "single_deletion_report": (
        "Points of test accuracy lost when one block is deleted (every block that can be):\n"
        "  residual-20 (79.3% intact): median 11.1, mean 19.6 over 9 blocks; the costliest: b2.0 "
        "60.2, b4.0 42.9, b3.0 22.5, b4.1 14.0, b2.1 11.1\n"
        "              with BN's statistics re-estimated after the deletion: median 2.0, mean "
        "3.3\n"
        "  plain-20 (68.5% intact): median 57.5, mean 55.8 over 7 blocks; the costliest: b4.2 "
        "63.5, b2.0 60.5, b3.1 58.1, b2.2 57.5, b4.1 57.0\n"
        "  residual-56 (78.1% intact): median 2.8, mean 6.9 over 27 blocks; the costliest: b2.0 "
        "50.4, b2.1 38.7, b3.0 17.2, b2.2 13.6, b2.4 8.2\n"
        "              with BN's statistics re-estimated after the deletion: median 1.1, mean "
        "2.3\n"
        "  plain-20's lowest accuracy after one deletion: 5.0% (chance 10%: a wrong network can "
        "be below it)\n"
        "k = 1 of the random-deletion table below is the mean over the shape-keeping blocks: "
        "residual-20 63.5%, plain-20 12.7%"
    ),
    "critical_blocks_report": (
        "residual-56: 6 of its 25 shape-keeping blocks cost more than 5 points each (b2.0, b2.1, "
        "b2.2, b2.4, b4.1, b4.6);\n"
        "  k = 2 random deletions miss all of them with probability 57%\n"
        "  k = 4 random deletions miss all of them with probability 31%\n"
        "  k = 8 random deletions miss all of them with probability 7%\n"
        "mean test accuracy (%) after deleting k blocks (all subsets for depth 20, 20 random "
        "draws per k for depth 56):"
    ),
    "deletion_vs_response_report": (
        "residual-56: mean accuracy lost when deleting\n"
        "  a downsampling block  11.1% (its response/shortcut: 0.32)\n"
        "  another block          6.6% (its response/shortcut: 0.55)\n"
        "  rank correlation of accuracy lost with response/shortcut over all 27 blocks: +0.45; "
        "outside the first stage (18 blocks): +0.12\n"
        "  -> here deleting a downsampling block costs more than deleting another block,\n"
        "     and blocks with a larger response relative to their shortcut tend to cost more;\n"
        "     the largest response/shortcut is block b2.0, the costliest to delete is block b2.0."
    ),
    "stage_lines": (
        "stage b2: deleting 4 of its 9 shape-keeping blocks costs 66.6 points (median of 20 "
        "draws; range 37.9 to 69.1); all 9: 69.1\n"
        " 1 random swaps within stages: 0.7 points lost (median of 20; range -0.4 to 11.2)\n"
        "16 random swaps within stages: 60.7 points lost (median of 20; range 5.9 to 69.1)"
    ),
    "path_count_line": (
        "ResNet-8: n = 3 blocks, sum of C(n, k) = 8 = 2^3: True; most paths have length 1; "
        "shorter than n/2: 50.0%\n"
        "ResNet-110: n = 54 blocks, sum of C(n, k) = 18,014,398,509,481,984 = 2^54: True; most "
        "paths have length 27; shorter than n/2: 44.6%"
    ),
    "path_share_report": (
        "residual-56 trained (27 blocks, 100 sampled paths per length), share of the summed "
        "gradient magnitude:\n"
        "  paths shorter than n/2 = 13.5 (50% of the paths): 99.91% (90% bootstrap interval "
        "99.88% to 99.93%)\n"
        "  paths of length at most n/4 = 6.75 (0.30% of the paths): 52% (interval 45% to 60%)\n"
        "  90% of it comes from paths of lengths 3 to 10; each branch on a path multiplies its "
        "gradient by about 0.3 (a fit of log norm against k)"
    ),
    "direction_check": (
        "every filter: |‖d[i]‖ / ‖w[i]‖ - 1| < 1e-5: True\n"
        "parameters of BN layers and biases, left at 0 in the direction: 550 of 17,610"
    ),
    "slices_caption": "6 directions x 17 points per slice, 256 training images",
    "landscape_report": (
        "depth  56: loss at the weights plain 1.760, residual 0.512; median basin width plain "
        "0.63, residual 0.34; median loss at α = ±1 plain 146, residual 6.55; |λmin/λmax| plain "
        "0.0083, residual 0.009\n"
        "           the plain network sits in the wider basin (by the doubling criterion); the "
        "plain network's walls reach higher at α = ±1"
    ),
    "response_report": (
        "depth  20: mean response std: residual 0.990, plain 1.026; residual response / shortcut "
        "0.986\n"
        "depth  56: mean response std: residual 0.987, plain 1.026; residual response / shortcut "
        "0.529\n"
        "mean |BN scale| of the branches' last BN: residual-20 0.979, residual-56 0.971 (initial "
        "value 1)\n"
        "From 20 to 56 layers the mean response std fell by 0% (0.990 -> 0.987);\n"
        "relative to the shortcut, it fell by 46% (0.986 -> 0.529) in the trained networks;\n"
        "at initialisation (BN with the data's statistics) the same ratio goes 1.228 -> 0.703, a "
        "fall of 43% (trained: 46%); training changed it by a factor 0.80 at depth 20, 0.75 at "
        "depth 56."
    ),
    "findings": (
        "1. lesions: residual-56: median 2.8, mean 6.9 points lost per single deletion; "
        "residual-20 keeps 63.5% (of 79.3%), plain-20 12.7% (of 68.5%; chance 10%)\n"
        "2. paths: in residual-56, paths shorter than n/2 carry 99.91% of the summed gradient "
        "magnitude (50% of the paths); length at most n/4: 52% (90% interval 45% to 60%)\n"
        "3. landscapes at depth 56: median basin width plain 0.63, residual 0.34; median loss at "
        "α = ±1 plain 146, residual 6.55; |λmin/λmax| plain 0.0083, residual 0.009\n"
        "4. responses: response / shortcut trained 0.986 -> 0.529, at initialisation 1.228 -> "
        "0.703 (depth 20 -> 56)"
    ),
    "kept_after_one": (
        "pre-activation-20: 80.8% intact, 68.1% after one deletion (84% kept; the course's block: 80% kept)"
    ),
    "zero_init_accuracy": "test accuracy: zero-initialised 75.8%, default 79.3%",
    "kept_curve": (
        "stochastic-20   intact 72.3%; kept after k deletions:\n"
        "   k=0: 100%, k=1: 84%, k=2: 58%, k=3: 43%, k=4: 29%, k=5: 31%, k=6: 23%, k=7: 22%\n"
        "this notebook ran in 7.4 min (profile cpu)"
    ),
}

CHINESE = {
    "setup_summary": (
        "档位 cpu：图像 14×14，训练用 10,000 张，测试用 1,000 张\n"
        "孪生网络的深度 (20, 56)，宽度 8，训练 250 步，每步 64 张图像"
    ),
    "twins_report": (
        "4 个网络训练完毕（并已缓存），用时 91 秒；在 1,000 张图像上的测试精度：\n"
        "  深度  20：普通网络 68.5%，残差网络 79.3%\n"
        "  深度  56：普通网络 30.8%，残差网络 78.1%"
    ),
    "deletion_shapes": (
        "plain   ：9 个块 ['b2.0', 'b2.1', 'b2.2', 'b3.0', 'b3.1', 'b3.2', 'b4.0', 'b4.1', "
        "'b4.2']\n"
        "          下采样块 ['b3.0', 'b4.0']；删除一个块后的输出形状：{(2, 10)}\n"
        "残差网络删除下采样块以外的所有块后：(2, 10)"
    ),
    "single_deletion_report": (
        "删除一个块时损失的测试精度（单位为百分点；每个能删除的块都试一遍）：\n"
        "  residual-20（完整时 79.3%）：9 个块上的中位数 11.1，均值 19.6；代价最大的：b2.0 "
        "60.2、b4.0 42.9、b3.0 22.5、b4.1 14.0、b2.1 11.1\n"
        "              删除后重新估计 BN 的统计量：中位数 2.0，均值 3.3\n"
        "  plain-20（完整时 68.5%）：7 个块上的中位数 57.5，均值 55.8；代价最大的：b4.2 "
        "63.5、b2.0 60.5、b3.1 58.1、b2.2 57.5、b4.1 57.0\n"
        "  residual-56（完整时 78.1%）：27 个块上的中位数 2.8，均值 6.9；代价最大的：b2.0 "
        "50.4、b2.1 38.7、b3.0 17.2、b2.2 13.6、b2.4 8.2\n"
        "              删除后重新估计 BN 的统计量：中位数 1.1，均值 2.3\n"
        "  plain-20 删除一个块后的最低精度：5.0%（随机猜测为 10%：出了错的网络可能低于它）\n"
        "下面随机删除表格中 k = 1 的一列是所有保持形状的块上的均值：residual-20 63.5%、plain-20 "
        "12.7%"
    ),
    "critical_blocks_report": (
        "residual-56：它的 25 个保持形状的块中，有 6 个各自的代价超过 5 "
        "个百分点（b2.0、b2.1、b2.2、b2.4、b4.1、b4.6）；\n"
        "  k = 2 次随机删除全部避开它们的概率为 57%\n"
        "  k = 4 次随机删除全部避开它们的概率为 31%\n"
        "  k = 8 次随机删除全部避开它们的概率为 7%\n"
        "删除 k 个块后的平均测试精度（%；深度 20 试遍所有子集，深度 56 每个 k 随机抽取 20 次）："
    ),
    "deletion_vs_response_report": (
        "residual-56：删除以下块时平均损失的精度\n"
        "  一个下采样块  11.1%（它的响应/捷径：0.32）\n"
        "  其他块         6.6%（它的响应/捷径：0.55）\n"
        "  在全部 27 个块上，损失的精度与响应/捷径的秩相关系数：+0.45；第一个阶段之外（18 "
        "个块）：+0.12\n"
        "  -> 在这里，删除一个下采样块的代价比删除其他块更大，\n"
        "     而相对于捷径响应更大的块，删除的代价往往也更大；\n"
        "     响应/捷径最大的是块 b2.0，删除代价最大的是块 b2.0。"
    ),
    "stage_lines": (
        "阶段 b2：删除它 9 个保持形状的块中的 4 个，损失 66.6 个百分点（20 次抽取的中位数；范围 "
        "37.9 到 69.1）；删除全部 9 个：69.1\n"
        " 1 次阶段内随机交换：损失 0.7 个百分点（20 次的中位数；范围 -0.4 到 11.2）\n"
        "16 次阶段内随机交换：损失 60.7 个百分点（20 次的中位数；范围 5.9 到 69.1）"
    ),
    "path_count_line": (
        "ResNet-8：n = 3 个块，C(n, k) 之和 = 8 = 2^3：True；数量最多的路径长度为 1；短于 n/2 "
        "的占 50.0%\n"
        "ResNet-110：n = 54 个块，C(n, k) 之和 = 18,014,398,509,481,984 = "
        "2^54：True；数量最多的路径长度为 27；短于 n/2 的占 44.6%"
    ),
    "path_share_report": (
        "residual-56 训练后（27 个块，每种长度抽样 100 "
        "条路径），各长度在梯度大小之和中所占的份额：\n"
        "  长度短于 n/2 = 13.5 的路径（占全部路径的 50%）：99.91%（90% 自助法区间 99.88% 到 "
        "99.93%）\n"
        "  长度至多为 n/4 = 6.75 的路径（占全部路径的 0.30%）：52%（区间 45% 到 60%）\n"
        "  其中 90% 来自长度为 3 到 10 的路径；路径每经过一个分支，梯度大约乘以 "
        "0.3（由对数范数关于 k 的拟合得到）"
    ),
    "direction_check": (
        "每个滤波器都满足 |‖d[i]‖ / ‖w[i]‖ - 1| < 1e-5：True\n"
        "方向中保持为 0 的 BN 层参数和偏置：17,610 个参数中的 550 个"
    ),
    "slices_caption": "6 个方向 × 每个切片 17 个点，256 张训练图像",
    "landscape_report": (
        "深度  56：权重处的损失为普通网络 1.760，残差网络 0.512；盆地宽度的中位数为普通网络 "
        "0.63，残差网络 0.34；α = ±1 处损失的中位数为普通网络 146，残差网络 6.55；|λmin/λmax| "
        "为普通网络 0.0083，残差网络 0.009\n"
        "           普通网络所处的盆地更宽（按损失翻倍的准则）；普通网络的谷壁在 α = ±1 处更高"
    ),
    "response_report": (
        "深度  20：平均响应标准差为残差网络 0.990，普通网络 1.026；残差网络的响应/捷径为 0.986\n"
        "深度  56：平均响应标准差为残差网络 0.987，普通网络 1.026；残差网络的响应/捷径为 0.529\n"
        "分支最后一个 BN 的 |拉伸参数| 的均值：residual-20 0.979、residual-56 0.971（初始值为 "
        "1）\n"
        "从 20 层到 56 层，平均响应标准差下降了 0%（0.990 -> 0.987）；\n"
        "在训练好的网络中，它相对于捷径的比值下降了 46%（0.986 -> 0.529）；\n"
        "初始化时（BN 使用数据的统计量），同一比值从 1.228 变为 0.703，下降了 "
        "43%（训练后：46%）；训练使它在深度 20 上变为初始化时的 0.80 倍，在深度 56 上变为 0.75 "
        "倍。"
    ),
    "findings": (
        "1. 删除实验：residual-56 每删除一个块损失的百分点，中位数 2.8，均值 6.9；residual-20 "
        "保留 63.5%（完整时 79.3%），plain-20 保留 12.7%（完整时 68.5%；随机猜测为 10%）\n"
        "2. 路径：在 residual-56 中，长度短于 n/2 的路径（占全部路径的 50%）承载了梯度大小之和的 "
        "99.91%；长度至多为 n/4 的路径：52%（90% 区间 45% 到 60%）\n"
        "3. 深度 56 的损失曲面：盆地宽度的中位数为普通网络 0.63，残差网络 0.34；α = ±1 "
        "处损失的中位数为普通网络 146，残差网络 6.55；|λmin/λmax| 为普通网络 0.0083，残差网络 "
        "0.009\n"
        "4. 残差响应：响应/捷径在训练后为 0.986 -> 0.529，初始化时为 1.228 -> 0.703（深度 20 -> "
        "56）"
    ),
    "kept_after_one": (
        "pre-activation-20：完整时 80.8%，删除一个块后 68.1%（保留 84%；课程的残差块：保留 80%）"
    ),
    "zero_init_accuracy": "测试精度：零初始化 75.8%，默认初始化 79.3%",
    "kept_curve": (
        "stochastic-20   完整时 72.3%；删除 k 个块后保留的比例：\n"
        "   k=0: 100%, k=1: 84%, k=2: 58%, k=3: 43%, k=4: 29%, k=5: 31%, k=6: 23%, k=7: 22%\n"
        "本笔记本运行了 7.4 分钟（档位 cpu）"
    ),
}


@pytest.mark.parametrize("name", WORDING)
def test_the_wording_prints_what_the_notebook_printed(name):
    assert WORDING[name]() == ENGLISH[name]


@pytest.mark.parametrize("name", WORDING)
def test_the_wording_speaks_chinese(name, english):
    set_language("zh", font=False)
    assert WORDING[name]() == CHINESE[name]


def test_the_conclusions_follow_the_numbers():
    """The other branch of each conclusion: cheaper downsampling blocks and no clear tendency; the
    residual twin in the wider basin with the higher walls; ratios that rise; twins read back."""
    text = deletion_vs_response_report(
        "residual-20", by_kind(0.1, 0.2, 0.5, 0.6), 0.3, 0.1, 9, 6, "b2.0", "b3.1"
    )
    assert "costs less than deleting another block," in text
    assert "do not clearly cost more;" in text
    rows = landscape_rows()
    wide = rows[1].copy()
    wide["basin width (median)"], wide["loss at α = ±max (median)"] = 1.0, 1000.0
    assert landscape_report(56, rows[0], wide).split("\n")[1] == (
        "           the residual network sits in the wider basin (by the doubling criterion); "
        "the residual network's walls reach higher at α = ±1"
    )
    text = response_report(
        (20, 56),
        {"residual-20": 1.0, "plain-20": 1.0, "residual-56": 1.1, "plain-56": 1.0},
        {"residual-20": 0.5, "residual-56": 0.6},
        {"residual-20": 0.5, "residual-56": 0.7},
        {"residual-20": 1.0, "residual-56": 1.0},
    )
    assert "std rose by 10%" in text and "it rose by 20%" in text and "a rise of 40% (trained: 20%)" in text
    assert twins_report(ACC, (20,), 1000, 3, read_back=True).startswith(
        "4 networks read back from checkpoints/ in 3 s; test accuracy on 1,000 images:"
    )
    assert path_share_report(
        "residual-56",
        "at initialisation",
        27,
        100,
        0.5,
        1.0,
        (1.0, 1.0),
        0.003,
        0.87,
        (0.86, 0.88),
        (1, 8),
        0.19,
    ).split("\n")[0] == (
        "residual-56 at initialisation (27 blocks, 100 sampled paths per length), "
        "share of the summed gradient magnitude:"
    )
