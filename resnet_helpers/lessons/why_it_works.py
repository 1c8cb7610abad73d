"""Why residual networks work (notebook 06): the trained twins, lesions, paths, loss landscapes
and residual responses, in the notebook's order.

    twins = cached_twins([20, 56], X, y, steps=200, key="cpu")  # 0. trained once, then read back
    acc = single_deletions(net, X_test, y_test)                  # 1. delete one block at a time
    curves = random_deletions(net, X_test, y_test, draws=20)     #    delete k random blocks
    curves = all_deletions(net, X_test, y_test)                  #    every subset of the candidates
    acc = single_deletions(net, X_test, y_test, recalibrate=X)   #    BN statistics re-estimated
    grads = path_gradients(net, X, y, samples=10)                # 2. Veit et al. 2016: gradient per path
    norms = path_gradient_samples(net, X, y, samples=100)        #    every sampled path's norm
    low, high = bootstrap_share(norms, lambda k, n: k <= n / 4)  #    a 90% interval for a share
    d = filter_normalized_direction(net, seed=1)                 # 3. Li et al. 2018, section 4
    losses = loss_along(net, X, y, [d], alphas)                  #    a 1-D slice through the weights
    lam_min, lam_max = hessian_extremes(net, X, y)               #    Li et al.'s |λmin / λmax|
    basin_widths(alphas, losses)                                 #    where the loss doubles
    rows = residual_responses(net, X)                            # 4. He et al. 2015, Fig. 7
    stochastic_depth_(net)                                       # exercise 3: Huang et al. 2016

A *block* here is a residual block of a `ResNet`'s stages, or the `PlainBlock` that replaces it in
the plain twin (the same layers without the shortcut). Deleting a residual block keeps its shortcut
(`ShortcutOnly`); deleting a plain block leaves nothing, so only blocks that keep the shape can go.
Losses of the landscapes are measured in eval mode (BN uses its running statistics, which stay as
trained) on a fixed slice of the training set. Nothing here reseeds the caller's random generators:
draws use their own `random.Random` or `torch.Generator`, and training runs inside `fork_rng`.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import itertools
import math
import random
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..blocks import ResidualBlock
from ..i18n import _, pad, series, text_width
from ..measure import keep_modes
from ..models import build_depth_net
from ..training.experiment import KINDS, accuracy, evaluate_loss, train_losses
from ..training.trainer import CHECKPOINT_FORMAT, CheckpointError, load_checkpoint, save_checkpoint

__all__ = [
    # 0. the twins, trained once
    "cached_net",
    "cached_twins",
    "checkpoint_path",
    # 1. lesions
    "blocks_of",
    "is_downsampling",
    "downsampling_names",
    "ShortcutOnly",
    "delete_blocks",
    "single_deletions",
    "recalibrate_bn_",
    "random_deletions",
    "all_deletions",
    "chance_to_miss",
    "stage_of",
    "stage_deletions",
    "reorder_blocks",
    "random_reorderings",
    "stages_figure",
    "lesion_figure",
    "lesion_view",
    "lesion_panel",
    # 2. paths
    "path_counts",
    "unroll",
    "path_gradient",
    "path_gradients",
    "path_gradient_samples",
    "gradient_by_length",
    "bootstrap_share",
    "paths_figure",
    # 3. loss landscapes
    "filter_normalized_direction",
    "loss_along",
    "landscape_slices",
    "curvature",
    "extreme_eigenvalues",
    "hessian_extremes",
    "basin_widths",
    "landscape_table",
    "slices_figure",
    "contour_figure",
    # 4. residual responses
    "residual_responses",
    "deletion_vs_response",
    "responses_figure",
    # exercise 3: stochastic depth
    "StochasticDepth",
    "stochastic_depth_",
    "unwrap_",
    # the printed conclusions, in the notebook's order
    "setup_summary",
    "twins_report",
    "deletion_shapes",
    "all_but_downsampling_shape",
    "single_deletion_report",
    "critical_blocks_report",
    "random_deletion_caption",
    "deletion_vs_response_report",
    "stage_deletion_line",
    "reordering_line",
    "path_count_line",
    "path_share_report",
    "direction_check",
    "slices_caption",
    "landscape_report",
    "response_report",
    "lesion_finding",
    "path_finding",
    "landscape_finding",
    "response_finding",
    "kept_after_one",
    "zero_init_accuracy",
    "kept_curve",
    "run_time",
]

COLORS = {"plain": "tab:red", "residual": "tab:blue", "preact": "tab:green", "stochastic": "tab:purple"}


def _color(label: str) -> str | None:
    """The colour of a network's label by its kind: "plain-20" red, "residual-56" blue, ..."""
    return COLORS.get(label.split("-")[0])


def _line_style(label: str, labels) -> dict:
    """Colour by kind (`_color`), line style by depth among `labels` (the deepest solid,
    shallower ones dashed, then dotted)."""
    depth = int(label.rsplit("-", 1)[1])
    deeper = {int(other.rsplit("-", 1)[1]) for other in labels if int(other.rsplit("-", 1)[1]) > depth}
    return {"color": _color(label), "ls": ["-", "--", ":"][min(len(deeper), 2)]}


# --- 0. The twins, trained once (cached as checkpoints) ---------------------------------------------

LESSON_NET = "lesson-net"  # the `kind` of a cached network's checkpoint (not a trainer checkpoint)


def checkpoint_path(folder, key: str, name: str) -> Path:
    """checkpoints/why_it_works-<key>-<name>.pt, e.g. why_it_works-cpu-residual-56.pt (key: the profile)."""
    return Path(folder) / f"why_it_works-{key}-{name}.pt"


def _fingerprint(tensors) -> str:
    """A short SHA-256 of the tensors' dtypes, shapes and bytes: equal only for equal tensors."""
    digest = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        digest.update(f"{t.dtype} {tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def cached_net(
    name: str, build, X, y, steps: int, key: str, folder="checkpoints", config=None, seed=0, **train_kwargs
):
    """`build()` (called after `torch.manual_seed(seed)`), trained with `train_losses` once and cached.

    The network is saved with the trainer's `save_checkpoint` as `checkpoint_path(folder, key, name)`:
    {"format", "kind": "lesson-net", "model", "history": {"loss": [...]}, "config"}. `config` holds
    everything that decides the trained weights: fingerprints of the initial weights (so the
    architecture and `seed`) and of the data X, y (so the subset, its seed and its resolution), the
    number of steps, and every setting of `train_losses`, its defaults included. When the file's
    config is this one, its weights are loaded instead of training again; otherwise the network is
    trained and the file replaced. The caller's random generators are left as they were (`fork_rng`).
    Returns (net in eval mode, losses, loaded: bool).
    """
    settings = inspect.signature(train_losses).bind(None, X, y, steps, seed=seed, **train_kwargs)
    settings.apply_defaults()
    settings = {k: v for k, v in settings.arguments.items() if k not in ("net", "X", "y", "desc", "progress")}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build()
        config = {
            **(config or {}),
            "name": name,
            "key": key,
            **settings,
            "images": len(X),
            "image shape": list(X.shape[1:]),
            "data": _fingerprint([X, y]),
            "initial weights": _fingerprint(net.state_dict().values()),
        }
        path = checkpoint_path(folder, key, name)
        try:
            state = load_checkpoint(path)
        except (FileNotFoundError, CheckpointError):  # nothing cached, or not a readable cache
            state = {}
        loaded = state.get("kind") == LESSON_NET and state.get("config") == config
        if loaded:
            net.load_state_dict(state["model"])
            losses = state["history"]["loss"]
        else:  # trained in the fork too: a StochasticDepth block draws from torch's generator
            losses = train_losses(net, X, y, steps, seed=seed, desc=name, **train_kwargs)
            state = {
                "format": CHECKPOINT_FORMAT,
                "kind": LESSON_NET,
                "model": net.state_dict(),
                "history": {"loss": losses},
                "config": config,
            }
            save_checkpoint(path, state)
    return net.to(X.device).eval(), losses, loaded


