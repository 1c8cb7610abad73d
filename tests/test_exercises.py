"""The exercises' checks (resnet_helpers/lessons/exercises.py): right answers get "Right", wrong ones
"Not yet" with a hint that does not give the answer away. The right answers here are computed the
way the notebooks' solutions compute them, not copied from the module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resnet_helpers import Residual, build_resnet, count_params
from resnet_helpers.lessons import exercises as ex
from resnet_helpers.models import PRESETS, build_depth_net


def said(capsys, check, *args, **kwargs) -> str:
    check(*args, **kwargs)
    return capsys.readouterr().out


def assert_right(out: str):
    assert out.startswith("Right"), out


def assert_not_yet(out: str, secret=None):
    assert out.startswith("Not yet"), out
    if secret is not None:
        for form in {str(secret), f"{secret:,}" if isinstance(secret, int) else str(secret)}:
            assert form not in out, f"the hint gives the answer away ({form}): {out}"


@pytest.mark.parametrize(
    "check",
    [
        ex.check_cifar_resnet,
        ex.check_needs_1x1conv,
        ex.check_residual_params,
        ex.check_flops_ratio_96,
        ex.check_smallest_resolution,
        ex.check_width_scaling,
        ex.check_brightest_class,
    ],
)
def test_none_is_no_answer_yet(capsys, check):
    args = (56, None) if check is ex.check_cifar_resnet else (None,)
    assert said(capsys, check, *args).startswith("No answer yet")


def test_brightest_class(capsys, fake_fashion_mnist):
    from resnet_helpers.data import CLASS_NAMES

    data = fake_fashion_mnist
    means = [data.train_images[data.train_labels == c].float().mean().item() for c in range(10)]
    ranked = sorted(range(10), key=lambda c: -means[c])
    assert_right(said(capsys, ex.check_brightest_class, CLASS_NAMES[ranked[0]], data=data))
    assert_not_yet(
        said(capsys, ex.check_brightest_class, CLASS_NAMES[ranked[1]], data=data), CLASS_NAMES[ranked[0]]
    )
    assert "not a class name" in said(capsys, ex.check_brightest_class, "hat", data=data)


@pytest.fixture
def fake_fashion_mnist():
    """A small stand-in with the real data's fields, one class clearly the brightest."""
    from types import SimpleNamespace

    torch.manual_seed(0)
    labels = torch.arange(10).repeat(5)
    images = (torch.rand(50, 28, 28) * 100 + labels[:, None, None] * 10).to(torch.uint8)
    return SimpleNamespace(train_images=images, train_labels=labels)


@pytest.mark.parametrize("depth", [20, 56, 110])
def test_cifar_resnet(capsys, depth):
    n = (depth - 2) // 6
    with torch.device("meta"):
        params = count_params(build_depth_net(depth, width=16))
    assert said(capsys, ex.check_cifar_resnet, depth, n=n, params=params).count("Right") == 2
    out = said(capsys, ex.check_cifar_resnet, depth, n=n + 1)
    assert_not_yet(out)
    assert f"n = {n}" not in out
    assert_not_yet(said(capsys, ex.check_cifar_resnet, depth, params=params + 6), params)
    assert_not_yet(said(capsys, ex.check_cifar_resnet, depth, n="nine", params="many"))


def test_needs_1x1conv(capsys):
    right = [(c, d, s) for c in (64, 128) for d in (64, 128) for s in (1, 2) if c != d or s != 1]
    assert_right(said(capsys, ex.check_needs_1x1conv, right))
    out = said(capsys, ex.check_needs_1x1conv, right[1:])
    assert_not_yet(out)
    assert "1 of the 8" in out and str(right[0]) not in out
    assert_not_yet(said(capsys, ex.check_needs_1x1conv, [(64, 256, 1)]))
    assert_not_yet(said(capsys, ex.check_needs_1x1conv, [64, 128]))


def test_residual_params(capsys):
    assert_right(said(capsys, ex.check_residual_params, lambda c: 18 * c * c + 6 * c))
    out = said(capsys, ex.check_residual_params, lambda c: 18 * c * c)  # the biases and BN forgotten
    assert_not_yet(out, count_params(Residual(1, 1)))
    assert "fails" in said(capsys, ex.check_residual_params, lambda c: 1 / 0)


def test_shortcut_params(capsys):
    for c in (64, 128):
        right = count_params(nn.Conv2d(c, 2 * c, kernel_size=1))
        assert_right(said(capsys, ex.check_shortcut_params, c, right))
        assert_not_yet(said(capsys, ex.check_shortcut_params, c, right - 2 * c), right)
        assert_not_yet(said(capsys, ex.check_shortcut_params, c, "many"))  # any answer gets a verdict


def _table1_net(blocks, width_factor=1):
    """Table 1's network the plain way (basic blocks): stem, four stages, head, for ImageNet."""
    from resnet_helpers import resnet_block

    widths = [64 * width_factor * 2**i for i in range(4)]
    stem = nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    stages, cin = [], 64
    for i, (n, w) in enumerate(zip(blocks, widths, strict=True)):
        stages.append(nn.Sequential(*resnet_block(cin, w, n, first_block=i == 0 and cin == w)))
        cin = w
    return nn.Sequential(stem, *stages, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(cin, 1000))


def test_table1(capsys):
    with torch.device("meta"):
        assert_right(said(capsys, ex.check_table1, "18-layer", _table1_net((2, 2, 2, 2))))
        assert_right(
            said(
                capsys, ex.check_table1, "50-layer", build_resnet("resnet50", in_channels=3, num_classes=1000)
            )
        )
        assert_not_yet(said(capsys, ex.check_table1, "34-layer", _table1_net((2, 2, 2, 2))))
        assert_not_yet(said(capsys, ex.check_table1, "18-layer", _table1_net((2, 2, 2, 2), width_factor=2)))
    assert_not_yet(said(capsys, ex.check_table1, "19-layer", nn.Identity()))


def test_flops_ratio_96(capsys):
    from resnet_helpers import count_flops

    with torch.device("meta"):
        net = build_resnet("resnet18")
    ratio = count_flops(net, (1, 1, 224, 224)) / count_flops(net, (1, 1, 96, 96))
    assert_right(said(capsys, ex.check_flops_ratio_96, round(ratio, 1)))
    assert_not_yet(
        said(capsys, ex.check_flops_ratio_96, 224 / 96), f"{ratio:.1f}"
    )  # the side ratio, not the area
    assert_not_yet(said(capsys, ex.check_flops_ratio_96, "five"))


def test_smallest_resolution(capsys):
    from resnet_helpers.lessons.architecture import explore_architecture

    right = next(r for r in range(1, 225) if explore_architecture(resolution=r)["error"] is None)
    assert_right(said(capsys, ex.check_smallest_resolution, right))
    assert "smaller input" in said(capsys, ex.check_smallest_resolution, 32)
    assert_not_yet(said(capsys, ex.check_smallest_resolution, right - 1), right)


def test_width_scaling(capsys):
    with torch.device("meta"):
        base = count_params(build_resnet(PRESETS["resnet18"]))
        wide = count_params(build_resnet(PRESETS["resnet18"].replace(channels=(128, 256, 512, 1024))))
    assert_right(said(capsys, ex.check_width_scaling, round(wide / base)))
    assert_not_yet(said(capsys, ex.check_width_scaling, 2))
    assert_not_yet(said(capsys, ex.check_width_scaling, "four"))
