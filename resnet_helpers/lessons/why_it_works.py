"""Why residual networks work (notebook 06), part 1: the trained networks (cached) and lesions.

Part 2, `why_it_works_measures.py`, holds the paths, the loss landscapes and the residual responses.

    twins = cached_twins([20, 56], X, y, steps=200, key="cpu")       # trained once, then read back
    acc = single_deletions(net, X_test, y_test)                       # delete one block at a time
    curves = random_deletions(net, X_test, y_test, draws=3)           # delete k random blocks

A *block* here is a residual block of a `ResNet`'s stages, or the `PlainBlock` that replaces it in
the plain twin (the same layers without the shortcut). Deleting a residual block keeps its shortcut
(`ShortcutOnly`); deleting a plain block leaves nothing, so only blocks that keep the shape can go.
"""

from __future__ import annotations

import copy
import random
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ..blocks import PreActResidual, ResidualBlock
from ..models import build_depth_net
from ..training.checkpoints import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from ..training.loop import accuracy, train_losses
from .function_classes import KINDS

__all__ = [
    "COLORS",
    "cached_net",
    "cached_twins",
    "checkpoint_path",
    "StochasticDepth",
    "stochastic_depth_",
    "unwrap_",
    "last_layer",
    "blocks_of",
    "is_downsampling",
    "downsampling_names",
    "shortcut_of",
    "ShortcutOnly",
    "delete_blocks",
    "single_deletions",
    "random_deletions",
    "line_style",
    "lesion_figure",
    "lesion_view",
    "lesion_panel",
]

COLORS = {"plain": "tab:red", "residual": "tab:blue", "preact": "tab:green", "stochastic": "tab:purple"}


# --- Trained networks, cached in the trainer's checkpoint format ---


def checkpoint_path(folder, key: str, name: str) -> Path:
    """checkpoints/why_it_works-<key>-<name>.pt, e.g. why_it_works-cpu-residual-56.pt (key: the profile)."""
    return Path(folder) / f"why_it_works-{key}-{name}.pt"


def cached_net(
    name: str, build, X, y, steps: int, key: str, folder="checkpoints", config=None, seed=0, **train_kwargs
):
    """`build()` (called after `torch.manual_seed(seed)`), trained with `train_losses` once and cached.

    The network is saved with `save_checkpoint` as `checkpoint_path(folder, key, name)` in the
    trainer's format (`format`, `epoch`, `model`, `history`, `config`); when a checkpoint with the
    same config (`config` + the data's size and the training settings) is there, its weights are
    loaded instead of training again. Returns (net in eval mode, losses, loaded: bool).
    """
    settings = {k: v for k, v in train_kwargs.items() if k != "progress"}
    config = {**(config or {}), "name": name, "steps": steps, "seed": seed, "key": key, "images": len(X),
              "image_shape": list(X.shape[1:]), **settings}  # fmt: skip
    torch.manual_seed(seed)
    net = build()
    path = checkpoint_path(folder, key, name)
    state = load_checkpoint(path) if path.exists() else None
    loaded = state is not None and state.get("config") == config
    if loaded:
        net.load_state_dict(state["model"])
        losses = state["history"]["loss"]
    else:
        losses = train_losses(net, X, y, steps, seed=seed, desc=name, **train_kwargs)
        state = {"format": CHECKPOINT_FORMAT, "epoch": 1, "model": net.state_dict(),
                 "history": {"loss": losses}, "config": config}  # fmt: skip
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


class StochasticDepth(nn.Module):
    """A residual block whose branch is dropped at random in training (Huang et al. 2016, "Deep
    Networks with Stochastic Depth"): with probability `p` the block is its `ShortcutOnly`; at test
    time the branch is always there, scaled by 1 - p (its expected contribution)."""

    def __init__(self, block: ResidualBlock, p: float):
        super().__init__()
        self.block, self.p = block, p

    def forward(self, x):
        b = self.block
        if self.training and torch.rand(()).item() < self.p:
            return ShortcutOnly(b)(x)
        y = shortcut_of(b, x) + b.branch(x) * (1 if self.training else 1 - self.p)
        return F.relu(y) if b.post_activation else y

    @torch.no_grad()
    def folded(self) -> ResidualBlock:
        """The block alone, computing what this one does at test time: the 1 - p scale is folded
        into the weight and bias of its branch's last layer (a BN, or a convolution)."""
        last = last_layer(self.block)
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


