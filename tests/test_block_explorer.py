"""The block explorer: its callback (every control, every bad combination), its panel, the gradient helper."""

import itertools
from types import SimpleNamespace

import pytest
import torch
from torch.nn import functional as F

from resnet_helpers import BLOCKS, Bottleneck, PreActResidual, Residual, count_flops, count_params
from resnet_helpers.lessons.residual_block import (
    Paths,
    block_explorer_panel,
    block_figure,
    block_rows_table,
    branch_at_zero_lines,
    compare_blocks,
    concatenated_line,
    conv2_line,
    explore_block,
    explored_line,
    format_block_report,
    formula_line,
    gain_conclusions,
    gain_per_block_conclusion,
    gain_table,
    identity_at_zero_lines,
    input_gradient_norms,
    option_a_shortcut_lines,
    option_line,
    paths_header,
    paths_row,
    relu_share_text,
    resnext_summary,
    same_block_line,
    same_output_line,
    shortcut_cost_line,
    shortcut_need_line,
    stack_gain_header,
    stack_gain_line,
    tradeoff_table,
    two_paths_line,
    zero_branch_gain_line,
    zero_init_line,
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


# --- what notebook 02's cells print: the English exactly as the saved outputs, and the Chinese ---

GAIN_SCALES = [0.0, 0.01, 0.1, 0.3, 1.0, 2.0]

GAIN_ROWS = [  # notebook 02's table: eval with, eval without, train with, train without
    (1.000, 0.000, 1.000, 0.000),
    (1.000, 0.001, 1.000, 0.025),
    (1.000, 0.014, 1.055, 0.251),
    (1.002, 0.043, 1.409, 0.754),
    (1.014, 0.143, 3.146, 2.514),
    (1.053, 0.287, 5.639, 5.028),
]

GAINS = {
    (mode, key): [row[2 * m + k] for row in GAIN_ROWS]
    for m, mode in enumerate(("eval", "train"))
    for k, key in enumerate(("with shortcut", "without shortcut"))
}

BLOCK_ROWS = [
    {"block": "basic", "output shape": (1, 64, 56, 56), "params": 74_112, "flops": 462_422_016},
    {"block": "bottleneck", "output shape": (1, 256, 56, 56), "params": 70_784, "flops": 436_731_904},
    {"block": "preact", "output shape": (1, 64, 56, 56), "params": 74_112, "flops": 462_422_016},
]


def _tradeoff():
    rows = [("bottleneck (3x3 on 64)", explore_block("bottleneck", 256, 256, size=56))]
    for groups in (1, 2, 4, 8, 32, 128):
        name = f"ResNeXt, {groups} group{'s' * (groups > 1)}"
        rows.append((name, explore_block("resnext", 256, 256, size=56, groups=groups)))
    return rows


def _conv(cin, cout, groups):
    return SimpleNamespace(in_channels=cin, out_channels=cout, groups=groups)


def _shortcut_needs():
    cases = [
        (64, 64, 1, False),
        (64, 64, 2, True),
        (64, 128, 1, True),
        (64, 128, 2, True),
        (128, 64, 1, True),
        (128, 64, 2, True),
        (128, 128, 1, False),
        (128, 128, 2, True),
    ]
    return "\n".join(shortcut_need_line(*case) for case in cases)


def _formulas():
    counts = [(3, 180), (64, 74_112), (128, 295_680), (256, 1_181_184), (512, 4_721_664)]
    return "\n".join(formula_line(c, n, n) for c, n in counts)


def _paths():
    rows = [
        (
            "Inception(192, 64, (96, 128), (16, 32), 32)",
            4,
            "concatenate",
            (1, 256, 28, 28),
            163_696,
            256_098_304,
        ),
        ("Residual(192, 256, use_1x1conv=True)", 2, "add", (1, 256, 28, 28), 1_083_136, 1_695_547_392),
        (
            "Inception(256, 64, (96, 128), (16, 32), 32)",
            4,
            "concatenate",
            (1, 256, 28, 28),
            177_008,
            276_971_520,
        ),
        ("Residual(256, 256)", 2, "add", (1, 256, 28, 28), 1_181_184, 1_849_688_064),
    ]
    return "\n".join([paths_header(), *(paths_row(*row) for row in rows)])


PRINTED = [
    pytest.param(  # notebook 02, cell f2e37d29
        lambda: "\n".join(
            same_block_line(name, True, shape, p, p)
            for name, shape, p in [
                ("Residual(3, 3)", (4, 3, 6, 6), 180),
                ("Residual(3, 6, True, 2)", (4, 6, 3, 3), 546),
                ("Residual(8, 8, True, 1)", (4, 8, 6, 6), 1_272),
                ("Residual(16, 32, True, 2)", (4, 32, 3, 3), 14_560),
            ]
        ),
        (
            "Residual(3, 3): same output True, output (4, 3, 6, 6), parameters 180 and 180\n"
            "Residual(3, 6, True, 2): same output True, output (4, 6, 3, 3), parameters 546 and 546\n"
            "Residual(8, 8, True, 1): same output True, output (4, 8, 6, 6), parameters 1,272 and 1,272\n"
            "Residual(16, 32, True, 2): same output True, output (4, 32, 3, 3), parameters 14,560 and "
            "14,560"
        ),
        (
            "Residual(3, 3)：输出相同 True，输出形状 (4, 3, 6, 6)，参数 180 和 180\n"
            "Residual(3, 6, True, 2)：输出相同 True，输出形状 (4, 6, 3, 3)，参数 546 和 546\n"
            "Residual(8, 8, True, 1)：输出相同 True，输出形状 (4, 8, 6, 6)，参数 1,272 和 1,272\n"
            "Residual(16, 32, True, 2)：输出相同 True，输出形状 (4, 32, 3, 3)，参数 14,560 和 14,560"
        ),
        id="same_block_line",
    ),
    pytest.param(  # notebook 02, cell 30333ed4
        lambda: option_line("A", (4, 6, 3, 3), 522) + "\n" + option_line("B", (4, 6, 3, 3), 546),
        (
            "option A (zero padding)  output (4, 6, 3, 3), 522 parameters\n"
            "option B (1x1 conv)      output (4, 6, 3, 3), 546 parameters"
        ),
        (
            "选项 A（零填充）：输出 (4, 6, 3, 3)，522 个参数\n"
            "选项 B（1×1 卷积）：输出 (4, 6, 3, 3)，546 个参数"
        ),
        id="option_line",
    ),
    pytest.param(  # notebook 02, cell 30333ed4
        lambda: option_a_shortcut_lines(True, True),
        (
            "option A's shortcut: first 3 channels == X[:, :, ::2, ::2]: True\n"
            "                     last 3 channels are all zero:       True"
        ),
        (
            "选项 A 的捷径： 前 3 个通道 == X[:, :, ::2, ::2]： True\n"
            "                后 3 个通道全为零：                 True"
        ),
        id="option_a_shortcut_lines",
    ),
    pytest.param(  # notebook 02, cell 386886db
        lambda: branch_at_zero_lines(True, all_zero=True),
        (
            "residual block, branch at zero: block(X) == X         True\n"
            "normal block, same weights:     all outputs are zero  True"
        ),
        (
            "残差块，分支为零：              block(X) == X         True\n"
            "正常块，相同权重：              输出全为零            True"
        ),
        id="branch_at_zero_lines",
    ),
    pytest.param(  # notebook 02, cell 6975e1b9
        lambda: zero_init_line(True),
        "rh.Residual(64, 64).zero_init_last() is the identity: True",
        "rh.Residual(64, 64).zero_init_last() 是恒等映射：True",
        id="zero_init_line",
    ),
    pytest.param(  # notebook 02, cell bef5b025
        lambda: gain_table(GAIN_SCALES, GAINS),
        (
            "               evaluation mode                training mode         \n"
            "       γ  with shortcut        without  with shortcut        without\n"
            "     0.0          1.000          0.000          1.000          0.000\n"
            "    0.01          1.000          0.001          1.000          0.025\n"
            "     0.1          1.000          0.014          1.055          0.251\n"
            "     0.3          1.002          0.043          1.409          0.754\n"
            "     1.0          1.014          0.143          3.146          2.514\n"
            "     2.0          1.053          0.287          5.639          5.028"
        ),
        (
            "                   评估模式                      训练模式           \n"
            "       γ         有捷径         无捷径         有捷径         无捷径\n"
            "     0.0          1.000          0.000          1.000          0.000\n"
            "    0.01          1.000          0.001          1.000          0.025\n"
            "     0.1          1.000          0.014          1.055          0.251\n"
            "     0.3          1.002          0.043          1.409          0.754\n"
            "     1.0          1.014          0.143          3.146          2.514\n"
            "     2.0          1.053          0.287          5.639          5.028"
        ),
        id="gain_table",
    ),
    pytest.param(  # notebook 02, cell 08dc3f14
        lambda: gain_conclusions(1.000, 0.0, 0.143, 3.146, 2.514),
        (
            "With the shortcut, the smallest gain in the table is 1.000; without it, the gain at γ = 0 "
            "is 0.\n"
            "Evaluation mode, fresh block (γ = 1): without the shortcut it passes on 14.3% of the "
            "gradient (about 1/7).\n"
            "Training mode, fresh block (γ = 1): gains 3.15 with and 2.51 without the shortcut: batch "
            "norm amplifies the gradient in both."
        ),
        (
            "有捷径时，表中最小的增益是 1.000；没有捷径时，γ = 0 处的增益是 0。\n"
            "评估模式，新初始化的块（γ = 1）：没有捷径时，它只把 14.3% 的梯度传下去（约 1/7）。\n"
            "训练模式，新初始化的块（γ = 1）：有捷径时增益为 3.15，没有捷径时为 "
            "2.51：批量规范化在两种情况下都放大了梯度。"
        ),
        id="gain_conclusions",
    ),
    pytest.param(  # notebook 02, cell a2e69369
        lambda: explored_line(
            {"output_channels": 3}, {"output shape": (4, 3, 6, 6), "params": 180, "flops": 46_656}
        ),
        "{'output_channels': 3} -> (4, 3, 6, 6) 180 parameters, 46,656 FLOPs",
        "{'output_channels': 3} -> (4, 3, 6, 6)，180 个参数，46,656 FLOPs",
        id="explored_line",
    ),
    pytest.param(  # notebook 02, cell a0e74fab
        lambda: (
            conv2_line("Bottleneck", (4, 256, 8, 8), (4, 256, 8, 8), _conv(64, 64, 1), 70_784)
            + "\n"
            + conv2_line("ResNeXt", (4, 256, 8, 8), (4, 512, 4, 4), _conv(256, 256, 32), 349_696)
        ),
        (
            "Bottleneck      (4, 256, 8, 8) -> (4, 256, 8, 8): 3x3 conv 64 -> 64 channels in 1 "
            "group(s), 70,784 parameters\n"
            "ResNeXt         (4, 256, 8, 8) -> (4, 512, 4, 4): 3x3 conv 256 -> 256 channels in 32 "
            "group(s), 349,696 parameters"
        ),
        (
            "Bottleneck      (4, 256, 8, 8) -> (4, 256, 8, 8)：3×3 卷积 64 -> 64 个通道，分 1 "
            "组，70,784 个参数\n"
            "ResNeXt         (4, 256, 8, 8) -> (4, 512, 4, 4)：3×3 卷积 256 -> 256 个通道，分 32 "
            "组，349,696 个参数"
        ),
        id="conv2_line",
    ),
    pytest.param(  # notebook 02, cell 298a60c0
        lambda: block_rows_table(BLOCK_ROWS),
        (
            "block       output shape              params           FLOPs\n"
            "basic       (1, 64, 56, 56)           74,112     462,422,016\n"
            "bottleneck  (1, 256, 56, 56)          70,784     436,731,904\n"
            "preact      (1, 64, 56, 56)           74,112     462,422,016"
        ),
        (
            "块          输出形状                    参数           FLOPs\n"
            "basic       (1, 64, 56, 56)           74,112     462,422,016\n"
            "bottleneck  (1, 256, 56, 56)          70,784     436,731,904\n"
            "preact      (1, 64, 56, 56)           74,112     462,422,016"
        ),
        id="block_rows_table",
    ),
    pytest.param(  # notebook 02, cell a9ab429c
        lambda: tradeoff_table(_tradeoff()),
        (
            "block                                 3x3 conv    params          FLOPs  3x3 share\n"
            "bottleneck (3x3 on 64)                conv 3x3    70,784    436,731,904      52.9%\n"
            "ResNeXt, 1 group                      conv 3x3   214,528  1,335,885,824      69.2%\n"
            "ResNeXt, 2 groups           conv 3x3, 2 groups   140,800    873,463,808      52.9%\n"
            "ResNeXt, 4 groups           conv 3x3, 4 groups   103,936    642,252,800      36.0%\n"
            "ResNeXt, 8 groups           conv 3x3, 8 groups    85,504    526,647,296      22.0%\n"
            "ResNeXt, 32 groups         conv 3x3, 32 groups    71,680    439,943,168       6.6%\n"
            "ResNeXt, 128 groups       conv 3x3, 128 groups    68,224    418,267,136       1.7%"
        ),
        (
            "块                                    3×3 卷积      参数          FLOPs   3×3 占比\n"
            "bottleneck (3x3 on 64)                conv 3x3    70,784    436,731,904      52.9%\n"
            "ResNeXt, 1 group                      conv 3x3   214,528  1,335,885,824      69.2%\n"
            "ResNeXt, 2 groups           conv 3x3, 2 groups   140,800    873,463,808      52.9%\n"
            "ResNeXt, 4 groups           conv 3x3, 4 groups   103,936    642,252,800      36.0%\n"
            "ResNeXt, 8 groups           conv 3x3, 8 groups    85,504    526,647,296      22.0%\n"
            "ResNeXt, 32 groups         conv 3x3, 32 groups    71,680    439,943,168       6.6%\n"
            "ResNeXt, 128 groups       conv 3x3, 128 groups    68,224    418,267,136       1.7%"
        ),
        id="tradeoff_table",
    ),
    pytest.param(  # notebook 02, cell 75c27a33
        lambda: resnext_summary(
            71_680 / 70_784, 439_943_168 / 436_731_904, 439_943_168 / 1_335_885_824, 71_680 / 214_528
        ),
        (
            "ResNeXt (32 groups) vs bottleneck: 1.01x the parameters, 1.01x the FLOPs,\n"
            "    with a 3x3 convolution twice as wide (128 vs 64 channels).\n"
            "From 1 to 32 groups the block keeps 33% of its FLOPs and 33% of its parameters: the 1x1 "
            "convolutions now dominate."
        ),
        (
            "ResNeXt（32 组）对比瓶颈块：参数是 1.01 倍，FLOPs 是 1.01 倍，\n"
            "    而 3×3 卷积宽了一倍（128 对 64 个通道）。\n"
            "从 1 组到 32 组，块的 FLOPs 只剩 33%，参数只剩 33%：此时 1×1 卷积占了大头。"
        ),
        id="resnext_summary",
    ),
    pytest.param(  # notebook 02, cell 533beeed
        lambda: identity_at_zero_lines(basic=False, preact=True),
        (
            "basic block, branch at zero:          block(X) == X False\n"
            "pre-activation block, branch at zero: block(X) == X True"
        ),
        (
            "基本块，分支为零：                    block(X) == X False\n"
            "预激活块，分支为零：                  block(X) == X True"
        ),
        id="identity_at_zero_lines",
    ),
    pytest.param(  # notebook 02, cell 691665f3
        lambda: zero_branch_gain_line("basic", 0.721) + "\n" + zero_branch_gain_line("pre-activation", 1.0),
        (
            "basic           branch at zero, gradient gain with the shortcut: 0.721\n"
            "pre-activation  branch at zero, gradient gain with the shortcut: 1.000"
        ),
        ("基本块：分支为零时，经过捷径的梯度增益为 0.721\n预激活块：分支为零时，经过捷径的梯度增益为 1.000"),
        id="zero_branch_gain_line",
    ),
    pytest.param(  # notebook 02, cell bc44d866
        lambda: relu_share_text(579 / 1152),
        (
            "The basic block's last ReLU keeps 50% of the entries here; a gradient of independent\n"
            "random entries keeps about the square root of that share of its norm: √0.50 = 0.709."
        ),
        (
            "这里基本块最后的 ReLU 保留了 50% 的元素；由独立随机元素组成的梯度，\n"
            "其范数大约保留这一比例的平方根：√0.50 = 0.709。"
        ),
        id="relu_share_text",
    ),
    pytest.param(  # notebook 02, cell 4b5fd247
        lambda: _paths(),
        (
            "block                                         paths  merge       output                "
            "params          FLOPs\n"
            "Inception(192, 64, (96, 128), (16, 32), 32)       4  concatenate (1, 256, 28, 28)     "
            "163,696    256,098,304\n"
            "Residual(192, 256, use_1x1conv=True)              2  add         (1, 256, 28, 28)   "
            "1,083,136  1,695,547,392\n"
            "Inception(256, 64, (96, 128), (16, 32), 32)       4  concatenate (1, 256, 28, 28)     "
            "177,008    276,971,520\n"
            "Residual(256, 256)                                2  add         (1, 256, 28, 28)   "
            "1,181,184  1,849,688,064"
        ),
        (
            "块                                           路径数  合并方式    输出                    "
            "参数          FLOPs\n"
            "Inception(192, 64, (96, 128), (16, 32), 32)       4  拼接        (1, 256, 28, 28)     "
            "163,696    256,098,304\n"
            "Residual(192, 256, use_1x1conv=True)              2  相加        (1, 256, 28, 28)   "
            "1,083,136  1,695,547,392\n"
            "Inception(256, 64, (96, 128), (16, 32), 32)       4  拼接        (1, 256, 28, 28)     "
            "177,008    276,971,520\n"
            "Residual(256, 256)                                2  相加        (1, 256, 28, 28)   "
            "1,181,184  1,849,688,064"
        ),
        id="paths_header_and_paths_row",
    ),
    pytest.param(  # notebook 02, cell 373531f9
        lambda: two_paths_line("train", True) + "\n" + two_paths_line("eval", True),
        (
            "train mode: 2-path block with an identity path, added == Residual: True\n"
            "eval  mode: 2-path block with an identity path, added == Residual: True"
        ),
        (
            "训练模式：含一条恒等路径的双路径块，相加后 == Residual：True\n"
            "评估模式：含一条恒等路径的双路径块，相加后 == Residual：True"
        ),
        id="two_paths_line",
    ),
    pytest.param(  # notebook 02, cell 373531f9
        lambda: concatenated_line((8, 128, 12, 12)),
        (
            "the same 2 paths concatenated, Inception-style: (8, 128, 12, 12) (twice the channels, "
            "nothing added)"
        ),
        "同样的 2 条路径像 Inception 那样拼接：(8, 128, 12, 12)（通道数翻倍，没有相加）",
        id="concatenated_line",
    ),
    pytest.param(  # notebook 02, cell 59d9e579
        lambda: same_output_line(
            "Bottleneck(256, 64)", (4, 256, 8, 8), (4, 256, 8, 8), "rh.Bottleneck", True
        ),
        "Bottleneck(256, 64): (4, 256, 8, 8) -> (4, 256, 8, 8), same output as rh.Bottleneck: True",
        "Bottleneck(256, 64)：(4, 256, 8, 8) -> (4, 256, 8, 8)，与 rh.Bottleneck 的输出相同：True",
        id="same_output_line",
    ),
    pytest.param(  # notebook 02, cell 91f43efa
        lambda: _shortcut_needs(),
        (
            " 64 ->  64, stride 1: identity shortcut\n"
            " 64 ->  64, stride 2: needs the 1x1 conv\n"
            " 64 -> 128, stride 1: needs the 1x1 conv\n"
            " 64 -> 128, stride 2: needs the 1x1 conv\n"
            "128 ->  64, stride 1: needs the 1x1 conv\n"
            "128 ->  64, stride 2: needs the 1x1 conv\n"
            "128 -> 128, stride 1: identity shortcut\n"
            "128 -> 128, stride 2: needs the 1x1 conv"
        ),
        (
            " 64 ->  64，步幅 1：恒等捷径\n"
            " 64 ->  64，步幅 2：需要 1×1 卷积\n"
            " 64 -> 128，步幅 1：需要 1×1 卷积\n"
            " 64 -> 128，步幅 2：需要 1×1 卷积\n"
            "128 ->  64，步幅 1：需要 1×1 卷积\n"
            "128 ->  64，步幅 2：需要 1×1 卷积\n"
            "128 -> 128，步幅 1：恒等捷径\n"
            "128 -> 128，步幅 2：需要 1×1 卷积"
        ),
        id="shortcut_need_line",
    ),
    pytest.param(  # notebook 02, cell 7dff0b4e
        lambda: _formulas(),
        (
            "c =   3: 18c² + 6c =       180  counted       180  equal: True\n"
            "c =  64: 18c² + 6c =    74,112  counted    74,112  equal: True\n"
            "c = 128: 18c² + 6c =   295,680  counted   295,680  equal: True\n"
            "c = 256: 18c² + 6c = 1,181,184  counted 1,181,184  equal: True\n"
            "c = 512: 18c² + 6c = 4,721,664  counted 4,721,664  equal: True"
        ),
        (
            "c =   3：18c² + 6c =       180  实际计数       180  相等：True\n"
            "c =  64：18c² + 6c =    74,112  实际计数    74,112  相等：True\n"
            "c = 128：18c² + 6c =   295,680  实际计数   295,680  相等：True\n"
            "c = 256：18c² + 6c = 1,181,184  实际计数 1,181,184  相等：True\n"
            "c = 512：18c² + 6c = 4,721,664  实际计数 4,721,664  相等：True"
        ),
        id="formula_line",
    ),
    pytest.param(  # notebook 02, cell fa4e0e3c
        lambda: shortcut_cost_line(
            64, {"params": 8_320, "flops": 12_845_056}, {"params": 230_272, "flops": 359_661_568}
        ),
        " 64 -> 128: 1x1 shortcut   8,320 params (3.6%),  12,845,056 FLOPs (3.6%)",
        " 64 -> 128：1×1 捷径   8,320 个参数（3.6%）， 12,845,056 FLOPs（3.6%）",
        id="shortcut_cost_line",
    ),
    pytest.param(  # notebook 02, cell 7031bfad
        lambda: stack_gain_header(),
        (
            "           evaluation mode            training mode       \n"
            "blocks with shortcuts    without with shortcuts    without"
        ),
        (
            "               评估模式                  训练模式         \n"
            "  块数         有捷径     无捷径         有捷径     无捷径"
        ),
        id="stack_gain_header",
    ),
    pytest.param(  # notebook 02, cell 50e538ee
        lambda: (
            stack_gain_line("eval", 32, 1.31, 3.7e-27, 3.7e-27 ** (1 / 32))
            + "\n"
            + stack_gain_line("train", 32, 70.3, 1.46e5, 1.46e5 ** (1 / 32))
        ),
        (
            "Evaluation mode, 32 blocks: gain 1.31 with shortcuts, 3.7e-27 without (0.15 per block).\n"
            "Training mode, 32 blocks: gain 70.3 with shortcuts, 1.46e+05 without (1.45 per block)."
        ),
        (
            "评估模式，32 个块：有捷径时增益为 1.31，没有捷径时为 3.7e-27（平均每块 0.15）。\n"
            "训练模式，32 个块：有捷径时增益为 70.3，没有捷径时为 1.46e+05（平均每块 1.45）。"
        ),
        id="stack_gain_line",
    ),
    pytest.param(  # notebook 02, cell 50e538ee
        lambda: gain_per_block_conclusion([3.28, 4.9 / 2, 7.99 / 4, 16.4 / 8, 30.1 / 16, 70.3 / 32], 1, 32),
        (
            "Training mode with shortcuts, gain / blocks: from 1.88 to 3.28 over 1..32 blocks:\n"
            "the gain grows roughly in proportion to the depth, not exponentially."
        ),
        (
            "训练模式、有捷径时，增益 / 块数：在 1..32 个块之间从 1.88 到 3.28：\n"
            "增益大致与深度成正比地增长，而不是指数增长。"
        ),
        id="gain_per_block_conclusion",
    ),
]


@pytest.mark.parametrize(("call", "english", "chinese"), PRINTED)
def test_printed_text_is_the_saved_output(call, english, chinese):
    assert call() == english


@pytest.mark.parametrize(("call", "english", "chinese"), PRINTED)
def test_printed_text_in_chinese(call, english, chinese, in_chinese):
    assert call() == chinese


@pytest.mark.filterwarnings("ignore:Glyph")  # the fixture picks no CJK font; glyphs are not the point here
def test_gain_figure_draws_four_curves_on_log_axes_in_the_readers_language(in_chinese):
    import matplotlib.pyplot as plt

    from resnet_helpers.lessons.residual_block import gain_figure

    scales = [0.0, 0.1, 1.0]
    keys = ("with shortcut", "without shortcut")
    gains = {(m, k): [1.0, 2.0, 3.0] for m in ("eval", "train") for k in keys}
    fig = gain_figure(scales, gains)
    ax = fig.axes[0]
    assert [len(line.get_xdata()) for line in ax.lines] == [2, 2, 2, 2]  # γ = 0 left out
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_title() == "单个块：到达其输入的梯度"
    plt.close(fig)
