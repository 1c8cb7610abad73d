"""The block explorer: its callback (every control, every bad combination), its panel, the gradient helper."""

import itertools

import pytest
import torch
from torch.nn import functional as F

from resnet_helpers import BLOCKS, Bottleneck, PreActResidual, Residual, count_flops, count_params
from resnet_helpers.lessons.residual_block import (
    Paths,
    block_explorer_panel,
    block_figure,
    compare_blocks,
    explore_block,
    format_block_report,
    input_gradient_norms,
)
from resnet_helpers.lessons.widgets import WIDGET_VIEW


def constructor_error(block, *args, **kwargs) -> str:
    """The ValueError message the block itself raises for these arguments."""
    with pytest.raises(ValueError) as info:
        BLOCKS[block](*args, **kwargs)
    return str(info.value)


# --- the callback, control by control ------------------------------------------------------------


def test_defaults_are_the_course_block_at_stage_one():
    r = explore_block()
    assert r["error"] is None
    assert r["class"] == "Residual"
    assert r["input shape"] == r["output shape"] == (1, 64, 56, 56)
    assert [row["layer"] for row in r["layers"]] == ["conv1", "bn1", "conv2", "bn2", "shortcut"]


@pytest.mark.parametrize(
    "block,cls", [("basic", "Residual"), ("bottleneck", "Bottleneck"), ("preact", "PreActResidual")]
)
def test_control_block_type(block, cls):
    r = explore_block(block, 256, 256)
    assert r["error"] is None and r["class"] == cls
    assert r["output shape"] == (1, 256, 56, 56)


def test_control_block_type_unknown():
    r = explore_block("wide", 64, 64)
    assert r["error"] == "block type must be one of ['basic', 'bottleneck', 'preact', 'resnext'], got 'wide'."
    assert "output shape" not in r


@pytest.mark.parametrize("block", list(BLOCKS))
@pytest.mark.parametrize("channels", [4, 12, 64, 256])
def test_control_input_channels(block, channels):
    r = explore_block(block, channels, 64, use_1x1conv=True)
    assert r["error"] is None
    assert r["input shape"] == (1, channels, 56, 56)
    first_conv = next(row for row in r["layers"] if row["kind"].startswith("conv"))
    assert first_conv["params"] > 0


@pytest.mark.parametrize("block", list(BLOCKS))
@pytest.mark.parametrize("channels", [4, 8, 64, 512])
def test_control_output_channels(block, channels):
    r = explore_block(block, 16, channels, use_1x1conv=True, size=8, groups=2)
    assert r["error"] is None
    assert r["output shape"] == (1, channels, 8, 8)


def test_bottleneck_width_is_a_quarter_of_its_output():
    r = explore_block("bottleneck", 256, 256)
    conv2 = next(row for row in r["layers"] if row["layer"] == "conv2")
    assert conv2["kind"] == "conv 3x3" and conv2["output shape"] == (1, 64, 56, 56)


@pytest.mark.parametrize("block", list(BLOCKS))
@pytest.mark.parametrize("strides,size,out_size", [(1, 56, 56), (2, 56, 28), (2, 7, 4), (3, 9, 3), (2, 1, 1)])
def test_control_stride(block, strides, size, out_size):
    r = explore_block(block, 64, 128, strides, True, size)
    assert r["error"] is None
    assert r["output shape"] == (1, 128, out_size, out_size)
    strided = [row["layer"] for row in r["layers"] if "stride" in row["kind"]]
    assert len(strided) == (0 if strides == 1 else 2)  # the 3x3 conv carrying the stride, and the shortcut


@pytest.mark.parametrize("block", list(BLOCKS))
def test_control_use_1x1conv(block):
    plain = explore_block(block, 64, 64, 1, False)
    projected = explore_block(block, 64, 64, 1, True)
    assert plain["layers"][-1] == {
        "layer": "shortcut",
        "kind": "identity",
        "output shape": (1, 64, 56, 56),
        "params": 0,
        "flops": 0,
    }
    projection = [row for row in projected["layers"] if row["layer"] in ("conv3", "shortcut_conv")][-1]
    assert projection["kind"] == "conv 1x1" and projection["params"] == 64 * 64 + 64
    assert projected["params"] - plain["params"] == projection["params"]
    assert projected["flops"] - plain["flops"] == projection["flops"] == 2 * 64 * 64 * 56 * 56


@pytest.mark.parametrize("size", [1, 6, 28, 96])
def test_control_size_and_batch(size):
    r = explore_block("basic", 3, 3, size=size, batch_size=4)
    assert r["input shape"] == r["output shape"] == (4, 3, size, size)


