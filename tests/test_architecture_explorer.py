import re

import matplotlib
import pytest
import torch

from resnet_helpers import PRESETS, ResNetConfig, build_resnet, count_flops, count_params, stage_table
from resnet_helpers.lessons.architecture import (
    architecture_diagram,
    architecture_figure,
    architecture_panel,
    computed_in,
    explore_architecture,
    fashion_mnist_line,
    fc_share_line,
    format_headline,
    last_stage_line,
    layer_count_lines,
    option_a_lines,
    resolution_flops_line,
    same_counts_lines,
    same_flops_line,
    same_network_lines,
    smallest_resolution_line,
    source_line,
    stage_frame,
    stage_share_line,
    table1_line,
    torchvision_flops_lines,
    vgg_comparison_line,
    width_scaling_line,
)
from resnet_helpers.lessons.family import (
    PAPER,
    classic_cnns,
    family_frame,
    parameter_differences,
    resnet_family,
    top1_errors,
)
from resnet_helpers.lessons.paper import PAPER_TOP1_ERROR
from resnet_helpers.lessons.widgets import WIDGET_VIEW

matplotlib.use("Agg")

BOOK_SHAPES = [
    (1, 64, 56, 56),
    (1, 64, 56, 56),
    (1, 128, 28, 28),
    (1, 256, 14, 14),
    (1, 512, 7, 7),
    (1, 512, 1, 1),
    (1, 512),
    (1, 10),
]


def reference(result):
    """What stage_table and the counters say about the network the explorer describes."""
    with torch.device("meta"):
        net = build_resnet(result["config"])
    return net, stage_table(net, result["input shape"])


def test_default_is_the_course_resnet18():
    r = explore_architecture()
    assert r["error"] is None
    assert (r["name"], r["title"], r["depth"]) == ("ResNet-18", "ResNet-18", 18)
    assert [row["output shape"] for row in r["rows"]] == BOOK_SHAPES
    assert r["params"] == 11_178_378  # the course's ResNet-18 (1 channel, 10 classes)
    assert r["rows"] == reference(r)[1]


CASES = [
    dict(),
    dict(resolution=96),
    dict(resolution=97, in_channels=3),
    dict(resolution=17),
    dict(blocks=(1, 1, 1, 1), base_width=16, resolution=33),
    dict(blocks=(3, 1, 2), channels="32, 64, 96", resolution=40),
    dict(blocks=(2, 3, 1, 2), block="bottleneck", base_width=8, resolution=64, num_classes=7),
    dict(blocks=(2, 2, 1, 3), block="preact", channels=(16, 16, 48, 40), resolution=50, in_channels=3),
    dict(blocks=(2, 2, 2), base_width=16, stem="compact", resolution=28),
    dict(blocks=(1, 2, 1), block="bottleneck", base_width=8, stem="compact", resolution=29),
    dict(blocks=(3, 4, 6, 3), block="resnext", resolution=96, in_channels=3),
    dict(
        blocks=(2, 1, 2), block="resnext", base_width=16, stem="compact", resolution=30, shortcut="zero_pad"
    ),
    dict(blocks=(3, 4, 6, 3), shortcut="zero_pad", resolution=100),
    dict(blocks=(1, 2, 1, 1), block="preact", base_width=16, shortcut="zero_pad", resolution=45),
]


@pytest.mark.parametrize("settings", CASES)
def test_rows_and_totals_match_stage_table_and_counters(settings):
    r = explore_architecture(**settings)
    assert r["error"] is None, r["error"]
    net, rows = reference(r)
    assert r["rows"] == rows
    assert r["params"] == count_params(net)
    assert r["flops"] == count_flops(net, r["input shape"])
    assert r["depth"] == r["config"].depth


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_at_224_and_96_match_count_flops(name):
    config = PRESETS[name]
    with torch.device("meta"):
        net = build_resnet(name, in_channels=3, num_classes=1000)
    for resolution in (224, 96):
        r = explore_architecture(
            config.blocks, block=config.block, resolution=resolution, in_channels=3, num_classes=1000
        )
        assert r["name"] == "ResNet-" + name.removeprefix("resnet")
        assert r["depth"] == int(name.removeprefix("resnet"))
        assert r["params"] == count_params(net)
        assert r["flops"] == count_flops(net, (1, 3, resolution, resolution))


