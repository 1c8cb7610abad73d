"""Exercises that answer back: `check_...(answer)` says right or not yet, with a hint, never the answer.

Every right answer is computed here from the package (the data, the blocks, the networks), as the
notebooks compute it, so a change to the code cannot leave a stale answer behind. A check prints one
line, starting "Right" or "Not yet" (or "No answer yet" for None, the placeholder the notebooks
start with), and returns None, so that a notebook cell shows the line and nothing else.

    from resnet_helpers.lessons.exercises import check_smallest_resolution
    check_smallest_resolution(32)   # Not yet: ...

Notebook 00: `check_brightest_class`. 01: `check_cifar_resnet`. 02: `check_needs_1x1conv`,
`check_residual_params`, `check_shortcut_params`. 03: `check_table1`, `check_flops_ratio_96`,
`check_smallest_resolution`, `check_width_scaling`.
"""

from __future__ import annotations

import re

import torch

from ..blocks import Residual
from ..i18n import _
from ..measure import count_flops, count_params, count_weight_layers, smallest_resolution, stage_table
from ..models import PRESETS, ResNetConfig, build_depth_net, build_resnet, depth_config

__all__ = [
    "check_brightest_class",
    "check_cifar_resnet",
    "check_needs_1x1conv",
    "check_residual_params",
    "check_shortcut_params",
    "check_table1",
    "check_flops_ratio_96",
    "check_smallest_resolution",
    "check_width_scaling",
]

BLOCK_CHOICES = [(cin, cout, stride) for cin in (64, 128) for cout in (64, 128) for stride in (1, 2)]


def _say(right: bool, praise: str, hint: str) -> None:
    print(_("Right: {praise}").format(praise=praise) if right else _("Not yet: {hint}").format(hint=hint))


def _missing(answer, what: str) -> bool:
    if answer is None:
        print(_("No answer yet: replace None with {what}, then run the cell again.").format(what=what))
        return True
    return False


def _close(answer, right: float, rel: float) -> bool:
    try:
        return abs(float(answer) - right) <= rel * abs(right)
    except (TypeError, ValueError):
        return False


# --- Notebook 00 ----------------------------------------------------------------------------------


def check_brightest_class(answer, data=None) -> None:
    """00, exercise 3: the class whose training pictures have the highest mean pixel value."""
    from ..data import CLASS_NAMES, load_fashion_mnist

    if _missing(answer, _('a class name, e.g. "sandal"')):
        return
    if answer not in CLASS_NAMES:
        print(
            _("Not yet: {answer!r} is not a class name; the classes are {classes}.").format(
                answer=answer, classes=list(CLASS_NAMES)
            )
        )
        return
    data = load_fashion_mnist() if data is None else data
    means = [data.train_images[data.train_labels == c].float().mean().item() for c in range(len(CLASS_NAMES))]
    brightest = CLASS_NAMES[max(range(len(means)), key=means.__getitem__)]
    _say(
        answer == brightest,
        _("{answer} has the highest mean pixel value.").format(answer=answer),
        _(
            "{answer} is not the brightest. Average every picture of each class "
            "(data.train_images[data.train_labels == c].float().mean()) and compare the ten means."
        ).format(answer=answer),
    )


# --- Notebook 01 ----------------------------------------------------------------------------------


def check_cifar_resnet(depth: int, n=None, params=None) -> None:
    """01, exercise 3: blocks per stage n, and parameters at width 16, of the paper's CIFAR ResNet-`depth`
    (1 input channel, 10 classes). Pass what you found: `check_cifar_resnet(56, n=..., params=...)`."""
    if _missing(n if params is None else params, _("your n and your parameter count (n=..., params=...)")):
        return
    right_n = depth_config(depth).blocks[0]
    if n is not None:
        _say(
            n == right_n,
            _("ResNet-{depth} has n = {right_n} blocks per stage.").format(depth=depth, right_n=right_n),
            _(
                "n = {n} does not give {depth} weight layers: the network has 6n + 2 "
                "(a stem, three stages of n blocks of two convolutions, the fc layer). Solve for n."
            ).format(n=n, depth=depth),
        )
    if params is not None:
        with torch.device("meta"):
            right_params = count_params(build_depth_net(depth, width=16))
        _say(
            params == right_params,
            _("ResNet-{depth} at width 16 has {right_params:,} parameters.").format(
                depth=depth, right_params=right_params
            ),
            _(
                "{params!r} is not the count. Build it with build_depth_net({depth}, width=16) under "
                "`with torch.device('meta'):` and count with count_params."
            ).format(params=params, depth=depth),
        )