def cached_twins(depths, X, y, steps: int, key: str, folder="checkpoints", width=16, block="basic", **kwargs):
    """The plain and residual twins of every depth (`build_depth_net`), each `cached_net`.

    As in notebook 05, both twins of a depth start from the same weights (the same seed) and see
    the same batches. Returns {"nets", "histories": {(kind, depth): ...}, "loaded": [(kind, depth)
    read from disk], "seconds"}."""
    start = time.perf_counter()
    out = {"nets": {}, "histories": {}, "loaded": []}
    for depth in depths:
        for kind in KINDS:

            def build(depth=depth, kind=kind):
                return build_depth_net(depth, width, block, plain=kind == "plain", in_channels=X.shape[1])

            name = f"{kind}-{depth}" if block == "basic" else f"{kind}-{block}-{depth}"
            config = {"depth": depth, "width": width, "block": block, "plain": kind == "plain"}
            net, losses, loaded = cached_net(name, build, X, y, steps, key, folder, config, **kwargs)
            out["nets"][kind, depth], out["histories"][kind, depth] = net, losses
            if loaded:
                out["loaded"].append((kind, depth))
    out["seconds"] = time.perf_counter() - start
    return out


# --- 1. Lesion study: delete blocks at test time ----------------------------------------------------


def blocks_of(net) -> list[tuple[str, nn.Module]]:
    """[(name, block)] of every block of `net`'s stages, input side first: "b3.0" is stage b3's first."""
    return [
        (f"{stage_name}.{i}", block)
        for stage_name, stage in net.named_children()
        if stage in net.stages
        for i, block in enumerate(stage)
    ]


def is_downsampling(block: nn.Module) -> bool:
    """True for a block that changes the shape (a stride or new channels): the first of a stage."""
    layers = block.branch_layers() if isinstance(block, ResidualBlock) else list(block)
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    return any(c.stride != (1, 1) for c in convs) or convs[0].in_channels != convs[-1].out_channels


def downsampling_names(net) -> list[str]:
    """Names (from `blocks_of`) of the blocks that change the shape."""
    return [name for name, block in blocks_of(net) if is_downsampling(block)]


class ShortcutOnly(nn.Module):
    """A residual block with its branch deleted: x -> shortcut(x) (+ the ReLU after the addition)."""

    def __init__(self, block: ResidualBlock):
        super().__init__()
        self.block = block

    def forward(self, x):
        y = self.block.shortcut(x)
        return F.relu(y) if self.block.post_activation else y


def delete_blocks(net, names) -> nn.Module:
    """A copy of `net` without the blocks `names` (from `blocks_of`); `net` is not changed.

    A residual block keeps its shortcut (`ShortcutOnly`): the identity, or the 1x1 projection of a
    downsampling block. A plain block is replaced by nothing (`nn.Identity`), which only works when
    it keeps the shape; deleting a downsampling plain block raises ValueError.
    """
    names = set(names)
    known = {name for name, _block in blocks_of(net)}
    if names - known:
        raise ValueError(
            _("no blocks named {names}; the blocks are {known}.").format(
                names=sorted(names - known), known=sorted(known)
            )
        )
    lesioned = copy.deepcopy(net)
    for name, block in blocks_of(lesioned):
        if name not in names:
            continue
        stage_name, i = name.split(".")
        if isinstance(block, ResidualBlock):
            replacement = ShortcutOnly(block)
        elif is_downsampling(block):
            raise ValueError(
                _("plain block {name} changes the shape: without a shortcut it cannot be deleted.").format(
                    name=name
                )
            )
        else:
            replacement = nn.Identity()
        getattr(lesioned, stage_name)[int(i)] = replacement
    return lesioned


