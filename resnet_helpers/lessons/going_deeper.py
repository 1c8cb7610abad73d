"""Going deeper (notebook 05): gradient flow, a depth sweep, a 1000-layer network, ResNet-50/101/152.

Built on `training/experiment.py`: the plain and residual twins come from `build_depth_net` (the
same layers, with and without shortcuts), the training loop is `train_losses`, and the twins are
trained side by side and tested by `train_twins`. This module adds what notebook 05 measures:

    flows = gradient_flow(56, X, y)                   # ||dL/dW|| per weight layer, plain and residual
    flows = gradient_flow(56, X, y, init="he", batch_stats=False)  # He init, no BN: the other picture
    output_stds(56, X, init="he", batch_stats=False)  # std of the logits: a forward explosion?
    without_bn_table(train_without_bn([20, 56], X, y, X_test, y_test, 150, seeds=(0, 1, 2)))  # no BN
    tables = sweep_seeds([8, 20, 56], X, y, X_test, y_test, steps=150, seeds=(0, 1, 2))  # + spread
    twins_table(train_twins([8, 20, 56], X, y, X_test, y_test, steps=200))  # loss, accuracy per depth
    net = very_deep_net(1000)                          # ResNet-1004: 1,004 weight layers, pre-activation
    rows = bottleneck_family()                         # ResNet-50/101/152: depth, size, FLOPs, paper error
    bottleneck_vs_basic()                             # He et al. 2015, Fig. 5: 4x wider at a similar cost
    seconds = time_models(input_size=(1, 3, 224, 224)) # one forward + backward step of each, timed

The sentences the notebook prints about its results are worded here too (the last section), in the
language `set_language` chose: the cell measures, e.g. `print(gap_report(seeds_summary(tables)))`.
"""

from __future__ import annotations

import copy
import math
import statistics
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..blocks import Bottleneck, PreActResidual, Residual, ResidualBlock
from ..i18n import _, series
from ..measure import count_flops, count_params, count_weight_layers, weight_layers
from ..models import ResNetConfig, build_depth_net, build_resnet, model_name
from ..profiles import choose_device, synchronize
from ..training.experiment import KINDS, accuracy, final_loss, seeded, smooth, train_losses, train_twins
from .paper import PAPER_TOP1_ERROR

__all__ = [
    "INITS",
    "he_init_",
    "gradient_norms",
    "gradient_flow",
    "output_stds",
    "gradient_summary",
    "gradient_flow_figure",
    "Scale",
    "without_bn_",
    "NO_BN_VARIANTS",
    "train_without_bn",
    "without_bn_table",
    "input_gradient_correlation",
    "twins_table",
    "sweep_seeds",
    "seeds_summary",
    "sweep_figure",
    "very_deep_depth",
    "very_deep_net",
    "twins_figure",
    "compare_block_types",
    "step_seconds",
    "bottleneck_family",
    "bottleneck_vs_basic",
    "time_models",
    "scale_summary",
    "weight_layers_line",
    "logits_std_report",
    "correlation_report",
    "tensors_summary",
    "networks_trained",
    "gap_report",
    "variant_label",
    "without_bn_summary",
    "very_deep_report",
    "step_time_line",
    "training_estimate",
    "trained_in",
    "deep_twins_report",
    "bottleneck_summary",
    "family_report",
    "timing_report",
    "paper_quotes_report",
    "float32_overflow_report",
    "growth_line",
    "size_comparison",
    "parameter_breakdown",
    "throughput_report",
    "running_time",
]

CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess over the 10 classes
COLORS = {"plain": "tab:red", "residual": "tab:blue"}


# --- 1. Gradient flow at initialisation ---


INITS = ("pytorch", "he")  # PyTorch's default initialisation; He et al. 2015's (Kaiming normal)


