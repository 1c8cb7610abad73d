"""Notebook 06's added measures, each on a case with a known answer: every subset of blocks, BN
statistics re-estimated, the chance to miss critical blocks, the bootstrap of path shares, the
Hessian's extreme eigenvalues by power iteration, and the basin width."""

import itertools
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from resnet_helpers.lessons.why_it_works import (
    all_deletions,
    basin_widths,
    blocks_of,
    bootstrap_share,
    chance_to_miss,
    delete_blocks,
    extreme_eigenvalues,
    gradient_by_length,
    hessian_extremes,
    path_gradient_samples,
    path_gradients,
    random_deletions,
    recalibrate_bn_,
    single_deletions,
)
from resnet_helpers.models import build_depth_net
from resnet_helpers.training.experiment import accuracy


def net(plain=False, depth=20, seed=0):
    torch.manual_seed(seed)
    return build_depth_net(depth, width=4, plain=plain).eval()


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 1, 12, 12, generator=g), torch.randint(0, 10, (16,), generator=g)


def test_all_deletions_enumerates_every_subset_and_k_1_is_the_single_deletions(batch):
    X, y = batch
    residual = net()
    curves = all_deletions(residual, X, y)
    assert sorted(curves) == list(range(8))  # 7 shape-keeping blocks
    assert [len(curves[k]) for k in range(8)] == [math.comb(7, k) for k in range(8)]
    singles = single_deletions(residual, X, y)
    candidates = [n for n, a in singles.items() if n not in ("b3.0", "b4.0")]
    assert curves[1] == [singles[n] for n in candidates]
    pair = list(itertools.combinations(candidates, 2))[4]
    assert curves[2][4] == accuracy(delete_blocks(residual, pair), X, y)
    with pytest.raises(ValueError, match="random_deletions"):
        all_deletions(net(depth=56), X, y)


def test_recalibrated_bn_statistics_are_the_exact_mean_and_variance_of_the_images():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3)).eval()
    X = torch.randn(40, 1, 6, 6) * 3 + 1
    recalibrate_bn_(model, X)
    with torch.no_grad():
        h = model[0](X)
    assert torch.allclose(model[1].running_mean, h.mean(dim=(0, 2, 3)), atol=1e-5)
    assert torch.allclose(model[1].running_var, h.var(dim=(0, 2, 3)), rtol=1e-5)  # unbiased, as BN's
    assert not model.training and model[1].momentum == 0.1


def test_single_deletions_with_recalibration_leave_the_network_alone(batch):
    X, y = batch
    residual = net()
    before = {k: v.clone() for k, v in residual.state_dict().items()}
    recal = single_deletions(residual, X, y, recalibrate=torch.randn(32, 1, 12, 12))
    assert set(recal) == {n for n, _ in blocks_of(residual)}
    assert all(torch.equal(v, before[k]) for k, v in residual.state_dict().items())


def test_chance_to_miss_matches_counting_and_simulation():
    assert chance_to_miss(24, 5, 8) == pytest.approx(math.comb(19, 8) / math.comb(24, 8))
    assert chance_to_miss(24, 5, 8) == pytest.approx(0.10, abs=0.01)  # the "about 10%"
    assert chance_to_miss(7, 0, 3) == 1 and chance_to_miss(7, 1, 7) == 0
    rng = random.Random(0)
    hits = sum(not set(rng.sample(range(24), 8)) & set(range(5)) for _ in range(20_000))
    assert hits / 20_000 == pytest.approx(chance_to_miss(24, 5, 8), abs=0.01)
    with pytest.raises(ValueError, match="critical"):
        chance_to_miss(5, 6, 1)


def test_path_gradient_samples_are_what_path_gradients_averages(batch):
    X, y = batch
    residual = net()
    samples = path_gradient_samples(residual, X, y, samples=3, seed=2)
    assert [len(v) for v in samples.values()] == [1] + [3] * 8 + [1]
    means = path_gradients(residual, X, y, samples=3, seed=2)
    assert means == pytest.approx({k: sum(v) / len(v) for k, v in samples.items()})


def test_bootstrap_share_of_identical_samples_is_a_point_and_brackets_the_estimate():
    n = 4
    constant = {k: [0.5**k] * 5 for k in range(n + 1)}
    exact = sum(v for k, v in gradient_by_length({k: 0.5**k for k in range(n + 1)}).items() if k <= 1)
    low, high = bootstrap_share(constant, lambda k, n: k <= 1, resamples=50)
    assert low == pytest.approx(exact) and high == pytest.approx(exact)
    rng = np.random.default_rng(0)
    noisy = {k: list(0.5**k * rng.lognormal(0, 1, 30)) for k in range(n + 1)}
    estimate = sum(
        v for k, v in gradient_by_length({k: np.mean(v) for k, v in noisy.items()}).items() if k <= 1
    )
    low, high = bootstrap_share(noisy, lambda k, n: k <= 1, resamples=400)
    assert low < estimate < high and high - low > 0.01


