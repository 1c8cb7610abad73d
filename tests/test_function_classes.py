import matplotlib
import numpy as np
import pytest

from resnet_helpers.lessons.function_classes import (
    FAMILIES,
    GRID,
    best_fit,
    class_regions,
    distance_table,
    f_star,
    features,
    function_class_figure,
    function_class_panel,
    function_class_regions,
    knots,
    noisy_sample_errors,
    rises,
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
