import pytest
import torch
import torchvision
from torch import nn

from book import book_resnet18
from resnet_helpers import (
    PRESETS,
    Residual,
    ResNetConfig,
    build_resnet,
    count_flops,
    count_params,
    count_weight_layers,
    resnet_block,
    stage_table,
    summary,
)
from resnet_helpers.measure import keep_modes, max_abs_difference
from resnet_helpers.models import add_blocks, make_stage, model_name, preset_name, remove_shortcuts_
from resnet_helpers.training.evaluate import evaluate, tensor_batches

BOOK_STAGE_SHAPES = [(1, 64, 56, 56), (1, 64, 56, 56), (1, 128, 28, 28), (1, 256, 14, 14), (1, 512, 7, 7)]


def course_resnet18():
    b1 = nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10))


def test_resnet_block_returns_list_of_residuals():
    blocks = resnet_block(64, 128, 2)
    assert isinstance(blocks, list) and len(blocks) == 2
    assert all(isinstance(b, Residual) for b in blocks)
    assert blocks[0].conv3 is not None and blocks[0].conv1.stride == (2, 2)
    assert blocks[1].conv3 is None
    assert all(b.conv3 is None for b in resnet_block(64, 64, 2, first_block=True))


def test_resnet_block_first_block_channel_mismatch_is_refused():
    with pytest.raises(ValueError, match="first_block=True"):
        resnet_block(32, 64, 2, first_block=True)
    with pytest.raises(ValueError, match="num_residuals"):
        resnet_block(64, 64, 0, first_block=True)


@pytest.mark.parametrize("make", [course_resnet18, lambda: build_resnet("resnet18")])
def test_course_resnet18_params_and_shapes(make):
    net = make()
    assert count_params(net) == 11_178_378
    X = torch.rand(1, 1, 224, 224)
    shapes = []
    for layer in net:
        X = layer(X)
        shapes.append(tuple(X.shape))
    assert shapes[:5] == BOOK_STAGE_SHAPES
    assert shapes[5:] == [(1, 512, 1, 1), (1, 512), (1, 10)]


def test_built_resnet18_equals_the_book():
    torch.manual_seed(0)
    book, ours = book_resnet18(), build_resnet("resnet18")
    # same tensors in the same order; only the names differ (b1 vs 0, ...)
    ours.load_state_dict(dict(zip(ours.state_dict(), book.state_dict().values(), strict=True)))
    X = torch.rand(2, 1, 96, 96)
    book.eval(), ours.eval()
    torch.testing.assert_close(ours(X), book(X), rtol=0, atol=0)


TORCHVISION_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_within_1_percent_of_torchvision(name):
    with torch.device("meta"):
        ours = count_params(build_resnet(name, in_channels=3, num_classes=1000))
        theirs = count_params(getattr(torchvision.models, name)())
    assert theirs == TORCHVISION_PARAMS[name]
    assert abs(ours - theirs) / theirs < 0.01, (ours, theirs)


@pytest.mark.parametrize(
    "name,depth",
    [("resnet18", 18), ("resnet34", 34), ("resnet50", 50), ("resnet101", 101), ("resnet152", 152)],
)
def test_depth_is_the_name(name, depth):
    with torch.device("meta"):
        net = build_resnet(name)
    assert count_weight_layers(net) == depth == net.config.depth
    assert preset_name(net.config) == f"ResNet-{depth}"


def test_preset_name_none_for_custom():
    assert preset_name(ResNetConfig(blocks=(1, 1, 1, 1))) is None


def test_forward_features_and_head():
    net = build_resnet("resnet18").eval()
    X = torch.rand(2, 1, 96, 96)
    features = net.forward_features(X)
    assert features.shape == (2, 512, 3, 3)
    torch.testing.assert_close(net.forward_head(features), net(X))