def test_the_two_book_examples():
    assert explore_block("basic", 3, 3, size=6, batch_size=4)["output shape"] == (4, 3, 6, 6)
    r = explore_block("basic", 3, 6, strides=2, use_1x1conv=True, size=6, batch_size=4)
    assert r["output shape"] == (4, 6, 3, 3)


# --- bad combinations: the block's own message, never an exception --------------------------------

GRID = list(
    itertools.product(list(BLOCKS), [16, 64], [16, 64, 256], [1, 2], [False, True]),
)


@pytest.mark.parametrize("block,cin,cout,strides,use_1x1conv", GRID)
def test_every_combination_matches_the_real_block(block, cin, cout, strides, use_1x1conv):
    r = explore_block(block, cin, cout, strides, use_1x1conv, size=8, batch_size=2, groups=4)
    num_channels = cout // BLOCKS[block].expansion
    groups = {"groups": 4} if block == "resnext" else {}
    try:
        blk = BLOCKS[block](cin, num_channels, use_1x1conv=use_1x1conv, strides=strides, **groups)
    except ValueError as e:
        assert r["error"] == str(e)
        assert "use_1x1conv=True" in r["error"] and "Traceback" not in r["error"]
        return
    assert r["error"] is None
    X = torch.rand(2, cin, 8, 8)
    assert r["output shape"] == tuple(blk.eval()(X).shape)
    assert r["params"] == count_params(blk)
    assert r["flops"] == count_flops(blk, X.shape)
    assert sum(row["params"] for row in r["layers"]) == r["params"]
    assert sum(row["flops"] for row in r["layers"]) == r["flops"]


@pytest.mark.parametrize(
    "block,args,words",
    [
        ("basic", (64, 128, 1, False), ["64 channels", "outputs 128", "use_1x1conv=True"]),
        ("basic", (64, 64, 2, False), ["strides=2", "use_1x1conv=True", "strides=1"]),
        ("basic", (64, 128, 2, False), ["64 channels", "strides=2"]),
        ("bottleneck", (64, 128, 1, False), ["64 channels", "outputs 128"]),
        ("bottleneck", (64, 256, 1, False), ["64 channels", "outputs 256"]),
        ("bottleneck", (256, 256, 2, False), ["strides=2"]),
        ("preact", (64, 32, 1, False), ["64 channels", "outputs 32"]),
        ("preact", (32, 32, 2, False), ["strides=2"]),
    ],
)
def test_shortcut_mismatch_shows_the_blocks_message(block, args, words):
    cin, cout, strides, use_1x1conv = args
    r = explore_block(block, *args)
    expected = constructor_error(
        block, cin, cout // BLOCKS[block].expansion, use_1x1conv=use_1x1conv, strides=strides
    )
    assert r["error"] == expected
    for word in words:
        assert word in r["error"]
    # the fix it names works
    assert explore_block(block, cin, cout, strides, True)["error"] is None


@pytest.mark.parametrize("cout,fix", [(6, "4 or 8"), (2, "4"), (130, "128 or 132")])
def test_bottleneck_output_must_be_a_multiple_of_4(cout, fix):
    r = explore_block("bottleneck", 64, cout, use_1x1conv=True)
    assert r["error"] == (
        "Bottleneck: the block outputs 4 x the width of its 3x3 convolution, so output channels "
        f"must be a multiple of 4, got {cout}. Fix: use output channels {fix}."
    )
    # basic and pre-activation blocks take any width
    assert explore_block("basic", 64, cout, use_1x1conv=True)["error"] is None


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "64", None])
@pytest.mark.parametrize("control", ["input_channels", "output_channels", "strides", "size", "batch_size"])
def test_bad_values_of_every_number_control(control, bad):
    kwargs = dict(block="basic", input_channels=8, output_channels=8, strides=1, use_1x1conv=True, size=8)
    kwargs[control] = bad
    r = explore_block(**kwargs)
    assert r["error"] == f"{control} must be a positive integer, got {bad!r}."


def test_bad_sizes_give_the_same_message_as_the_block():
    # the explorer checks its controls with the blocks' own check: same words
    assert explore_block("basic", 0, 8, use_1x1conv=True)["error"] == constructor_error(
        "basic", 0, 8, use_1x1conv=True
    )
    assert explore_block("basic", 8, 8, 0, True)["error"] == constructor_error(
        "basic", 8, 8, use_1x1conv=True, strides=0
    )


