"""Why residual networks work (notebook 06), part 2: paths, loss landscapes, residual responses.

    counts = path_counts(27)                               # C(27, k) paths through k branches
    grads = path_gradients(net, X, y, samples=10)          # Veit et al. 2016: gradient per path length
    d = filter_normalized_direction(net, seed=1)           # Li et al. 2018, section 4
    losses = loss_along(net, X, y, [d], alphas)            # a 1-D slice through the trained weights
    grid = loss_along(net, X, y, [d1, d2], alphas, betas)  # a 2-D surface (contour plot)
    rows = residual_responses(net, X)                      # He et al. 2015, Fig. 7: std per block

Losses are measured in eval mode (BN uses its running statistics, which stay as trained) on a
fixed slice of the training set; the directions are zero on every BN parameter and bias.
"""

from __future__ import annotations

import copy
import math
import random

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..blocks import ResidualBlock
from ..measure import keep_modes
from ..training.loop import evaluate_loss
from .why_it_works import COLORS, blocks_of, is_downsampling, last_layer, shortcut_of

__all__ = [
    "path_counts",
    "unroll",
    "path_gradient",
    "path_gradients",
    "gradient_by_length",
    "paths_figure",
    "filter_normalized_direction",
    "loss_along",
    "landscape_slices",
    "curvature",
    "landscape_table",
    "slices_figure",
    "contour_figure",
    "residual_responses",
    "deletion_vs_response",
    "responses_figure",
]


def path_counts(n: int) -> list[int]:
    """How many of the 2^n paths through n residual blocks pass through k branches, k = 0..n."""
    return [math.comb(n, k) for k in range(n + 1)]


def unroll(net, X, y) -> dict:
    """One forward pass of the batch through `net` (a copy, in eval mode: BN uses its running
    statistics), kept block by block for `path_gradient`: each block's input, branch and shortcut
    outputs and ReLU mask, and the loss's gradient at the last block's output."""
    net = copy.deepcopy(net).eval()
    blocks = [block for _, block in blocks_of(net)]
    if not all(isinstance(b, ResidualBlock) for b in blocks):
        raise ValueError("path_gradients needs a residual network (its blocks have shortcuts).")
    h = net.b1(X)
    saved = []
    for block in blocks:
        x = h.detach().requires_grad_()
        b, s = block.branch(x), shortcut_of(block, x)
        mask = (b + s > 0) if block.post_activation else None
        saved.append((x, b, s, mask, block.projection is not None))
        h = F.relu(b + s) if block.post_activation else b + s
    top = h.detach().requires_grad_()
    out = top
    for name, module in net.named_children():
        if name != "b1" and module not in net.stages:
            out = module(out)
    (g_top,) = torch.autograd.grad(F.cross_entropy(out, y), top)
    return {"saved": saved, "g_top": g_top}


def path_gradient(unrolled: dict, through) -> torch.Tensor:
    """The gradient at the first block's input carried by one path: through the branch of the
    blocks numbered in `through` (0 = the first block), through the shortcut of all the others.
    Summed over all 2^n paths, these are the full gradient (the backward pass is linear)."""
    g = unrolled["g_top"]
    for i in reversed(range(len(unrolled["saved"]))):
        x, b, s, mask, projection = unrolled["saved"][i]
        if mask is not None:
            g = g * mask
        if i in through:
            (g,) = torch.autograd.grad(b, x, g, retain_graph=True)
        elif projection:
            (g,) = torch.autograd.grad(s, x, g, retain_graph=True)
    return g


def path_gradients(net, X, y, samples: int = 10, seed: int = 0) -> dict[int, float]:
    """{k: mean gradient norm at the first block's input carried by one path through k branches}.

    Veit et al. (2016), section 6: one forward pass of the batch through the whole network (in eval
    mode: BN uses its running statistics); then for each k, `samples` times, the backward pass goes
    through the branch of k random blocks and only through the shortcut of the others. The forward
    pass is the full network's; only the gradient's route changes (`unroll`, `path_gradient`:
    vector-Jacobian products block by block, so one forward pass serves every sample).
    """
    unrolled = unroll(net, X, y)
    n = len(unrolled["saved"])
    rng = random.Random(seed)
    result = {}
    for k in range(n + 1):
        norms = [
            path_gradient(unrolled, set(rng.sample(range(n), k))).norm().item()
            for _ in range(1 if k in (0, n) else samples)
        ]
        result[k] = sum(norms) / len(norms)
    return result


def gradient_by_length(grads: dict[int, float]) -> dict[int, float]:
    """{k: share of the total gradient carried by all paths of length k}: C(n, k) x the gradient of
    one such path (`path_gradients`), normalised to sum to 1."""
    n = max(grads)
    total = {k: math.comb(n, k) * g for k, g in grads.items()}
    s = sum(total.values())
    return {k: v / s for k, v in total.items()}