# --- Notebook 02 ----------------------------------------------------------------------------------


def _needs_1x1conv(cin: int, cout: int, stride: int) -> bool:
    """Whether the package's `Residual` refuses the block without a 1x1 convolution."""
    with torch.device("meta"):
        try:
            Residual(cin, cout, use_1x1conv=False, strides=stride)
        except ValueError:
            return True
    return False


def check_needs_1x1conv(answer) -> None:
    """02, exercise 4: the (input channels, output channels, stride) of {64, 128} x {64, 128} x {1, 2}
    whose course block needs `use_1x1conv=True`, as a list or set of tuples."""
    if _missing(answer, _("a list of (input channels, output channels, stride) tuples")):
        return
    try:
        chosen = {tuple(int(v) for v in item) for item in answer}
    except (TypeError, ValueError):
        print(
            _(
                "Not yet: give a list of tuples like (64, 128, 2), "
                "one per block that needs the 1x1 convolution."
            )
        )
        return
    unknown = chosen - set(BLOCK_CHOICES)
    if unknown:
        print(
            _(
                "Not yet: {unknown} are not among the 8 combinations of {{64, 128}} x {{64, 128}} x {{1, 2}}."
            ).format(unknown=sorted(unknown))
        )
        return
    right = {choice for choice in BLOCK_CHOICES if _needs_1x1conv(*choice)}
    wrong = len(chosen ^ right)
    _say(
        wrong == 0,
        _("exactly those {count} blocks need the 1x1 convolution.").format(count=len(right)),
        _(
            "{wrong} of the 8 combinations are on the wrong side. The shortcut x is added to the branch's "
            "output: it needs the 1x1 convolution whenever the channels or the height and width change."
        ).format(wrong=wrong),
    )


def check_residual_params(formula) -> None:
    """02, exercise 5: your formula for the parameters of `Residual(c, c)`, as a function of c,
    e.g. `check_residual_params(lambda c: ...)`; checked for several c."""
    if _missing(formula, _("a function of c, e.g. lambda c: 9 * c * c")):
        return
    for c in (1, 3, 16, 64, 256):
        counted = count_params(Residual(c, c))
        try:
            yours = formula(c)
        except Exception as e:  # the student's own code: say what went wrong, whatever it was
            print(
                _("Not yet: your formula fails for c = {c}: {error_type}: {error}").format(
                    c=c, error_type=type(e).__name__, error=e
                )
            )
            return
        if yours != counted:
            print(
                _(
                    "Not yet: for c = {c} your formula gives {yours!r}, not the count. Count the weights and "
                    "the bias of each 3x3 convolution (c in, c out), and each batch norm's scale and shift "
                    "per channel."
                ).format(c=c, yours=yours)
            )
            return
    print(_("Right: your formula gives the parameter count of Residual(c, c) for every c tried."))


def check_shortcut_params(c: int, answer) -> None:
    """02, exercise 6: the parameters of the 1x1 shortcut convolution of `Residual(c, 2c, True, 2)`."""
    if _missing(answer, _("your parameter count of the 1x1 convolution")):
        return
    right = count_params(Residual(c, 2 * c, use_1x1conv=True, strides=2).conv3)
    _say(
        answer == right,
        _("the 1x1 convolution from {c} to {c_out} channels has {right:,} parameters.").format(
            c=c, c_out=2 * c, right=right
        ),
        _(
            "{answer!r} is not it. A 1x1 convolution has one weight per (input, output) channel pair and one "
            "bias per output channel; the stride changes no parameter."
        ).format(answer=answer),
    )


# --- Notebook 03 ----------------------------------------------------------------------------------


