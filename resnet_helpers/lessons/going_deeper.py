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

from ..blocks import Bottleneck, Residual, ResidualBlock
from ..i18n import _
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


def gradient_flow_figure(panels: dict[str, dict[str, list[float]]]):
    """One log-scale panel per entry of `panels` ({title: flows}): gradient norm against layer."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 3.8), squeeze=False)
    for ax, (title, flows) in zip(axes[0], panels.items(), strict=True):
        for kind, norms in flows.items():
            layers = range(1, len(norms) + 1)
            ax.semilogy(layers, norms, marker=".", color=COLORS.get(kind), label=f"{kind}-{len(norms)}")
        ax.set(title=title, xlabel=_("weight layer (1 = first, next to the input)"))
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
