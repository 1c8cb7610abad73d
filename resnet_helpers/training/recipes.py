"""How to train (a `Recipe`: optimiser, schedule, loss, augmentation, init) and how much
(`RunSettings`: epochs, batch, resolution, images), with the sizes of each run profile."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from ..blocks import ResidualBlock, check_positive_int
from ..i18n import _
from ..profiles import Profile, get_profile

__all__ = [
    "Recipe",
    "RECIPES",
    "RunSettings",
    "run_settings",
    "improved_settings",
    "init_weights",
    "sgd",
]


@dataclass(frozen=True)
class Recipe:
    """How to train: optimiser, schedule, loss and augmentation. Epochs and batch size are
    not part of a recipe: both recipes run with the same ones."""

    name: str
    lr: float
    momentum: float = 0.0  # SGD's; with cycle_momentum, where the cycle starts and ends (its high)
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"  # "constant" or "onecycle"
    # One-cycle only: (low, high), momentum runs high -> low while the learning rate rises and back
    # while it falls (OneCycleLR's cycle_momentum); None: momentum stays `momentum` all the run.
    cycle_momentum: tuple[float, float] | None = None
    label_smoothing: float = 0.0
    flip: bool = False  # random horizontal flip
    translate: int = 0  # random shift of up to this many pixels (on the 28x28 image)
    init: str = "xavier"  # "xavier" (train_ch6's init_weights) or "default" (PyTorch's)
    zero_init_residual: bool = False
    description: str = ""

    def __post_init__(self):
        if self.cycle_momentum is None:
            return
        if self.schedule != "onecycle":
            raise ValueError(
                _(
                    "cycle_momentum={cycle_momentum} needs schedule='onecycle' (the schedule that "
                    "cycles it); use cycle_momentum=None for a constant momentum."
                ).format(cycle_momentum=self.cycle_momentum)
            )
        low, high = self.cycle_momentum
        if not (0 <= low <= high and self.momentum == high):
            raise ValueError(
                _(
                    "cycle_momentum={cycle_momentum} with momentum={momentum}: give (low, high) "
                    "with low <= high and momentum=high, where the cycle starts, e.g. momentum={high}."
                ).format(cycle_momentum=self.cycle_momentum, momentum=self.momentum, high=high)
            )


RECIPES = {
    "course": Recipe(
        "course",
        lr=0.05,
        description="the book's run: SGD lr 0.05, xavier init, no augmentation",
    ),
    "improved": Recipe(
        "improved",
        lr=0.2,
        momentum=0.95,
        nesterov=True,
        weight_decay=5e-4,
        schedule="onecycle",
        # OneCycleLR's default, which every measured run of this recipe used (notebook 04's 0.906):
        # momentum falls while the learning rate rises, and rises back while it anneals.
        cycle_momentum=(0.85, 0.95),
        label_smoothing=0.1,
        flip=True,
        # No random shift (translate=0): Fashion-MNIST's garments are centred, and shifts of up to
        # 2 px lowered test accuracy in 10 epochs (H200, full profile: 0.934 with, 0.943 without;
        # 2-core CPU, 1 epoch of 60,000 images at 28x28: 0.864 with, 0.881 without).
        init="default",
        zero_init_residual=True,
        description=(
            "SGD with Nesterov momentum 0.95 -> 0.85 -> 0.95 against a one-cycle lr up to 0.2, "
            "weight decay 5e-4, label smoothing 0.1, random horizontal flip, residual branches start at zero"
        ),
    ),
}


def get_recipe(recipe: Recipe | str) -> Recipe:
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise ValueError(
            _("unknown recipe {recipe!r}; choose one of {choices}.").format(
                recipe=recipe, choices=", ".join(RECIPES)
            )
        )
    return RECIPES[recipe]


# --------------------------------------------------------------------------- run sizes


def check_run_size(name: str, value) -> int:
    """`value` for the run size `name` (epochs, batch_size, resolution, train_size, test_size), or a
    ValueError naming it. Each is a positive integer; batch_size and train_size are 2 or more,
    because BatchNorm cannot train on a batch of one image."""
    check_positive_int(name, value)
    if name in ("batch_size", "train_size") and value < 2:
        raise ValueError(
            _("{name} must be 2 or more (BatchNorm needs 2 images per batch), got {value}.").format(
                name=name, value=value
            )
        )
    return value


@dataclass(frozen=True)
class RunSettings:
    """Sizes of a run. `train_size`/`test_size` None: all 60,000 / 10,000 images. Each size is
    checked when the settings are made (`check_run_size`), as the command line checks its options."""

    epochs: int = 10
    batch_size: int = 256
    resolution: int = 96
    train_size: int | None = None
    test_size: int | None = None

    def __post_init__(self):
        for name, value in asdict(self).items():
            if value is not None or name not in ("train_size", "test_size"):
                check_run_size(name, value)

    def replace(self, **changes) -> RunSettings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def describe(self) -> str:
        """The sizes in words: '4,000 training images at 28x28, 2 epoch(s), batch 256, ...'."""
        return _(
            "{train_size:,} training images at {resolution}x{resolution}, "
            "{epochs} epoch(s), batch {batch_size}, test on {test_size:,} images"
        ).format(
            train_size=self.train_size or 60_000,
            resolution=self.resolution,
            epochs=self.epochs,
            batch_size=self.batch_size,
            test_size=self.test_size or 10_000,
        )

    def share_of(self, whole: RunSettings) -> str:
        """What share of the run `whole` (the course's) this one trains: of its images, its epochs
        and the pixels of an image, and the product of the three."""
        images = (self.train_size or 60_000) / (whole.train_size or 60_000)
        epochs, pixels = self.epochs / whole.epochs, (self.resolution / whole.resolution) ** 2
        return _(
            "{images:.0%} of the images, {epochs:.0%} of the epochs, {pixels:.0%} of the pixels: "
            "{product:.2%} of the course's run"
        ).format(images=images, epochs=epochs, pixels=pixels, product=images * epochs * pixels)


def run_settings(profile: Profile | str | None = None) -> RunSettings:
    """The sizes a profile trains with (notebook 04 and the command line).

    - full: the course's run, 10 epochs of all 60,000 images at 96x96, batch 256;
    - cpu: what a 2-core CPU does in minutes: the images at their own 28x28 (no upscaling, ~10x
      fewer FLOPs per image), 2 epochs of the first 4,000 training images, 4,000 test images (the
      comparisons of notebook 04; its improved run uses `improved_settings`);
    - smoke: every code path on a tiny slice.
    """
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    return profile.pick(
        smoke=RunSettings(epochs=1, batch_size=64, resolution=32, train_size=320, test_size=256),
        cpu=RunSettings(epochs=2, batch_size=256, resolution=28, train_size=4_000, test_size=4_000),
        full=RunSettings(epochs=10, batch_size=256, resolution=96),
    )


def improved_settings(profile: Profile | str | None = None) -> RunSettings:
    """The sizes of notebook 04's improved run: `run_settings`, except under `cpu`, where it trains
    on all 60,000 images at 28x28 and tests on all 10,000, to show what a 2-core laptop reaches in
    minutes (the comparisons with d2l, which show speed and fidelity, keep the slice)."""
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    return profile.pick(
        smoke=run_settings(profile),
        cpu=RunSettings(epochs=3, batch_size=256, resolution=28),
        full=run_settings(profile),
    )


def init_weights(net: nn.Module, recipe: Recipe) -> list[str]:
    """Give `net` the recipe's initialisation; returns notes on what could not be applied.

    xavier: train_ch6's init (xavier_uniform_ on every Linear and Conv2d weight). zero_init_residual:
    the last layer of every residual branch (`ResidualBlock.zero_init_last`) starts at zero; a
    network without our residual blocks gets a note instead."""
    notes = []
    if recipe.init == "xavier":
        # train_ch6's init_weights, exactly: xavier_uniform_ on Linear and Conv2d weights.
        for m in net.modules():
            if type(m) is nn.Linear or type(m) is nn.Conv2d:
                nn.init.xavier_uniform_(m.weight)
    elif recipe.init != "default":
        raise ValueError(_("unknown init {init!r}; use 'xavier' or 'default'.").format(init=recipe.init))
    if recipe.zero_init_residual:
        blocks = [m for m in net.modules() if isinstance(m, ResidualBlock)]
        for block in blocks:
            block.zero_init_last()
        if not blocks:
            notes.append(
                _(
                    "{recipe} recipe: {network} has no residual blocks "
                    "(resnet_helpers.blocks.ResidualBlock), so no residual branch was zeroed"
                ).format(recipe=recipe.name, network=type(net).__name__)
            )
    return notes


def sgd(net: nn.Module, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, nesterov: bool = False):
    """SGD over `net`'s parameters, the one SGD builder of the package. Weight decay applies to
    weights only: BatchNorm's parameters and biases (1-D tensors) are not decayed."""
    if not weight_decay:
        return torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, nesterov=nesterov)
    groups = [
        {"params": [p for p in net.parameters() if p.ndim > 1], "weight_decay": weight_decay},
        {"params": [p for p in net.parameters() if p.ndim <= 1], "weight_decay": 0.0},
    ]
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)


