"""Notebook 01: nested vs non-nested function classes (嵌套函数类), and the degradation problem.

Part 1 computes function classes on a 1-D least-squares problem; part 2 (at the end) draws the
degradation experiment: plain and residual twins of several depths trained on the same batches
(`degradation_experiment`, in `resnet_helpers/training/experiment.py`).

The course draws function classes F_1, F_2, ... as regions and the best function f* as a
star. Here every class is concrete: F_k holds the piecewise-linear functions with k knots
(kinks) at fixed places,

    f(x) = a + b x + sum_j w_j max(0, x - c_j),   j = 1..k,

and the best member of F_k is the least-squares fit to f* on a fine grid of [-1, 1]; its
RMS distance to f* is how far the class is from the star. Both families have k knots in
F_k; only *where* the knots go differs:

- "nested": each class keeps the knots of the previous one and adds one (0, -1/2, 1/2,
  -3/4, 1/4, ...), so F_{k-1} is inside F_k and the best fit can never get worse;
- "non-nested": k knots evenly spaced over [-1, 1]; adding a knot moves all the others,
  so F_k does not contain F_{k-1} and a bigger class can end up farther from f*.
"""

from __future__ import annotations

import numpy as np

from ..i18n import _
from ..training.experiment import KINDS, final_loss, smooth
from .widgets import error_box, panel_output, show_or_explain, with_snapshot

__all__ = [
    "FAMILIES",
    "GRID",
    "f_star",
    "knots",
    "features",
    "best_fit",
    "distance_table",
    "rises",
    "class_regions",
    "function_class_regions",
    "function_class_figure",
    "function_class_panel",
    "noisy_sample_errors",
    "degradation_figure",
    "depth_curves_figure",
    "depth_panel",
    "knots_line",
    "distance_report",
    "farther_class_line",
    "possible_depths_line",
    "depth_net_lines",
    "training_data_lines",
    "final_loss_report",
    "added_blocks_line",
    "sample_errors_conclusion",
    "dirac_line",
    "cifar_resnet_line",
]

FAMILIES = ("nested", "non-nested")
GRID = np.linspace(-1.0, 1.0, 401)


def f_star(x):
    """The function we want to reach: a wiggle plus a sharp kink at x = 0."""
    x = np.asarray(x, dtype=float)
    return np.sin(2 * np.pi * x) * np.exp(-(x**2)) + 1.5 * np.abs(x)


def _van_der_corput(i: int) -> float:
    """i-th point of the base-2 van der Corput sequence in (0, 1): 1/2, 1/4, 3/4, 1/8, ..."""
    value, step = 0.0, 0.5
    while i:
        value += step * (i & 1)
        i >>= 1
        step /= 2
    return value


def _family_label(family: str) -> str:
    """A family's name as the reader sees it (the code compares the English `FAMILIES`)."""
    return {"nested": _("nested"), "non-nested": _("non-nested")}.get(family, family)


