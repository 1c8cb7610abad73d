"""resnet_helpers.fonts: a Chinese title is drawn with real glyphs, not empty boxes (issue 29, item 2).

A missing glyph draws the same box for every character, so two different Chinese titles rendered
without a CJK font give the same pixels (and matplotlib warns "Glyph ... missing from font(s)").
With the font `use_cjk_font()` picks, they differ and nothing is missing. .ci/run installs Debian's
fonts-wqy-microhei, so the font exists where the tests run; elsewhere the rendering test is skipped.
"""

import io
import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from resnet_helpers import fonts  # noqa: E402


def render(title: str) -> tuple[np.ndarray, list[str]]:
    """The title rendered alone to PNG (its pixels), and the missing-glyph warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = plt.figure(figsize=(3, 1), dpi=100)
        fig.text(0.05, 0.3, title, fontsize=24)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
    buffer.seek(0)
    pixels = plt.imread(buffer)
    return pixels, [str(w.message) for w in caught if "missing from font" in str(w.message)]


@pytest.fixture
def restore_rc():
    saved = matplotlib.rcParams.copy()
    yield
    matplotlib.rcParams.update(saved)


def test_without_a_cjk_font_the_titles_are_boxes(restore_rc):
    """The failure this module fixes, so that the next test's signal is known to work."""
    matplotlib.rcParams["font.sans-serif"] = ["DejaVu Sans"]
    matplotlib.rcParams["font.family"] = "sans-serif"
    a, missing_a = render("残差网络")
    b, _ = render("批量规范")
    assert missing_a, "DejaVu Sans should lack Chinese glyphs"
    assert np.array_equal(a, b)  # every missing glyph is the same box


def test_a_chinese_title_is_drawn_with_the_chosen_font(restore_rc, capsys):
    if fonts.installed_cjk_font() is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-wqy-microhei)")
    name = fonts.use_cjk_font()
    assert name in fonts.CJK_FONTS
    assert capsys.readouterr().out == ""
    a, missing_a = render("残差网络")
    b, missing_b = render("批量规范")
    assert missing_a == [] and missing_b == []
    assert not np.array_equal(a, b)  # real glyphs: different characters, different pixels
    ink = (a[..., :3] < 0.5).any(axis=-1).mean()
    assert ink > 0.01  # and something is drawn
    assert matplotlib.rcParams["font.family"] == [name, "sans-serif"]


def test_chinese_beside_math_is_drawn_too(restore_rc, caplog):
    """A label with math in it ("$F_k$ 比 ...") goes through mathtext, which draws the text outside
    the dollars in one font only: with the CJK font second, every Chinese character was a box and
    a log line ("Font 'default' does not have a glyph for ...") in the saved page."""
    if fonts.installed_cjk_font() is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-wqy-microhei)")
    fonts.use_cjk_font()
    a, missing_a = render("$F_3$ 离 $f^*$ 更远")
    b, _ = render("$F_3$ 比 $f^*$ 更近")
    assert missing_a == [] and not np.array_equal(a, b)
    assert not [r for r in caplog.records if "does not have a glyph" in r.getMessage()]


def test_a_bold_chinese_title_logs_nothing(restore_rc, caplog):
    """CJK fonts rarely have a bold face; the fallback to the regular one is not worth a log line in
    the saved page."""
    if fonts.installed_cjk_font() is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-wqy-microhei)")
    fonts.use_cjk_font()
    fig = plt.figure(figsize=(3, 1), dpi=50)
    fig.suptitle("残差网络 ResNet", fontweight="bold")
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
    assert not [r for r in caplog.records if "findfont" in r.getMessage()]


@pytest.mark.parametrize("platform", ["colab", "kaggle"])
def test_on_colab_and_kaggle_without_a_font_it_prints_the_install_line(platform, capsys, monkeypatch):
    ran = []
    monkeypatch.setattr(fonts.subprocess, "run", lambda *a, **k: ran.append(a))
    assert fonts.use_cjk_font(names=("No Such Font",), platform=platform) is None
    out = capsys.readouterr().out
    assert fonts.INSTALL_COMMAND in out and out.count("\n") == 1
    assert ran == []  # suggested, not run


def test_install_runs_apt_get_only_where_asked_and_allowed(capsys, monkeypatch):
    ran = []
    monkeypatch.setattr(fonts.subprocess, "run", lambda args, **k: ran.append(args))
    fonts.use_cjk_font(install=True, names=("No Such Font",), platform="colab")
    assert ran and ran[0][:3] == ["apt-get", "install", "-y"] and "fonts-noto-cjk" in ran[0]
    ran.clear()
    fonts.use_cjk_font(install=True, names=("No Such Font",), platform="local")
    assert ran == []
    assert "No Such Font" in capsys.readouterr().out.splitlines()[-1]