def paths_figure(grads: dict[int, float]):
    """Three panels against path length k: how many paths, the gradient one path carries, and
    the share of the total gradient all paths of length k carry."""
    import matplotlib.pyplot as plt

    n = max(grads)
    ks = list(range(n + 1))
    counts = path_counts(n)
    share = gradient_by_length(grads)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    axes[0].bar(ks, [c / 2**n for c in counts], color="gray")
    axes[0].set(title=f"paths of each length ({2**n:,} in all)", ylabel="share of the paths")
    axes[1].semilogy(ks, [grads[k] for k in ks], marker="o", color=COLORS["residual"])
    axes[1].set(title="gradient through one path", ylabel="gradient norm at the input (log)")
    axes[2].bar(ks, [share[k] for k in ks], color=COLORS["residual"])
    axes[2].set(title="share of the total gradient", ylabel="share of the gradient")
    for ax in axes:
        ax.axvline(n / 2, color="k", ls=":", lw=1, label=f"n/2 = {n / 2:g}")
        ax.set_xlabel("path length k (branches passed through)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def filter_normalized_direction(net: nn.Module, seed: int = 0) -> list[torch.Tensor]:
    """A random direction in weight space, one tensor per parameter of `net`, filter-normalised.

    Li, Xu, Taylor, Studer, Goldstein (2018), "Visualizing the Loss Landscape of Neural Nets": draw
    d from a Gaussian, then scale each filter d[i] (an output channel of a convolution, a row of a
    linear layer) to the norm of the same filter of the weights, ||d[i]|| = ||w[i]||. Parameters with
    one dimension (BN scales and shifts, biases) get 0: they are not perturbed.
    """
    g = torch.Generator().manual_seed(seed)
    direction = []
    for p in net.parameters():
        if p.dim() <= 1:
            direction.append(torch.zeros_like(p))
            continue
        d = torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device)
        w_norm = p.detach().flatten(1).norm(dim=1)
        d_norm = d.flatten(1).norm(dim=1)
        scale = (w_norm / (d_norm + 1e-10)).view(-1, *([1] * (p.dim() - 1)))
        direction.append(d * scale)
    return direction


@torch.no_grad()
def loss_along(net, X, y, directions, alphas, betas=None) -> np.ndarray:
    """Loss of `net` with weights w + a d1 (+ b d2), in eval mode on X, y.

    One direction: an array over `alphas`; two: a (len(betas), len(alphas)) grid. `net` is not
    changed (a copy is perturbed; its BN running statistics are the trained ones)."""
    model = copy.deepcopy(net).eval()
    params = list(model.parameters())
    base = [p.detach().clone() for p in params]
    betas = [0.0] if betas is None else betas
    if len(directions) == 1:
        directions = [directions[0], [torch.zeros_like(p) for p in params]]
    grid = np.zeros((len(betas), len(alphas)))
    for j, b in enumerate(betas):
        for i, a in enumerate(alphas):
            for p, w, d1, d2 in zip(params, base, *directions, strict=True):
                p.copy_(w + a * d1 + b * d2)
            grid[j, i] = evaluate_loss(model, X, y)
    return grid[0] if len(grid) == 1 else grid


def landscape_slices(nets: dict, X, y, alphas, n_directions: int = 2, seed: int = 0) -> dict:
    """{label: array (direction, alpha) of losses}: 1-D slices of each network ({label: net}) along
    `n_directions` filter-normalised directions (seeds seed, seed + 1, ...)."""
    return {
        label: np.stack(
            [
                loss_along(net, X, y, [filter_normalized_direction(net, seed + i)], alphas)
                for i in range(n_directions)
            ]
        )
        for label, net in nets.items()
    }


