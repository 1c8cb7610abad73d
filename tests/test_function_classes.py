import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from resnet_helpers.lessons.function_classes import (
    FAMILIES,
    GRID,
    added_blocks_line,
    best_fit,
    cifar_resnet_line,
    class_regions,
    depth_net_lines,
    dirac_line,
    distance_report,
    distance_table,
    f_star,
    farther_class_line,
    features,
    final_loss_report,
    function_class_figure,
    function_class_panel,
    function_class_regions,
    knots,
    knots_line,
    noisy_sample_errors,
    possible_depths_line,
    rises,
    sample_errors_conclusion,
    training_data_lines,
)
from resnet_helpers.lessons.widgets import show_or_explain

matplotlib.use("Agg")


def _contains(small: np.ndarray, big: np.ndarray) -> bool:
    """Is every function of span(small) in span(big)? (rank does not grow when stacked)"""
    rank = np.linalg.matrix_rank
    return rank(np.hstack([big, small])) == rank(big)


def test_nested_family_is_nested_and_non_nested_is_not():
    for k in range(1, 12):
        smaller, bigger = (features(GRID, knots(j, "nested")) for j in (k - 1, k))
        assert _contains(smaller, bigger)
    # evenly spaced knots move when one is added: F_1 (knot 0) is not inside F_2 (knots +-1/3)
    assert not _contains(features(GRID, knots(1, "non-nested")), features(GRID, knots(2, "non-nested")))


def test_both_families_have_k_knots():
    for family in FAMILIES:
        for k in range(6):
            c = knots(k, family)
            assert len(c) == k == len(set(c.round(12)))
            assert np.all((-1 < c) & (c < 1))


def test_nested_distance_never_rises_non_nested_does():
    table = distance_table(16)
    nested, non_nested = table["nested"].to_numpy(), table["non-nested"].to_numpy()
    assert np.all(np.diff(nested) <= 1e-12), nested
    assert rises(nested) == []
    up = rises(non_nested)
    assert up, non_nested
    assert 3 in up  # the rise the notebook shows first: 3 evenly spaced knots fit worse than 2
    assert non_nested[3] > non_nested[2] + 0.05  # visible, not rounding noise


def test_best_fit_is_the_least_squares_projection():
    fit = best_fit(4, "nested")
    residual = fit["fit"] - f_star(GRID)
    # the residual of a least-squares fit is orthogonal to every feature of the class
    np.testing.assert_allclose(features(GRID, fit["knots"]).T @ residual, 0, atol=1e-8)
    assert fit["distance"] == pytest.approx(np.sqrt(np.mean(residual**2)))
    # F_0 is the straight lines: the fit to a line is exact
    line = best_fit(0, "non-nested", y=2 * GRID - 1)
    assert line["distance"] < 1e-12


def test_rises():
    assert rises([3, 2, 2, 2.5, 1]) == [3]
    assert rises([1.0, 1.0 + 1e-12]) == []


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"k": -1, "family": "nested"}, "k"),
        ({"k": 2.5, "family": "nested"}, "k"),
        ({"k": 3, "family": "fourier"}, "family"),
        ({"k": 30, "family": "nested", "k_max": 16}, "k_max"),
    ],
)
def test_callback_refuses_bad_values_with_a_reason(kwargs, match):
    with pytest.raises(ValueError, match=match):
        function_class_figure(**kwargs)


def test_callback_returns_a_figure_and_panel_shows_messages(capsys):
    fig = function_class_figure(5, "nested", k_max=8)
    assert len(fig.axes) == 2
    show_or_explain(function_class_figure, k=9, family="nested", k_max=8)
    assert "Cannot draw this: k=9" in capsys.readouterr().out
    panel = function_class_panel(k_max=8)
    assert panel.children[0].children[0].max == 8


def test_noisy_samples_overfit_with_a_nested_family():
    table = noisy_sample_errors(k_max=24, n_samples=40, noise=0.3, seed=0)
    on_samples, to_f_star = table["error on the samples"], table["distance to f*"]
    assert np.all(np.diff(on_samples) <= 1e-9)  # nested: the fitted error never rises
    best = int(to_f_star.idxmin())
    assert 0 < best < 24 and to_f_star.iloc[-1] > to_f_star.min() * 1.3  # but the distance to f* does