@torch.no_grad()
def recalibrate_bn_(net, X):
    """Re-estimate every BN layer's running statistics on the images X (in place): one forward pass
    of all of X in training mode with `momentum=None` after a reset, so each BN's running mean and
    variance become those of its input over X. Weights are not touched; `net` is returned in eval
    mode. A control for deletions: a deleted block changes the statistics of every later layer's
    input, which the trained statistics do not know."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    net(X)
    for m, momentum in zip(bns, momenta, strict=True):
        m.momentum = momentum
    return net.eval()


def _lesioned_accuracy(net, names, X, y, recalibrate=None) -> float:
    lesioned = delete_blocks(net, names)
    if recalibrate is not None:
        recalibrate_bn_(lesioned, recalibrate)
    return accuracy(lesioned, X, y)


def single_deletions(net, X, y, recalibrate=None) -> dict[str, float | None]:
    """{block name: test accuracy with that one block deleted}; None where it cannot be deleted.
    `recalibrate`: images on which BN's statistics are re-estimated after each deletion
    (`recalibrate_bn_`), the trained network itself left as it was."""
    result = {}
    for name, block in blocks_of(net):
        if not isinstance(block, ResidualBlock) and is_downsampling(block):
            result[name] = None
        else:
            result[name] = _lesioned_accuracy(net, [name], X, y, recalibrate)
    return result


def _candidates(net) -> list[str]:
    return [name for name, block in blocks_of(net) if not is_downsampling(block)]


def random_deletions(net, X, y, ks=None, draws: int = 3, seed: int = 0) -> dict[int, list[float]]:
    """{k: accuracies after deleting k random shape-keeping blocks, one per draw}, k = 0 included.

    Only blocks that keep the shape are drawn (in both twins, the same positions), so a plain and a
    residual network of the same depth are lesioned alike. Deterministic for a given `seed`."""
    candidates = _candidates(net)
    ks = range(len(candidates) + 1) if ks is None else ks
    rng = random.Random(seed)
    result = {}
    for k in ks:
        picks = [rng.sample(candidates, k) for _step in range(1 if k in (0, len(candidates)) else draws)]
        result[k] = [accuracy(delete_blocks(net, names), X, y) for names in picks]
    return result


def all_deletions(net, X, y) -> dict[int, list[float]]:
    """{k: accuracies after deleting each of the C(m, k) sets of k shape-keeping blocks}: all 2^m
    subsets of the m candidates (`random_deletions` without the sampling; k = 1 is exactly the
    single deletions of those blocks). Refuses m > 12 (more than 4,096 subsets)."""
    candidates = _candidates(net)
    if len(candidates) > 12:
        raise ValueError(
            _(
                "{m} candidate blocks make {subsets:,} subsets; use random_deletions for a network this deep."
            ).format(m=len(candidates), subsets=2 ** len(candidates))
        )
    return {
        k: [accuracy(delete_blocks(net, names), X, y) for names in itertools.combinations(candidates, k)]
        for k in range(len(candidates) + 1)
    }


def stage_of(name: str) -> str:
    """The stage of a block name from `blocks_of`: "b3.4" -> "b3"."""
    return name.split(".")[0]


def _candidates_by_stage(net) -> dict[str, list[str]]:
    """{stage: its shape-keeping blocks}, input side first."""
    by_stage: dict[str, list[str]] = {}
    for name in _candidates(net):
        by_stage.setdefault(stage_of(name), []).append(name)
    return by_stage


def stage_deletions(net, X, y, draws: int = 10, seed: int = 0) -> dict[str, dict[int, list[float]]]:
    """{stage: {k: accuracies after deleting k random shape-keeping blocks of that stage only}}, k = 0
    to all of the stage's candidates, `draws` draws per k: do early stages matter more than late
    ones (Greff et al. 2017; Jastrzebski et al. 2018)? Deterministic for a given `seed`."""
    rng = random.Random(seed)
    result = {}
    for stage, names in _candidates_by_stage(net).items():
        result[stage] = {}
        for k in range(len(names) + 1):
            picks = [rng.sample(names, k) for _step in range(1 if k in (0, len(names)) else draws)]
            result[stage][k] = [accuracy(delete_blocks(net, chosen), X, y) for chosen in picks]
    return result


def reorder_blocks(net, swaps) -> nn.Module:
    """A copy of `net` with each pair of blocks in `swaps` [(name, name)] exchanged (Veit et al. 2016,
    Fig. 5b); `net` is not changed. Only shape-keeping blocks of the same stage can trade places."""
    swapped = copy.deepcopy(net)
    candidates = set(_candidates(net))
    for a, b in swaps:
        if a not in candidates or b not in candidates or stage_of(a) != stage_of(b):
            raise ValueError(
                _(
                    "cannot swap {a} and {b}: only shape-keeping blocks of one stage trade places "
                    "(here: {names})."
                ).format(a=a, b=b, names=", ".join(sorted(candidates)))
            )
        stage = getattr(swapped, stage_of(a))
        i, j = int(a.split(".")[1]), int(b.split(".")[1])
        stage[i], stage[j] = stage[j], stage[i]
    return swapped


def random_reorderings(net, X, y, ks, draws: int = 10, seed: int = 0) -> dict[int, list[float]]:
    """{k: accuracies after k random swaps of two shape-keeping blocks of the same stage}, as in Veit
    et al.'s Fig. 5b (they sort the swaps by Kendall's tau; we count them). Deterministic for `seed`."""
    rng = random.Random(seed)
    stages = [names for names in _candidates_by_stage(net).values() if len(names) >= 2]
    result = {}
    for k in ks:
        accs = []
        for _step in range(1 if k == 0 else draws):
            swaps = [tuple(rng.sample(rng.choice(stages), 2)) for _step in range(k)]
            accs.append(accuracy(reorder_blocks(net, swaps), X, y))
        result[k] = accs
    return result


def _draws_and_mean(ax, curves: dict, label: str, dot_size: float = 12, **style):
    """{k: accuracies}: the mean against k as a line (labelled), each draw as a faint dot."""
    ks = sorted(curves)
    (line,) = ax.plot(
        ks, [100 * statistics.mean(curves[k]) for k in ks], marker="o", ms=4, label=label, **style
    )
    for k in ks:
        ax.scatter(
            [k] * len(curves[k]), [100 * a for a in curves[k]], color=line.get_color(), alpha=0.3, s=dot_size
        )


def _accuracy_axes(axes, chance: float) -> None:
    """Test accuracy in % from 0 to 100, the chance line, a grid and a legend, on every axis of `axes`."""
    for ax in axes:
        ax.axhline(
            100 * chance, color="gray", ls="-.", lw=1, label=_("chance ({chance:.0%})").format(chance=chance)
        )
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)


def stages_figure(stage_curves: dict, reorderings: dict, label: str, chance: float = 0.1):
    """Left: accuracy after deleting k random blocks of one stage (`stage_deletions`), one line per
    stage (mean; dots: draws); right: after k random swaps within stages (`random_reorderings`)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    for stage, curves in stage_curves.items():
        _draws_and_mean(left, curves, _("stage {stage}").format(stage=stage), dot_size=10)
    left.set(
        title=_("{label}: delete k random blocks of one stage").format(label=label),
        xlabel=_("blocks deleted (k)"),
        ylabel=_("test accuracy (%)"),
    )
    _draws_and_mean(
        right, reorderings, _("{label} (mean)").format(label=label), dot_size=10, color=_color(label)
    )
    right.set(
        title=_("{label}: swap k random pairs of blocks (dots: draws)").format(label=label),
        xlabel=_("pairs swapped (k)"),
        ylabel=_("test accuracy (%)"),
    )
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # k counts blocks or swaps
    _accuracy_axes((left, right), chance)
    fig.tight_layout()
    return fig


def chance_to_miss(m: int, critical: int, k: int) -> float:
    """The probability that k blocks drawn at random (without replacement) among m miss all of
    `critical` given ones: C(m - critical, k) / C(m, k)."""
    if not 0 <= critical <= m or not 0 <= k <= m:
        raise ValueError(
            _("need 0 <= critical ({critical}) <= m ({m}) and 0 <= k ({k}) <= m.").format(
                critical=critical, m=m, k=k
            )
        )
    return math.comb(m - critical, k) / math.comb(m, k)


def lesion_figure(singles: dict, randoms: dict, downsampling=(), chance: float = 0.1):
    """Left: accuracy after deleting each single block ({label: `single_deletions`}), the blocks
    named in `downsampling` circled in their network's colour; right: after deleting k random
    blocks ({label: `random_deletions`}: mean and the draws)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    for label, acc in singles.items():
        names = list(acc)
        xs = [i + 1 for i, n in enumerate(names) if acc[n] is not None]
        style = _line_style(label, singles)
        left.plot(xs, [100 * acc[names[i - 1]] for i in xs], marker="o", ms=4, label=label, **style)
        down = [i for i in xs if names[i - 1] in downsampling]
        circled = [100 * acc[names[i - 1]] for i in down]  # in the line's colour: whose block it is
        left.scatter(down, circled, s=120, facecolors="none", edgecolors=style["color"], linewidths=1.5)
    left.scatter([], [], s=120, facecolors="none", edgecolors="gray", label=_("downsampling block (circled)"))
    left.set(
        title=_("delete one block"),
        xlabel=_("deleted block (1 = next to the input)"),
        ylabel=_("test accuracy (%)"),
    )
    for label, curves in randoms.items():
        _draws_and_mean(right, curves, label, **_line_style(label, randoms))
    right.set(
        title=_("delete k random blocks (dots: draws)"),
        xlabel=_("blocks deleted (k)"),
        ylabel=_("test accuracy (%)"),
    )
    _accuracy_axes((left, right), chance)
    fig.tight_layout()
    return fig


def lesion_view(nets: dict, deleted, X, y, chance: float = 0.1):
    """The panel's callback: test accuracy of each network ({label: net}) with the blocks `deleted`.

    A network in which a deleted block cannot go (a downsampling plain block) gets no bar, and says
    why. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for i, (label, net) in enumerate(nets.items()):
        try:
            acc = accuracy(delete_blocks(net, deleted), X, y)
        except ValueError:
            ax.text(i, 3, _("cannot delete a\ndownsampling plain\nblock"), ha="center", fontsize=8)
            continue
        ax.bar(i, 100 * acc, color=_color(label))
        ax.text(i, 100 * acc + 2, f"{acc:.1%}", ha="center")
    ax.axhline(
        100 * chance, color="gray", ls="--", lw=1, label=_("chance ({chance:.0%})").format(chance=chance)
    )
    ax.set_xticks(range(len(nets)), list(nets))
    what = ", ".join(sorted(deleted)) if deleted else _("nothing")
    ax.set(ylim=(0, 105), ylabel=_("test accuracy (%)"), title=_("deleted: {what}").format(what=what))
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def lesion_panel(nets: dict, X, y, deleted=()):
    """Checkboxes, one per block of the first network; the bars (`lesion_view`) follow them.

    Returned with a static snapshot of its first view (`with_snapshot`); `.panel` is the widget."""
    import ipywidgets as widgets

    from .widgets import panel_output, show_or_explain, with_snapshot

    names = [name for name, _block in blocks_of(next(iter(nets.values())))]
    boxes = {
        n: widgets.Checkbox(
            value=n in deleted, description=n, indent=False, layout=widgets.Layout(width="70px")
        )
        for n in names
    }

    def show(**ticked):
        chosen = [n.replace("_", ".") for n, v in ticked.items() if v]
        show_or_explain(lesion_view, nets=nets, deleted=chosen, X=X, y=y)

    out = panel_output(show, {n.replace(".", "_"): box for n, box in boxes.items()})
    panel = widgets.VBox(
        [widgets.Label(_("tick the blocks to delete:")), widgets.HBox(list(boxes.values())), out]
    )
    return with_snapshot(panel, lesion_view(nets, list(deleted), X, y))