@torch.no_grad()
def he_init_(net: nn.Module) -> nn.Module:
    """He (Kaiming) initialisation of every convolution of `net`, in place: weights drawn from
    N(0, 2 / fan_in) (He et al. 2015, "Delving Deep into Rectifiers"; the paper's ResNets use it),
    biases 0. The linear layer keeps PyTorch's default. Returns `net`."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                m.bias.zero_()
    return net


def _twin(depth, width, block, kind, in_channels, init, seed):
    """The `kind` twin of `depth` layers built from `seed` (both twins alike), with `init` applied."""
    if init not in INITS:
        raise ValueError(
            _("init={init!r} is not one of {inits}; use 'pytorch' (the default) or 'he'.").format(
                init=init, inits=INITS
            )
        )
    with seeded(seed):
        net = build_depth_net(depth, width, block, plain=kind == "plain", in_channels=in_channels)
        return he_init_(net) if init == "he" else net


def gradient_norms(
    net: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    batch_stats: bool = True,
    dtype=torch.float64,
    relative: bool = False,
) -> list[float]:
    """||dL/dW|| of every weight layer (in forward order) for one batch, at the current weights.

    - `batch_stats=True`: batch normalization normalises with the batch's own statistics, as
      during training.
    - `batch_stats=False`: it uses its running statistics instead, which at initialisation
      (mean 0, variance 1, scale 1, shift 0) make it the identity: the same network with
      its normalization switched off.
    - `relative=True`: ||dL/dW|| / ||W|| instead, the size of a gradient step relative to the
      weights it changes (with BN a layer's raw gradient scales as 1 / ||W||).

    Runs on a float64 copy (`dtype`), so a tiny gradient is not rounded to 0 and a huge one not
    to infinity as float32 would; `net` itself (weights, BN statistics, mode) is not changed.
    """
    model = copy.deepcopy(net).to(device=X.device, dtype=dtype)
    model.train(batch_stats)
    F.cross_entropy(model(X.to(dtype)), y).backward()
    layers = [layer for _name, layer in weight_layers(model)]
    if relative:
        return [(layer.weight.grad.norm() / layer.weight.norm()).item() for layer in layers]
    return [layer.weight.grad.norm().item() for layer in layers]


def gradient_flow(
    depth: int,
    X: torch.Tensor,
    y: torch.Tensor,
    width: int = 16,
    block: str = "basic",
    batch_stats: bool = True,
    seed: int = 0,
    init: str = "pytorch",
    relative: bool = False,
) -> dict[str, list[float]]:
    """{"plain": norms, "residual": norms}: `gradient_norms` of the two twins of `depth` layers,
    built from the same seed (the same initial weights; they differ only in the shortcuts).
    `init="he"`: the convolutions re-drawn with `he_init_` (the same draw for both twins)."""
    return {
        kind: gradient_norms(
            _twin(depth, width, block, kind, X.shape[1], init, seed), X, y, batch_stats, relative=relative
        )
        for kind in KINDS
    }


@torch.no_grad()
def output_stds(
    depth: int,
    X: torch.Tensor,
    width: int = 16,
    block: str = "basic",
    batch_stats: bool = True,
    seed: int = 0,
    init: str = "pytorch",
) -> dict[str, float]:
    """{"plain": std, "residual": std} of the logits of the twins `gradient_flow` measures, in
    float64 (the inputs have std about 1: a std of 1e3 is a forward explosion)."""
    stds = {}
    for kind in KINDS:
        model = _twin(depth, width, block, kind, X.shape[1], init, seed).to(
            device=X.device, dtype=torch.float64
        )
        model.train(batch_stats)
        stds[kind] = model(X.to(torch.float64)).std().item()
    return stds


def gradient_summary(flows: dict[str, list[float]], relative: dict[str, list[float]] | None = None):
    """A DataFrame, one row per network: the gradient norm at the first and the last weight layer,
    their ratio, and the spread (largest / smallest norm over all layers). With `relative` (the
    same networks' `gradient_flow(..., relative=True)`), the ratio and the spread of ||dL/dW|| / ||W||
    too."""
    import pandas as pd

    rows = {
        kind: {
            "layers": len(norms),
            "first layer": norms[0],
            "last layer": norms[-1],
            "first / last": norms[0] / norms[-1],
            "largest / smallest": max(norms) / min(norms),
        }
        for kind, norms in flows.items()
    }
    for kind, ratios in (relative or {}).items():
        rows[kind]["first / last of |g|/|W|"] = ratios[0] / ratios[-1]
        rows[kind]["largest / smallest of |g|/|W|"] = max(ratios) / min(ratios)
    return pd.DataFrame.from_dict(rows, orient="index")


def _panel_title(title: str) -> str:
    """A panel title notebook 05 passes to `gradient_flow_figure`, in the reader's language (any
    other title as given)."""
    known = {
        "no BN, PyTorch's default init": _("no BN, PyTorch's default init"),
        "no BN, He init": _("no BN, He init"),
        "BN with batch statistics (training mode)": _("BN with batch statistics (training mode)"),
    }
    return known.get(title, title)


def gradient_flow_figure(panels: dict[str, dict[str, list[float]]]):
    """One log-scale panel per entry of `panels` ({title: flows}): gradient norm against layer."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 3.8), squeeze=False)
    for ax, (title, flows) in zip(axes[0], panels.items(), strict=True):
        for kind, norms in flows.items():
            layers = range(1, len(norms) + 1)
            ax.semilogy(layers, norms, marker=".", color=COLORS.get(kind), label=f"{kind}-{len(norms)}")
        ax.set(title=_panel_title(title), xlabel=_("weight layer (1 = first, next to the input)"))
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    axes[0][0].set_ylabel(_("gradient norm ||dL/dW|| (log scale)"))
    fig.tight_layout()
    return fig


# --- Without batch normalization: He init explodes, SkipInit trains ---


class Scale(nn.Module):
    """x -> α·x with one learnable scalar α, starting at `value`: SkipInit's multiplier at the end of
    a residual branch (De & Smith 2020), α = 0 so that every block starts as the identity."""

    def __init__(self, value: float = 0.0):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(float(value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha * x


def _replace(net: nn.Module, old: nn.Module, new: nn.Module) -> None:
    for parent in net.modules():
        for name, child in parent.named_children():
            if child is old:
                setattr(parent, name, new)
                return
    raise ValueError(_("{layer} is not a layer of the network").format(layer=old))


def without_bn_(net: nn.Module, skipinit: bool = False) -> nn.Module:
    """`net` in place without batch normalization and with He-initialised convolutions (`he_init_`):
    every BatchNorm2d becomes nn.Identity; with `skipinit=True` the last one of each residual
    branch becomes a `Scale` starting at 0 instead (SkipInit), so each block starts as the identity
    mapping and learns how much of its branch to add. Post-activation blocks only (the course's
    `Residual`, `Bottleneck`), whose branch ends in a BN. Returns `net`."""
    he_init_(net)
    if skipinit:
        for block in [m for m in net.modules() if isinstance(m, ResidualBlock)]:
            last = block.last_layer()
            if not isinstance(last, nn.BatchNorm2d):
                raise ValueError(
                    _("{block}'s branch does not end in a BN: SkipInit here replaces that BN.").format(
                        block=type(block).__name__
                    )
                )
            _replace(block, last, Scale(0.0))
    for bn in [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]:
        _replace(net, bn, nn.Identity())
    return net


NO_BN_VARIANTS = ("BN (the course's block)", "no BN, He init", "no BN, SkipInit")


def train_without_bn(depths, X, y, X_test, y_test, steps: int, width: int = 16, seeds=(0,), **kwargs) -> dict:
    """Residual networks of each depth in the three `NO_BN_VARIANTS`, trained alike (`train_losses`
    with `kwargs`) once per seed: with BN (PyTorch's default initialisation, as elsewhere in the
    notebook), without BN under He init, and without BN under SkipInit. For one seed every variant
    starts from the same draws (the two without BN from the same He draws) and sees the same
    batches. Returns {"std": the logits' std at initialisation on X[:256], "histories", "accuracy"},
    each keyed by (variant, depth, seed)."""
    out = {"std": {}, "histories": {}, "accuracy": {}}
    for depth in depths:
        for variant in NO_BN_VARIANTS:
            for seed in seeds:
                with seeded(seed):  # the same draws for every variant: He init re-draws the same convolutions
                    net = build_depth_net(depth, width, in_channels=X.shape[1]).to(X.device)
                    if variant != NO_BN_VARIANTS[0]:
                        without_bn_(net, skipinit="SkipInit" in variant)
                key = variant, depth, seed
                with torch.no_grad():
                    out["std"][key] = net.train()(X[:256]).std().item()
                desc = f"{variant}, depth {depth}, seed {seed}"
                out["histories"][key] = train_losses(net, X, y, steps, seed=seed, desc=desc, **kwargs)
                out["accuracy"][key] = accuracy(net, X_test, y_test)
    return out


def without_bn_table(result: dict):
    """A DataFrame, one row per (variant, depth, seed) of `train_without_bn`: the logits' std at
    initialisation, the final training loss (mean of the last 10% of steps; NaN: the run diverged)
    and the test accuracy."""
    import pandas as pd

    rows = {
        key: {
            "logits std at init": result["std"][key],
            "final training loss": final_loss(result["histories"][key]),
            "test accuracy": result["accuracy"][key],
        }
        for key in result["histories"]
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["variant", "depth", "seed"]
    return table.sort_index()  # NO_BN_VARIANTS sort as listed; a sorted index is fast to select from


def input_gradient_correlation(
    net: nn.Module, start: torch.Tensor, end: torch.Tensor, points: int = 64, bn_images=None
):
    """Shattered gradients (Balduzzi et al. 2017): the mean correlation between the input gradients
    of neighbouring points on the line from the image `start` to the image `end` (`points` points).

    The gradient is that of the first logit with respect to the input, at each point, in float64.
    Near 1: the gradient changes smoothly along the line (a linear network gives exactly 1); near 0:
    it looks like white noise, which is what Balduzzi et al. find in deep plain networks with BN.
    BN in evaluation mode: with `bn_images`, its statistics are first re-estimated on those images
    (their batch statistics, as in training mode at initialisation), so every point passes the same
    function; `net` itself is not changed."""
    model = copy.deepcopy(net).to(device=start.device, dtype=torch.float64)
    if bn_images is not None:
        bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        model.train()
        with torch.no_grad():
            model(bn_images.to(torch.float64))
    model.eval()
    t = torch.linspace(0, 1, points, dtype=torch.float64, device=start.device).view(-1, 1, 1, 1)
    line = ((1 - t) * start.to(torch.float64) + t * end.to(torch.float64)).requires_grad_()
    (grads,) = torch.autograd.grad(model(line)[:, 0].sum(), line)  # the points are independent in eval mode
    g = grads.flatten(1)
    g = g - g.mean(dim=1, keepdim=True)
    g = g / g.norm(dim=1, keepdim=True)
    return (g[1:] * g[:-1]).sum(dim=1).mean().item()


# --- 2. and 3. Plain and residual twins trained side by side, with test accuracy ---


def twins_table(result: dict):
    """A DataFrame, one row per depth of a `train_twins` result: weight layers counted on the trained
    models, the final training loss (mean of the last 10% of steps) and the test accuracy of both twins."""
    import pandas as pd

    rows = {}
    for (kind, depth), net in result["nets"].items():
        row = rows.setdefault(depth, {"layers": count_weight_layers(net)})
        row[f"{kind} loss"] = final_loss(result["histories"][kind, depth])
        row[f"{kind} accuracy"] = result["accuracy"][kind, depth]
    columns = ["layers"] + [f"{k} {q}" for q in ("loss", "accuracy") for k in KINDS]
    table = pd.DataFrame.from_dict(rows, orient="index")[columns].sort_index()
    table.index.name = "depth"
    return table


def sweep_seeds(depths, X, y, X_test, y_test, steps: int, seeds=(0, 1, 2), **kwargs) -> dict:
    """`train_twins` once per seed (each seed: other initial weights and another batch order; the
    images stay the same). Returns {"tables": [twins_table per seed], "first": the first seed's
    `train_twins` result, "seconds"}."""
    start = time.perf_counter()
    tables, first = [], None
    for seed in seeds:
        result = train_twins(depths, X, y, X_test, y_test, steps, seed=seed, **kwargs)
        first = first or result
        tables.append(twins_table(result))
    return {"tables": tables, "first": first, "seconds": time.perf_counter() - start}


def seeds_summary(tables):
    """A DataFrame, one row per depth: the mean of every column of `tables` (one `twins_table` per
    seed), and for each gap residual - plain (loss and accuracy) its mean, smallest and largest."""
    import pandas as pd

    stacked = pd.concat(tables, keys=range(len(tables)), names=["seed", "depth"])
    out = stacked.groupby("depth").mean()
    for q in ("loss", "accuracy"):
        gap = (stacked[f"residual {q}"] - stacked[f"plain {q}"]).groupby("depth")
        out[f"{q} gap mean"], out[f"{q} gap min"], out[f"{q} gap max"] = gap.mean(), gap.min(), gap.max()
    out["seeds"] = len(tables)
    return out


def sweep_figure(tables):
    """Final training loss and test accuracy against depth, plain and residual: one `twins_table`
    or a list of them (one per seed): the mean drawn, each seed a dot, the bar its range."""
    import matplotlib.pyplot as plt
    import pandas as pd

    tables = [tables] if isinstance(tables, pd.DataFrame) else list(tables)
    depths = list(tables[0].index)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
    for kind in KINDS:
        for ax, q, scale in ((ax_loss, "loss", 1), (ax_acc, "accuracy", 100)):
            values = np.array([[scale * t.loc[d, f"{kind} {q}"] for d in depths] for t in tables])
            mean = values.mean(axis=0)
            spread = [mean - values.min(axis=0), values.max(axis=0) - mean]
            label = (
                kind
                if len(tables) == 1
                else _("{kind} (mean, range of {n} seeds)").format(kind=kind, n=len(tables))
            )
            ax.errorbar(depths, mean, yerr=spread, marker="o", color=COLORS[kind], capsize=4, label=label)
            for row in values:
                ax.scatter(depths, row, color=COLORS[kind], s=10, alpha=0.4)
    ax_loss.axhline(CHANCE_LOSS, color="gray", ls="--", lw=1, label=_("chance (ln 10)"))
    ax_acc.axhline(10, color="gray", ls="--", lw=1, label=_("chance (10%)"))
    ax_loss.set(title=_("final training loss (same budget)"), ylabel=_("cross-entropy"), ylim=(0, None))
    ax_acc.set(title=_("test accuracy"), ylabel=_("accuracy (%)"), ylim=(0, 100))
    for ax in (ax_loss, ax_acc):
        ax.set_xscale("log")
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.minorticks_off()
        ax.set_xlabel(_("depth (weight layers, log scale)"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def very_deep_depth(min_layers: int = 1000, block: str = "preact") -> int:
    """The smallest depth >= `min_layers` a 3-stage network of `block`s can have (6n + 2 or 9n + 2)."""
    per_stage = 3 * ResNetConfig(block=block).convs_per_block
    n = max(1, math.ceil((min_layers - 2) / per_stage))
    return per_stage * n + 2


def very_deep_net(min_layers: int = 1000, width: int = 4, block: str = "preact", plain: bool = False):
    """The narrowest network with at least `min_layers` weight layers: 1,004 for pre-activation blocks
    (167 per stage, widths 4, 8, 16), 1,001 for bottlenecks (ResNet-1001's layout, 111 per stage)."""
    return build_depth_net(very_deep_depth(min_layers, block), width, block, plain=plain)


def twins_figure(result: dict, depth: int):
    """Training loss of the plain and the residual twin of `depth` layers, test accuracy in the legend.

    A loss that turns NaN (the network's numbers overflowed) cannot be drawn: a dotted line marks
    the step where it happened."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for kind in KINDS:
        losses = result["histories"][kind, depth]
        label = _("{net}: test accuracy {accuracy:.1%}").format(
            net=f"{kind}-{depth}", accuracy=result["accuracy"][kind, depth]
        )
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), len(losses))
        ax.plot(losses[:bad], color=COLORS[kind], alpha=0.25)
        few = bad < 3  # e.g. a single finite loss before the NaNs: show it as a dot
        ax.plot(smooth(losses[:bad]), color=COLORS[kind], marker="o" if few else None, label=label)
        if bad < len(losses):
            ax.axvline(
                bad,
                color=COLORS[kind],
                ls=":",
                label=_("{net}: loss is NaN from step {step}").format(net=f"{kind}-{depth}", step=bad),
            )
    ax.axhline(CHANCE_LOSS, color="gray", ls="--", lw=1, label=_("chance (ln 10)"))
    finite = [v for k in KINDS for v in result["histories"][k, depth][:5] if math.isfinite(v)]
    top = min(max([CHANCE_LOSS, *finite]), 3 * CHANCE_LOSS)
    ax.set(
        title=_("{depth} weight layers, with and without shortcuts").format(depth=depth),
        xlabel=_("training step"),
        ylabel=_("training loss"),
        ylim=(0, top * 1.1),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


# --- 5. Pre-activation vs the original block, same budget ---


def compare_block_types(
    depth: int,
    X: torch.Tensor,
    y: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    steps: int,
    blocks=("basic", "preact"),
    width: int = 16,
    seed: int = 0,
    **train_kwargs,
):
    """Train a residual network of `depth` layers per block type on the same batches; a DataFrame
    (one row per block type: layers, parameters, final training loss, test accuracy) and the loss
    histories."""
    import pandas as pd

    rows, histories = {}, {}
    for block in blocks:
        with seeded(seed):
            net = build_depth_net(depth, width, block, in_channels=X.shape[1])
        histories[block] = train_losses(net, X, y, steps, seed=seed, desc=f"{block}-{depth}", **train_kwargs)
        rows[block] = {
            "layers": count_weight_layers(net),
            "params": count_params(net),
            "final training loss": final_loss(histories[block]),
            "test accuracy": accuracy(net, X_test, y_test),
        }
    return pd.DataFrame.from_dict(rows, orient="index"), histories


# --- 4. Bottlenecks: ResNet-50/101/152 measured ---


def step_seconds(net: nn.Module, input_size, repeats: int = 3, precision=None) -> float:
    """Median wall-clock seconds of one training step's forward and backward pass on `net`'s device
    (random images and labels of `input_size`, drawn from their own generator; one untimed warm-up
    step first). `precision`: a `Precision` from `choose_precision`, whose dtype (if any) the
    forward pass autocasts to. `synchronize` waits for the device's queued work before each reading
    of the clock (CUDA and MPS run asynchronously)."""
    p = next(net.parameters())
    g = torch.Generator().manual_seed(0)
    X = torch.randn(tuple(input_size), generator=g).to(p.device)
    y = torch.randint(0, net.fc.out_features, (X.shape[0],), generator=g).to(p.device)
    dtype = getattr(precision, "dtype", None)
    net.train()
    times = []
    for _step in range(repeats + 1):
        synchronize(p.device)
        start = time.perf_counter()
        with torch.autocast(p.device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(net(X), y)
        loss.backward()
        synchronize(p.device)
        times.append(time.perf_counter() - start)
        net.zero_grad(set_to_none=True)
    return statistics.median(times[1:])


def bottleneck_family(names=("resnet50", "resnet101", "resnet152")) -> list[dict]:
    """ResNet-50/101/152 at ImageNet's settings (3 channels, 1000 classes), built on the meta device:
    blocks per stage, depth counted on the model, parameters, FLOPs of one 224x224 image, and the
    paper's ImageNet top-1 error with its table."""
    paper = {model: (error, table) for model, error, table in PAPER_TOP1_ERROR}
    rows = []
    for name in names:
        title = model_name(name)
        with torch.device("meta"):
            net = build_resnet(name, in_channels=3, num_classes=1000)
        error, table = paper.get(title, (None, None))
        rows.append(
            {
                "model": title,
                "blocks": net.config.blocks,
                "depth": count_weight_layers(net),
                "params": count_params(net),
                "flops at 224": count_flops(net, (1, 3, 224, 224)),
                "paper top-1 error %": error,
                "source": f"He et al. 2015, {table}" if table else None,
            }
        )
    return rows


def bottleneck_vs_basic(size: int = 56) -> list[dict]:
    """He et al. 2015, Fig. 5: the basic block at 64 channels (3x3, 64; 3x3, 64) next to the
    bottleneck at a 256-channel interface (1x1, 64; 3x3, 64; 1x1, 256), on a `size` x `size` map:
    channels in and out, weight layers, parameters and FLOPs of one forward pass (one image)."""
    with seeded(0):
        blocks = {"basic, 64 channels": Residual(64, 64), "bottleneck, 256 channels": Bottleneck(256, 64)}
    rows = []
    for label, block in blocks.items():
        channels = block.branch_layers()[0].in_channels
        rows.append(
            {
                "block": label,
                "channels in and out": channels,
                "weight layers": block.convs_per_block,
                "params": count_params(block),
                "flops": count_flops(block, (1, channels, size, size)),
            }
        )
    return rows


def time_models(
    names=("resnet50", "resnet101", "resnet152"),
    input_size=(1, 3, 224, 224),
    repeats: int = 3,
    device=None,
    precision=None,
) -> dict[str, float]:
    """{model: seconds of one forward and backward step} (`step_seconds`) on `device` (default: the
    best available), each model built at ImageNet's settings and freed before the next."""
    device = torch.device(device) if device is not None else choose_device()
    seconds = {}
    for name in names:
        with seeded(0):
            net = build_resnet(name, in_channels=3, num_classes=1000).to(device)
        seconds[model_name(name)] = step_seconds(net, input_size, repeats, precision)
        del net
    return seconds


# --- What the notebook prints: its sentences, in the reader's language (i18n) ---
#
# One function per cell of notebook 05 that prints prose: the cell measures, the function words the
# result. English is the source (`_`): the text below is what the English notebook prints.


def scale_summary(
    profile,
    *,
    resolution: int,
    train_images: int,
    test_images: int,
    sweep_depths,
    width: int,
    steps: int,
    batch_size: int,
    seeds,
    deep_min_layers: int,
    deep_steps: int,
    deep_batch_size: int,
    deep_lr: float,
) -> str:
    """The run's scale under `profile` (setup cell): the data, the depth sweep, the very deep run."""
    return "\n".join(
        [
            _(
                "profile {profile}: images {resolution}x{resolution}, {train_images:,} for training, "
                "{test_images:,} for testing"
            ).format(
                profile=profile, resolution=resolution, train_images=train_images, test_images=test_images
            ),
            _(
                "sweep: depths {depths}, width {width}, {steps} steps of {batch_size} images, seeds {seeds}"
            ).format(depths=sweep_depths, width=width, steps=steps, batch_size=batch_size, seeds=seeds),
            _("very deep: at least {layers} layers, {steps} steps of {batch_size} images, lr {lr}").format(
                layers=deep_min_layers, steps=deep_steps, batch_size=deep_batch_size, lr=deep_lr
            ),
        ]
    )


def weight_layers_line(kind: str, names: list[str], counted: int) -> str:
    """One network's weight layers (`weight_layers`' names, in forward order) against
    `count_weight_layers`: how many, the first three and the last two names."""
    return _("{kind:<8}: {n} weight layers = count_weight_layers {counted}: {first} ... {last}").format(
        kind=kind, n=len(names), counted=counted, first=names[:3], last=names[-2:]
    )


def logits_std_report(stds: dict[str, dict[str, float]], depth: int) -> str:
    """One line per initialisation of {init: `output_stds` of the twins of `depth` layers, no BN}."""
    return "\n".join(
        _(
            "{init:>7} init, no BN: std of the logits  plain-{depth} {plain:.3g}, "
            "residual-{depth} {residual:.3g}"
        ).format(init=init, depth=depth, plain=s["plain"], residual=s["residual"])
        for init, s in stds.items()
    )


def correlation_report(correlations: dict[tuple[str, int], float]) -> str:
    """One line per depth of {(kind, depth): `input_gradient_correlation`}, plain and residual side
    by side (in the order of the dict)."""
    depths = list(dict.fromkeys(depth for _kind, depth in correlations))
    return "\n".join(
        _("correlation of neighbouring input gradients: {values}").format(
            values=series(f"{kind}-{d} {c:+.2f}" for (kind, d), c in correlations.items() if d == depth)
        )
        for depth in depths
    )


def tensors_summary(X: torch.Tensor, X_test: torch.Tensor) -> str:
    """The shapes of the training and the test images, and the device they are on."""
    return _("training images {train_shape}, test images {test_shape}, device {device}").format(
        train_shape=tuple(X.shape), test_shape=tuple(X_test.shape), device=X.device
    )


def networks_trained(count: int, seconds: float) -> str:
    """`count` networks trained in `seconds`."""
    return _("trained {count} networks in {seconds:.0f} s").format(count=count, seconds=seconds)


def gap_report(summary) -> str:
    """The depth sweep's verdict, one line per depth of a `seeds_summary` table: residual - plain
    in final training loss and in test accuracy (percentage points), mean and range over the seeds."""
    lines = [
        _(
            "depth {depth:>3}: residual - plain = {loss:+.3f} training loss (range {loss_min:+.3f} to "
            "{loss_max:+.3f}), {accuracy:+.1f} points of test accuracy (range {accuracy_min:+.1f} to "
            "{accuracy_max:+.1f}) over {seeds} seeds"
        ).format(
            depth=depth,
            loss=row["loss gap mean"],
            loss_min=row["loss gap min"],
            loss_max=row["loss gap max"],
            accuracy=100 * row["accuracy gap mean"],
            accuracy_min=100 * row["accuracy gap min"],
            accuracy_max=100 * row["accuracy gap max"],
            seeds=int(row["seeds"]),
        )
        for depth, row in summary.iterrows()
    ]
    lines.append(
        _("(a negative loss difference and a positive accuracy difference: the residual network is ahead)")
    )
    return "\n".join(lines)


def variant_label(variant: str) -> str:
    """One of `NO_BN_VARIANTS` in the reader's language (the tables keep the English name)."""
    labels = dict(
        zip(
            NO_BN_VARIANTS,
            (_("BN (the course's block)"), _("no BN, He init"), _("no BN, SkipInit")),
            strict=True,
        )
    )
    return labels[variant]


def without_bn_summary(table, below: float = 0.8) -> str:
    """The without-BN runs read per depth and variant from a `without_bn_table`: the median logits
    std at initialisation, each seed's final training loss (NaN: diverged), how many of the seeds
    ended below `below` x the chance loss ln 10 (a NaN does not), the median test accuracy."""
    lines = []
    for depth in table.index.unique("depth"):
        for variant in NO_BN_VARIANTS:
            rows = table.loc[(variant, depth)]
            losses = list(rows["final training loss"])
            lines.append(
                _(
                    "depth {depth}, {variant:<23}: logits std at init {std:.3g}; "
                    "final training loss per seed {losses}: {left} of {runs} below {below} x chance; "
                    "median test accuracy {accuracy:.1%}"
                ).format(
                    depth=depth,
                    variant=variant_label(variant),
                    std=statistics.median(rows["logits std at init"]),
                    losses=series("NaN" if math.isnan(v) else f"{v:.2f}" for v in losses),
                    left=sum(v < below * CHANCE_LOSS for v in losses),  # NaN counts as not
                    runs=len(rows),
                    below=below,
                    accuracy=statistics.median(rows["test accuracy"]),
                )
            )
    return "\n".join(lines)


def very_deep_report(residual: nn.Module, plain: nn.Module) -> str:
    """The very deep network and its plain twin, counted on the models: weight layers, blocks per
    stage and stage widths, pre-activation residual blocks, parameters."""

    def blocks(net):
        return sum(isinstance(m, PreActResidual) for m in net.modules())

    return "\n".join(
        [
            _("weight layers, counted on the model: {layers:,}").format(layers=count_weight_layers(residual)),
            _("blocks per stage: {blocks}, stage widths: {widths}").format(
                blocks=residual.config.blocks, widths=residual.config.channels
            ),
            _("pre-activation residual blocks: {blocks}").format(blocks=blocks(residual)),
            _("parameters: {params:,}").format(params=count_params(residual)),
            _(
                "plain twin: {layers:,} weight layers, {params:,} parameters (no 1x1 shortcut projections), "
                "residual blocks: {blocks}"
            ).format(layers=count_weight_layers(plain), params=count_params(plain), blocks=blocks(plain)),
        ]
    )


def step_time_line(model: str, seconds: float, shape) -> str:
    """`step_seconds` of `model` on a batch of `shape`, in words."""
    return _("{model}: {seconds:.2f} s per forward + backward on a batch of shape {shape}").format(
        model=model, seconds=seconds, shape=shape
    )


def training_estimate(networks: int, steps: int, step_seconds: float) -> str:
    """How long `networks` networks of `steps` steps each take at `step_seconds` a step."""
    return _(
        "{networks} networks x {steps} steps: about {minutes:.0f} min at the step time measured above"
    ).format(networks=networks, steps=steps, minutes=networks * steps * step_seconds / 60)


def trained_in(seconds: float) -> str:
    """Training time in minutes."""
    return _("trained in {minutes:.1f} min").format(minutes=seconds / 60)


def deep_twins_report(
    result: dict, depth: int, flat_steps: int, reference_depth: int, reference_accuracy: float
):
    """The very deep twins of a `train_twins` result (`depth` layers): each one's training loss at the
    first step and over the last 10% of steps, and its test accuracy; how many steps the residual
    one's smoothed loss stayed within 0.1 of its start (`flat_steps`, measured in the notebook); the
    test accuracy of the small residual network of section 2 for reference."""
    lines = []
    for kind in ("residual", "plain"):
        losses = result["histories"][kind, depth]
        n = max(1, len(losses) // 10)
        lines.append(
            _(
                "{kind:>8}-{depth}: training loss {first:.3f} at the first step -> {last:.3f} over the last "
                "{share:.0%} of steps, test accuracy {accuracy:.1%} (chance: 10%)"
            ).format(
                kind=kind,
                depth=depth,
                first=losses[0],
                last=sum(losses[-n:]) / n,
                share=0.1,
                accuracy=result["accuracy"][kind, depth],
            )
        )
    lines.append(
        _(
            "residual-{depth}: the smoothed loss stays within 0.1 of its start "
            "for the first {flat} of {steps} steps"
        ).format(depth=depth, flat=flat_steps, steps=len(result["histories"]["residual", depth]))
    )
    lines.append(
        _("for reference, residual-{depth} of section 2 (seed 0): test accuracy {accuracy:.1%}").format(
            depth=reference_depth, accuracy=reference_accuracy
        )
    )
    return "\n".join(lines)


def bottleneck_summary(basic, bottleneck) -> str:
    """He et al.'s Fig. 5 in one sentence: the bottleneck row of `bottleneck_vs_basic` against the
    basic one (channels, parameters and FLOPs as multiples, weight layers)."""
    return _(
        "the bottleneck: {channels:.0f}x the channels, {params:.2f}x the parameters, {flops:.2f}x the FLOPs, "
        "{layers} weight layers instead of {basic_layers}"
    ).format(
        channels=bottleneck["channels in and out"] / basic["channels in and out"],
        params=bottleneck["params"] / basic["params"],
        flops=bottleneck["flops"] / basic["flops"],
        layers=bottleneck["weight layers"],
        basic_layers=basic["weight layers"],
    )


def family_report(family: list[dict]) -> str:
    """One line per row of `bottleneck_family`: depth, blocks per stage, GFLOPs of one 224x224 image."""
    return "\n".join(
        _("{model}: {depth} weight layers, blocks {blocks}, {gflops:.2f} GFLOPs at 224x224").format(
            model=row["model"], depth=row["depth"], blocks=row["blocks"], gflops=row["flops at 224"] / 1e9
        )
        for row in family
    )


def timing_report(family: list[dict], seconds: dict[str, float], input_size) -> str:
    """One line per row of `bottleneck_family`: its `time_models` step time on `input_size`, that
    time and its FLOPs as multiples of the first model's, its paper top-1 error and the difference."""
    base = family[0]
    return "\n".join(
        _(
            "{model:<10} {seconds:6.2f} s per step on {input_size} ({time_ratio:.1f}x {base}'s time, "
            "{flops_ratio:.1f}x its FLOPs), top-1 error {error}% ({difference:+.2f} points)"
        ).format(
            model=row["model"],
            seconds=seconds[row["model"]],
            input_size=input_size,
            time_ratio=seconds[row["model"]] / seconds[base["model"]],
            base=base["model"],
            flops_ratio=row["flops at 224"] / base["flops at 224"],
            error=row["paper top-1 error %"],
            difference=row["paper top-1 error %"] - base["paper top-1 error %"],
        )
        for row in family
    )


def paper_quotes_report(quotes=None) -> str:
    """The papers' figures of `paper.PAPER_QUOTES` (quoted, not measured), one line each."""
    from .paper import PAPER_QUOTES

    words = {  # each quote's description and source, in the reader's language
        "ResNet-152, ImageNet val top-5 error, single model": _(
            "ResNet-152, ImageNet val top-5 error, single model"
        ),
        "ResNet-1001 (pre-activation, bottleneck), CIFAR-10 test error": _(
            "ResNet-1001 (pre-activation, bottleneck), CIFAR-10 test error"
        ),
        "He et al. 2015, Table 4": _("He et al. 2015, Table 4"),
        "He et al. 2016, abstract": _("He et al. 2016, abstract"),
    }
    return "\n".join(
        _("{what}: {value}% ({source})").format(
            what=words.get(what, what), value=value, source=words.get(source, source)
        )
        for what, value, source in (PAPER_QUOTES if quotes is None else quotes)
    )


def float32_overflow_report(norms: list[float], bad: int) -> str:
    """A plain network's float64 `gradient_norms` (first / last layer) against the largest float32,
    and how many of its weight layers got an inf or NaN gradient in float32 (`bad`)."""
    return "\n".join(
        [
            _("plain-{layers}, float64: first layer / last layer = {ratio:.3g}").format(
                layers=len(norms), ratio=norms[0] / norms[-1]
            ),
            _("largest float32: {largest:.3g}").format(largest=torch.finfo(torch.float32).max),
            _("in float32, weight layers whose gradient is inf or NaN: {bad} of {layers}").format(
                bad=bad, layers=len(norms)
            ),
        ]
    )


def growth_line(net: str, layers: int, change: float, accuracy_before: float, accuracy_after: float) -> str:
    """`net` grown to `layers` weight layers by `add_blocks`: the largest change of its output and
    its test accuracy before and after."""
    return _(
        "{net} -> {layers} layers: max |change of output| {change:.3g}, "
        "test accuracy {before:.1%} -> {after:.1%}"
    ).format(net=net, layers=layers, change=change, before=accuracy_before, after=accuracy_after)


def size_comparison(resnet_1001: nn.Module, flops_1001: int, size: int, r152: dict) -> str:
    """ResNet-1001 (`flops_1001` per `size` x `size` image) next to ResNet-152 (its
    `bottleneck_family` row): weight layers, parameters, GFLOPs."""
    return "\n".join(
        [
            _(
                "{model}: {layers} weight layers, blocks {blocks}, {params:.1f} M parameters, "
                "{gflops:.1f} GFLOPs per {size}x{size} image"
            ).format(
                model="ResNet-1001",
                layers=count_weight_layers(resnet_1001),
                blocks=resnet_1001.config.blocks,
                params=count_params(resnet_1001) / 1e6,
                gflops=flops_1001 / 1e9,
                size=size,
            ),
            _(
                "{model}:  {layers} weight layers, {params:.1f} M parameters, "
                "{gflops:.1f} GFLOPs per {size}x{size} image"
            ).format(
                model=r152["model"],
                layers=r152["depth"],
                params=r152["params"] / 1e6,
                gflops=r152["flops at 224"] / 1e9,
                size=224,
            ),
        ]
    )


def parameter_breakdown(
    model: str, total: int, weights: int, projections: int, bn: int, conv_bias: int
) -> str:
    """`total` parameters of `model` as convolution and linear weights (of which 1x1 projection
    shortcuts), BN scales and shifts, and convolution biases, in millions."""
    return "\n".join(
        [
            _(
                "{model} = {weights:.2f} M convolution and linear weights (the 1x1 projection shortcuts: "
                "{projections:,})"
            ).format(model=model, weights=weights / 1e6, projections=projections),
            _("  + {bn:.2f} M BN scales and shifts + {bias:.2f} M convolution biases = {total:.2f} M").format(
                bn=bn / 1e6, bias=conv_bias / 1e6, total=total / 1e6
            ),
        ]
    )


def throughput_report(
    flops_deep: float, seconds_deep: float, flops_50: float, seconds_50: float, layers: int = 1004
):
    """Arithmetic per second of a training step: the very deep network (`layers` weight layers) and
    ResNet-50, each from its FLOPs per step and its step time, and how many times faster ResNet-50
    computes."""
    rate_deep, rate_50 = flops_deep / seconds_deep, flops_50 / seconds_50
    return "\n".join(
        [
            _("{model}: {gflops:.2f} GFLOPs per step in {seconds:.2f} s = {rate:.1f} GFLOP/s").format(
                model=f"ResNet-{layers}", gflops=flops_deep / 1e9, seconds=seconds_deep, rate=rate_deep / 1e9
            ),
            _(
                "{model}:   {gflops:.2f} GFLOPs per step in {seconds:.2f} s = {rate:.1f} GFLOP/s "
                "(both in float32)"
            ).format(model="ResNet-50", gflops=flops_50 / 1e9, seconds=seconds_50, rate=rate_50 / 1e9),
            _("{model} does {ratio:.1f}x the arithmetic per second of the {layers:,}-layer network").format(
                model="ResNet-50", ratio=rate_50 / rate_deep, layers=layers
            ),
        ]
    )


def running_time(seconds: float) -> str:
    """How long the notebook ran, in minutes."""
    return _("this notebook ran in {minutes:.1f} min").format(minutes=seconds / 60)