# -- every control ------------------------------------------------------------------------------


def test_blocks_slider_changes_its_stage_only():
    base = explore_architecture(blocks=(2, 2, 2, 2))
    more = explore_architecture(blocks=(2, 2, 5, 2))
    changed = [a["layer"] for a, b in zip(base["rows"], more["rows"], strict=True) if a != b]
    assert changed == ["b4"]
    assert more["depth"] == base["depth"] + 3 * 2
    assert more["name"] is None and more["title"] == "Custom 24-layer ResNet"


def test_blocks_of_resnet34_get_its_name():
    assert explore_architecture(blocks=(3, 4, 6, 3))["name"] == "ResNet-34"
    assert explore_architecture(blocks=(3, 4, 6, 3), block="bottleneck")["name"] == "ResNet-50"
    assert explore_architecture(blocks=(3, 8, 36, 3), block="bottleneck")["name"] == "ResNet-152"
    assert explore_architecture(blocks=(3, 4, 6, 3), block="preact")["name"] is None


def test_base_width_doubles_and_channels_override_it():
    r = explore_architecture(base_width=32)
    assert r["config"].channels == (32, 64, 128, 256) and r["config"].stem_channels == 32
    assert r["name"] is None
    # a quarter of the parameters: every 3x3 weight has half the inputs and half the outputs
    assert 0.24 < r["params"] / explore_architecture()["params"] < 0.26
    r = explore_architecture(base_width=32, channels="64, 128, 256, 512")
    assert r["config"].channels == (64, 128, 256, 512) and r["name"] == "ResNet-18"
    for empty in (None, "", "  ", ()):
        assert explore_architecture(channels=empty, base_width=16)["config"].channels == (16, 32, 64, 128)


def test_block_type_changes_shapes_and_depth():
    r = explore_architecture(block="bottleneck")
    assert r["rows"][4]["output shape"] == (1, 2048, 7, 7) and r["depth"] == 26
    r = explore_architecture(block="preact")
    assert [row["layer"] for row in r["rows"]][5] == "final_act"


def test_resolution_scales_the_image_not_the_parameters():
    small, big = explore_architecture(resolution=96), explore_architecture(resolution=224)
    assert small["rows"][4]["output shape"] == (1, 512, 3, 3)
    assert small["params"] == big["params"]
    assert small["flops"] < big["flops"]


def test_in_channels_changes_only_the_stem():
    grey, colour = explore_architecture(in_channels=1), explore_architecture(in_channels=3)
    assert colour["input shape"] == (1, 3, 224, 224)
    assert colour["params"] - grey["params"] == 2 * 7 * 7 * 64
    assert [a["layer"] for a, b in zip(grey["rows"], colour["rows"], strict=True) if a != b] == ["b1"]


def test_compact_stem_keeps_the_resolution():
    r = explore_architecture(blocks=(2, 2, 2), base_width=32, stem="compact", resolution=28)
    assert r["rows"][0]["output shape"] == (1, 32, 28, 28)
    assert r["rows"][3]["output shape"] == (1, 128, 7, 7)


# -- impossible settings: a message, never an exception ------------------------------------------


