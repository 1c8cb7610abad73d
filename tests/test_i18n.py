"""The message catalogs (resnet_helpers/i18n.py): every marked string translated, the .mo current."""

import io
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

import resnet_helpers
from resnet_helpers import i18n
from resnet_helpers.i18n import _, language, set_language

PACKAGE = Path(resnet_helpers.__file__).parent
PO = PACKAGE / "locale" / "zh_CN" / "LC_MESSAGES" / "resnet_helpers.po"
MO = PO.with_suffix(".mo")


def marked_strings() -> set[str]:
    """Every string the package marks with _() (what `pybabel extract` collects)."""
    return {msg[2] for msg in extract_from_dir(str(PACKAGE), keywords={"_": None}) if isinstance(msg[2], str)}


def catalog():
    with PO.open("rb") as f:
        return read_po(f)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_marked_string_has_a_chinese_translation():
    po = catalog()
    missing = sorted(m for m in marked_strings() if not (po.get(m) and po.get(m).string))
    assert not missing, (
        f"{len(missing)} string(s) without Chinese (make messages, then translate):\n"
        + "\n".join(missing[:20])
    )
    fuzzy = [m.id for m in po if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy (unchecked) translations: {fuzzy[:10]}"


def test_translations_keep_every_placeholder():
    wrong = [(m.id, m.string) for m in catalog() if m.id and fields(m.id) != fields(m.string)]
    assert not wrong, f"a translation must keep the English string's {{placeholders}}: {wrong[:5]}"


def test_the_compiled_catalog_is_the_po_file():
    buffer = io.BytesIO()
    write_mo(buffer, catalog())
    assert MO.read_bytes() == buffer.getvalue(), "resnet_helpers.mo is stale: run make messages"


def test_set_language_switches_the_helpers_text(english):
    message = sorted(marked_strings())[0]
    assert set_language("zh", font=False) is None and language() == "zh"  # a cell's last line: prints nothing
    assert _(message) == catalog().get(message).string != message
    set_language("en")
    assert language() == "en" and _(message) == message
    set_language("zh-CN", font=False)
    assert language() == "zh"


def test_an_unknown_language_names_the_choices(english):
    with pytest.raises(ValueError, match=r"'fr'.*en, zh"):
        set_language("fr")


def test_resnet_lang_sets_the_language_at_import(monkeypatch, english):
    import importlib

    monkeypatch.setenv("RESNET_LANG", "zh")
    importlib.reload(i18n)
    try:
        assert i18n.language() == "zh"
    finally:
        monkeypatch.delenv("RESNET_LANG")
        importlib.reload(i18n)
    assert i18n.language() == "en"


def test_the_catalog_uses_the_chinese_editions_vocabulary():
    """The retired variants of tests/test_zh_terms.py are retired in the helpers' Chinese too."""
    import re

    from test_zh_terms import RETIRED

    found = [
        (m.id, pattern, fix)
        for m in catalog()
        if m.id
        for pattern, fix in RETIRED
        if re.search(pattern, m.string)
    ]
    assert not found, f"retired terms in resnet_helpers.po: {found[:5]}"


def test_no_module_that_translates_uses_underscore_as_a_variable():
    """`for _ in ...` or `a, _ = ...` in a function makes `_` local there, and a `_("...")` in the
    same function then fails (UnboundLocalError), only on the path that shows the message."""
    import ast

    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports_gettext = any(
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.endswith("i18n")
            and any(alias.name == "_" for alias in node.names)
            for node in tree.body
        )
        if not imports_gettext:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, f"`_` assigned where it is the gettext function: {offenders}"


def test_printed_columns_line_up_in_chinese_and_pad_english_as_format_does():
    from resnet_helpers.i18n import center, columns, pad, text_width

    assert text_width("残差 ab") == 7
    for word in ("ab", "with shortcut", ""):
        assert pad(word, 15) == f"{word:<15}" and pad(word, 15, right=True) == f"{word:>15}"
        assert center(word, 30) == f"{word:^30}"
    lines = columns([["残差块", "x"], ["plain", "y"]], [6]).splitlines()
    assert [text_width(line) for line in lines] == [8, 8]  # 残差块 takes 6 columns, as "plain " does


def test_a_printed_list_uses_the_readers_list_separator(english):
    from resnet_helpers.i18n import series

    assert series(["b2.0 60.2", "b4.0 42.9"]) == "b2.0 60.2, b4.0 42.9"
    set_language("zh", font=False)
    assert series(["b2.0 60.2", "b4.0 42.9"]) == "b2.0 60.2、b4.0 42.9"