def make_optimizer(net: nn.Module, recipe: Recipe) -> torch.optim.SGD:
    """The recipe's optimiser (`sgd` with its learning rate, momentum and weight decay)."""
    return sgd(net, recipe.lr, recipe.momentum, recipe.weight_decay, recipe.nesterov)


def make_scheduler(optimizer, recipe: Recipe, total_steps: int):
    """The recipe's learning-rate schedule over `total_steps` optimiser steps (None: constant).

    One-cycle warms up over the first quarter of the steps, then anneals. OneCycleLR needs at
    least one step in each phase (with 4 steps and a quarter of warm-up it divides by zero), so
    very short runs warm up over 1.5 steps' worth instead, and runs under 3 steps keep the
    recipe's peak rate constant.
    """
    if recipe.schedule == "constant":
        return None
    if recipe.schedule == "onecycle":
        if total_steps < 3:
            return None
        pct_start = min(0.75, max(0.25, 1.5 / total_steps))
        if recipe.cycle_momentum is None:  # momentum stays the recipe's
            cycle = {"cycle_momentum": False}
        else:  # momentum runs high -> low while the rate rises, and back while it falls
            low, high = recipe.cycle_momentum
            cycle = {"cycle_momentum": True, "base_momentum": low, "max_momentum": high}
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=total_steps, pct_start=pct_start, **cycle
        )
    raise ValueError(
        _("unknown schedule {schedule!r}; use 'constant' or 'onecycle'.").format(schedule=recipe.schedule)
    )