@pytest.mark.parametrize(
    "settings,match",
    [
        (dict(resolution=16), "too small for 4 stages.*before stage b5.*at least 17"),
        (dict(resolution=8), "before stage b4 .b1 2x2 -> b2 2x2 -> b3 1x1."),
        (dict(resolution=1), "before stage b3"),
        (dict(blocks=(1,) * 6, resolution=64), "6 stages.*before stage b7.*of at least 65 .multiples of 128"),
        (dict(blocks=(1,) * 5, stem="compact", resolution=8), "before stage b6.*at least 9"),
        (dict(resolution=0), "resolution must be a positive whole number"),
        (dict(resolution=-5), "resolution must be"),
        (dict(resolution=22.5), "resolution must be"),
        (dict(resolution=True), "resolution must be"),
        (dict(blocks=(2, 0, 2, 2)), r"blocks\[1\] of \(2, 0, 2, 2\) must be a positive integer"),
        (dict(blocks=()), "at least one stage"),
        (dict(blocks=4), "blocks must list"),
        (dict(blocks="2222"), "blocks must list"),
        (dict(channels="64, 128, x, 512"), "one whole number per stage"),
        (dict(channels="64, 128"), "one channel count per stage"),
        (dict(channels=(64, 0, 256, 512)), r"channels\[1\] of \(64, 0, 256, 512\) must be a positive"),
        (dict(base_width=0), "base width must be a positive"),
        (dict(block="wide"), "block must be one of"),
        (dict(in_channels=0), "in_channels must be a positive integer"),
        (dict(stem="big"), "stem must be one of"),
    ],
)
def test_bad_settings_give_a_message(settings, match):
    r = explore_architecture(**settings)
    assert r["error"] is not None and "rows" not in r
    assert re.search(match, r["error"]), r["error"]
    assert format_headline(r).startswith("Impossible setting: ")
    with pytest.raises(ValueError, match="nothing to draw"):
        architecture_figure(r)


def test_smallest_resolution_named_in_the_message_works():
    assert explore_architecture(resolution=17)["rows"][4]["output shape"] == (1, 512, 1, 1)
    assert explore_architecture(blocks=(1,) * 6, resolution=65)["error"] is None


# -- what the panel shows ------------------------------------------------------------------------


def test_stage_frame_and_headline():
    r = explore_architecture(blocks=(3, 4, 6, 3))
    frame = stage_frame(r)
    assert list(frame.index) == ["b1", "b2", "b3", "b4", "b5", "pool", "flatten", "fc", "total"]
    assert frame.loc["total", "params"] == f"{r['params']:,}" == "21,290,250"
    assert frame.loc["b5", "output shape"] == "(1, 512, 7, 7)"
    assert format_headline(r).startswith("ResNet-34: depth 34 (weight layers), 21,290,250 parameters")


def test_figure_has_a_bar_per_layer_with_weights():
    import matplotlib.pyplot as plt

    fig = architecture_figure(explore_architecture(block="preact"))
    params_ax, flops_ax = fig.axes
    labels = [t.get_text() for t in params_ax.get_yticklabels()]
    assert labels == ["b1", "b2", "b3", "b4", "b5", "final_act", "fc"]
    assert len(params_ax.patches) == len(flops_ax.patches) == 7
    assert "parameters" in params_ax.get_xlabel() and "GFLOPs" in flops_ax.get_xlabel()
    plt.close(fig)


def test_panel_controls_presets_and_bad_settings():
    panel = architecture_panel()
    c = panel.controls
    assert panel.last_result["name"] == "ResNet-18" and panel.renders == 1
    c["b3"].value, c["b4"].value, c["b5"].value = 4, 6, 3
    c["b2"].value = 3
    assert panel.last_result["name"] == "ResNet-34"
    renders = panel.renders
    ResNet152 = next(b for b in panel.buttons if b.description == "ResNet-152")
    ResNet152.click()
    assert panel.renders == renders + 1  # one redraw, not one per control
    assert panel.last_result["name"] == "ResNet-152"
    assert [c[f"b{i}"].value for i in range(2, 6)] == [3, 8, 36, 3] and c["block"].value == "bottleneck"
    c["resolution"].value = 8
    assert "too small" in panel.last_result["error"]
    c["resolution"].value = 96
    c["channels"].value = "64, 128, oops"
    assert "one whole number per stage" in panel.last_result["error"]
    c["channels"].value = "32, 64, 128, 256"
    c["in_channels"].value, c["stem"].value, c["base_width"].value = 3, "compact", 16
    r = panel.last_result
    assert r["error"] is None and r["config"].channels == (32, 64, 128, 256)
    assert r["input shape"] == (1, 3, 96, 96) and r["config"].stem == "compact"
    c["shortcut"].value = "zero_pad"
    assert panel.last_result["config"].shortcut == "zero_pad"
    assert panel.last_result["params"] < r["params"]  # the 1x1 projections are gone
    c["channels"].value = "8, 16, 32, 64"
    c["block"].value = "resnext"
    assert "groups cannot share" in panel.last_result["error"]  # 8 wide: too narrow for 32 groups
    c["channels"].value = ""
    c["base_width"].value = 64
    assert panel.last_result["error"] is None and panel.last_result["config"].block == "resnext"
    ResNet152.click()  # a preset puts the shortcut back to the 1x1 convolution
    assert panel.last_result["name"] == "ResNet-152" and c["shortcut"].value == "projection"


