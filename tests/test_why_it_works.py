"""Notebook 06's helpers: lesions, paths, loss landscapes, residual responses, the cache."""

import itertools
import math
import random

import matplotlib
import numpy as np
import pytest
import torch

from resnet_helpers.lessons.why_it_works import (
    ShortcutOnly,
    basin_widths,
    blocks_of,
    cached_net,
    cached_twins,
    checkpoint_path,
    contour_figure,
    curvature,
    delete_blocks,
    deletion_vs_response,
    downsampling_names,
    filter_normalized_direction,
    gradient_by_length,
    landscape_slices,
    landscape_table,
    lesion_figure,
    lesion_panel,
    lesion_view,
    loss_along,
    path_counts,
    path_gradient,
    path_gradients,
    paths_figure,
    random_deletions,
    residual_responses,
    responses_figure,
    single_deletions,
    slices_figure,
    stochastic_depth_,
    unroll,
    unwrap_,
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