@pytest.mark.parametrize("block", ["basic", "bottleneck", "preact", "resnext"])
@pytest.mark.parametrize("stem", ["course", "compact"])
@pytest.mark.parametrize("shortcut", ["projection", "zero_pad"])
def test_every_block_and_stem_runs(block, stem, shortcut):
    cfg = ResNetConfig(
        blocks=(1, 1, 1),
        channels=(16, 32, 64),
        block=block,
        stem=stem,
        in_channels=3,
        num_classes=7,
        shortcut=shortcut,
        stem_channels=16,
    )
    net = build_resnet(cfg)
    assert net(torch.rand(2, 3, 28, 28)).shape == (2, 7)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_zero_init_residual_makes_every_block_identity(name):
    """Every block of every stage: an identity-shortcut block passes its (non-negative) input
    through exactly; the first block of a stage, with a 1x1 projection, gives ReLU(projection(x))."""
    torch.manual_seed(0)
    net = build_resnet(name).zero_init_residual_().eval()
    checked = 0
    with torch.no_grad():
        for stage in net.stages:
            for block in stage:
                X = torch.rand(1, block.conv1.in_channels, 8, 8)
                expected = X if block.projection is None else torch.relu(block.projection(X))
                torch.testing.assert_close(block(X), expected, rtol=0, atol=0)
                checked += 1
    assert checked == sum(net.config.blocks) and checked >= 8


@pytest.mark.parametrize(
    "changes,match",
    [
        (dict(blocks=(2, 2), channels=(64, 128, 256)), "one channel count per stage"),
        (dict(blocks=(2, 0, 2, 2)), r"blocks\[1\] of \(2, 0, 2, 2\) must be a positive integer"),
        (dict(block="wide"), "block must be one of"),
        (dict(stem="big"), "stem must be one of"),
        (dict(shortcut="A"), "shortcut must be one of"),
        (dict(num_classes=0), "num_classes"),
        (dict(blocks=()), "at least one stage"),
    ],
)
def test_bad_configs_are_refused(changes, match):
    with pytest.raises(ValueError, match=match):
        ResNetConfig(**changes)


def test_unknown_preset():
    with pytest.raises(ValueError, match="resnet18"):
        build_resnet("resnet19")


def test_flops_of_resnet18_at_96():
    # forward ~ 0.63 GFLOP per image (a training step: forward + backward, a little under 3x that)
    with torch.device("meta"):
        net = build_resnet("resnet18")
    flops = count_flops(net, (1, 1, 96, 96))
    assert 0.60e9 < flops < 0.66e9, flops
    # the same number on a real model
    assert count_flops(build_resnet("resnet18"), (1, 1, 96, 96)) == flops


@pytest.mark.parametrize(
    "layer,input_size,forward",
    [
        (nn.Linear(4, 3), (5, 4), 2 * 5 * 4 * 3),  # 2 x (batch x in x out)
        (nn.Conv2d(3, 8, kernel_size=3, padding=1), (2, 3, 5, 5), 2 * (2 * 8 * 5 * 5) * (3 * 3 * 3)),
    ],
    ids=["Linear", "Conv2d"],
)
def test_a_training_step_of_one_layer_by_hand(layer, input_size, forward):
    """Backward computes the weight's gradient (as many multiply-adds as the forward pass) and no
    gradient for the input, which needs none; the bias's gradient is a sum (not counted)."""
    assert count_flops(layer, input_size) == forward
    assert count_flops(layer, input_size, backward=True) == 2 * forward


def test_a_training_step_of_two_layers_by_hand():
    """The second layer's backward also computes its input's gradient (for the first layer)."""
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    first, second = 2 * 5 * 4 * 6, 2 * 5 * 6 * 3
    assert count_flops(net, (5, 4)) == first + second
    assert count_flops(net, (5, 4), backward=True) == (first + second) + first + 2 * second