def test_panel_carries_a_snapshot_of_its_default_view():
    snapshot = architecture_panel()
    bundle = snapshot._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and bundle["image/png"]  # the live panel, and the bar charts
    html = bundle["text/html"]
    assert "ResNet-18: depth 18 (weight layers), 11,178,378 parameters" in html
    assert "(1, 512, 7, 7)" in html and html.count("<img") == 2  # the diagram, the stage table and the chart
    assert snapshot.panel.controls is snapshot.controls
    impossible = architecture_panel(resolution=8)._repr_mimebundle_()
    assert "image/png" not in impossible and "too small" in impossible["text/html"]


def test_option_a_and_resnext_in_the_explorer():
    option_a = explore_architecture(blocks=(3, 4, 6, 3), shortcut="zero_pad")
    option_b = explore_architecture(blocks=(3, 4, 6, 3))
    assert option_a["name"] == "ResNet-34 (option A)" and option_b["name"] == "ResNet-34"
    assert option_b["params"] - option_a["params"] == sum(c * 2 * c + 2 * c for c in (64, 128, 256))
    resnext = explore_architecture(blocks=(3, 4, 6, 3), block="resnext", in_channels=3, num_classes=1000)
    assert resnext["name"] == "ResNeXt-50 (32x4d)" and resnext["depth"] == 50
    assert resnext["rows"][4]["output shape"] == (1, 2048, 7, 7)
    assert resnext["flops"] == 8_460_959_744  # torchvision's resnext50_32x4d, counted by count_flops
    bad = explore_architecture(block="resnext", base_width=8)
    assert "groups cannot share" in bad["error"] and "Traceback" not in bad["error"]
    assert "shortcut must be one of" in explore_architecture(shortcut="B")["error"]


# -- the family tables ---------------------------------------------------------------------------


def test_family_ours_against_torchvision():
    rows = resnet_family()
    assert [r["depth"] for r in rows] == [18, 34, 50, 101, 152]
    for r in rows:
        assert abs(r["params"] - r["params (torchvision)"]) / r["params (torchvision)"] < 0.002
        for resolution in (224, 96):  # the explorer's formulas and torchvision's counted forward agree
            assert r[f"flops at {resolution}"] == r[f"flops at {resolution} (torchvision)"]
    assert rows[2]["flops at 224"] == 8_178_368_512  # 4.09 G multiply-adds: torchvision's "4.089 GFLOPS"


def test_parameter_differences_are_fully_explained():
    for r in parameter_differences():
        assert r["ours - biases + shortcut BN"] == r["torchvision"], r


def test_paper_errors_and_torchvision_metadata():
    quoted = {(m, e, t) for m, e, t in PAPER_TOP1_ERROR}
    assert ("ResNet-34", 25.03, "Table 2") in quoted and ("ResNet-152", 21.43, "Table 3") in quoted
    rows = {r["model"]: r for r in top1_errors()}
    assert rows["ResNet-50"]["torchvision weights top-1 error % (1 crop)"] == pytest.approx(23.87)
    assert rows["plain-34"]["torchvision weights top-1 error % (1 crop)"] is None
    # torchvision's ResNets use projection shortcuts: never in Table 2's option-A rows
    assert rows["ResNet-18"]["torchvision weights top-1 error % (1 crop)"] is None
    assert rows["ResNet-18 (option B)"]["torchvision weights top-1 error % (1 crop)"] == pytest.approx(30.242)
    assert rows["ResNet-18 (option B)"]["paper top-1 error % (10 crops)"] is None
    frame = family_frame(top1_errors())  # one number of decimals per column, as read
    assert frame.loc["ResNet-50", "torchvision weights top-1 error % (1 crop)"] == "23.870"
    assert frame.loc["ResNet-50", "paper top-1 error % (10 crops)"] == "22.85"