def test_errors_keep_the_controls():
    r = explore_block("basic", 3, 6, 2, False, 6)
    assert {k: r[k] for k in ("block", "input_channels", "output_channels", "strides", "use_1x1conv")} == {
        "block": "basic",
        "input_channels": 3,
        "output_channels": 6,
        "strides": 2,
        "use_1x1conv": False,
    }


# --- numbers by hand --------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [3, 64, 256])
def test_basic_block_params_and_flops_by_hand(c):
    r = explore_block("basic", c, c, size=56)
    conv = 9 * c * c + c  # 3x3 kernels and a bias
    assert r["params"] == 2 * conv + 2 * (2 * c)  # two convs, two batch norms (scale and shift)
    assert r["flops"] == 2 * (2 * 9 * c * c * 56 * 56)  # a multiply-add counts 2


def test_bottleneck_is_cheaper_at_the_same_output():
    rows = {row["block"]: row for row in compare_blocks(256, 256, size=56)}
    assert rows["basic"]["params"] == rows["preact"]["params"] == 1_181_184
    assert rows["bottleneck"]["params"] == 70_784
    assert rows["bottleneck"]["flops"] * 16 < rows["basic"]["flops"]
    assert all(row["output shape"] == (1, 256, 56, 56) and row["error"] is None for row in rows.values())


def test_compare_blocks_reports_errors_per_block():
    rows = compare_blocks(64, 6, size=8, use_1x1conv=True)
    errors = {row["block"]: row["error"] for row in rows}
    assert errors["basic"] is None and errors["preact"] is None
    assert "multiple of 4" in errors["bottleneck"]


def test_format_block_report():
    text = format_block_report(explore_block("basic", 64, 128, 2, True))
    assert text.splitlines()[0] == "Residual: input (1, 64, 56, 56) -> output (1, 128, 28, 28)"
    assert "conv 3x3, stride 2" in text and "conv 1x1, stride 2" in text
    assert text.splitlines()[-1].split()[-2:] == ["230,272", "359,661,568"]
    bad = explore_block("basic", 64, 128)
    assert format_block_report(bad) == "Impossible combination: " + bad["error"]


# --- the panel ---------------------------------------------------------------------------------------


def test_panel_wires_every_control_to_the_callback():
    panel = block_explorer_panel()
    assert set(panel.controls) == {
        "block",
        "input_channels",
        "output_channels",
        "strides",
        "use_1x1conv",
        "size",
        "groups",
    }
    assert panel.last_result == explore_block()
    c = panel.controls
    c["block"].value = "bottleneck"
    assert panel.last_result["class"] == "Bottleneck" and panel.last_result["error"] is None
    c["output_channels"].value = 254
    assert "multiple of 4" in panel.last_result["error"]
    c["output_channels"].value = 256
    assert panel.last_result["error"] == constructor_error("bottleneck", 64, 64)
    c["use_1x1conv"].value = True
    assert panel.last_result["output shape"] == (1, 256, 56, 56)
    c["strides"].value = 2
    c["size"].value = 10
    c["input_channels"].value = 32
    assert panel.last_result["input shape"] == (1, 32, 10, 10)
    assert panel.last_result["output shape"] == (1, 256, 5, 5)
    c["use_1x1conv"].value = False  # impossible: a message, not an exception
    assert panel.last_result["error"] == constructor_error("bottleneck", 32, 64, strides=2)
    assert [label for label, _ in c["block"].options] == [
        "basic (course)",
        "bottleneck",
        "pre-activation",
        "ResNeXt (grouped)",
    ]
    c["block"].value, c["use_1x1conv"].value, c["groups"].value = "resnext", True, 8
    assert panel.last_result["class"] == "ResNeXt" and panel.last_result["groups"] == 8
    conv2 = next(row for row in panel.last_result["layers"] if row["layer"] == "conv2")
    assert conv2["kind"] == "conv 3x3, stride 2, 8 groups"


def test_panel_carries_a_snapshot_of_its_default_view():
    snapshot = block_explorer_panel()
    bundle = snapshot._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and bundle["image/png"]  # the live panel, and the block drawn
    assert "74,112" in bundle["text/html"] and "Residual: input (1, 64, 56, 56)" in bundle["text/html"]
    assert snapshot.panel.controls is snapshot.controls
    # a panel that starts on an impossible combination shows the message, and no drawing
    bad = block_explorer_panel(input_channels=3, output_channels=6)._repr_mimebundle_()
    assert "image/png" not in bad and "use_1x1conv=True" in bad["text/html"]


