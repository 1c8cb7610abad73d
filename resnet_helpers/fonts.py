"""Chinese in figures: pick an installed CJK font for matplotlib (the Chinese notebooks call this).

matplotlib's default font, DejaVu Sans, has no Chinese glyphs: a Chinese title comes out as empty
boxes. `use_cjk_font()` finds a CJK font that is installed and puts it behind the default font, so
Latin text looks as in the English notebooks and every Chinese character falls back to the CJK font:

    from resnet_helpers.fonts import use_cjk_font
    use_cjk_font()    # -> 'WenQuanYi Micro Hei' (or None, with a one-line note saying what to do)

Where none is installed: on Colab and Kaggle it prints the one command that installs one (Debian's
and Ubuntu's `fonts-noto-cjk`); `use_cjk_font(install=True)` runs it instead (installing software
from a notebook without asking would surprise the reader). Elsewhere it says which fonts it looked
for. It imports only `platforms` from this package (where a notebook runs).
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from resnet_helpers.platforms import detect_platform

__all__ = ["CJK_FONTS", "INSTALL_COMMAND", "installed_cjk_font", "use_cjk_font"]

# Most usual first: Windows, macOS, then Linux (Debian/Ubuntu packages fonts-noto-cjk,
# fonts-wqy-microhei, fonts-wqy-zenhei; Adobe's Source Han Sans is Noto Sans CJK under another name).
CJK_FONTS = (
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK JP",  # the first face of Noto's .ttc, which older matplotlib reads alone
)
INSTALL_COMMAND = "apt-get install -y fonts-noto-cjk"
NOTO_FOLDER = Path("/usr/share/fonts/opentype/noto")  # where fonts-noto-cjk puts its files
CAN_INSTALL = ("colab", "kaggle")  # hosted notebooks where the notebook is root on Debian/Ubuntu


def installed_cjk_font(names: tuple[str, ...] = CJK_FONTS) -> str | None:
    """The first of `names` that matplotlib knows, or None."""
    from matplotlib import font_manager

    known = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in names if name in known), None)


def _install_noto() -> None:
    """Install fonts-noto-cjk (Colab, Kaggle) and tell matplotlib about its files."""
    from matplotlib import font_manager

    subprocess.run(["apt-get", "install", "-y", "-qq", "fonts-noto-cjk"], check=False)
    for path in sorted(NOTO_FOLDER.glob("NotoSansCJK*")):
        font_manager.fontManager.addfont(str(path))


def use_cjk_font(
    install: bool = False, names: tuple[str, ...] = CJK_FONTS, platform: str | None = None
) -> str | None:
    """Let matplotlib draw Chinese: returns the CJK font used, or None (with a one-line note).

    install=True installs `fonts-noto-cjk` where none is found, on Colab and Kaggle only.
    """
    import matplotlib as mpl

    platform = detect_platform() if platform is None else platform
    name = installed_cjk_font(names)
    if name is None and install and platform in CAN_INSTALL:
        _install_noto()
        name = installed_cjk_font(names)
    if name is None:
        if platform in CAN_INSTALL:
            print(
                f"图中的中文会显示为方框：没有中文字体。运行 `!{INSTALL_COMMAND}`，"
                "或 `use_cjk_font(install=True)`。"
            )
        else:
            print(f"图中的中文会显示为方框：没有找到中文字体（{'、'.join(names)}），请安装其中一种。")
        return None
    # `name` first: text with math in it ("$F_k$ 比 ...") is laid out by mathtext, which draws the text
    # outside the dollars in the first font of font.family only, with no fallback; CJK fonts carry
    # Latin letters and digits too. Plain text falls back glyph by glyph to the default sans-serif.
    mpl.rcParams["font.family"] = [name, "sans-serif"]
    # Most CJK fonts have no bold face: a bold title would log "findfont: Failed to find font weight
    # bold ..." into the saved page for every figure; the regular face is drawn, which is fine.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    return name
