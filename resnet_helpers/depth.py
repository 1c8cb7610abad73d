"""Plain vs residual networks of a given depth, a short training loop, and the nesting check.

The networks follow He et al. 2015, section 4.2 (their CIFAR-10 networks), sized for
Fashion-MNIST: a compact 3x3 stem, three stages of widths w, 2w, 4w (16/32/64 in the
paper), `n` blocks per stage, then global average pooling and a linear layer. With the
course's basic block (two 3x3 convolutions) that is 6n + 2 weight layers: 8, 14, 20, 32,
44, 56, ... A *plain* network is the very same network with every shortcut cut away: each
block keeps its layers (and their initial weights) and loses only the `+ x`.

    net = build_depth_net(20)               # ResNet-20
    plain = build_depth_net(20, plain=True)  # plain-20: same layers, no shortcuts
    X, y = training_tensors(2048, resolution=12)   # real Fashion-MNIST, normalised
    history = train_losses(net, X, y, steps=400, batch_size=64, lr=0.05, one_cycle=True)

Notebook 01 trains both kinds at a few depths (the degradation problem); notebook 05
reuses the same pieces for gradient flow and very deep pre-activation networks.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import BLOCKS, Bottleneck, PreActResidual, Residual
from .data import load_fashion_mnist
from .models import ResNet, ResNetConfig, build_resnet, count_weight_layers
from .profiles import choose_device

__all__ = [
    "PlainBlock",
    "depth_config",
    "valid_depths",
    "build_depth_net",
    "remove_shortcuts_",
    "add_blocks",
    "training_tensors",
    "train_losses",
    "evaluate_loss",
    "max_abs_difference",
    "KINDS",
    "LAYERS_PER_BLOCK",
    "degradation_experiment",
    "final_losses",
    "smooth",
    "degradation_figure",
    "depth_curves_figure",
    "depth_panel",
]

# Convolutions in one block of each kind (the paper's depth counts them, not the 1x1 shortcuts).
LAYERS_PER_BLOCK = {"basic": 2, "preact": 2, "bottleneck": 3}


class PlainBlock(nn.Sequential):
    """A residual block with its shortcut cut away: the branch's layers, one after the other.

    `PlainBlock.from_residual(block)` reuses the block's own layers (same weights), so a
    plain network and its residual twin differ in nothing but the shortcuts:
    - `Residual`: conv-BN-ReLU, conv-BN, (+ x), ReLU  ->  conv-BN-ReLU, conv-BN-ReLU
    - `Bottleneck`: the same with three convolutions
    - `PreActResidual`: BN-ReLU-conv, BN-ReLU-conv, (+ x)  ->  the same without + x
    """

    projection = None  # no shortcut, so no 1x1 projection either

    @classmethod
    def from_residual(cls, block: nn.Module) -> PlainBlock:
        if isinstance(block, Residual):
            return cls(block.conv1, block.bn1, nn.ReLU(), block.conv2, block.bn2, nn.ReLU())
        if isinstance(block, Bottleneck):
            return cls(
                block.conv1, block.bn1, nn.ReLU(), block.conv2, block.bn2, nn.ReLU(),
                block.conv3, block.bn3, nn.ReLU(),
            )  # fmt: skip
        if isinstance(block, PreActResidual):
            return cls(block.bn1, nn.ReLU(), block.conv1, block.bn2, nn.ReLU(), block.conv2)
        raise TypeError(f"PlainBlock.from_residual takes a residual block, got {type(block).__name__}.")


def valid_depths(block: str = "basic", count: int = 6) -> list[int]:
    """The first `count` depths a 3-stage network of `block`s can have: 8, 14, 20, ... for basic."""
    per_stage = 3 * LAYERS_PER_BLOCK[block]
    return [per_stage * n + 2 for n in range(1, count + 1)]


def depth_config(
    depth: int, width: int = 16, block: str = "basic", in_channels: int = 1, num_classes: int = 10
) -> ResNetConfig:
    """The `ResNetConfig` of a 3-stage network with `depth` weight layers (He et al. 2015, 4.2).

    Stages have widths `width`, `2 * width`, `4 * width` and the same number of blocks
    n = (depth - 2) / 6 for basic and pre-activation blocks, (depth - 2) / 9 for bottlenecks.
    """
    if block not in LAYERS_PER_BLOCK:
        raise ValueError(f"block must be one of {sorted(LAYERS_PER_BLOCK)}, got {block!r}.")
    per_stage = 3 * LAYERS_PER_BLOCK[block]
    n, remainder = divmod(depth - 2, per_stage)
    if isinstance(depth, bool) or not isinstance(depth, int) or n < 1 or remainder:
        raise ValueError(
            f"a 3-stage network of {block!r} blocks has {per_stage}n + 2 weight layers; "
            f"depth={depth!r} is not one of them. Try one of {valid_depths(block)}, ..."
        )
    return ResNetConfig(
        blocks=(n, n, n),
        channels=(width, 2 * width, 4 * width),
        block=block,
        stem="compact",
        stem_channels=width,
        in_channels=in_channels,
        num_classes=num_classes,
    )


def remove_shortcuts_(net: ResNet) -> ResNet:
    """Replace every residual block of `net` by its `PlainBlock` (in place); returns `net`."""
    for stage in net.stages:
        for i, block in enumerate(stage):
            stage[i] = PlainBlock.from_residual(block)
    return net


def build_depth_net(
    depth: int,
    width: int = 16,
    block: str = "basic",
    plain: bool = False,
    in_channels: int = 1,
    num_classes: int = 10,
) -> ResNet:
    """A residual network with `depth` weight layers, or with `plain=True` the same without shortcuts."""
    net = build_resnet(depth_config(depth, width, block, in_channels, num_classes))
    if plain:
        remove_shortcuts_(net)
    assert count_weight_layers(net) == depth
    return net


def add_blocks(net: ResNet, per_stage: int = 1, plain: bool = False) -> ResNet:
    """A deeper copy of `net`: `per_stage` new blocks at the end of every stage.

    The new blocks keep the shape (stride 1, the stage's width). Residual ones have their
    branch zeroed (`zero_residual_`, torchvision's `zero_init_residual`), so each starts as
    the identity mapping; plain ones are freshly initialised layers. `net` is not changed.
    """
    deeper = copy.deepcopy(net)
    block = BLOCKS[net.config.block]
    device = next(net.parameters()).device
    for stage, width in zip(deeper.stages, net.config.channels, strict=True):
        for _ in range(per_stage):
            new = block(width * block.expansion, width)
            stage.append((PlainBlock.from_residual(new) if plain else new.zero_residual_()).to(device))
    deeper.config = net.config.replace(blocks=tuple(n + per_stage for n in net.config.blocks))
    return deeper


def training_tensors(
    n_images: int, resolution: int = 28, seed: int = 0, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random subset of the real Fashion-MNIST training set, as float tensors.

    Returns images (N, 1, resolution, resolution), normalised to mean 0 and std 1, and
    their labels (N,). The subset is drawn with `seed`, so every network sees the same images.
    """
    data = load_fashion_mnist()
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.train_labels), generator=g)[:n_images]
    X = data.train_images[idx].unsqueeze(1).float() / 255
    if resolution != X.shape[-1]:
        X = F.interpolate(X, size=(resolution, resolution), mode="bilinear", antialias=True)
    X = (X - X.mean()) / X.std()
    device = torch.device(device) if device is not None else choose_device()
    return X.to(device), data.train_labels[idx].to(device)


