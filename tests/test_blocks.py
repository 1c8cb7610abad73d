import re

import pytest
import torch
from torch import nn

from book import BookResidual
from resnet_helpers import Bottleneck, PreActResidual, Residual, count_params
from resnet_helpers.blocks import BLOCK_LABELS, BLOCKS, ResNeXt, ZeroPadShortcut, check_positive_int
from resnet_helpers.models import PlainBlock, ResNetConfig


def test_book_example_same_shape():
    X = torch.rand(4, 3, 6, 6)
    assert Residual(3, 3)(X).shape == (4, 3, 6, 6)


def test_book_example_1x1conv_stride2():
    X = torch.rand(4, 3, 6, 6)
    assert Residual(3, 6, use_1x1conv=True, strides=2)(X).shape == (4, 6, 3, 3)


def test_submodule_names_match_the_book():
    names = {n for n, _ in Residual(3, 6, use_1x1conv=True).named_children()}
    assert names == {"conv1", "conv2", "conv3", "bn1", "bn2"}
    assert Residual(3, 3).conv3 is None


@pytest.mark.parametrize("args", [(3, 3), (3, 6, True, 2), (8, 8, True, 1), (4, 4, False, 1)])
def test_same_weights_same_output_as_the_book(args):
    torch.manual_seed(0)
    book = BookResidual(*args)
    ours = Residual(*args)
    # the book's unused nn.ReLU has no state: the state dicts load both ways
    ours.load_state_dict(book.state_dict())
    book.load_state_dict(ours.state_dict())
    X = torch.randn(2, args[0], 8, 8)
    for mode in ("train", "eval"):
        getattr(book, mode)()
        getattr(ours, mode)()
        torch.testing.assert_close(ours(X), book(X.clone()), rtol=0, atol=0)
    assert count_params(ours) == count_params(book)


@pytest.mark.parametrize("block", [Residual, Bottleneck, PreActResidual, ResNeXt])
def test_zeroed_branch_is_identity_on_nonnegative_input(block):
    torch.manual_seed(0)
    channels = 16 * block.expansion
    blk = block(channels, channels // block.expansion).zero_init_last().eval()
    X = torch.rand(2, channels, 5, 5)  # non-negative, as after a ReLU
    assert torch.equal(blk(X), X)


def test_zeroed_branch_of_course_block_by_setting_weights_to_zero():
    """The course: set the branch's weights and biases to 0 and f(x) = x (for x >= 0)."""
    blk = Residual(3, 3).eval()
    with torch.no_grad():
        for m in (blk.conv1, blk.conv2, blk.bn1, blk.bn2):
            m.weight.zero_()
            m.bias.zero_()
    X = torch.rand(4, 3, 6, 6)
    assert torch.equal(blk(X), X)


@pytest.mark.parametrize(
    "block,args,words",
    [
        (Residual, (3, 6), ["3 channels", "outputs 6", "use_1x1conv=True"]),
        (Residual, (3, 3, False, 2), ["strides=2", "use_1x1conv=True"]),
        (Residual, (3, 6, False, 2), ["3 channels", "strides=2", "use_1x1conv=True"]),
        (Bottleneck, (64, 64), ["64 channels", "outputs 256", "use_1x1conv=True"]),
        (PreActResidual, (16, 32, False, 2), ["16 channels", "outputs 32", "strides=2"]),
    ],
)
def test_unaddable_shortcut_is_refused_at_construction(block, args, words):
    with pytest.raises(ValueError) as info:
        block(*args)
    for word in words:
        assert word in str(info.value)


def test_the_book_fails_late_where_we_fail_early():
    with pytest.raises(RuntimeError, match="must match"):
        BookResidual(3, 6)(torch.rand(4, 3, 6, 6))
    with pytest.raises(ValueError):
        Residual(3, 6)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "3"])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="positive integer"):
        Residual(bad, 3, use_1x1conv=True)
    with pytest.raises(ValueError, match="positive integer"):
        Residual(3, 3, use_1x1conv=True, strides=bad)


def test_bottleneck_shapes_and_structure():
    blk = Bottleneck(64, 64, use_1x1conv=True)
    assert blk(torch.rand(2, 64, 8, 8)).shape == (2, 256, 8, 8)
    assert blk.conv1.kernel_size == (1, 1) and blk.conv2.kernel_size == (3, 3)
    assert blk.conv3.kernel_size == (1, 1) and blk.conv3.out_channels == 256
    down = Bottleneck(256, 128, use_1x1conv=True, strides=2)
    assert down(torch.rand(2, 256, 8, 8)).shape == (2, 512, 4, 4)
    # no shortcut conv when shapes agree
    assert Bottleneck(256, 64).projection is None