def test_lanczos_finds_both_ends_of_a_known_spectrum():
    """A quadratic form with known eigenvalues, two of them far apart and many clustered near 0 (as in
    a trained network's Hessian): both ends to the tolerance, in fewer products than power iteration."""
    rng = np.random.default_rng(0)
    values = np.concatenate([[3.0, -0.02], rng.uniform(-0.001, 0.01, 298)])
    Q, _ = np.linalg.qr(rng.standard_normal((300, 300)))
    A = Q @ np.diag(values) @ Q.T  # the same eigenvalues in another basis
    low, high, products = extreme_eigenvalues(lambda v: A @ v, 300, tol=1e-6)
    assert high == pytest.approx(3.0, rel=1e-5) and low == pytest.approx(-0.02, rel=1e-4)
    assert products < 600


def test_lanczos_refuses_to_guess_when_it_does_not_converge():
    from scipy.sparse.linalg import ArpackNoConvergence

    values = np.linspace(-1e-3, 1.0, 2000)  # no gap at either end
    with pytest.raises(ArpackNoConvergence):
        extreme_eigenvalues(lambda v: values * v, 2000, tol=1e-12, max_products=40)


def test_hessian_extremes_of_a_quadratic_loss_are_its_eigenvalues():
    """A linear model under a loss that is quadratic in its weights: cross-entropy is not, so a
    model whose logits are fixed up to a linear layer is checked against the Hessian computed by
    torch.autograd.functional.hessian instead."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 3))
    X, y = torch.randn(20, 1, 2, 3), torch.randint(0, 3, (20,))
    before = [p.detach().clone() for p in model.parameters()]
    low, high = hessian_extremes(model, X, y, tol=1e-8)

    def loss_of(w):
        return nn.functional.cross_entropy(X.flatten(1) @ w.view(3, 6).T + model[1].bias, y)

    H = torch.autograd.functional.hessian(loss_of, model[1].weight.detach().reshape(-1))
    eig = torch.linalg.eigvalsh(H)
    assert high == pytest.approx(eig[-1].item(), rel=1e-3)
    assert low == pytest.approx(eig[0].item(), abs=1e-3 * eig[-1].item())
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))


def test_basin_width_is_where_a_parabola_doubles():
    alphas = np.linspace(-1, 1, 41)
    # L = 1 + 4 a^2 doubles at |a| = 0.5; L = 1 + a^2 never doubles within 1 (a lower bound: 1)
    widths = basin_widths(alphas, [1 + 4 * alphas**2, 1 + alphas**2])
    assert widths == pytest.approx([0.5, 1.0], abs=0.01)
    lopsided = np.where(alphas > 0, 1 + 16 * alphas**2, 1 + alphas**2)
    assert basin_widths(alphas, lopsided) == pytest.approx([0.25], abs=0.01)  # the nearer side


def test_the_new_measures_leave_the_callers_random_generators_alone(batch):
    X, y = batch
    residual = net()
    torch.manual_seed(123)
    random.seed(123)
    before = torch.get_rng_state(), random.getstate()
    path_gradient_samples(residual, X, y, samples=2)
    hessian_extremes(residual, X, y, tol=1e-2)
    bootstrap_share({0: [1.0], 1: [0.5, 0.4], 2: [0.2]}, lambda k, n: k < 1, resamples=5)
    random_deletions(residual, X, y, ks=[1], draws=2)
    assert torch.equal(before[0], torch.get_rng_state()) and before[1] == random.getstate()


def test_reordering_swaps_blocks_and_swapping_back_restores_the_network(batch):
    from resnet_helpers.lessons.why_it_works import reorder_blocks

    X, _ = batch
    residual = net()
    swapped = reorder_blocks(residual, [("b2.1", "b2.2")])
    assert swapped.b2[1] is not residual.b2[1]  # a copy
    names = [n for n, _ in blocks_of(swapped)]
    assert names == [n for n, _ in blocks_of(residual)]
    with torch.no_grad():
        assert not torch.allclose(swapped(X), residual(X))
        back = reorder_blocks(swapped, [("b2.1", "b2.2")])
        assert torch.equal(back(X), residual(X))
    with pytest.raises(ValueError, match="b2.1 and b3.1"):
        reorder_blocks(residual, [("b2.1", "b3.1")])  # other stages: other shapes
    with pytest.raises(ValueError, match="b3.0"):
        reorder_blocks(residual, [("b3.0", "b3.1")])  # a downsampling block


def test_with_zeroed_branches_no_deletion_or_reordering_changes_anything(batch):
    """A known answer: every block the identity (its branch zeroed), so stages and order are moot."""
    from resnet_helpers.lessons.why_it_works import random_reorderings, stage_deletions

    X, y = batch
    residual = net()
    for _, block in blocks_of(residual):
        block.zero_init_last()
    full = accuracy(residual, X, y)
    stages = stage_deletions(residual, X, y, draws=2)
    assert list(stages) == ["b2", "b3", "b4"]  # 3 stages of 3 blocks; the 2 downsampling ones are kept
    assert {stage: sorted(curves) for stage, curves in stages.items()} == {
        "b2": [0, 1, 2, 3],
        "b3": [0, 1, 2],
        "b4": [0, 1, 2],
    }
    assert all(a == full for curves in stages.values() for accs in curves.values() for a in accs)
    reorders = random_reorderings(residual, X, y, ks=[0, 1, 3], draws=2)
    assert [len(reorders[k]) for k in (0, 1, 3)] == [1, 2, 2]
    assert all(a == full for accs in reorders.values() for a in accs)