def test_a_training_step_of_resnet18_is_under_three_forward_passes():
    """Every layer's backward costs twice its forward pass (weight and input gradients) except the
    stem's convolution, whose input (the image) needs no gradient: 3 x forward - the stem's."""
    with torch.device("meta"):
        net = build_resnet("resnet18")
    forward = count_flops(net, (8, 1, 96, 96))
    stem = count_flops(net.b1[0], (8, 1, 96, 96))
    step = count_flops(net, (8, 1, 96, 96), backward=True)
    assert step == 3 * forward - stem
    assert step < 3 * forward


def test_counting_flops_leaves_a_real_network_alone():
    """The count runs on the meta device: no gradient, BN statistic or weight of `net` changes."""
    torch.manual_seed(0)
    net = build_resnet(ResNetConfig(blocks=(1, 1), channels=(8, 16), stem="compact", stem_channels=8)).train()
    state = {name: t.clone() for name, t in net.state_dict().items()}
    assert count_flops(net, (4, 1, 12, 12), backward=True) > 0
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(t, state[name]) for name, t in net.state_dict().items())
    assert net.training


def test_flops_match_torchvision_at_224():
    with torch.device("meta"):
        ours = count_flops(build_resnet("resnet50", in_channels=3, num_classes=1000), (1, 3, 224, 224))
        theirs = count_flops(torchvision.models.resnet50(), (1, 3, 224, 224))
    assert abs(ours - theirs) / theirs < 0.01  # 4.1 GMACs = 8.2 GFLOPs


def test_stage_table_and_summary():
    net = build_resnet("resnet18")
    rows = stage_table(net, (1, 1, 224, 224))
    assert [r["output shape"] for r in rows[:5]] == BOOK_STAGE_SHAPES
    assert sum(r["params"] for r in rows) == 11_178_378
    stats = summary(net, (1, 1, 224, 224))
    assert stats.total_params == 11_178_378
    assert stats.total_mult_adds > 1e9


def test_option_a_network_has_no_projections():
    option_a = ResNetConfig(blocks=(3, 4, 6, 3), shortcut="zero_pad")
    net, twin = build_resnet(option_a), build_resnet("resnet34")
    assert not any(m.projection is not None for m in net.modules() if hasattr(m, "projection"))
    assert count_params(twin) - count_params(net) == sum(c * 2 * c + 2 * c for c in (64, 128, 256))
    assert preset_name(option_a) == "ResNet-34 (option A)" and count_weight_layers(net) == 34
    assert net(torch.rand(1, 1, 64, 64)).shape == (1, 10)


@pytest.mark.parametrize("shortcut", ["projection", "zero_pad"])
def test_stage_rows_size_grouped_convs_and_zero_padding_like_count_flops(shortcut):
    from resnet_helpers.measure import stage_rows

    config = ResNetConfig(
        blocks=(3, 4, 6, 3), block="resnext", in_channels=3, num_classes=1000, shortcut=shortcut
    )
    with torch.device("meta"):
        net = build_resnet(config)
    for resolution in (224, 97):
        rows, problem = stage_rows(config, resolution)
        assert problem is None and rows == stage_table(net, (1, 3, resolution, resolution))
        assert sum(r["flops"] for r in rows) == count_flops(net, (1, 3, resolution, resolution))


def test_resnext50_matches_torchvision():
    with torch.device("meta"):
        ours = build_resnet(
            ResNetConfig(blocks=(3, 4, 6, 3), block="resnext", in_channels=3, num_classes=1000)
        )
        theirs = torchvision.models.resnext50_32x4d()
    assert count_weight_layers(ours) == 50
    assert count_flops(ours, (1, 3, 224, 224)) == count_flops(theirs, (1, 3, 224, 224))
    # ours keeps the convolution biases; torchvision has a batch norm after each 1x1 projection
    biases = sum(m.bias.numel() for m in ours.modules() if isinstance(m, nn.Conv2d) and m.bias is not None)
    shortcut_bn = sum(2 * c for c in (256, 512, 1024, 2048))
    assert count_params(ours) - biases + shortcut_bn == count_params(theirs)