def test_preact_order_is_bn_relu_conv():
    blk = PreActResidual(8, 8)
    children = [type(m) for m in blk.children()]
    assert children[:2] == [nn.BatchNorm2d, nn.Conv2d] and blk.bn1.num_features == 8
    assert PreActResidual(8, 16, use_1x1conv=True, strides=2)(torch.rand(1, 8, 6, 6)).shape == (1, 16, 3, 3)


# --- ResNeXt (d2l-en 8.6.5) ----------------------------------------------------------------------------


def test_resnext_is_registered():
    assert BLOCKS["resnext"] is ResNeXt and "ResNeXt" in BLOCK_LABELS["resnext"]


@pytest.mark.parametrize(
    "args,kwargs,shape",
    [
        ((256, 64), {}, (2, 256, 8, 8)),  # ResNeXt-50's block: 256 -> 128 in 32 groups -> 256
        ((64, 64, True, 2), {}, (2, 256, 4, 4)),
        ((32, 8), dict(groups=4, bot_mul=1), (2, 32, 8, 8)),  # d2l-en's ResNeXtBlock(32, 16, 1)
        ((16, 8, True, 2), dict(groups=2), (2, 32, 4, 4)),
    ],
)
def test_resnext_shapes(args, kwargs, shape):
    blk = ResNeXt(*args, **kwargs)
    assert blk(torch.rand(2, args[0], 8, 8)).shape == shape
    assert blk.conv2.groups == kwargs.get("groups", 32)