def test_panel_carries_static_snapshots_beside_the_live_widget():
    import base64

    import matplotlib.pyplot as plt
    import pandas as pd

    from resnet_helpers.lessons.widgets import WIDGET_VIEW, with_snapshot

    open_before = set(plt.get_fignums())
    snapshot = function_class_panel(k_max=8, k=3)
    bundle = snapshot._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and bundle[WIDGET_VIEW]["model_id"] == snapshot.panel.model_id
    assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG")
    assert bundle["text/html"].startswith('<img src="data:image/png;base64,')
    assert "VBox(" not in bundle["text/plain"]
    assert snapshot.children is snapshot.panel.children  # the widget's attributes, one hop away
    assert set(plt.get_fignums()) == open_before  # its figure is closed: not shown twice in a notebook

    # a figure and a table (the signature the other notebooks use); None views are skipped
    import ipywidgets

    fig, ax = plt.subplots()
    table = pd.DataFrame({"params": [74_112]})
    bundle = with_snapshot(ipywidgets.VBox(), fig, table, None, "<p>note</p>")._repr_mimebundle_()
    html = bundle["text/html"]
    assert html.index("<img") < html.index("74112") < html.index("<p>note</p>")
    with pytest.raises(TypeError, match="Figures and HTML"):
        with_snapshot(ipywidgets.VBox(), 42)


def test_a_bad_default_gives_a_message_snapshot_not_a_traceback():
    snapshot = function_class_panel(k_max=8, k=9)
    assert snapshot.png is None and "Cannot draw this: k=9" in snapshot.html


# --- d2l's Fig. 7.6.1 drawn from the classes -------------------------------------------------------


def _inside(small, big) -> bool:
    """Is circle `small` ((cx, cy), r) inside circle `big`?"""
    (x1, y1), r1 = small
    (x2, y2), r2 = big
    return np.hypot(x1 - x2, y1 - y2) + r1 <= r2 + 1e-9


@pytest.mark.parametrize("k_max", [4, 8])
def test_class_regions_keep_the_measured_distances_and_the_nesting(k_max):
    table = distance_table(k_max).iloc[1:]
    for family in FAMILIES:
        d = table[family].to_numpy()
        circles = class_regions(d, family)
        nearest = [np.hypot(cx, cy) - r for (cx, cy), r in circles]
        np.testing.assert_allclose(nearest, d)  # each class's best fit drawn at its distance to f*
        assert all(
            r2 > r1 for (_, r1), (_, r2) in zip(circles[:-1], circles[1:], strict=True)
        )  # bigger classes
        inside = [_inside(a, b) for a, b in zip(circles[:-1], circles[1:], strict=True)]
        assert all(inside) if family == "nested" else not any(inside), (family, inside)


def test_class_regions_refuse_bad_input():
    with pytest.raises(ValueError, match="distances"):
        class_regions([], "nested")
    with pytest.raises(ValueError, match="family"):
        class_regions([0.5], "tree")


def test_function_class_regions_draws_both_families_and_names_the_rise():
    fig = function_class_regions(4)
    left, right = fig.axes
    assert "non-nested" in left.get_title() and "farther" in left.get_title()
    assert right.get_title().startswith("nested") and "farther" not in right.get_title()
    d = distance_table(4)
    for ax, family in [(left, "non-nested"), (right, "nested")]:
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == [f"$F_{{{k}}}$: {d[family][k]:.3f}" for k in range(1, 5)]
    with pytest.raises(ValueError, match="at least two"):
        function_class_regions(1)


# --- what notebook 01's cells print: the English exactly as the saved outputs, and the Chinese ---


def _frame(rows):
    return pd.DataFrame(rows, index=pd.Index([8, 20, 32], name="depth"), columns=["plain", "residual"])


LOSSES = _frame([[0.235, 0.219], [0.449, 0.209], [0.917, 0.265]])

BEFORE = LOSSES + _frame([[0.029, 0.031], [0.045, 0.032], [0.009, 0.040]])

# notebook 01's distance table, the same in both languages (the DataFrame's columns stay English)
DISTANCE_TABLE = (
    "           nested  non-nested\n"
    "k (knots)                    \n"
    "0           0.691       0.691\n"
    "1           0.538       0.538\n"
    "2           0.502       0.392\n"
    "3           0.481       0.481\n"
    "4           0.432       0.130\n"
    "5           0.254       0.157\n"
    "6           0.132       0.109\n"
    "7           0.074       0.074\n"
    "8           0.073       0.059\n"
    "9           0.065       0.042\n"
    "10          0.061       0.038\n"
    "11          0.050       0.028\n"
    "12          0.041       0.027\n"
    "13          0.035       0.020\n"
    "14          0.015       0.020\n"
    "15          0.015       0.015\n"
    "16          0.015       0.016\n"
    "\n"
)