def last_layer(block: nn.Module) -> nn.Module:
    """The last layer with weights in a block's branch: its last BN (post-activation blocks), or its
    last convolution (pre-activation blocks, whose branch ends in one)."""
    layers = block.branch_layers() if isinstance(block, ResidualBlock) else list(block)
    return [m for m in layers if getattr(m, "weight", None) is not None][-1]


# --- 1. Lesions: delete blocks at test time ---


def blocks_of(net) -> list[tuple[str, nn.Module]]:
    """[(name, block)] of every block of `net`'s stages, input side first: "b3.0" is stage b3's first."""
    return [
        (f"{stage_name}.{i}", block)
        for stage_name, stage in net.named_children()
        if stage in net.stages
        for i, block in enumerate(stage)
    ]


def _convs(block: nn.Module) -> list[nn.Conv2d]:
    layers = block.branch_layers() if isinstance(block, ResidualBlock) else list(block)
    return [m for m in layers if isinstance(m, nn.Conv2d)]


def downsampling_names(net) -> list[str]:
    """Names (from `blocks_of`) of the blocks that change the shape."""
    return [name for name, block in blocks_of(net) if is_downsampling(block)]


def is_downsampling(block: nn.Module) -> bool:
    """True for a block that changes the shape (a stride or new channels): the first of a stage."""
    convs = _convs(block)
    return any(c.stride != (1, 1) for c in convs) or convs[0].in_channels != convs[-1].out_channels


def shortcut_of(block: ResidualBlock, x):
    """What `block`'s forward pass adds its branch to: `block.shortcut(x)`, except for a
    pre-activation block with a projection, whose 1x1 convolution takes the pre-activated input."""
    if isinstance(block, PreActResidual) and block.projection is not None:
        return block.projection(F.relu(block.bn1(x)))
    return block.shortcut(x)


class ShortcutOnly(nn.Module):
    """A residual block with its branch deleted: x -> shortcut(x) (+ the ReLU after the addition)."""

    def __init__(self, block: ResidualBlock):
        super().__init__()
        self.block = block

    def forward(self, x):
        y = shortcut_of(self.block, x)
        return F.relu(y) if self.block.post_activation else y


def delete_blocks(net, names) -> nn.Module:
    """A copy of `net` without the blocks `names` (from `blocks_of`); `net` is not changed.

    A residual block keeps its shortcut (`ShortcutOnly`): the identity, or the 1x1 projection of a
    downsampling block. A plain block is replaced by nothing (`nn.Identity`), which only works when
    it keeps the shape; deleting a downsampling plain block raises ValueError.
    """
    names = set(names)
    known = {name for name, _ in blocks_of(net)}
    if names - known:
        raise ValueError(f"no blocks named {sorted(names - known)}; the blocks are {sorted(known)}.")
    lesioned = copy.deepcopy(net)
    for name, block in blocks_of(lesioned):
        if name not in names:
            continue
        stage_name, i = name.split(".")
        if isinstance(block, ResidualBlock):
            replacement = ShortcutOnly(block)
        elif is_downsampling(block):
            raise ValueError(
                f"plain block {name} changes the shape: without a shortcut it cannot be deleted."
            )
        else:
            replacement = nn.Identity()
        getattr(lesioned, stage_name)[int(i)] = replacement
    return lesioned


def single_deletions(net, X, y) -> dict[str, float | None]:
    """{block name: test accuracy with that one block deleted}; None where it cannot be deleted."""
    result = {}
    for name, block in blocks_of(net):
        if not isinstance(block, ResidualBlock) and is_downsampling(block):
            result[name] = None
        else:
            result[name] = accuracy(delete_blocks(net, [name]), X, y)
    return result


def random_deletions(net, X, y, ks=None, draws: int = 3, seed: int = 0) -> dict[int, list[float]]:
    """{k: accuracies after deleting k random shape-keeping blocks, one per draw}, k = 0 included.

    Only blocks that keep the shape are drawn (in both twins, the same positions), so a plain and a
    residual network of the same depth are lesioned alike. Deterministic for a given `seed`."""
    candidates = [name for name, block in blocks_of(net) if not is_downsampling(block)]
    ks = range(len(candidates) + 1) if ks is None else ks
    rng = random.Random(seed)
    result = {}
    for k in ks:
        picks = [rng.sample(candidates, k) for _ in range(1 if k in (0, len(candidates)) else draws)]
        result[k] = [accuracy(delete_blocks(net, names), X, y) for names in picks]
    return result