def test_resnext_parameters_by_hand():
    blk = ResNeXt(256, 64)  # out 256, bottleneck 128, 32 groups of 4 channels
    conv1 = 256 * 128 + 128
    conv2 = 128 * (128 // 32) * 3 * 3 + 128  # a grouped 3x3 convolution sees 4 channels, not 128
    conv3 = 128 * 256 + 256
    bns = 2 * (128 + 128 + 256)
    assert count_params(blk) == conv1 + conv2 + conv3 + bns == 71_680
    assert count_params(ResNeXt(256, 64, groups=1)) - count_params(blk) == 128 * 128 * 9 - 128 * 4 * 9


def test_resnext_refuses_groups_that_do_not_divide_its_width():
    with pytest.raises(ValueError, match="32 groups cannot share") as info:
        ResNeXt(16, 4)  # 16 channels out, a bottleneck of 8
    assert "divisor of 8" in str(info.value) and "multiple of 64" in str(info.value)
    ResNeXt(64, 16)  # the multiple it names works
    with pytest.raises(ValueError, match="bot_mul"):
        ResNeXt(64, 16, bot_mul=0)
    with pytest.raises(ValueError, match="use_1x1conv=True"):  # the course's shortcut message first
        ResNeXt(64, 32)


# --- option A: the zero-padding shortcut (He et al. 2015, section 4.2) ----------------------------------


def test_zero_pad_shortcut_pads_channels_and_subsamples():
    pad = ZeroPadShortcut(3, 8, stride=2)
    X = torch.randn(2, 3, 7, 7)
    Y = pad(X)
    assert Y.shape == (2, 8, 4, 4) and count_params(pad) == 0
    assert torch.equal(Y[:, :3], X[:, :, ::2, ::2]) and not Y[:, 3:].any()
    with pytest.raises(ValueError, match="only add channels"):
        ZeroPadShortcut(8, 3)


@pytest.mark.parametrize("block", [Residual, PreActResidual, Bottleneck, ResNeXt])
def test_option_a_blocks_are_param_free_on_the_shortcut(block):
    out = 32 * block.expansion
    zero_pad = block(16, 32, strides=2, shortcut="zero_pad")
    projected = block(16, 32, use_1x1conv=True, strides=2)
    assert zero_pad(torch.rand(2, 16, 8, 8)).shape == (2, out, 4, 4)
    assert zero_pad.projection is None and isinstance(zero_pad.shortcut_module, ZeroPadShortcut)
    assert count_params(projected) - count_params(zero_pad) == 16 * out + out
    # the shortcut is x, subsampled and padded; started as the identity, the block is just that
    zero_pad.zero_init_last().eval()
    X = torch.rand(2, 16, 8, 8)
    expected = torch.cat([X[:, :, ::2, ::2], torch.zeros(2, out - 16, 4, 4)], dim=1)
    assert torch.equal(zero_pad(X), expected)


def test_option_a_only_when_asked_for():
    # the default keeps the course's behaviour and its message, word for word
    with pytest.raises(ValueError) as default:
        Residual(16, 32, strides=2)
    assert str(default.value) == (
        "Residual: the shortcut cannot be added because the input has 16 channels but the block outputs 32 "
        "and strides=2 makes the output 2x smaller than the input. Fix: pass use_1x1conv=True so a 1x1 "
        "convolution reshapes the shortcut, or use input_channels == 32 and strides=1."
    )
    assert not hasattr(Residual(16, 16, shortcut="zero_pad"), "zero_pad")  # nothing to pad
    assert Residual(16, 32, True, 2, shortcut="zero_pad").projection is not None  # 1x1 conv wins
    with pytest.raises(ValueError, match="shortcut must be one of"):
        Residual(16, 16, shortcut="A")


def test_preact_shortcut_is_what_forward_adds():
    """PreActResidual's projection takes the pre-activated input relu(bn1(x)), so `shortcut(x)`
    must too: forward == branch + shortcut for every block, with or without a projection."""
    torch.manual_seed(0)
    for blk in (PreActResidual(8, 8), PreActResidual(8, 16, use_1x1conv=True, strides=2)):
        blk.eval()
        x = torch.randn(2, 8, 6, 6)
        torch.testing.assert_close(blk(x), blk.branch(x) + blk.shortcut(x))


@pytest.mark.parametrize("bot_mul", [0.01, 0.05, 0.3])
def test_resnext_advice_can_be_followed(bot_mul):
    """The output channels the error names build a block, even where rounding alone would give
    a bottleneck of 0 channels (the block uses at least 1)."""
    with pytest.raises(ValueError, match=r"the output channels a multiple of (\d+)") as error:
        ResNeXt(4, 1, bot_mul=bot_mul)
    multiple = int(re.search(r"a multiple of (\d+)", str(error.value)).group(1))
    assert multiple % ResNeXt.expansion == 0
    ResNeXt(multiple, multiple // ResNeXt.expansion, bot_mul=bot_mul)  # builds


# --- small cases computed by hand ---------------------------------------------------------------
# On a 1x1 input a padded 3x3 convolution uses only its centre tap, so with constant weights every
# layer is a sum a student can do on paper. Batch norm in eval mode with its initial statistics
# (mean 0, variance 1, scale 1, shift 0) divides by sqrt(1 + eps) ~ 1.000005: the expected values
# below are the paper sums, to within 1e-4.


def _constant_convs_(blk, values):
    """Every conv named in `values` gets weights w and bias b: values = {name: (w, b)}."""
    with torch.no_grad():
        for name, (w, b) in values.items():
            conv = getattr(blk, name)
            conv.weight.fill_(w)
            conv.bias.fill_(b)
    return blk.eval()


def test_bottleneck_by_hand():
    convs = {"conv1": (0.5, 0.1), "conv2": (2.0, -0.2), "conv3": (-1.0, 0.3)}
    blk = _constant_convs_(Bottleneck(4, 1), convs)
    x = torch.tensor([1.0, -2.0, 3.0, 0.5]).reshape(1, 4, 1, 1)
    # conv1 (1x1, 4 -> 1): 0.5 * (1 - 2 + 3 + 0.5) + 0.1 = 1.35; BN, ReLU: 1.35
    # conv2 (3x3 centre, 1 -> 1): 2 * 1.35 - 0.2 = 2.5; BN, ReLU: 2.5
    # conv3 (1x1, 1 -> 4): -1 * 2.5 + 0.3 = -2.2 in every channel; BN: -2.2
    # + x, then ReLU: relu([1 - 2.2, -2 - 2.2, 3 - 2.2, 0.5 - 2.2]) = [0, 0, 0.8, 0]
    expected = torch.tensor([0.0, 0.0, 0.8, 0.0]).reshape(1, 4, 1, 1)
    torch.testing.assert_close(blk(x), expected, atol=1e-4, rtol=0)


def test_preact_residual_by_hand():
    blk = _constant_convs_(PreActResidual(2, 2), {"conv1": (0.5, 0.1), "conv2": (1.0, -0.5)})
    x = torch.tensor([1.0, -3.0]).reshape(1, 2, 1, 1)
    # BN, ReLU: [1, 0]; conv1 (3x3 centre, 2 -> 2): 0.5 * (1 + 0) + 0.1 = 0.6 each; BN, ReLU: 0.6
    # conv2: 1 * (0.6 + 0.6) - 0.5 = 0.7 each; + x, no ReLU after the addition: [1.7, -2.3]
    torch.testing.assert_close(blk(x), torch.tensor([1.7, -2.3]).reshape(1, 2, 1, 1), atol=1e-4, rtol=0)


def test_preact_projection_takes_the_preactivated_input_by_hand():
    blk = PreActResidual(2, 4, use_1x1conv=True)
    blk = _constant_convs_(blk, {"conv1": (0.5, 0.1), "conv2": (1.0, -0.5), "shortcut_conv": (1.0, 0.0)})
    x = torch.tensor([1.0, -3.0]).reshape(1, 2, 1, 1)
    # pre = relu(bn1(x)) = [1, 0]; branch: 0.5 * 1 + 0.1 = 0.6 (x 4 channels), then 1 * 4 * 0.6 - 0.5
    # = 1.9; projection of pre: 1 + 0 = 1 (of the raw x it would be 1 - 3 = -2): 1.9 + 1 = 2.9
    torch.testing.assert_close(blk(x), torch.full((1, 4, 1, 1), 2.9), atol=1e-4, rtol=0)


# -- one name per job: check_positive_int, last_layer / zero_init_last, shortcut, convs_per_block --


@pytest.mark.parametrize("good", [1, 2, 512])
def test_check_positive_int_accepts_whole_numbers_from_one(good):
    check_positive_int("strides", good)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "3", None])