def check_table1(name: str, net: torch.nn.Module) -> None:
    """03, exercise 1: your network for a row of the paper's Table 1 ("18-layer" ... "152-layer"),
    built for ImageNet (3 input channels, 1000 classes), against the package's network of that row:
    depth, the four stages' output sizes at 224x224, parameters and FLOPs."""
    match = re.fullmatch(r"(\d+)-layer", str(name))
    preset = f"resnet{match.group(1)}" if match else None
    if preset not in PRESETS:
        print(
            _("Not yet: name the row as Table 1 does, one of {rows}; got {name!r}.").format(
                rows=[k[6:] + "-layer" for k in PRESETS], name=name
            )
        )
        return
    shape = (1, 3, 224, 224)
    with torch.device("meta"):
        ours = build_resnet(preset, in_channels=3, num_classes=1000)
    try:
        rows = stage_table(net, shape)
    except Exception as e:  # the student's network: report what failed
        print(
            _("Not yet: your network does not run on a {shape} input: {error_type}: {error}").format(
                shape=shape, error_type=type(e).__name__, error=e
            )
        )
        return
    ours_rows = stage_table(ours, shape)
    problems = []
    if count_weight_layers(net) != count_weight_layers(ours):
        problems.append(
            _("its depth is {depth}; count the stem, the branch convolutions and the fc layer").format(
                depth=count_weight_layers(net)
            )
        )
    if len(rows) != len(ours_rows) or [r["output shape"] for r in rows] != [
        r["output shape"] for r in ours_rows
    ]:
        problems.append(
            _(
                "the outputs of the stem, the four stages and the head are not Table 1's "
                "(check the strides, the widths and the bottleneck's 4x expansion)"
            )
        )
    if count_params(net) != count_params(ours):
        problems.append(
            _("its parameter count differs (check the blocks per stage, the block type and the shortcuts)")
        )
    if not problems and sum(r["flops"] for r in rows) != sum(r["flops"] for r in ours_rows):
        problems.append(_("its FLOPs differ (check where each stage's stride sits)"))
    _say(
        not problems,
        _(
            "your {name} network has Table 1's depth and output sizes, "
            "and the package's parameters and FLOPs."
        ).format(name=name),
        _("{problems}.").format(problems=_("; ").join(problems)),
    )


def check_flops_ratio_96(answer) -> None:
    """03, exercise 2: how many times fewer FLOPs one 96x96 forward pass of ResNet-18 needs than a
    224x224 one (within 2%)."""
    if _missing(answer, _("your ratio, e.g. 2.0")):
        return
    config = PRESETS["resnet18"]
    with torch.device("meta"):
        net = build_resnet(config)
    right = count_flops(net, (1, 1, 224, 224)) / count_flops(net, (1, 1, 96, 96))
    _say(
        _close(answer, right, 0.02),
        _("about {right:.1f}x fewer FLOPs at 96x96.").format(right=right),
        _(
            "{answer!r} is not the ratio. Every convolution's work goes with the area of its feature map; "
            "compare explore_architecture(resolution=224) and (resolution=96)."
        ).format(answer=answer),
    )


def check_smallest_resolution(answer) -> None:
    """03, exercise 2: the smallest square input the course's ResNet-18 takes before a stage is asked
    to halve a single pixel."""
    if _missing(answer, _("a resolution in pixels")):
        return
    right = smallest_resolution(PRESETS["resnet18"])
    hint = _(
        "follow the size through the stem (/4, rounding up) and b3, b4, b5 (/2 each, rounding up): "
        "b5's input must still be larger than 1x1."
    )
    if isinstance(answer, int) and not isinstance(answer, bool) and answer > right:
        hint = _("{answer} works, but a smaller input does too: {hint}").format(answer=answer, hint=hint)
    elif isinstance(answer, int) and not isinstance(answer, bool):
        hint = _("at {answer}x{answer} a stage has nothing left to halve: {hint}").format(
            answer=answer, hint=hint
        )
    _say(
        answer == right,
        _("{right}x{right} is the smallest input that keeps every stage meaningful.").format(right=right),
        hint,
    )


def check_width_scaling(answer) -> None:
    """03, exercise 4: by what factor ResNet-18's parameters grow when its base width doubles
    (64 to 128), within 2%."""
    if _missing(answer, _("your factor, e.g. 2.0")):
        return
    with torch.device("meta"):
        base = count_params(build_resnet(PRESETS["resnet18"]))
        wide = count_params(build_resnet(ResNetConfig(channels=(128, 256, 512, 1024))))
    _say(
        _close(answer, wide / base, 0.02),
        _(
            "about {factor:.1f}x: a convolution's weights go with (input channels) x (output channels)."
        ).format(factor=wide / base),
        _(
            "{answer!r} is not the factor. How do a convolution's weights depend on its channels, when both "
            "its input and output channels double?"
        ).format(answer=answer),
    )