def _batches(n: int, batch_size: int, steps: int, generator: torch.Generator):
    """Index tensors for `steps` mini-batches: shuffled epochs over n examples."""
    done = 0
    while done < steps:
        for idx in torch.randperm(n, generator=generator).split(batch_size):
            if len(idx) < batch_size or done == steps:
                break
            yield idx
            done += 1


def train_losses(
    net: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    batch_size: int = 128,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    one_cycle: bool = False,
    seed: int = 0,
    desc: str | None = None,
    progress: bool = True,
) -> list[float]:
    """Train `net` with SGD for `steps` mini-batches; the training loss of every step.

    The batches come straight from the tensors (shuffled with `seed`, so two networks
    trained with the same seed see the same batches in the same order). `one_cycle=True`
    warms the learning rate up to `lr` and anneals it to ~0 (`OneCycleLR`); else it is constant.

    A loss that is no longer finite stops the run (checked every 10 steps, to avoid waiting
    for a GPU at each step): its gradients made every weight NaN, so the remaining steps would
    only compute NaNs. They are returned as NaN, so the list always has `steps` entries.
    """
    from tqdm.auto import tqdm

    if batch_size > len(X):
        raise ValueError(f"batch_size={batch_size} is larger than the {len(X)} training images.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}.")
    net.to(X.device).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps) if one_cycle else None
    generator = torch.Generator().manual_seed(seed)
    losses = []
    bar = tqdm(total=steps, desc=desc, disable=not progress)
    for step, idx in enumerate(_batches(len(X), batch_size, steps, generator), start=1):
        idx = idx.to(X.device)
        loss = F.cross_entropy(net(X[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        losses.append(loss.detach())
        bar.update(1)
        if step % 10 == 0 and not torch.isfinite(loss).item():
            bar.set_postfix_str("loss is NaN: stopped")
            break
    bar.close()
    losses = torch.stack(losses).tolist()
    return losses + [float("nan")] * (steps - len(losses))


@torch.no_grad()
def evaluate_loss(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Mean cross-entropy of `net` (in eval mode) on X, y."""
    was_training = net.training
    net.eval()
    total = sum(
        F.cross_entropy(net(xb), yb, reduction="sum")
        for xb, yb in zip(X.split(batch_size), y.split(batch_size), strict=True)
    )
    net.train(was_training)
    return float(total) / len(X)


@torch.no_grad()
def max_abs_difference(net_a: nn.Module, net_b: nn.Module, X: torch.Tensor, batch_size: int = 512) -> float:
    """max |net_a(X) - net_b(X)| with both networks in eval mode (BN uses its running stats)."""
    modes = net_a.training, net_b.training
    net_a.eval(), net_b.eval()
    try:
        return max(float((net_a(xb) - net_b(xb)).abs().max()) for xb in X.split(batch_size))
    finally:
        net_a.train(modes[0]), net_b.train(modes[1])


# --- The degradation experiment (He et al. 2015, Fig. 1): train plain and residual twins ---

KINDS = ("plain", "residual")


def degradation_experiment(
    depths,
    X: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    width: int = 16,
    block: str = "basic",
    seed: int = 0,
    **train_kwargs,
) -> dict:
    """Train a plain and a residual network of every depth the same way on the same batches.

    Both twins of a depth start from the same weights (seeded), see the same batches in
    the same order and differ only in the shortcuts. Returns {"histories": {(kind, depth):
    losses}, "nets": {(kind, depth): trained network}}.
    """
    histories, nets = {}, {}
    for depth in depths:
        for kind in KINDS:
            torch.manual_seed(seed)
            net = build_depth_net(depth, width, block, plain=kind == "plain", in_channels=X.shape[1])
            desc = f"{kind}-{depth}"
            histories[kind, depth] = train_losses(net, X, y, steps, seed=seed, desc=desc, **train_kwargs)
            nets[kind, depth] = net
    return {"histories": histories, "nets": nets}


def final_losses(histories: dict, last: float = 0.1):
    """A DataFrame (rows: depth; columns: plain, residual) of the mean loss over the last 10% of steps."""
    import pandas as pd

    rows = {}
    for (kind, depth), losses in histories.items():
        n = max(1, round(len(losses) * last))
        rows.setdefault(depth, {})[kind] = sum(losses[-n:]) / n
    table = pd.DataFrame.from_dict(rows, orient="index")[list(KINDS)].sort_index()
    table.index.name = "depth"
    return table


def smooth(losses, window: int | None = None) -> list[float]:
    """Moving average over `window` steps (default: 1/20 of the run), for readable curves."""
    window = window or max(1, len(losses) // 20)
    out, total = [], 0.0
    for i, v in enumerate(losses):
        total += v - (losses[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def degradation_figure(histories: dict):
    """Training loss against steps: plain networks left, residual networks right, one curve per depth."""
    import matplotlib.pyplot as plt

    depths = sorted({depth for _, depth in histories})
    colors = plt.cm.viridis([i / max(1, len(depths) - 1) * 0.85 for i in range(len(depths))])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, kind in zip(axes, KINDS, strict=True):
        for depth, color in zip(depths, colors, strict=True):
            ax.plot(smooth(histories[kind, depth]), color=color, label=f"{kind}-{depth}")
        ax.set(title=f"{kind} networks", xlabel="training step")
        ax.legend()
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("training loss (moving average)")
    fig.tight_layout()
    return fig


def depth_curves_figure(histories: dict, depth: int):
    """The depth slider's callback: the plain and the residual training curve at one depth."""
    import matplotlib.pyplot as plt

    trained = sorted({d for _, d in histories})
    if depth not in trained:
        raise ValueError(f"no network of depth {depth} was trained; trained depths: {trained}.")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for kind, color in zip(KINDS, ("tab:red", "tab:blue"), strict=True):
        losses = histories[kind, depth]
        ax.plot(losses, color=color, alpha=0.2)
        n = max(1, len(losses) // 10)
        ax.plot(smooth(losses), color=color, label=f"{kind}-{depth}: last 10% {sum(losses[-n:]) / n:.3f}")
    top = max(max(h[len(h) // 10 :]) for h in histories.values())
    ax.set(title=f"depth {depth}: same layers, with and without shortcuts", xlabel="training step",
           ylabel="training loss", ylim=(0, top * 1.05))  # fmt: skip
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def depth_panel(histories: dict):
    """ipywidgets panel: a slider over the trained depths redraws `depth_curves_figure`."""
    import ipywidgets as widgets

    from .function_classes import show_or_explain

    depths = sorted({d for _, d in histories})
    slider = widgets.SelectionSlider(options=depths, value=depths[-1], description="depth")
    out = widgets.interactive_output(
        lambda depth: show_or_explain(depth_curves_figure, histories=histories, depth=depth),
        {"depth": slider},
    )
    return widgets.VBox([slider, out])