def test_classic_cnns():
    rows = {r["model"]: r for r in classic_cnns(keys=("vgg16", "googlenet", "resnet152"))}
    assert rows["VGG-16"]["params"] == 138_357_544 and rows["GoogLeNet"]["params"] == 6_624_904
    assert rows["ResNet-152"]["flops at 224"] < rows["VGG-16"]["flops at 224"]


def test_config_is_a_plain_resnetconfig():
    assert isinstance(explore_architecture()["config"], ResNetConfig)


DIAGRAM_SETTINGS = [
    dict(),
    dict(blocks=(3, 8, 36, 3), block="bottleneck", resolution=96),
    dict(blocks=(2, 2, 2), stem="compact", resolution=28),
]


@pytest.mark.parametrize("settings", DIAGRAM_SETTINGS)
def test_architecture_diagram_is_drawn_from_the_network(settings):
    """d2l's Fig. 7.6.4: one box per module, each output shape as the network computes it."""
    r = explore_architecture(**settings)
    fig = architecture_diagram(r)
    texts = [t.get_text() for t in fig.axes[0].texts]
    names = ["input", "b1: stem", *[f"b{i + 2}" for i in range(len(r["config"].blocks))], "pool", "fc"]
    assert [t for t in texts if t in names] == names
    for row in r["rows"]:
        if row["layer"] != "flatten":
            assert "x".join(map(str, row["output shape"][1:])) in texts, row
    for n, width in zip(r["config"].blocks, r["config"].channels, strict=True):
        expansion = 4 if r["config"].block == "bottleneck" else 1
        assert any(f"{n} " in t and f"{width * expansion} ch" in t for t in texts)
    assert r["title"] in fig.axes[0].get_title()


def test_architecture_diagram_refuses_an_impossible_setting():
    with pytest.raises(ValueError, match="nothing to draw"):
        architecture_diagram(explore_architecture(resolution=8))


# --- what notebook 03's cells print: the English exactly as the saved outputs, and the Chinese ---


def _stage_shares():
    r18 = explore_architecture(
        blocks=(2, 2, 2, 2), base_width=64, block="basic", resolution=224, in_channels=1
    )
    return "\n".join(stage_share_line(row, r18) for row in r18["rows"][1:5])


def _resolutions():
    at_224, at_96 = explore_architecture(resolution=224), explore_architecture(resolution=96)
    return resolution_flops_line(at_224["flops"], at_96["flops"])


def _vgg():
    vgg16 = dict(flops=30.94, params=138_357_544)
    resnets = [("ResNet-152", 23.03, 60_192_808), ("ResNet-18", 3.63, 11_689_512)]
    lines = [vgg_comparison_line(n, f / vgg16["flops"], p / vgg16["params"]) for n, f, p in resnets]
    return "\n".join([*lines, fc_share_line(0.89)])


