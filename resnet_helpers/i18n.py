"""The helpers speak the reader's language: gettext message catalogs, English as the source.

    from resnet_helpers.i18n import set_language
    set_language("zh")   # the Chinese notebooks' setup cells: figures, widget labels and errors in Chinese

A string a helper shows a reader is written in English and marked `_("...")`; a string with values
in it uses named placeholders, `_("{n} blocks deleted").format(n=k)`, so a translation can put them
in its own order. `make messages` runs Babel: `pybabel extract` collects the marked strings into
`resnet_helpers/locale/resnet_helpers.pot`, `pybabel update` carries them into each language's
`.po` file, where a translator writes the Chinese, and `pybabel compile` makes the `.mo` file that
gettext reads. English needs no catalog. A string without a translation stays English
(tests/test_i18n.py fails on any such string in the Chinese catalog).

The language is English until `set_language` is called, or the environment variable RESNET_LANG
names another one when the package is imported (`RESNET_LANG=zh`).
"""

from __future__ import annotations

import gettext
import os
import unicodedata
from pathlib import Path

__all__ = ["LANGUAGES", "LOCALE_DIR", "DOMAIN", "set_language", "language", "_"]
__all__ += ["series", "text_width", "pad", "center", "columns"]  # printed lists and tables

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "resnet_helpers"
LANGUAGES = {"en": None, "zh": "zh_CN"}  # the name a notebook uses -> the catalog's locale (None: the source)

_state = {"language": "en", "translations": gettext.NullTranslations()}


def set_language(name: str = "en", font: bool = True) -> None:
    """Show every helper's text in `name` ("en" or "zh"; `language()` says which is on: nothing is
    returned, so the setup cell that ends with this call prints nothing). With `font` (the default)
    Chinese also picks an installed CJK font for matplotlib (`fonts.use_cjk_font`), so the figures'
    Chinese labels are drawn rather than shown as empty boxes."""
    key = name.strip().lower().replace("_", "-")
    key = {"zh-cn": "zh", "zh-hans": "zh", "cn": "zh", "chinese": "zh", "english": "en"}.get(key, key)
    if key not in LANGUAGES:
        raise ValueError(f"language {name!r} has no catalog; choose one of {', '.join(LANGUAGES)}.")
    locale = LANGUAGES[key]
    if locale is None:
        translations = gettext.NullTranslations()
    else:
        translations = gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[locale])
        if font:
            from .fonts import use_cjk_font

            use_cjk_font()
    _state.update(language=key, translations=translations)


def language() -> str:
    """The language the helpers speak now: "en" or "zh"."""
    return _state["language"]


def _(message: str) -> str:
    """`message` in the current language (itself where the catalog has no translation)."""
    return _state["translations"].gettext(message)


if os.environ.get("RESNET_LANG", "").strip():
    set_language(os.environ["RESNET_LANG"], font=False)


def series(items) -> str:
    """Items joined as a list in running text: "a, b, c" in English, "a、b、c" in Chinese."""
    return _(", ").join(items)


# Printed tables line up in either language: a Chinese character takes two columns of a monospace
# font, so padding counts columns, not characters (English pads exactly as f"{text:<{width}}" would).


def text_width(text: str) -> int:
    """Columns `text` takes in a monospace font: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int, right: bool = False) -> str:
    """`text` padded with spaces to `width` columns (`f"{text:<{width}}"`, or `>` with `right`)."""
    gap = " " * max(0, width - text_width(text))
    return gap + text if right else text + gap


def center(text: str, width: int) -> str:
    """`text` centred in `width` columns as `f"{text:^{width}}"` does (the odd space on the right)."""
    gap = max(0, width - text_width(text))
    return " " * (gap // 2) + text + " " * (gap - gap // 2)


def columns(rows, widths) -> str:
    """Lines of cells: each cell but the last padded to its column's width in `widths` (wider where a
    cell is wider, as a translation may be), the cells joined by one space."""
    fitted = [max([w] + [text_width(row[i]) for row in rows]) for i, w in enumerate(widths)]
    return "\n".join(
        " ".join([*(pad(cell, w) for cell, w in zip(row[:-1], fitted, strict=True)), row[-1]])
        for row in rows
    )