def _check(k, family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(
            _("family must be one of {families}, got {family!r}.").format(
                families=list(FAMILIES), family=family
            )
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(
            _("the class size k (number of knots) must be an integer >= 0, got {k!r}.").format(k=k)
        )


def knots(k: int, family: str) -> np.ndarray:
    """Where the k knots of F_k sit, for the "nested" or the "non-nested" family."""
    _check(k, family)
    if family == "nested":
        return np.array([2 * _van_der_corput(i) - 1 for i in range(1, k + 1)])
    return np.linspace(-1.0, 1.0, k + 2)[1:-1]


def features(x, knot_positions) -> np.ndarray:
    """Columns 1, x, max(0, x - c) for every knot c: F_k is all their linear combinations."""
    x = np.asarray(x, dtype=float)
    columns = [np.ones_like(x), x] + [np.maximum(0.0, x - c) for c in knot_positions]
    return np.column_stack(columns)


def best_fit(k: int, family: str, x=GRID, y=None) -> dict:
    """The least-squares fit in F_k to y (default: f* on the grid) and its RMS distance to y.

    Returns a dict: `x`, `target` (y), `fit` (the best member of F_k on x), `knots`, `distance`.
    """
    y = f_star(x) if y is None else np.asarray(y, dtype=float)
    c = knots(k, family)
    A = features(x, c)
    weights = np.linalg.lstsq(A, y, rcond=None)[0]
    fit = A @ weights
    return {"x": x, "target": y, "fit": fit, "knots": c, "distance": float(np.sqrt(np.mean((fit - y) ** 2)))}


def distance_table(k_max: int = 16):
    """A pandas DataFrame, one row per class size k = 0..k_max: each family's distance to f*."""
    import pandas as pd

    _check(k_max, "nested")
    rows = {family: [best_fit(k, family)["distance"] for k in range(k_max + 1)] for family in FAMILIES}
    return pd.DataFrame(rows, index=pd.RangeIndex(k_max + 1, name="k (knots)"))


def rises(distances, tol: float = 1e-9) -> list[int]:
    """The k at which a distance curve goes up: distances[k] > distances[k - 1] + tol."""
    d = list(distances)
    return [k for k in range(1, len(d)) if d[k] > d[k - 1] + tol]


def class_regions(distances, family: str) -> list[tuple[tuple[float, float], float]]:
    """Circles standing for F_1, F_2, ... in d2l's Fig. 7.6.1, f* at the origin: (centre, radius) each.

    `distances[i]` is the distance of F_{i+1}'s best fit to f*: circle i's nearest point to the
    origin is exactly that far from it. The radii grow with k. "nested": the centres lie on one
    line and each circle contains the one before; "non-nested": the circles turn around f*, so none
    contains the one before, and a bigger class may be farther away.
    """
    _check(0, family)
    d = np.asarray(distances, dtype=float)
    if d.ndim != 1 or not len(d) or (d < 0).any():
        raise ValueError(
            _("distances must be a non-empty list of distances >= 0, got {distances!r}.").format(
                distances=distances
            )
        )
    # radii grow by at least as much as the distance falls: then a nested circle holds the one before
    step = max(0.4 * d.max(), *(np.maximum(0, d[:-1] - d[1:]) if len(d) > 1 else [0]))
    circles = []
    for i, dist in enumerate(d):
        radius = 0.5 * d.max() + step * i
        turn = 0.0 if family == "nested" else np.radians(40) * (i - (len(d) - 1) / 2)
        centre = (dist + radius) * np.array([-np.cos(turn), np.sin(turn)])
        circles.append(((float(centre[0]), float(centre[1])), float(radius)))
    return circles


def function_class_regions(k_max: int = 4):
    """d2l's Fig. 7.6.1 from our classes: F_1..F_{k_max} as regions, f* as a star, non-nested left,
    nested right. Each class's best fit (its point nearest f*) is a dot, and the dotted line from it
    to f* is the RMS distance `distance_table` measures (the legend gives it)."""
    import matplotlib.pyplot as plt

    _check(k_max, "nested")
    if k_max < 2:
        raise ValueError(
            _("draw at least two classes to compare them; got k_max={k_max!r}.").format(k_max=k_max)
        )
    table = distance_table(k_max).iloc[1:]  # F_1 .. F_k_max
    colors = plt.cm.viridis(np.linspace(0.05, 0.8, k_max))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    left = top = 0.0  # how far the circles reach, to give both panels the same scale
    for ax, family in zip(axes, ("non-nested", "nested"), strict=True):
        d = table[family].to_numpy()
        for (k, dist), ((cx, cy), r), color in zip(
            enumerate(d, start=1), class_regions(d, family), colors, strict=True
        ):
            centre = np.array([cx, cy])
            unit = centre / np.hypot(cx, cy)
            ax.add_patch(plt.Circle(centre, r, facecolor=color, alpha=0.1, edgecolor=color, lw=2))
            near = centre - r * unit  # the best fit: the class's point nearest f*
            ax.plot([near[0], 0], [near[1], 0], ":", color=color, lw=1.8)
            ax.plot(*near, "o", color=color, ms=6, label=f"$F_{{{k}}}$: {dist:.3f}")
            tag = centre + 0.8 * r * np.array([-0.8, 0.6] if family == "nested" else unit)
            ax.text(*tag, f"$F_{{{k}}}$", color=color, fontsize=13, ha="center", va="center", weight="bold")
            left, top = max(left, r - cx), max(top, abs(cy) + r)
        ax.plot(0, 0, "*", color="crimson", ms=20, zorder=5)
        ax.annotate("$f^*$", (0, 0), xytext=(9, -5), textcoords="offset points", fontsize=14, color="crimson")
        up = rises(d)
        note = (
            _("$F_{{{bigger}}}$ is bigger than $F_{{{smaller}}}$ but farther from $f^*$").format(
                bigger=up[0] + 1, smaller=up[0]
            )
            if up
            else _("every class at least as close to $f^*$ as the one before")
        )
        ax.set_title(
            _("{family} function classes\n{note}").format(family=_family_label(family), note=note),
            fontsize=11,
        )
        ax.legend(
            title=_("distance to $f^*$"), fontsize=9, title_fontsize=9, loc="lower right", frameon=False
        )
        ax.set_aspect("equal")
        ax.axis("off")
    for ax in axes:  # the same scale in both panels
        ax.set_xlim(-1.02 * left, 0.45 * left)
        ax.set_ylim(-1.02 * top, 1.02 * top)
    fig.text(
        0.5,
        0.03,
        _("dot: the best fit in each class; dotted line: its RMS distance to f* (the table above)"),
        ha="center",
        fontsize=9,
        color="gray",
    )
    fig.subplots_adjust(left=0.01, right=0.99, top=0.88, bottom=0.07, wspace=0.04)
    return fig


def function_class_figure(k: int, family: str = "non-nested", k_max: int = 16):
    """The widget's callback: the best fits in F_{k-1} and F_k, and the distance curves.

    Left: f*, the best fit in F_k (solid) and in F_{k-1} (dashed), the knots of F_k.
    Right: distance to f* against k for both families; rises are marked, k is circled.
    Raises ValueError (with the reason) for a k outside 0..k_max or an unknown family.
    """
    import matplotlib.pyplot as plt

    _check(k, family)
    if k > k_max:
        raise ValueError(
            _("k={k} is beyond the curve drawn (k_max={k_max}); pick k <= {k_max}.").format(k=k, k_max=k_max)
        )
    table = distance_table(k_max)
    color = {"nested": "tab:blue", "non-nested": "tab:orange"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))

    fit = best_fit(k, family)
    left.plot(GRID, fit["target"], color="black", lw=2, label=_("f* (the target)"))
    if k > 0:
        previous = best_fit(k - 1, family)
        left.plot(
            GRID,
            previous["fit"],
            "--",
            color="gray",
            label=_("best in $F_{{{k}}}$: {distance:.3f}").format(k=k - 1, distance=previous["distance"]),
        )
    left.plot(
        GRID,
        fit["fit"],
        color=color[family],
        lw=2,
        label=_("best in $F_{{{k}}}$: {distance:.3f}").format(k=k, distance=fit["distance"]),
    )
    for c in fit["knots"]:
        left.axvline(c, color=color[family], lw=0.6, alpha=0.4)
    left.set(
        title=_("{family} family, $F_{{{k}}}$: {k} knots (thin lines)").format(
            family=_family_label(family), k=k
        ),
        xlabel="x",
        ylabel="f(x)",
    )
    left.legend(fontsize=8, loc="lower right", title=_("RMS distance to f*"), title_fontsize=8)

    for name in FAMILIES:
        d = table[name]
        right.plot(
            d.index,
            d.values,
            "o-",
            ms=3,
            color=color[name],
            label=_family_label(name),
            lw=2.5 if name == family else 1,
        )
        up = rises(d.values)
        if up:
            right.plot(up, d.values[up], "^", ms=9, mfc="none", color="red")
    right.plot(
        [], [], "^", ms=9, mfc="none", color="red", label=_("rise: $F_k$ farther from f* than $F_{k-1}$")
    )
    right.plot(k, table[family][k], "o", ms=14, mfc="none", color="black")
    right.set(
        title=_("distance of the best fit to f*"), xlabel=_("k (knots in $F_k$)"), ylabel=_("RMS distance")
    )
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _figure_or_message(callback, **values):
    """The callback's figure, or (for a ValueError) the message in an HTML box: a panel's snapshot."""
    try:
        return callback(**values)
    except ValueError as e:
        return error_box(_("Cannot draw this: {error}").format(error=e))


def function_class_panel(k_max: int = 16, k: int = 5, family: str = "non-nested"):
    """ipywidgets panel: a k slider and a family menu redraw `function_class_figure`.

    Returned with a static snapshot of its first view (`with_snapshot`); `.panel` is the widget."""
    import ipywidgets as widgets

    k_slider = widgets.IntSlider(value=k, min=0, max=k_max, description=_("k (knots)"))
    menu = widgets.Dropdown(
        options=[(_family_label(name), name) for name in FAMILIES], value=family, description=_("family")
    )
    out = panel_output(
        lambda k, family: show_or_explain(function_class_figure, k=k, family=family, k_max=k_max),
        {"k": k_slider, "family": menu},
    )
    panel = widgets.VBox([widgets.HBox([k_slider, menu]), out])
    return with_snapshot(panel, _figure_or_message(function_class_figure, k=k, family=family, k_max=k_max))


def noisy_sample_errors(k_max: int = 24, n_samples: int = 30, noise: float = 0.3, seed: int = 0):
    """Fit the nested family to `n_samples` noisy samples of f* instead of f* itself.

    Returns a DataFrame per k: the RMS error on the samples (what least squares minimises)
    and the RMS distance of that fit to f* on the whole grid (what we care about).
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, n_samples))
    y = f_star(x) + noise * rng.standard_normal(n_samples)
    rows = []
    for k in range(k_max + 1):
        c = knots(k, "nested")
        weights = np.linalg.lstsq(features(x, c), y, rcond=None)[0]
        on_grid = features(GRID, c) @ weights
        rows.append(
            {
                "k (knots)": k,
                "error on the samples": float(np.sqrt(np.mean((features(x, c) @ weights - y) ** 2))),
                "distance to f*": float(np.sqrt(np.mean((on_grid - f_star(GRID)) ** 2))),
            }
        )
    return pd.DataFrame(rows).set_index("k (knots)")


# --- The degradation experiment (He et al. 2015, Fig. 1), trained by `training/experiment.py` ---


def degradation_figure(histories: dict):
    """Training loss against steps: plain networks left, residual networks right, one curve per depth."""
    import matplotlib.pyplot as plt

    depths = sorted({depth for _kind, depth in histories})
    colors = plt.cm.viridis([i / max(1, len(depths) - 1) * 0.85 for i in range(len(depths))])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    titles = {"plain": _("plain networks"), "residual": _("residual networks")}
    for ax, kind in zip(axes, KINDS, strict=True):
        for depth, color in zip(depths, colors, strict=True):
            ax.plot(smooth(histories[kind, depth]), color=color, label=f"{kind}-{depth}")
        ax.set(title=titles.get(kind, kind), xlabel=_("training step"))
        ax.legend()
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(_("training loss (moving average)"))
    fig.tight_layout()
    return fig


def depth_curves_figure(histories: dict, depth: int):
    """The depth slider's callback: the plain and the residual training curve at one depth."""
    import matplotlib.pyplot as plt

    trained = sorted({d for _kind, d in histories})
    if depth not in trained:
        raise ValueError(
            _("no network of depth {depth} was trained; trained depths: {trained}.").format(
                depth=depth, trained=trained
            )
        )
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for kind, color in zip(KINDS, ("tab:red", "tab:blue"), strict=True):
        losses = histories[kind, depth]
        ax.plot(losses, color=color, alpha=0.2)
        label = _("{net}: last 10% {loss:.3f}").format(net=f"{kind}-{depth}", loss=final_loss(losses))
        ax.plot(smooth(losses), color=color, label=label)
    top = max(max(smooth(histories[kind, depth])) for kind in KINDS)  # the averages fit whole
    ax.set(
        title=_("depth {depth}: same layers, with and without shortcuts").format(depth=depth),
        xlabel=_("training step"),
        ylabel=_("training loss"),
        ylim=(0, top * 1.05),
    )
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def depth_panel(histories: dict):
    """ipywidgets panel: a slider over the trained depths redraws `depth_curves_figure`.

    Returned with a static snapshot of its first view (the deepest pair); `.panel` is the widget."""
    import ipywidgets as widgets

    depths = sorted({d for _kind, d in histories})
    slider = widgets.SelectionSlider(options=depths, value=depths[-1], description=_("depth"))
    out = panel_output(
        lambda depth: show_or_explain(depth_curves_figure, histories=histories, depth=depth),
        {"depth": slider},
    )
    panel = widgets.VBox([slider, out])
    first = _figure_or_message(depth_curves_figure, histories=histories, depth=depths[-1])
    return with_snapshot(panel, first)


# --- What the notebook's cells print: the wording lives here, so that it can be translated ---------
# (the notebook computes; each function below only words the values it is given)


def _kind_label(kind: str) -> str:
    """A network kind ("plain" or "residual") as the reader sees it (the code compares `KINDS`)."""
    return {"plain": _("plain"), "residual": _("residual")}.get(kind, kind)


def _positions(values) -> str:
    return "[" + ", ".join(f"{c:+.3f}" for c in values) + "]"


def knots_line(k: int, nested, non_nested) -> str:
    """One line of cell 3's table: where the knots of F_k sit in the nested and non-nested family."""
    return _("k={k}  nested knots: {nested} non-nested knots: {non_nested}").format(
        k=k, nested=f"{_positions(nested):38s}", non_nested=_positions(non_nested)
    )


def distance_report(table) -> str:
    """The distance table (`distance_table`) with its caption, then for each family the k at which
    the best fit's distance to f* rises (`rises`), or "never"."""
    lines = [_("RMS distance of the best fit in F_k to f*:"), table.round(3).to_string(), ""]
    for family in table.columns:
        up = rises(table[family])
        lines.append(
            _("{family:10s}: distance rises at k = {ks}").format(
                family=_family_label(family), ks=up if up else _("never")
            )
        )
    return "\n".join(lines)


def farther_class_line(distances, k: int, family: str = "non-nested") -> str:
    """How far F_{k-1} and the bigger F_k are from f* (`distances`: one column of `distance_table`,
    `k`: a k where it rises)."""
    near, far = distances[k - 1], distances[k]
    return _(
        "{family}: F_{smaller} is {near:.3f} from f*, the bigger F_{k} is {far:.3f} (+{gap:.3f})"
    ).format(family=_family_label(family), smaller=k - 1, near=near, k=k, far=far, gap=far - near)


def possible_depths_line(depths) -> str:
    """The depths 6n + 2 that a 3-stage network of basic blocks can have."""
    return _("possible depths 6n + 2: {depths}").format(depths=depths)


def depth_net_lines(name: str, layers: int, params: int, output, stage: str, blocks) -> str:
    """Two lines on one network of cell 14: its weight layers, parameters and output shape, then
    the class names of the blocks in one stage."""
    return "\n".join(
        [
            _("{name}: {layers} weight layers, {params:,} parameters, output {output}").format(
                name=name, layers=layers, params=params, output=tuple(output)
            ),
            _("  blocks of stage {stage}: {blocks}").format(stage=stage, blocks=blocks),
        ]
    )


def training_data_lines(profile, settings: dict, X, y) -> str:
    """The run profile's settings of the degradation experiment, and the training tensors."""
    return "\n".join(
        [
            _("profile {profile}: {settings}").format(profile=profile, settings=settings),
            _("training images {shape} on {device}, labels {labels}").format(
                shape=tuple(X.shape), device=X.device, labels=tuple(y.shape)
            ),
        ]
    )


def final_loss_report(losses, before) -> str:
    """The final training losses (`final_losses`: rows depth, columns plain and residual), how many
    times the deepest network's loss is the shallowest one's, and how much the loss still fell over
    the last 10% of steps (`before`: the mean over the 10% of steps before them)."""
    caption = _("training loss, mean over the last {share:.0%} of steps:").format(share=0.1)
    lines = [caption, losses.round(3).to_string()]
    shallow, deep = losses.index[0], losses.index[-1]
    for kind in losses.columns:
        lines.append(
            _("{label:8s}: {kind}-{deep} ends at {ratio:.2f}x the loss of {kind}-{shallow}").format(
                label=_kind_label(kind),
                kind=kind,
                deep=deep,
                shallow=shallow,
                ratio=losses.loc[deep, kind] / losses.loc[shallow, kind],
            )
        )
    fall = _("fall of the loss over the last {share:.0%} of steps (positive: still falling):")
    lines.append(fall.format(share=0.1))
    lines.append((before - losses).round(3).to_string())
    return "\n".join(lines)


def added_blocks_line(
    kind: str, layers_before: int, layers_after: int, difference: float, loss_before: float, loss_after: float
) -> str:
    """A trained network and the same network with blocks added: layers, the largest change of the
    output on the training images, and the training loss before and after."""
    return _(
        "{label:8s}: {before} -> {after} layers | max |output difference| {difference:.3e} | "
        "training loss {loss_before:.3f} -> {loss_after:.3f}"
    ).format(
        label=_kind_label(kind),
        before=layers_before,
        after=layers_after,
        difference=difference,
        loss_before=loss_before,
        loss_after=loss_after,
    )


def sample_errors_conclusion(best: int) -> str:
    """The reading of `noisy_sample_errors`: `best` is the k with the smallest distance to f*."""
    return _(
        "the error on the samples keeps falling; the distance to f* is smallest at k = {best} "
        "and larger after it"
    ).format(best=best)


def dirac_line(difference: float) -> str:
    """The largest change of the output when the added plain blocks are Dirac-initialised."""
    return _("Dirac-initialised plain blocks: max |output difference| {difference:.3e}").format(
        difference=difference
    )


def cifar_resnet_line(depth: int, n: int, layers: int, params: int) -> str:
    """One CIFAR ResNet (6n + 2): its n, weight layers and parameters."""
    return _("ResNet-{depth}: n = {n}, {layers} weight layers, {params:,} params").format(
        depth=depth, n=n, layers=layers, params=params
    )