PRINTED = [
    pytest.param(  # notebook 03, cell 22882346
        lambda: same_network_lines(
            11_178_378, 11_178_378, True, True, ["b1", "b2", "b3", "b4", "b5", "pool", "flatten", "fc"]
        ),
        (
            "parameters, course code:     11,178,378\n"
            "parameters, build_resnet:    11,178,378\n"
            "same layers in the same order: True | same weight shapes: True\n"
            "stage names: ['b1', 'b2', 'b3', 'b4', 'b5', 'pool', 'flatten', 'fc']"
        ),
        (
            "参数，课程代码：             11,178,378\n"
            "参数，build_resnet：         11,178,378\n"
            "层相同且顺序相同：True | 权重形状相同：True\n"
            "阶段名：['b1', 'b2', 'b3', 'b4', 'b5', 'pool', 'flatten', 'fc']"
        ),
        id="same_network_lines",
    ),
    pytest.param(  # notebook 03, cell f7ab8bde
        lambda: layer_count_lines({"7x7": 1, "3x3": 16, "1x1": 3}, 1, 3, without=18),
        (
            "convolutions by kernel size: {'7x7': 1, '3x3': 16, '1x1': 3}\n"
            "fully connected layers:      1\n"
            "1x1 convolutions on shortcuts: 3\n"
            "weight layers without the shortcuts: 18"
        ),
        (
            "按卷积核尺寸统计的卷积：     {'7x7': 1, '3x3': 16, '1x1': 3}\n"
            "全连接层：                   1\n"
            "捷径上的 1×1 卷积：3\n"
            "不计捷径的权重层：18"
        ),
        id="layer_count_lines",
    ),
    pytest.param(  # notebook 03, cell 95b08d54
        lambda: _stage_shares(),
        (
            "b2: (1, 64, 56, 56)      1.3% of the parameters,  26.7% of the FLOPs\n"
            "b3: (1, 128, 28, 28)     4.7% of the parameters,  23.7% of the FLOPs\n"
            "b4: (1, 256, 14, 14)    18.8% of the parameters,  23.7% of the FLOPs\n"
            "b5: (1, 512, 7, 7)      75.1% of the parameters,  23.7% of the FLOPs"
        ),
        (
            "b2：(1, 64, 56, 56)    参数占   1.3%，FLOPs 占  26.7%\n"
            "b3：(1, 128, 28, 28)   参数占   4.7%，FLOPs 占  23.7%\n"
            "b4：(1, 256, 14, 14)   参数占  18.8%，FLOPs 占  23.7%\n"
            "b5：(1, 512, 7, 7)     参数占  75.1%，FLOPs 占  23.7%"
        ),
        id="stage_share_line",
    ),
    pytest.param(  # notebook 03, cell a430e440
        lambda: computed_in(0.099),
        "computed in 0.099 s",
        "用时 0.099 秒",
        id="computed_in",
    ),
    pytest.param(  # notebook 03, cell 3ef3cf1d
        lambda: same_counts_lines(True, True, True),
        ("same stage table: True\nsame parameters:  True\nsame FLOPs:       True"),
        ("阶段表相同：      True\n参数相同：        True\nFLOPs 相同：      True"),
        id="same_counts_lines",
    ),
    pytest.param(  # notebook 03, cell e165e0a2
        lambda: torchvision_flops_lines(25_557_032, 4.089, 8_178_000_000),
        (
            "torchvision metadata, ResNet-50: 25,557,032 parameters, _ops = 4.089 'GFLOPS'\n"
            "count_flops at 224:              8.178 GFLOPs\n"
            "  = multiply-adds:               4.089 G"
        ),
        (
            "torchvision 元数据，ResNet-50：25,557,032 个参数，_ops = 4.089 'GFLOPS'\n"
            "count_flops（224×224）：         8.178 GFLOPs\n"
            "  = 乘加次数：                   4.089 G"
        ),
        id="torchvision_flops_lines",
    ),
    pytest.param(  # notebook 03, cell 97362c82
        lambda: same_flops_line(True),
        "same FLOPs as torchvision's resnext50_32x4d: True",
        "与 torchvision 的 resnext50_32x4d 的 FLOPs 相同：True",
        id="same_flops_line",
    ),
    pytest.param(  # notebook 03, cell e75b4119
        lambda: source_line(PAPER),
        (
            "Source: He, Zhang, Ren, Sun (2015): Deep Residual Learning for Image Recognition, "
            "arXiv:1512.03385 (CVPR 2016)"
        ),
        (
            "来源：He, Zhang, Ren, Sun (2015): Deep Residual Learning for Image Recognition, "
            "arXiv:1512.03385 (CVPR 2016)"
        ),
        id="source_line",
    ),
    pytest.param(  # notebook 03, cell 478cbc0a
        lambda: option_a_lines("ResNet-18", 11_692_520, 11_519_592, 172_928, 0.0106),
        (
            "ResNet-18: option B 11,692,520 parameters, option A 11,519,592:\n"
            "  172,928 parameters and 1.06% of the FLOPs fewer (the three 1x1 projections)"
        ),
        (
            "ResNet-18：选项 B 有 11,692,520 个参数，选项 A 有 11,519,592 个：\n"
            "  少了 172,928 个参数和 1.06% 的 FLOPs（即那三个 1×1 投影）"
        ),
        id="option_a_lines",
    ),
    pytest.param(  # notebook 03, cell 0fd9a7a7
        lambda: _vgg(),
        (
            "ResNet-152 vs VGG-16: 0.74x the FLOPs, 0.44x the parameters\n"
            "ResNet-18  vs VGG-16: 0.12x the FLOPs, 0.08x the parameters\n"
            "VGG-16's fully connected layers hold 89% of its parameters"
        ),
        (
            "ResNet-152 对比 VGG-16：FLOPs 是 0.74 倍，参数是 0.44 倍\n"
            "ResNet-18  对比 VGG-16：FLOPs 是 0.12 倍，参数是 0.08 倍\n"
            "VGG-16 的全连接层占了它 89% 的参数"
        ),
        id="vgg_comparison_line_and_fc_share_line",
    ),
    pytest.param(  # notebook 03, cell f3054a60
        lambda: table1_line("18-layer", 18, [56, 28, 14, 7], 1.81, 1.8, "ResNet-18", True),
        (
            " 18-layer: depth  18, outputs [56, 28, 14, 7],  1.81 G mult-adds (Table 1: 1.8), "
            "parameters as ResNet-18: True"
        ),
        (
            " 18-layer：深度  18，输出 [56, 28, 14, 7]， 1.81 G 次乘加（表 1：1.8），参数与 ResNet-18 "
            "相同：True"
        ),
        id="table1_line",
    ),
    pytest.param(  # notebook 03, cell a23716a1
        lambda: _resolutions(),
        "224x224: 3.47 GFLOPs, 96x96: 0.64 GFLOPs, 5.4x less at 96 (the area ratio is 5.4)",
        "224×224：3.47 GFLOPs；96×96：0.64 GFLOPs，只有前者的 1/5.4（两者面积之比为 5.4）",
        id="resolution_flops_line",
    ),
    pytest.param(  # notebook 03, cell a23716a1
        lambda: (
            smallest_resolution_line(17, (1, 512, 1, 1))
            + "\n"
            + fashion_mnist_line((1, 256, 2, 2), (1, 512, 1, 1))
        ),
        (
            "smallest resolution: 17 -> b5 output (1, 512, 1, 1)\n"
            "28x28, Fashion-MNIST's own size: b4 output (1, 256, 2, 2) -> b5 output (1, 512, 1, 1)"
        ),
        (
            "最小分辨率：17 -> b5 输出 (1, 512, 1, 1)\n"
            "28×28（Fashion-MNIST 的原始尺寸）：b4 输出 (1, 256, 2, 2) -> b5 输出 (1, 512, 1, 1)"
        ),
        id="smallest_resolution_line",
    ),
    pytest.param(  # notebook 03, cell 4a4e02c1
        lambda: last_stage_line((1, 512, 3, 3)),
        "    last stage output: (1, 512, 3, 3)",
        "    最后一个阶段的输出：(1, 512, 3, 3)",
        id="last_stage_line",
    ),
    pytest.param(  # notebook 03, cell 4bb3efac
        lambda: width_scaling_line(32, 0.25, 0.26) + "\n" + width_scaling_line(128, 4.00, 3.95),
        (
            "base width  32: 0.25x the parameters, 0.26x the FLOPs\n"
            "base width 128: 4.00x the parameters, 3.95x the FLOPs"
        ),
        ("基础宽度  32：参数是 0.25 倍，FLOPs 是 0.26 倍\n基础宽度 128：参数是 4.00 倍，FLOPs 是 3.95 倍"),
        id="width_scaling_line",
    ),
]


@pytest.mark.parametrize(("call", "english", "chinese"), PRINTED)
def test_printed_text_is_the_saved_output(call, english, chinese):
    assert call() == english


@pytest.mark.parametrize(("call", "english", "chinese"), PRINTED)
def test_printed_text_in_chinese(call, english, chinese, in_chinese):
    assert call() == chinese