PRINTED = [
    pytest.param(  # notebook 01, cell 432cbdae
        lambda: "\n".join(knots_line(k, knots(k, "nested"), knots(k, "non-nested")) for k in range(1, 5)),
        (
            "k=1  nested knots: [+0.000]                               non-nested knots: [+0.000]\n"
            "k=2  nested knots: [+0.000, -0.500]                       non-nested knots: [-0.333, +0.333]\n"
            "k=3  nested knots: [+0.000, -0.500, +0.500]               non-nested knots: [-0.500, "
            "+0.000, +0.500]\n"
            "k=4  nested knots: [+0.000, -0.500, +0.500, -0.750]       non-nested knots: [-0.600, "
            "-0.200, +0.200, +0.600]"
        ),
        (
            "k=1  嵌套的节点：[+0.000]                               非嵌套的节点：[+0.000]\n"
            "k=2  嵌套的节点：[+0.000, -0.500]                       非嵌套的节点：[-0.333, +0.333]\n"
            "k=3  嵌套的节点：[+0.000, -0.500, +0.500]               非嵌套的节点：[-0.500, +0.000, "
            "+0.500]\n"
            "k=4  嵌套的节点：[+0.000, -0.500, +0.500, -0.750]       非嵌套的节点：[-0.600, -0.200, "
            "+0.200, +0.600]"
        ),
        id="knots_line",
    ),
    pytest.param(  # notebook 01, cell bbabb05c
        lambda: distance_report(distance_table(k_max=16)),
        (
            "RMS distance of the best fit in F_k to f*:\n"
            + DISTANCE_TABLE
            + "nested    : distance rises at k = never\n"
            "non-nested: distance rises at k = [3, 5, 14, 16]"
        ),
        (
            "F_k 中最佳拟合到 f* 的均方根距离：\n"
            + DISTANCE_TABLE
            + "嵌套：距离上升处 k = 无\n"
            "非嵌套：距离上升处 k = [3, 5, 14, 16]"
        ),
        id="distance_report",
    ),
    pytest.param(  # notebook 01, cell 4e07aad5
        lambda: farther_class_line(distance_table(k_max=16)["non-nested"], 3),
        "non-nested: F_2 is 0.392 from f*, the bigger F_3 is 0.481 (+0.088)",
        "非嵌套：F_2 到 f* 的距离是 0.392，更大的 F_3 却是 0.481（+0.088）",
        id="farther_class_line",
    ),
    pytest.param(  # notebook 01, cell 625db178
        lambda: possible_depths_line([8, 14, 20, 26, 32, 38, 44, 50, 56]),
        "possible depths 6n + 2: [8, 14, 20, 26, 32, 38, 44, 50, 56]",
        "可能的深度 6n + 2：[8, 14, 20, 26, 32, 38, 44, 50, 56]",
        id="possible_depths_line",
    ),
    pytest.param(  # notebook 01, cell 625db178
        lambda: depth_net_lines("residual-20", 20, 272_778, torch.Size([1, 10]), "b3", ["Residual"] * 3),
        (
            "residual-20: 20 weight layers, 272,778 parameters, output (1, 10)\n"
            "  blocks of stage b3: ['Residual', 'Residual', 'Residual']"
        ),
        (
            "residual-20：20 个权重层，272,778 个参数，输出 (1, 10)\n"
            "  阶段 b3 的块：['Residual', 'Residual', 'Residual']"
        ),
        id="depth_net_lines",
    ),
    pytest.param(  # notebook 01, cell 2ca47074
        lambda: training_data_lines(
            "cpu",
            {
                "depths": (8, 20, 32),
                "n_images": 2048,
                "resolution": 12,
                "width": 8,
                "steps": 400,
                "batch_size": 64,
            },
            torch.zeros(2048, 1, 12, 12),
            torch.zeros(2048, dtype=torch.long),
        ),
        (
            "profile cpu: {'depths': (8, 20, 32), 'n_images': 2048, 'resolution': 12, 'width': 8, "
            "'steps': 400, 'batch_size': 64}\n"
            "training images (2048, 1, 12, 12) on cpu, labels (2048,)"
        ),
        (
            "档位 cpu：{'depths': (8, 20, 32), 'n_images': 2048, 'resolution': 12, 'width': 8, "
            "'steps': 400, 'batch_size': 64}\n"
            "训练图像 (2048, 1, 12, 12)，位于 cpu，标签 (2048,)"
        ),
        id="training_data_lines",
    ),
    pytest.param(  # notebook 01, cell 8a397bed
        lambda: final_loss_report(LOSSES, BEFORE),
        (
            "training loss, mean over the last 10% of steps:\n"
            "       plain  residual\n"
            "depth                 \n"
            "8      0.235     0.219\n"
            "20     0.449     0.209\n"
            "32     0.917     0.265\n"
            "plain   : plain-32 ends at 3.90x the loss of plain-8\n"
            "residual: residual-32 ends at 1.21x the loss of residual-8\n"
            "fall of the loss over the last 10% of steps (positive: still falling):\n"
            "       plain  residual\n"
            "depth                 \n"
            "8      0.029     0.031\n"
            "20     0.045     0.032\n"
            "32     0.009     0.040"
        ),
        (
            "训练损失，最后 10% 步的平均值：\n"
            "       plain  residual\n"
            "depth                 \n"
            "8      0.235     0.219\n"
            "20     0.449     0.209\n"
            "32     0.917     0.265\n"
            "普通网络：plain-32 最终的损失是 plain-8 的 3.90 倍\n"
            "残差网络：residual-32 最终的损失是 residual-8 的 1.21 倍\n"
            "最后 10% 步中损失的下降（正值：仍在下降）：\n"
            "       plain  residual\n"
            "depth                 \n"
            "8      0.029     0.031\n"
            "20     0.045     0.032\n"
            "32     0.009     0.040"
        ),
        id="final_loss_report",
    ),
    pytest.param(  # notebook 01, cell 7b0e42cd
        lambda: (
            added_blocks_line("residual", 8, 20, 0.0, 0.190, 0.190)
            + "\n"
            + added_blocks_line("plain", 8, 20, 13.33, 0.198, 2.311)
        ),
        (
            "residual: 8 -> 20 layers | max |output difference| 0.000e+00 | training loss 0.190 -> 0.190\n"
            "plain   : 8 -> 20 layers | max |output difference| 1.333e+01 | training loss 0.198 -> 2.311"
        ),
        (
            "残差网络：8 -> 20 层 | 最大 |输出差| 0.000e+00 | 训练损失 0.190 -> 0.190\n"
            "普通网络：8 -> 20 层 | 最大 |输出差| 1.333e+01 | 训练损失 0.198 -> 2.311"
        ),
        id="added_blocks_line",
    ),
    pytest.param(  # notebook 01, cell 7d8a05e1
        lambda: sample_errors_conclusion(7),
        (
            "the error on the samples keeps falling; the distance to f* is smallest at k = 7 and "
            "larger after it"
        ),
        "样本上的误差一直在下降；到 f* 的距离在 k = 7 处最小，之后变大",
        id="sample_errors_conclusion",
    ),
    pytest.param(  # notebook 01, cell eff6852b
        lambda: dirac_line(8.078e-4),
        "Dirac-initialised plain blocks: max |output difference| 8.078e-04",
        "用 Dirac 初始化的普通块：最大 |输出差| 8.078e-04",
        id="dirac_line",
    ),
    pytest.param(  # notebook 01, cell 505f404b
        lambda: "\n".join(
            cifar_resnet_line(d, n, d, p)
            for d, n, p in [(20, 3, 272_778), (56, 9, 857_418), (110, 18, 1_734_378)]
        ),
        (
            "ResNet-20: n = 3, 20 weight layers, 272,778 params\n"
            "ResNet-56: n = 9, 56 weight layers, 857,418 params\n"
            "ResNet-110: n = 18, 110 weight layers, 1,734,378 params"
        ),
        (
            "ResNet-20：n = 3，20 个权重层，272,778 个参数\n"
            "ResNet-56：n = 9，56 个权重层，857,418 个参数\n"
            "ResNet-110：n = 18，110 个权重层，1,734,378 个参数"
        ),
        id="cifar_resnet_line",
    ),
]


@pytest.mark.parametrize(("call", "english", "chinese"), PRINTED)
def test_printed_text_is_the_saved_output(call, english, chinese):
    assert call() == english


@pytest.mark.parametrize(("call", "english", "chinese"), PRINTED)
def test_printed_text_in_chinese(call, english, chinese, in_chinese):
    assert call() == chinese