def test_block_figure_draws_the_branch_and_the_shortcut():
    import matplotlib.pyplot as plt

    r = explore_block("resnext", 64, 128, 2, True, groups=8)
    assert r["diagram"] == {
        "branch": [
            "1x1 conv, 64->64",
            "batch norm",
            "ReLU",
            "3x3 conv, 8 groups, /2",
            "batch norm",
            "ReLU",
            "1x1 conv, 64->128",
            "batch norm",
        ],
        "shortcut": "1x1 conv, /2",
        "after": "ReLU",
    }
    assert explore_block("preact", 64, 64)["diagram"]["after"] is None
    fig = block_figure(r)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"3x3 conv, 8 groups, /2", "1x1 conv, /2", "ReLU", "+", "x"} <= texts
    plt.close(fig)
    with pytest.raises(ValueError, match="nothing to draw"):
        block_figure(explore_block("basic", 3, 6))


def test_panel_defaults():
    panel = block_explorer_panel(block="preact", input_channels=3, output_channels=6, strides=2)
    assert panel.last_result["error"] == constructor_error("preact", 3, 6, strides=2)
    with pytest.raises(ValueError, match="unknown controls"):
        block_explorer_panel(channels=3)


# --- the residual branch and the gradient helper ----------------------------------------------------


def _blocks():
    torch.manual_seed(0)
    return [
        Residual(8, 8),
        Residual(8, 16, use_1x1conv=True, strides=2),
        Bottleneck(32, 8),
        Bottleneck(8, 8, use_1x1conv=True, strides=2),
        PreActResidual(8, 8),
        PreActResidual(8, 16, use_1x1conv=True, strides=2),
    ]


def _written_out(blk, X):
    """(branch, output) of each block, written out by hand from the papers' definitions."""
    if isinstance(blk, Residual):
        branch = blk.bn2(blk.conv2(F.relu(blk.bn1(blk.conv1(X)))))
        return branch, F.relu(branch + (blk.conv3(X) if blk.conv3 is not None else X))
    if isinstance(blk, Bottleneck):
        Y = F.relu(blk.bn2(blk.conv2(F.relu(blk.bn1(blk.conv1(X))))))
        branch = blk.bn3(blk.conv3(Y))
        return branch, F.relu(branch + (blk.projection(X) if blk.projection is not None else X))
    pre = F.relu(blk.bn1(X))
    branch = blk.conv2(F.relu(blk.bn2(blk.conv1(pre))))
    return branch, branch + (blk.projection(pre) if blk.projection is not None else X)


@pytest.mark.parametrize("index", range(6))
def test_block_is_branch_plus_shortcut(index):
    blk = _blocks()[index].eval()
    X = torch.randn(2, blk.conv1.in_channels, 6, 6)
    branch, output = _written_out(blk, X)
    torch.testing.assert_close(blk.branch(X), branch)
    torch.testing.assert_close(blk(X), output)