def test_check_positive_int_names_the_argument_and_the_value(bad):
    message = rf"^strides must be a positive integer, got {bad!r}"
    with pytest.raises(ValueError, match=message):
        check_positive_int("strides", bad)


SHORTCUT_KINDS = ("identity", "projection", "zero_pad")


def make_block(name: str, shortcut: str):
    """A block of type `name` (a key of BLOCKS) with the shortcut `shortcut` (a SHORTCUT_KINDS)."""
    cls = BLOCKS[name]
    if shortcut == "identity":
        return cls(64, 64 // cls.expansion)
    if shortcut == "projection":
        return cls(32, 64 // cls.expansion, use_1x1conv=True, strides=2)
    return cls(32, 64 // cls.expansion, strides=2, shortcut="zero_pad")


EVERY_KIND = pytest.mark.parametrize("name,shortcut", [(n, s) for n in BLOCKS for s in SHORTCUT_KINDS])


LAST_LAYER_NAMES = {Residual: "bn2", Bottleneck: "bn3", ResNeXt: "bn3", PreActResidual: "conv2"}


@EVERY_KIND
def test_last_layer_is_what_zero_init_last_zeroes(name, shortcut):
    torch.manual_seed(0)
    block = make_block(name, shortcut)
    last = block.last_layer()
    assert last is getattr(block, LAST_LAYER_NAMES[type(block)])
    before = {name: p.clone() for name, p in block.named_parameters()}
    assert block.zero_init_last() is block
    for name, p in block.named_parameters():
        if p is last.weight or p is last.bias:
            assert not p.any(), name
        else:
            assert torch.equal(p, before[name]), name  # nothing else changes
    assert PlainBlock.from_residual(block).last_layer() is last  # the plain twin finds the same layer


def test_a_block_has_one_zero_init_name():
    assert not hasattr(Residual(4, 4), "zero_residual_")  # `zero_init_last()` is the name


def _shortcut_of(block, x):
    """What the lessons computed by hand as the shortcut (`why_it_works.shortcut_of`, replaced by
    `block.shortcut`): the 1x1 projection of the pre-activated input for a pre-activation block
    with a projection, else the block's shortcut module or x itself."""
    if isinstance(block, PreActResidual) and block.projection is not None:
        return block.projection(torch.relu(block.bn1(x)))
    return x if block.shortcut_module is None else block.shortcut_module(x)


@EVERY_KIND
def test_shortcut_is_what_forward_adds_to_the_branch(name, shortcut):
    torch.manual_seed(0)
    block = make_block(name, shortcut).eval()  # in training, PreActResidual.shortcut updates bn1's statistics
    x = torch.randn(2, 64 if shortcut == "identity" else 32, 6, 6)
    added = block.shortcut(x)
    torch.testing.assert_close(added, _shortcut_of(block, x), rtol=0, atol=0)
    y = block.branch(x) + added
    torch.testing.assert_close(block(x), torch.relu(y) if block.post_activation else y)


@pytest.mark.parametrize("name", list(BLOCKS))
def test_convs_per_block_counts_the_convolutions_of_the_branch(name):
    cls = BLOCKS[name]
    with torch.device("meta"):
        block = cls(64, 64 // cls.expansion)
    convs = [layer for layer in block.branch_layers() if isinstance(layer, nn.Conv2d)]
    assert cls.convs_per_block == len(convs)
    assert ResNetConfig(block=name).convs_per_block == len(convs)
