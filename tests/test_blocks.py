import pytest
import torch
from torch import nn

from book import BookResidual
from resnet_helpers import Bottleneck, PreActResidual, Residual, count_params


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


@pytest.mark.parametrize("block", [Residual, Bottleneck, PreActResidual])
def test_zeroed_branch_is_identity_on_nonnegative_input(block):
    torch.manual_seed(0)
    channels = 8 * block.expansion
    blk = block(channels, channels // block.expansion).zero_residual_().eval()
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