@pytest.mark.parametrize("block", [Residual, Bottleneck])
def test_zeroed_branch_passes_the_gradient_unchanged(block):
    blk = block(32, 32 // block.expansion).zero_init_last()
    X = torch.rand(4, 32, 6, 6) + 0.01  # positive, as after a ReLU
    norms = input_gradient_norms(blk, X)
    assert norms["with shortcut"] == pytest.approx(norms["upstream"], rel=1e-6)
    assert norms["without shortcut"] == 0.0


def test_zeroed_preact_branch_passes_the_gradient_for_any_input():
    blk = PreActResidual(8, 8).zero_init_last()
    norms = input_gradient_norms(blk, torch.randn(4, 8, 6, 6))
    assert norms["with shortcut"] == pytest.approx(norms["upstream"], rel=1e-6)
    assert norms["without shortcut"] == 0.0


def test_gradient_norms_of_fresh_blocks_are_finite_and_seeded():
    torch.manual_seed(0)
    blk = Residual(16, 16)
    X = torch.rand(4, 16, 8, 8)
    a = input_gradient_norms(blk, X, seed=1)
    b = input_gradient_norms(blk, X, seed=1)
    c = input_gradient_norms(blk, X, seed=2)
    assert a == b and a["upstream"] != c["upstream"]
    assert all(torch.isfinite(torch.tensor(v)) and v > 0 for v in a.values())
    # the input is not modified and needs no grad
    assert not X.requires_grad


def test_gradient_norms_with_given_upstream_and_a_stack():
    torch.manual_seed(0)
    stack = torch.nn.Sequential(*[Residual(8, 8).zero_init_last() for _ in range(5)])
    X = torch.rand(2, 8, 6, 6) + 0.01
    upstream = torch.ones(2, 8, 6, 6)
    norms = input_gradient_norms(stack, X, upstream=upstream)
    assert norms["upstream"] == pytest.approx(upstream.norm().item())
    assert norms["with shortcut"] == pytest.approx(norms["upstream"], rel=1e-6)
    assert norms["without shortcut"] == 0.0
    assert input_gradient_norms(list(stack), X, upstream=upstream) == norms


def test_tiny_gradients_are_not_reported_as_zero():
    # entries of ~1e-30 are representable in float32, but their squares are not: a float32 norm
    # would print 0 (the vanishing gradient of a deep plain stack is small, not absent)
    blk = Residual(4, 4).zero_init_last()  # passes the gradient unchanged
    X = torch.rand(2, 4, 3, 3) + 0.01
    upstream = torch.full((2, 4, 3, 3), 1e-30)
    assert upstream.norm().item() == 0.0  # the float32 underflow this guards against
    norms = input_gradient_norms(blk, X, upstream=upstream)
    assert norms["upstream"] == pytest.approx(1e-30 * 72**0.5, rel=1e-6, abs=0)
    assert norms["with shortcut"] == pytest.approx(norms["upstream"], rel=1e-6, abs=0)


def test_error_box_escapes_the_message():
    from resnet_helpers.lessons.widgets import error_box

    box = error_box("channels 3 -> 6 <needs> use_1x1conv=True & strides", monospace=True)
    assert box.startswith("<div") and "#c0392b" in box and "monospace" in box
    assert "&lt;needs&gt;" in box and "&amp;" in box and "<needs>" not in box
    assert "monospace" not in error_box("x")


# --- ResNeXt, option A and the two-path Inception (exercise 1) -----------------------------------------


def test_resnext_in_the_explorer_by_hand():
    r = explore_block("resnext", 256, 256, size=56)  # ResNeXt-50's first block: 32 groups of 4 channels
    assert r["error"] is None and r["output shape"] == (1, 256, 56, 56)
    convs = {row["layer"]: row for row in r["layers"] if row["kind"].startswith("conv")}
    assert convs["conv2"]["params"] == 128 * (128 // 32) * 9 + 128
    assert convs["conv2"]["flops"] == 2 * 128 * (128 // 32) * 9 * 56 * 56
    # fewer groups, more of both: the 3x3 convolution's weights and FLOPs scale with 1 / groups
    one = explore_block("resnext", 256, 256, size=56, groups=1)
    conv2 = next(row for row in one["layers"] if row["layer"] == "conv2")
    assert conv2["flops"] == 32 * convs["conv2"]["flops"]
    bad = explore_block("resnext", 64, 64, groups=64)
    assert "64 groups cannot share" in bad["error"] and "divisor of 32" in bad["error"]
    rows = {row["block"]: row for row in compare_blocks(256, 256, size=56)}
    assert rows["resnext"]["params"] == 71_680 and rows["resnext"]["error"] is None


def test_option_a_in_the_explorer():
    r = explore_block("basic", 64, 128, strides=2, shortcut="zero_pad")
    assert r["error"] is None and r["output shape"] == (1, 128, 28, 28)
    assert r["layers"][-1] == {
        "layer": "zero_pad",
        "kind": "zero-pad (option A)",
        "output shape": (1, 128, 28, 28),
        "params": 0,
        "flops": 0,
    }
    projected = explore_block("basic", 64, 128, strides=2, use_1x1conv=True)
    assert projected["params"] - r["params"] == 64 * 128 + 128
    assert r["diagram"]["shortcut"] == "zero-pad, /2"
    assert "only add channels" in explore_block("basic", 128, 64, shortcut="zero_pad")["error"]
    assert "shortcut must be one of" in explore_block(shortcut="B")["error"]


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_two_path_inception_with_identity_and_sum_is_the_residual_block(mode):
    torch.manual_seed(0)
    blk = Residual(16, 16)
    branch = torch.nn.Sequential(*blk.branch_layers())  # the same layers, the same weights
    paths = Paths(branch, torch.nn.Identity(), merge="add", after=torch.nn.ReLU())
    X = torch.randn(4, 16, 8, 8)
    getattr(blk, mode)(), getattr(paths, mode)()
    assert torch.equal(paths(X), blk(X))
    assert count_params(paths) == count_params(blk)
    # with a concatenation instead, it is an Inception-style block: twice the channels, no sum
    cat = Paths(branch, torch.nn.Identity(), merge="cat").eval()
    assert cat(X).shape == (4, 32, 8, 8)
    assert torch.equal(cat(X)[:, 16:], X)
    with pytest.raises(ValueError, match="merge"):
        Paths(branch, merge="max")