# --- 2. Paths: n blocks unroll into 2^n paths (Veit et al. 2016) ---------------------------------


def path_counts(n: int) -> list[int]:
    """How many of the 2^n paths through n residual blocks pass through k branches, k = 0..n."""
    return [math.comb(n, k) for k in range(n + 1)]


def unroll(net, X, y) -> dict:
    """One forward pass of the batch through `net` (a copy, in eval mode: BN uses its running
    statistics), kept block by block for `path_gradient`: each block's input, branch and shortcut
    outputs and ReLU mask, and the loss's gradient at the last block's output."""
    net = copy.deepcopy(net).eval()
    blocks = [block for _name, block in blocks_of(net)]
    if not all(isinstance(b, ResidualBlock) for b in blocks):
        raise ValueError(_("path_gradients needs a residual network (its blocks have shortcuts)."))
    h = net.b1(X)
    saved = []
    for block in blocks:
        x = h.detach().requires_grad_()
        b, s = block.branch(x), block.shortcut(x)
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


def path_gradient_samples(net, X, y, samples: int = 10, seed: int = 0) -> dict[int, list[float]]:
    """{k: the gradient norms at the first block's input of `samples` random paths through k branches}.

    Veit et al. (2016), section 6: one forward pass of the batch through the whole network (in eval
    mode: BN uses its running statistics); then for each k, `samples` times, the backward pass goes
    through the branch of k random blocks and only through the shortcut of the others. The forward
    pass is the full network's; only the gradient's route changes (`unroll`, `path_gradient`:
    vector-Jacobian products block by block, so one forward pass serves every sample). k = 0 and
    k = n have one path each, measured once.
    """
    unrolled = unroll(net, X, y)
    n = len(unrolled["saved"])
    rng = random.Random(seed)
    return {
        k: [
            path_gradient(unrolled, set(rng.sample(range(n), k))).norm().item()
            for _step in range(1 if k in (0, n) else samples)
        ]
        for k in range(n + 1)
    }


def path_gradients(net, X, y, samples: int = 10, seed: int = 0) -> dict[int, float]:
    """{k: mean gradient norm at the first block's input carried by one path through k branches}:
    the mean of each length's `path_gradient_samples`."""
    return {k: sum(v) / len(v) for k, v in path_gradient_samples(net, X, y, samples, seed).items()}


def gradient_by_length(grads: dict[int, float]) -> dict[int, float]:
    """{k: share of the summed gradient magnitude carried by all paths of length k}: C(n, k) x the
    mean gradient norm of one such path (`path_gradients`), normalised to sum to 1. Norms do not
    add (paths can cancel): this is a share of the sum of the paths' magnitudes."""
    n = max(grads)
    total = {k: math.comb(n, k) * g for k, g in grads.items()}
    s = sum(total.values())
    return {k: v / s for k, v in total.items()}