def line_style(label: str, labels) -> dict:
    """Colour by kind ("plain-20": red, "residual-56": blue, "preact-20": green), line style by
    depth among `labels` (the deepest solid, shallower ones dashed, then dotted)."""
    depth = int(label.rsplit("-", 1)[1])
    deeper = sorted(
        {int(other.rsplit("-", 1)[1]) for other in labels if int(other.rsplit("-", 1)[1]) > depth}
    )
    return {"color": COLORS.get(label.split("-")[0]), "ls": ["-", "--", ":"][min(len(deeper), 2)]}


def lesion_figure(singles: dict, randoms: dict, downsampling=(), chance: float = 0.1):
    """Left: accuracy after deleting each single block ({label: `single_deletions`}), the blocks
    named in `downsampling` circled in their network's colour; right: after deleting k random blocks ({label:
    `random_deletions`}: mean and the draws)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    for label, acc in singles.items():
        names = list(acc)
        xs = [i + 1 for i, n in enumerate(names) if acc[n] is not None]
        style = line_style(label, singles)
        left.plot(xs, [100 * acc[names[i - 1]] for i in xs], marker="o", ms=4, label=label, **style)
        down = [i for i in xs if names[i - 1] in downsampling]
        circled = [100 * acc[names[i - 1]] for i in down]  # in the line's colour: whose block it is
        left.scatter(down, circled, s=120, facecolors="none", edgecolors=style["color"], linewidths=1.5)
    left.scatter([], [], s=120, facecolors="none", edgecolors="gray", label="downsampling block (circled)")
    left.set(
        title="delete one block", xlabel="deleted block (1 = next to the input)", ylabel="test accuracy (%)"
    )
    for label, curves in randoms.items():
        ks = sorted(curves)
        style = line_style(label, randoms)
        for k in ks:
            right.scatter(
                [k] * len(curves[k]), [100 * a for a in curves[k]], color=style["color"], alpha=0.3, s=12
            )
        means = [100 * sum(curves[k]) / len(curves[k]) for k in ks]
        right.plot(ks, means, marker="o", ms=4, label=label, **style)
    right.set(title="delete k random blocks (dots: draws)", xlabel="blocks deleted (k)",
              ylabel="test accuracy (%)")  # fmt: skip
    for ax in (left, right):
        ax.axhline(100 * chance, color="gray", ls="-.", lw=1, label=f"chance ({chance:.0%})")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def lesion_view(nets: dict, deleted, X, y, chance: float = 0.1):
    """The panel's callback: test accuracy of each network ({label: net}) with the blocks `deleted`.

    A network in which a deleted block cannot go (a downsampling plain block) gets no bar, and says
    why. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for i, (label, net) in enumerate(nets.items()):
        color = COLORS.get(label.split("-")[0])
        try:
            acc = accuracy(delete_blocks(net, deleted), X, y)
        except ValueError:
            ax.text(i, 3, "cannot delete a\ndownsampling plain\nblock", ha="center", fontsize=8)
            continue
        ax.bar(i, 100 * acc, color=color)
        ax.text(i, 100 * acc + 2, f"{acc:.1%}", ha="center")
    ax.axhline(100 * chance, color="gray", ls="--", lw=1, label=f"chance ({chance:.0%})")
    ax.set_xticks(range(len(nets)), list(nets))
    what = ", ".join(sorted(deleted)) if deleted else "nothing"
    ax.set(ylim=(0, 105), ylabel="test accuracy (%)", title=f"deleted: {what}")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def lesion_panel(nets: dict, X, y, deleted=()):
    """Checkboxes, one per block of the first network; the bars (`lesion_view`) follow them.

    Returned with a static snapshot of its first view (`with_snapshot`); `.panel` is the widget."""
    import ipywidgets as widgets

    from .widgets import panel_output, show_or_explain, with_snapshot

    names = [name for name, _ in blocks_of(next(iter(nets.values())))]
    boxes = {n: widgets.Checkbox(value=n in deleted, description=n, indent=False,
                                 layout=widgets.Layout(width="70px")) for n in names}  # fmt: skip

    def show(**ticked):
        chosen = [n.replace("_", ".") for n, v in ticked.items() if v]
        show_or_explain(lesion_view, nets=nets, deleted=chosen, X=X, y=y)

    out = panel_output(show, {n.replace(".", "_"): box for n, box in boxes.items()})
    panel = widgets.VBox(
        [widgets.Label("tick the blocks to delete:"), widgets.HBox(list(boxes.values())), out]
    )
    return with_snapshot(panel, lesion_view(nets, list(deleted), X, y))