def curvature(alphas, losses, points: int | None = None) -> float:
    """Second derivative d²L/dα² at α = 0, from a parabola fitted to the `points` alphas nearest 0
    (default: the middle quarter of the slice, at least 3). Large: a sharp valley; near 0 or
    negative: flat, or not a minimum along this direction."""
    alphas = np.asarray(alphas, dtype=float)
    losses = np.asarray(losses, dtype=float)
    points = points or max(3, len(alphas) // 4 + 1)
    nearest = np.argsort(np.abs(alphas))[:points]
    a2 = np.polyfit(alphas[nearest], losses[nearest], 2)[0]
    return float(2 * a2)


def landscape_table(slices: dict, alphas):
    """A DataFrame, one row per network: the loss at the trained weights, the curvature there (mean
    over the directions), the sharpness (the mean rise of the loss over the whole slice, L(α) - L(0)
    averaged over α and directions) and the mean loss at the ends of the slices (α = ±max)."""
    import pandas as pd

    centre = int(np.argmin(np.abs(np.asarray(alphas))))
    rows = {
        label: {
            "loss at the weights": float(losses[:, centre].mean()),
            "curvature d²L/dα²": float(np.mean([curvature(alphas, row) for row in losses])),
            "sharpness (mean rise)": float((losses - losses[:, [centre]]).mean()),
            "loss at α = ±max": float(losses[:, [0, -1]].mean()),
        }
        for label, losses in slices.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def _color(label):
    return COLORS.get(label.split("-")[0])


def slices_figure(slices: dict, alphas):
    """One panel per depth: the 1-D slices (one line per direction) of the plain and residual twin."""
    import matplotlib.pyplot as plt

    depths = sorted({label.split("-")[1] for label in slices}, key=int)
    fig, axes = plt.subplots(1, len(depths), figsize=(5.5 * len(depths), 3.6), squeeze=False)
    for ax, depth in zip(axes[0], depths, strict=True):
        for label, losses in slices.items():
            if label.split("-")[1] != depth:
                continue
            for i, row in enumerate(losses):
                ax.plot(
                    alphas,
                    row,
                    color=_color(label),
                    alpha=1 if i == 0 else 0.5,
                    label=label if i == 0 else None,
                )
        ax.set(title=f"{depth} layers: 1-D slices", xlabel="α (step along a filter-normalised direction)",
               ylabel="training loss (cross-entropy)", yscale="log")  # fmt: skip
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.tight_layout()
    return fig


def contour_figure(surfaces: dict, alphas, betas, levels: int = 20):
    """Contour plots of 2-D surfaces ({label: grid from `loss_along`}), the same log-spaced contour
    levels and colours in every panel; the trained weights are the cross at (0, 0)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    low = max(min(float(s.min()) for s in surfaces.values()), 1e-3)
    high = max(float(s.max()) for s in surfaces.values())
    contour_levels = np.geomspace(low, max(high, 1.01 * low), levels)
    norm = LogNorm(contour_levels[0], contour_levels[-1])
    fig, axes = plt.subplots(
        1, len(surfaces), figsize=(5 * len(surfaces) + 1, 4.4), squeeze=False, layout="constrained"
    )
    for ax, (label, grid) in zip(axes[0], surfaces.items(), strict=True):
        cs = ax.contour(alphas, betas, grid, levels=contour_levels, cmap="viridis", norm=norm)
        ax.plot(0, 0, "k+", ms=12)
        ax.set(
            title=f"{label}: training loss",
            xlabel="α (direction 1)",
            ylabel="β (direction 2)",
            aspect="equal",
        )
    fig.colorbar(cs, ax=axes[0].tolist(), label="training loss (cross-entropy, log scale)", format="%.2g")
    return fig


@torch.no_grad()
def residual_responses(net, X) -> list[dict]:
    """One row per block (He et al. 2015, Fig. 7): the std of the branch's output (its last layer's
    output, before the addition: the residual response) over the images X, in eval mode. For a
    residual block also the std of its shortcut's output, and their ratio; `net` is not changed."""
    captured = {}
    hooks = []
    for name, block in blocks_of(net):
        hooks.append(
            last_layer(block).register_forward_hook(lambda m, i, o, n=name: captured.__setitem__(n, o))
        )
        if isinstance(block, ResidualBlock):
            hooks.append(
                block.register_forward_pre_hook(lambda m, i, n=name: captured.__setitem__(n + "/in", i[0]))
            )
    try:
        with keep_modes(net):
            net.eval()
            net(X)
    finally:
        for h in hooks:
            h.remove()
    rows = []
    for name, block in blocks_of(net):
        row = {
            "block": name,
            "downsampling": is_downsampling(block),
            "response std": captured[name].std().item(),
        }
        if isinstance(block, ResidualBlock):
            row["shortcut std"] = shortcut_of(block, captured[name + "/in"]).std().item()
            row["response / shortcut"] = row["response std"] / row["shortcut std"]
        rows.append(row)
    return rows


def deletion_vs_response(singles: dict, full_accuracy: float, responses: list[dict]):
    """A DataFrame, one row per block of a residual network: whether it downsamples, the accuracy
    lost when it alone is deleted (`single_deletions`, against `full_accuracy`), and its response
    relative to its shortcut (`residual_responses`)."""
    import pandas as pd

    rows = {
        r["block"]: {
            "downsampling": r["downsampling"],
            "accuracy lost": full_accuracy - singles[r["block"]],
            "response / shortcut": r["response / shortcut"],
        }
        for r in responses
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def responses_figure(responses: dict):
    """He et al. 2015, Fig. 7, block by block, input side first ({label: `residual_responses`}):
    left, the response std of every network; right, the residual networks' response relative to
    their shortcut's std."""
    import matplotlib.pyplot as plt

    from .why_it_works import line_style

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
    for label, rows in responses.items():
        style = dict(marker=".", label=label, **line_style(label, responses))
        left.plot(range(1, len(rows) + 1), [r["response std"] for r in rows], **style)
        if "response / shortcut" in rows[0]:
            right.plot(range(1, len(rows) + 1), [r["response / shortcut"] for r in rows], **style)
    left.set(title="response std (He et al. 2015, Fig. 7)", ylabel="std of the branch's last layer output")
    right.set(title="response relative to the shortcut", ylabel="std(branch) / std(shortcut)")
    for ax in (left, right):
        ax.set_xlabel("block (1 = next to the input)")
        ax.set_ylim(0, None)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