def bootstrap_share(norms: dict[int, list[float]], which, resamples: int = 1000, level: float = 0.9, seed=0):
    """(low, high): a bootstrap interval (`level`, percentile) for the share of the summed gradient
    magnitude carried by the lengths k with `which(k, n)` true, from `path_gradient_samples`: each
    length's samples are resampled with replacement, `resamples` times."""
    n = max(norms)
    rng = np.random.default_rng(seed)
    arrays = {k: np.asarray(v, dtype=float) for k, v in norms.items()}
    shares = []
    for _step in range(resamples):
        means = {k: rng.choice(a, size=len(a)).mean() for k, a in arrays.items()}
        share = gradient_by_length(means)
        shares.append(sum(v for k, v in share.items() if which(k, n)))
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(shares, [tail, 100 - tail])
    return float(low), float(high)


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
    axes[0].set(
        title=_("paths of each length ({count:,} in all)").format(count=2**n), ylabel=_("share of the paths")
    )
    axes[1].semilogy(ks, [grads[k] for k in ks], marker="o", color=COLORS["residual"])
    axes[1].set(title=_("gradient through one path"), ylabel=_("gradient norm at the input (log)"))
    axes[2].bar(ks, [share[k] for k in ks], color=COLORS["residual"])
    axes[2].set(title=_("share of the summed gradient magnitude"), ylabel=_("share"))
    for ax in axes:
        ax.axvline(n / 2, color="k", ls=":", lw=1, label=f"n/2 = {n / 2:g}")
        ax.set_xlabel(_("path length k (branches passed through)"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- 3. Loss landscapes (Li et al. 2018): slices through the trained weights ---------------------


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


def extreme_eigenvalues(matvec, n: int, tol: float = 1e-3, max_products: int = 600, seed: int = 0):
    """(smallest, largest) eigenvalue of the symmetric n x n operator v -> matvec(v), by the implicitly
    restarted Lanczos method (SciPy's ARPACK `eigsh`, as Li et al. 2018 computed theirs), each to a
    relative tolerance `tol`. `matvec` maps a float64 NumPy vector to one; at most `max_products`
    products per end. Returns (smallest, largest, products used); an end that did not converge in
    `max_products` products raises ArpackNoConvergence rather than returning a guess."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    count = [0]

    def counted(v):
        count[0] += 1
        return matvec(np.asarray(v, dtype=np.float64).reshape(-1))

    op = LinearOperator((n, n), matvec=counted, dtype=np.float64)
    start = np.random.default_rng(seed).standard_normal(n)
    ncv = min(n, 20)
    ends = []
    for which in ("SA", "LA"):
        ends.append(
            float(
                eigsh(
                    op,
                    k=1,
                    which=which,
                    tol=tol,
                    v0=start,
                    ncv=ncv,
                    maxiter=max(1, max_products // ncv),
                    return_eigenvectors=False,
                )[0]
            )
        )
    return ends[0], ends[1], count[0]


def hessian_extremes(net, X, y, tol: float = 1e-3, max_products: int = 600, seed: int = 0):
    """(λmin, λmax): the extreme eigenvalues of the Hessian of the loss (eval mode, on X, y) with
    respect to the weights the directions move (every parameter with more than one dimension), by
    Lanczos (`extreme_eigenvalues`) on Hessian-vector products, as Li et al. 2018 (section 6) did:
    |λmin / λmax| near 0 means the surface is nearly convex around the weights. Each end to the
    relative tolerance `tol`, or ArpackNoConvergence. `net` is not changed, nor the global RNGs."""
    model = copy.deepcopy(net).eval()
    params = [p for p in model.parameters() if p.dim() > 1]
    for p in model.parameters():
        if p.dim() <= 1:
            p.requires_grad_(False)
    loss = F.cross_entropy(model(X), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    sizes = [p.numel() for p in params]

    def hvp(v):  # H v, one more backward pass through the gradient's graph
        v = torch.from_numpy(v).to(loss.device, loss.dtype)
        pieces = [piece.view_as(p) for piece, p in zip(v.split(sizes), params, strict=True)]
        hv = torch.autograd.grad(grads, params, pieces, retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hv]).detach().double().cpu().numpy()

    low, high, _products = extreme_eigenvalues(hvp, sum(sizes), tol, max_products, seed)
    return low, high


def basin_widths(alphas, losses, factor: float = 2.0) -> list[float]:
    """Per 1-D slice (rows of `losses` over `alphas`, centred on α = 0): the distance |α| at which
    the loss first reaches `factor` x its value at α = 0, the smaller of the two sides, linearly
    interpolated between grid points; the slice's half-width max|α| where it never does (a lower
    bound)."""
    alphas = np.asarray(alphas, dtype=float)
    losses = np.atleast_2d(np.asarray(losses, dtype=float))
    centre = int(np.argmin(np.abs(alphas)))
    widths = []
    for row in losses:
        limit = factor * row[centre]
        sides = []
        for step in (1, -1):
            i, width = centre, float(np.abs(alphas).max())
            while 0 <= i + step < len(alphas):
                j = i + step
                if row[j] >= limit:
                    t = (limit - row[i]) / (row[j] - row[i])
                    width = abs(alphas[i] + t * (alphas[j] - alphas[i]))
                    break
                i = j
            sides.append(width)
        widths.append(min(sides))
    return widths


def landscape_table(slices: dict, alphas):
    """A DataFrame, one row per network: the loss at the trained weights, the curvature there (mean
    over the directions), the basin width (`basin_widths`: the |α| where the loss doubles; median
    and smallest over the directions) and the median loss at the ends of the slices (α = ±max: one
    endpoint can dominate a mean)."""
    import pandas as pd

    centre = int(np.argmin(np.abs(np.asarray(alphas))))
    rows = {}
    for label, losses in slices.items():
        widths = basin_widths(alphas, losses)
        rows[label] = {
            "loss at the weights": float(losses[:, centre].mean()),
            "curvature d²L/dα²": float(np.mean([curvature(alphas, row) for row in losses])),
            "basin width (median)": float(np.median(widths)),
            "basin width (smallest)": float(np.min(widths)),
            "loss at α = ±max (median)": float(np.median(losses[:, [0, -1]])),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


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
        ax.set(
            title=_("{depth} layers: 1-D slices").format(depth=depth),
            xlabel=_("α (step along a filter-normalised direction)"),
            ylabel=_("training loss (cross-entropy)"),
            yscale="log",
        )
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
            title=_("{label}: training loss").format(label=label),
            xlabel=_("α (direction 1)"),
            ylabel=_("β (direction 2)"),
            aspect="equal",
        )
    fig.colorbar(cs, ax=axes[0].tolist(), label=_("training loss (cross-entropy, log scale)"), format="%.2g")
    return fig


# --- 4. How large are the residual responses? (He et al. 2015, Fig. 7) ---------------------------


@torch.no_grad()
def residual_responses(net, X) -> list[dict]:
    """One row per block (He et al. 2015, Fig. 7): the std of the branch's output (its last layer's
    output, before the addition: the residual response) over the images X, in eval mode. For a
    residual block also the std of its shortcut's output, and their ratio; `net` is not changed."""
    captured = {}
    hooks = []
    for name, block in blocks_of(net):
        hooks.append(
            block.last_layer().register_forward_hook(lambda m, i, o, n=name: captured.__setitem__(n, o))
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
            row["shortcut std"] = block.shortcut(captured[name + "/in"]).std().item()
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

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
    for label, rows in responses.items():
        style = dict(marker=".", label=label, **_line_style(label, responses))
        left.plot(range(1, len(rows) + 1), [r["response std"] for r in rows], **style)
        if "response / shortcut" in rows[0]:
            right.plot(range(1, len(rows) + 1), [r["response / shortcut"] for r in rows], **style)
    left.set(
        title=_("response std (He et al. 2015, Fig. 7)"), ylabel=_("std of the branch's last layer output")
    )
    right.set(title=_("response relative to the shortcut"), ylabel=_("std(branch) / std(shortcut)"))
    for ax in (left, right):
        ax.set_xlabel(_("block (1 = next to the input)"))
        ax.set_ylim(0, None)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- Exercise 3: stochastic depth (Huang et al. 2016) -----------------------------------------------


class StochasticDepth(nn.Module):
    """A residual block whose branch is dropped at random in training (Huang et al. 2016, "Deep
    Networks with Stochastic Depth"): with probability `p` the block is its `ShortcutOnly`; at test
    time the branch is always there, scaled by 1 - p (its expected contribution). The draws come
    from torch's generator, as dropout's do (`cached_net` trains inside `fork_rng`)."""

    def __init__(self, block: ResidualBlock, p: float):
        super().__init__()
        self.block, self.p = block, p

    def forward(self, x):
        b = self.block
        if self.training and torch.rand(()).item() < self.p:
            return ShortcutOnly(b)(x)
        y = b.shortcut(x) + b.branch(x) * (1 if self.training else 1 - self.p)
        return F.relu(y) if b.post_activation else y

    @torch.no_grad()
    def folded(self) -> ResidualBlock:
        """The block alone, computing what this one does at test time: the 1 - p scale is folded
        into the weight and bias of its branch's last layer (a BN, or a convolution)."""
        last = self.block.last_layer()
        last.weight.mul_(1 - self.p)
        last.bias.mul_(1 - self.p)
        return self.block


def stochastic_depth_(net, p_last: float = 0.5):
    """Wrap every block of `net` in `StochasticDepth` (in place), with the paper's linear rule: the
    drop probability grows from near 0 at the first block to `p_last` at the last. Returns `net`;
    `unwrap_(net)` puts back plain residual blocks that compute its test-time function."""
    blocks = blocks_of(net)
    for i, (name, block) in enumerate(blocks, start=1):
        stage_name, j = name.split(".")
        getattr(net, stage_name)[int(j)] = StochasticDepth(block, p_last * i / len(blocks))
    return net


def unwrap_(net):
    """Replace every `StochasticDepth` of `net` by its `folded()` block (in place); returns `net`."""
    for name, block in blocks_of(net):
        if isinstance(block, StochasticDepth):
            stage_name, j = name.split(".")
            getattr(net, stage_name)[int(j)] = block.folded()
    return net


# --- The printed conclusions: the numbers the notebook computed, in the reader's language ----------
# One function per printed paragraph, in the notebook's order. Each takes numbers the notebook's cell
# computed (its statistics and tables stay there) and returns the text the cell prints, lines joined
# by "\n"; which word a sentence needs ("more" or "less", "fell" or "rose") follows from the numbers.


def setup_summary(
    profile,
    resolution: int,
    train_images: int,
    test_images: int,
    depths,
    width: int,
    steps: int,
    batch_size: int,
) -> str:
    """The setup cell's two lines: the data and the twins the profile trains."""
    return "\n".join(
        [
            _(
                "profile {profile}: images {resolution}x{resolution}, {train:,} for training, "
                "{test:,} for testing"
            ).format(profile=profile, resolution=resolution, train=train_images, test=test_images),
            _("twins of depths {depths}, width {width}, {steps} steps of {batch_size} images").format(
                depths=depths, width=width, steps=steps, batch_size=batch_size
            ),
        ]
    )


def twins_report(acc: dict, depths, images: int, seconds: float, read_back: bool) -> str:
    """Section 0: how the twins came ({"plain-20": accuracy, ...}, read back from checkpoints or
    trained, in `seconds`) and their test accuracy on `images` images, one line per depth."""
    if read_back:
        head = _(
            "{count} networks read back from checkpoints/ in {seconds:.0f} s; "
            "test accuracy on {images:,} images:"
        )
    else:
        head = _(
            "{count} networks trained (and cached) in {seconds:.0f} s; test accuracy on {images:,} images:"
        )
    lines = [head.format(count=len(acc), seconds=seconds, images=images)]
    for depth in depths:
        lines.append(
            "  "
            + _("depth {depth:>3}: plain {plain:.1%}, residual {residual:.1%}").format(
                depth=depth, plain=acc[f"plain-{depth}"], residual=acc[f"residual-{depth}"]
            )
        )
    return "\n".join(lines)


def deletion_shapes(kind: str, names, downsampling, shapes) -> str:
    """Section 1's shape check of one network ("plain" or "residual"): its blocks, its downsampling
    blocks and the output shapes after deleting any one of the others."""
    return "\n".join(
        [
            _("{kind}: {count} blocks {names}").format(kind=f"{kind:<8}", count=len(names), names=names),
            " " * 10
            + _("downsampling {names}; output shapes after one deletion: {shapes}").format(
                names=downsampling, shapes=shapes
            ),
        ]
    )


def all_but_downsampling_shape(shape) -> str:
    """The shape check's last line: the output shape of a residual network left with its
    downsampling blocks only."""
    return _("residual, all but the downsampling blocks deleted: {shape}").format(shape=shape)


def single_deletion_report(summary: dict, lowest: dict, after_one: dict, chance: float = 0.1) -> str:
    """The points of test accuracy lost per single deletion, one line per network. `summary` is
    {label: {"intact": accuracy, "median": points, "mean": points, "blocks": how many,
    "costliest": {block: points}}}, with "recalibrated": (median, mean) where BN's statistics were
    re-estimated; `lowest` {label: the lowest accuracy after one deletion}; `after_one` {label: the
    mean accuracy after one deletion of a shape-keeping block}."""
    lines = [_("Points of test accuracy lost when one block is deleted (every block that can be):")]
    for label, s in summary.items():
        costliest = series(f"{name} {points:.1f}" for name, points in s["costliest"].items())
        lines.append(
            "  "
            + _(
                "{label} ({intact:.1%} intact): median {median:.1f}, mean {mean:.1f} over {blocks} blocks; "
                "the costliest: {costliest}"
            ).format(
                label=label,
                intact=s["intact"],
                median=s["median"],
                mean=s["mean"],
                blocks=s["blocks"],
                costliest=costliest,
            )
        )
        if "recalibrated" in s:
            median, mean = s["recalibrated"]
            lines.append(
                "  "
                + " " * len(label)
                + " "
                + _(
                    "with BN's statistics re-estimated after the deletion: "
                    "median {median:.1f}, mean {mean:.1f}"
                ).format(median=median, mean=mean)
            )
    for label, low in lowest.items():
        lines.append(
            "  "
            + _(
                "{label}'s lowest accuracy after one deletion: {low:.1%} "
                "(chance {chance:.0%}: a wrong network can be below it)"
            ).format(label=label, low=low, chance=chance)
        )
    lines.append(
        _(
            "k = 1 of the random-deletion table below is the mean over the shape-keeping blocks: {means}"
        ).format(means=series(f"{label} {a:.1%}" for label, a in after_one.items()))
    )
    return "\n".join(lines)


def critical_blocks_report(label: str, critical, candidates: int, miss: dict, points: float = 5) -> str:
    """The blocks of `label` whose deletion alone costs more than `points` points (`critical`, out of
    its `candidates` shape-keeping blocks), and the chance that k random deletions miss them all
    (`miss`: {k: `chance_to_miss`})."""
    lines = [
        _(
            "{label}: {count} of its {candidates} shape-keeping blocks cost more than {points:g} points "
            "each ({names});"
        ).format(
            label=label,
            count=len(critical),
            candidates=candidates,
            points=points,
            names=series(critical),
        )
    ]
    for k, p in miss.items():
        lines.append(
            "  " + _("k = {k} random deletions miss all of them with probability {p:.0%}").format(k=k, p=p)
        )
    return "\n".join(lines)


def random_deletion_caption(shallow: int, deep: int, draws: int) -> str:
    """The caption of the table of mean accuracy after deleting k blocks."""
    return _(
        "mean test accuracy (%) after deleting k blocks (all subsets for depth {shallow}, "
        "{draws} random draws per k for depth {deep}):"
    ).format(shallow=shallow, deep=deep, draws=draws)


def deletion_vs_response_report(
    label: str,
    by_kind,
    rho: float,
    rho_later: float,
    blocks: int,
    later_blocks: int,
    largest: str,
    costliest: str,
    clear: float = 0.3,
) -> str:
    """Why some deletions cost more, for one residual network: `by_kind` is its `deletion_vs_response`
    table's mean "accuracy lost" and "response / shortcut" grouped by "downsampling" (True, False);
    `rho` and `rho_later` the rank correlations of the two over all `blocks` blocks and over the
    `later_blocks` outside the first stage; `largest` and `costliest` the blocks with the largest
    response / shortcut and the largest loss. A correlation above `clear` counts as a tendency."""
    kinds = {True: _("a downsampling block"), False: _("another block")}
    width = max(text_width(kind) for kind in kinds.values())
    lines = [_("{label}: mean accuracy lost when deleting").format(label=label)]
    for down, kind in kinds.items():
        lines.append(
            "  "
            + _("{kind} {lost:6.1%} (its response/shortcut: {ratio:.2f})").format(
                kind=pad(kind, width),
                lost=by_kind.loc[down, "accuracy lost"],
                ratio=by_kind.loc[down, "response / shortcut"],
            )
        )
    lines.append(
        "  "
        + _(
            "rank correlation of accuracy lost with response/shortcut over all {blocks} blocks: {rho:+.2f}; "
            "outside the first stage ({later} blocks): {rho_later:+.2f}"
        ).format(blocks=blocks, rho=rho, later=later_blocks, rho_later=rho_later)
    )
    if by_kind.loc[True, "accuracy lost"] > by_kind.loc[False, "accuracy lost"]:
        lines.append(
            "  " + _("-> here deleting a downsampling block costs more than deleting another block,")
        )
    else:
        lines.append(
            "  " + _("-> here deleting a downsampling block costs less than deleting another block,")
        )
    if rho > clear:
        lines.append(
            "     " + _("and blocks with a larger response relative to their shortcut tend to cost more;")
        )
    else:
        lines.append(
            "     "
            + _("and blocks with a larger response relative to their shortcut do not clearly cost more;")
        )
    lines.append(
        "     "
        + _(
            "the largest response/shortcut is block {largest}, the costliest to delete is block {costliest}."
        ).format(largest=largest, costliest=costliest)
    )
    return "\n".join(lines)


def stage_deletion_line(
    stage: str, deleted: int, blocks: int, median: float, low: float, high: float, draws: int, all_lost: float
) -> str:
    """Deleting `deleted` of a stage's `blocks` shape-keeping blocks: the points lost (median, range
    over `draws` draws), and deleting all of them (`all_lost`)."""
    return _(
        "stage {stage}: deleting {deleted} of its {blocks} shape-keeping blocks costs {median:.1f} points "
        "(median of {draws} draws; range {low:.1f} to {high:.1f}); all {blocks}: {all_lost:.1f}"
    ).format(
        stage=stage,
        deleted=deleted,
        blocks=blocks,
        median=median,
        draws=draws,
        low=low,
        high=high,
        all_lost=all_lost,
    )


def reordering_line(k: int, median: float, low: float, high: float, draws: int) -> str:
    """The points lost after `k` random swaps of blocks within stages (median, range over `draws`)."""
    return _(
        "{k:>2} random swaps within stages: {median:.1f} points lost "
        "(median of {draws}; range {low:.1f} to {high:.1f})"
    ).format(k=k, median=median, draws=draws, low=low, high=high)


def path_count_line(depth: int, n: int, total: int, check: bool, mode: int, short: float) -> str:
    """Section 2's path count of ResNet-`depth` (n blocks): the `total` of C(n, k), whether it is
    2^n (`check`), the most common length (`mode`) and the share of paths shorter than n/2."""
    return _(
        "ResNet-{depth}: n = {n} blocks, sum of C(n, k) = {total:,} = 2^{n}: {check}; "
        "most paths have length {mode}; shorter than n/2: {short:.1%}"
    ).format(depth=depth, n=n, total=total, check=check, mode=mode, short=short)


def path_share_report(
    label: str,
    when: str,
    blocks: int,
    samples: int,
    path_share: float,
    short_share: float,
    short_ci,
    quarter_paths: float,
    quarter_share: float,
    quarter_ci,
    lengths,
    ratio: float,
    level: float = 0.9,
) -> str:
    """Section 2: which paths of `label` ("trained" or "at initialisation", `when`; `blocks` blocks,
    `samples` sampled paths per length) carry the summed gradient magnitude. Paths shorter than n/2
    are `path_share` of all paths and carry `short_share` (`short_ci`: an interval at `level`);
    those of length at most n/4 are `quarter_paths` and carry `quarter_share` (`quarter_ci`); the
    middle `level` of it comes from the `lengths` (low, high); each branch multiplies a path's
    gradient by about `ratio`."""
    when = {"trained": _("trained"), "at initialisation": _("at initialisation")}.get(when, when)
    low, high = lengths
    return "\n".join(
        [
            _(
                "{label} {when} ({blocks} blocks, {samples} sampled paths per length), share of the summed "
                "gradient magnitude:"
            ).format(label=label, when=when, blocks=blocks, samples=samples),
            "  "
            + _(
                "paths shorter than n/2 = {half:g} ({paths:.0%} of the paths): {share:.2%} "
                "({level:.0%} bootstrap interval {low:.2%} to {high:.2%})"
            ).format(
                half=blocks / 2,
                paths=path_share,
                share=short_share,
                level=level,
                low=short_ci[0],
                high=short_ci[1],
            ),
            "  "
            + _(
                "paths of length at most n/4 = {quarter:g} ({paths:.2%} of the paths): {share:.0%} "
                "(interval {low:.0%} to {high:.0%})"
            ).format(
                quarter=blocks / 4,
                paths=quarter_paths,
                share=quarter_share,
                low=quarter_ci[0],
                high=quarter_ci[1],
            ),
            "  "
            + _(
                "{level:.0%} of it comes from paths of lengths {low} to {high}; each branch on a path "
                "multiplies its gradient by about {ratio:.2g} (a fit of log norm against k)"
            ).format(level=level, low=low, high=high, ratio=ratio),
        ]
    )


def direction_check(equal: bool, zero: int, total: int) -> str:
    """Section 3's check of a filter-normalised direction: every filter's norm equals the weights'
    (`equal`), and `zero` of the network's `total` parameters (BN layers, biases) are left at 0."""
    return "\n".join(
        [
            _("every filter: |‖d[i]‖ / ‖w[i]‖ - 1| < 1e-5: {equal}").format(equal=equal),
            _("parameters of BN layers and biases, left at 0 in the direction: {zero:,} of {total:,}").format(
                zero=zero, total=total
            ),
        ]
    )


def slices_caption(directions: int, points: int, images: int) -> str:
    """The caption of section 3's 1-D slices: directions, points per slice, training images."""
    return _("{directions} directions x {points} points per slice, {images} training images").format(
        directions=directions, points=points, images=images
    )


def _landscape_numbers(plain, residual) -> str:
    """The twins' median basin width, median loss at α = ±1 and |λmin / λmax| (`landscape_table` rows
    with the Hessian's columns added)."""
    return _(
        "median basin width plain {plain_width:.2f}, residual {residual_width:.2f}; "
        "median loss at α = ±1 plain {plain_wall:.3g}, residual {residual_wall:.3g}; "
        "|λmin/λmax| plain {plain_ratio:.2g}, residual {residual_ratio:.2g}"
    ).format(
        plain_width=plain["basin width (median)"],
        residual_width=residual["basin width (median)"],
        plain_wall=plain["loss at α = ±max (median)"],
        residual_wall=residual["loss at α = ±max (median)"],
        plain_ratio=plain["|λmin / λmax|"],
        residual_ratio=residual["|λmin / λmax|"],
    )


def landscape_report(depth: int, plain, residual) -> str:
    """Section 3, one depth: the twins' rows of the landscape table (with λmax and |λmin / λmax|
    added), then which twin sits in the wider basin and whose walls reach higher at α = ±1."""
    width, wall = "basin width (median)", "loss at α = ±max (median)"
    if residual[width] > plain[width]:
        wider = _("the residual network sits in the wider basin (by the doubling criterion)")
    else:
        wider = _("the plain network sits in the wider basin (by the doubling criterion)")
    if plain[wall] > residual[wall]:
        higher = _("the plain network's walls reach higher at α = ±1")
    else:
        higher = _("the residual network's walls reach higher at α = ±1")
    return "\n".join(
        [
            _(
                "depth {depth:>3}: loss at the weights plain {plain:.3f}, residual {residual:.3f}; {numbers}"
            ).format(
                depth=depth,
                plain=plain["loss at the weights"],
                residual=residual["loss at the weights"],
                numbers=_landscape_numbers(plain, residual),
            ),
            " " * 11 + wider + _("; ") + higher,
        ]
    )


def response_report(depths, std: dict, ratio: dict, initial: dict, scales: dict) -> str:
    """Section 4: per depth the mean response std of both twins and the residual one's response /
    shortcut (`std`, `ratio`: {label: mean over its blocks}); the mean |BN scale| of the branches'
    last BN (`scales`); how the std and the ratio change from the shallowest to the deepest
    network, trained and at initialisation (`initial`: {residual label: mean ratio})."""
    shallow, deep = depths[0], depths[-1]
    lines = [
        _(
            "depth {depth:>3}: mean response std: residual {residual:.3f}, plain {plain:.3f}; "
            "residual response / shortcut {ratio:.3f}"
        ).format(
            depth=depth,
            residual=std[f"residual-{depth}"],
            plain=std[f"plain-{depth}"],
            ratio=ratio[f"residual-{depth}"],
        )
        for depth in depths
    ]
    lines.append(
        _("mean |BN scale| of the branches' last BN: {scales} (initial value 1)").format(
            scales=series(f"{label} {scale:.3f}" for label, scale in scales.items())
        )
    )
    std_s, std_d = std[f"residual-{shallow}"], std[f"residual-{deep}"]
    rel_s, rel_d = ratio[f"residual-{shallow}"], ratio[f"residual-{deep}"]
    init_s, init_d = initial[f"residual-{shallow}"], initial[f"residual-{deep}"]
    if std_d < std_s:
        said = _(
            "From {shallow} to {deep} layers the mean response std fell by {change:.0%} "
            "({before:.3f} -> {after:.3f});"
        )
    else:
        said = _(
            "From {shallow} to {deep} layers the mean response std rose by {change:.0%} "
            "({before:.3f} -> {after:.3f});"
        )
    lines.append(
        said.format(shallow=shallow, deep=deep, change=abs(1 - std_d / std_s), before=std_s, after=std_d)
    )
    if rel_d < rel_s:
        said = _(
            "relative to the shortcut, it fell by {change:.0%} ({before:.3f} -> {after:.3f}) "
            "in the trained networks;"
        )
    else:
        said = _(
            "relative to the shortcut, it rose by {change:.0%} ({before:.3f} -> {after:.3f}) "
            "in the trained networks;"
        )
    lines.append(said.format(change=abs(1 - rel_d / rel_s), before=rel_s, after=rel_d))
    if init_d < init_s:
        said = _(
            "at initialisation (BN with the data's statistics) the same ratio goes "
            "{before:.3f} -> {after:.3f}, a fall of {change:.0%} (trained: {trained:.0%}); "
            "training changed it by a factor {factor_shallow:.2f} at depth {shallow}, "
            "{factor_deep:.2f} at depth {deep}."
        )
    else:
        said = _(
            "at initialisation (BN with the data's statistics) the same ratio goes "
            "{before:.3f} -> {after:.3f}, a rise of {change:.0%} (trained: {trained:.0%}); "
            "training changed it by a factor {factor_shallow:.2f} at depth {shallow}, "
            "{factor_deep:.2f} at depth {deep}."
        )
    lines.append(
        said.format(
            before=init_s,
            after=init_d,
            change=abs(1 - init_d / init_s),
            trained=abs(1 - rel_d / rel_s),
            factor_shallow=rel_s / init_s,
            shallow=shallow,
            factor_deep=rel_d / init_d,
            deep=deep,
        )
    )
    return "\n".join(lines)


def lesion_finding(
    label: str, median: float, mean: float, after_one: dict, intact: dict, chance: float = 0.1
) -> str:
    """The summary's lesion line: the points `label` loses per single deletion (median, mean), and
    what the shallow twins keep after one deletion (`after_one`: {residual label: accuracy, plain
    label: accuracy}, in that order; `intact`: {label: accuracy of the whole network})."""
    residual, plain = after_one
    return _(
        "lesions: {label}: median {median:.1f}, mean {mean:.1f} points lost per single deletion; "
        "{residual} keeps {residual_after:.1%} (of {residual_intact:.1%}), {plain} {plain_after:.1%} "
        "(of {plain_intact:.1%}; chance {chance:.0%})"
    ).format(
        label=label,
        median=median,
        mean=mean,
        residual=residual,
        residual_after=after_one[residual],
        residual_intact=intact[residual],
        plain=plain,
        plain_after=after_one[plain],
        plain_intact=intact[plain],
        chance=chance,
    )


def path_finding(
    label: str, short_share: float, path_share: float, quarter_share: float, quarter_ci, level: float = 0.9
) -> str:
    """The summary's path line (`path_share_report`'s numbers for the trained network; `quarter_ci`
    an interval at `level`)."""
    return _(
        "paths: in {label}, paths shorter than n/2 carry {share:.2%} of the summed gradient magnitude "
        "({paths:.0%} of the paths); length at most n/4: {quarter:.0%} "
        "({level:.0%} interval {low:.0%} to {high:.0%})"
    ).format(
        label=label,
        share=short_share,
        paths=path_share,
        quarter=quarter_share,
        level=level,
        low=quarter_ci[0],
        high=quarter_ci[1],
    )


def landscape_finding(depth: int, plain, residual) -> str:
    """The summary's landscape line: the deepest twins' rows of the landscape table."""
    return _("landscapes at depth {depth}: {numbers}").format(
        depth=depth, numbers=_landscape_numbers(plain, residual)
    )


def response_finding(shallow: int, deep: int, trained, initial) -> str:
    """The summary's response line: the mean response / shortcut from depth `shallow` to `deep`,
    trained and at initialisation (pairs: shallow, deep)."""
    return _(
        "responses: response / shortcut trained {trained_shallow:.3f} -> {trained_deep:.3f}, "
        "at initialisation {initial_shallow:.3f} -> {initial_deep:.3f} (depth {shallow} -> {deep})"
    ).format(
        trained_shallow=trained[0],
        trained_deep=trained[1],
        initial_shallow=initial[0],
        initial_deep=initial[1],
        shallow=shallow,
        deep=deep,
    )


def kept_after_one(label: str, intact: float, after: float, course_kept: float) -> str:
    """Exercise 1: the accuracy of `label` intact and after one deletion, the share it keeps, next
    to the share the course's block keeps (`course_kept`)."""
    return _(
        "{label}: {intact:.1%} intact, {after:.1%} after one deletion ({kept:.0%} kept; "
        "the course's block: {course:.0%} kept)"
    ).format(label=label, intact=intact, after=after, kept=after / intact, course=course_kept)


def zero_init_accuracy(zero_init: float, default: float) -> str:
    """Exercise 2: the test accuracy of the zero-initialised and the default residual network."""
    return _("test accuracy: zero-initialised {zero:.1%}, default {default:.1%}").format(
        zero=zero_init, default=default
    )


def kept_curve(label: str, intact: float, kept: dict) -> str:
    """Exercise 3: a network's accuracy intact and the share it keeps after k deletions ({k: share})."""
    return "\n".join(
        [
            _("{label} intact {intact:.1%}; kept after k deletions:").format(
                label=f"{label:<15}", intact=intact
            ),
            "   " + ", ".join(f"k={k}: {share:.0%}" for k, share in kept.items()),
        ]
    )


def run_time(minutes: float, profile) -> str:
    """The notebook's last line: how long it ran, under which profile."""
    return _("this notebook ran in {minutes:.1f} min (profile {profile})").format(
        minutes=minutes, profile=profile
    )