def _net_with_frozen_bn():
    """A network in train mode whose BatchNorm layers are frozen in eval mode (fine-tuning)."""
    net = build_resnet(ResNetConfig(blocks=(1,), channels=(8,), stem="compact", stem_channels=8)).train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    return net


def _modes(net) -> list:
    return [m.training for m in net.modules()]


@pytest.mark.parametrize(
    "measure",
    [
        lambda net: count_flops(net, (1, 1, 8, 8)),
        lambda net: stage_table(net, (1, 1, 8, 8)),
        lambda net: max_abs_difference(net, _net_with_frozen_bn(), torch.rand(2, 1, 8, 8)),
        lambda net: max_abs_difference(_net_with_frozen_bn(), net, torch.rand(2, 1, 8, 8)),
        lambda net: evaluate(net, tensor_batches(torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))),
    ],
    ids=["count_flops", "stage_table", "max_abs_difference a", "max_abs_difference b", "evaluate"],
)
def test_measuring_restores_the_mode_of_every_submodule(measure):
    net = _net_with_frozen_bn()
    before = _modes(net)
    assert net.training and not net.b1[1].training
    measure(net)
    assert _modes(net) == before


def test_keep_modes_restores_every_mode_even_after_an_error():
    net, other = _net_with_frozen_bn(), _net_with_frozen_bn().eval()
    before, other_before = _modes(net), _modes(other)
    with pytest.raises(RuntimeError, match="boom"), keep_modes(net, other):
        net.eval(), other.train()
        raise RuntimeError("boom")
    assert _modes(net) == before and _modes(other) == other_before


def test_add_blocks_gives_new_blocks_the_nets_mode_dtype_and_device():
    torch.manual_seed(0)
    config = ResNetConfig(blocks=(1, 1), channels=(8, 16), stem="compact", stem_channels=8)
    for plain in (False, True):
        net = build_resnet(config).eval()
        deeper = add_blocks(net, plain=plain)
        assert not any(m.training for m in deeper.modules())  # eval everywhere, the new blocks too
        X = torch.rand(4, 1, 8, 8)
        with torch.no_grad():  # eval mode: an image's output does not depend on its batch
            torch.testing.assert_close(deeper(X)[:1], deeper(X[:1].repeat(2, 1, 1, 1))[:1])
        trained = add_blocks(build_resnet(config).train(), plain=plain)
        assert all(m.training for m in trained.modules())
    double = add_blocks(build_resnet(config).double())
    assert {p.dtype for p in double.parameters()} == {torch.float64}
    assert double(torch.rand(2, 1, 8, 8, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("per_stage", [0, -1, 1.5, True])
def test_add_blocks_refuses_fewer_than_one_block_per_stage(per_stage):
    net = build_resnet(ResNetConfig(blocks=(1, 1), channels=(8, 16), stem="compact", stem_channels=8))
    message = rf"per_stage must be a positive integer, got {per_stage!r}"
    with pytest.raises(ValueError, match=message):
        add_blocks(net, per_stage=per_stage)


def test_make_stage_refuses_an_unknown_shortcut():
    message = r"shortcut must be one of \['projection', 'zero_pad'\], got 'zero-pad'"
    with pytest.raises(ValueError, match=message):
        make_stage(Residual, 64, 128, 2, strides=2, shortcut="zero-pad")


def test_model_name_of_a_plain_twin_says_plain():
    assert model_name(build_resnet("resnet18")) == "ResNet-18"  # ordinary nets keep their names
    assert model_name(remove_shortcuts_(build_resnet("resnet18"))) == "plain-18"  # the paper's name
    small = ResNetConfig(blocks=(1, 1), channels=(8, 16), stem="compact", stem_channels=8)
    assert model_name(build_resnet(small)) == "ResNet (6 layers)"
    assert model_name(remove_shortcuts_(build_resnet(small))) == "plain-6"
