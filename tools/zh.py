"""The Chinese edition (中文版), `notebooks/zh/`: built from the English notebooks, never run on its own.

A Chinese notebook is its English notebook with every markdown cell replaced by a translation:
code cells, their tags and their saved outputs are the English notebook's own, so the two
editions always run the same code and show the same numbers. One line differs: the setup cell
ends with `set_language("zh")` (LANGUAGE_LINE), so the helpers' figures, widget labels and error
messages come out in Chinese when a student runs it (resnet_helpers/i18n.py). Translations live in
`notebooks/zh/translations/<notebook>.md`, one block per markdown cell, keyed by the cell's id
and recording which English text it was made from (the first 12 hex digits of its SHA-1):

    <!-- cell 2fd30304 | en 1a2b3c4d5e6f -->
    # 从这里开始 ...

    python tools/zh.py            # check: stale or missing translations, out-of-date notebooks
    python tools/zh.py --write    # rebuild notebooks/zh/*.ipynb (`make zh`)
    python tools/zh.py --todo NB  # print blocks to translate: new cells and changed ones (with
                                  # the English text), ready to paste into the translation file;
                                  # NB: 02_residual_block, with or without .ipynb

When an English markdown cell changes, its translation goes stale: the check names the cell, and
the build keeps the old translation until someone updates it (it never shows English silently).
This is a maintainer's tool: it works in a source checkout, like `notebook_headers.py`.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from notebook_headers import BADGE_PREFIX, SETUP_MARK, badge, notebooks, repo_slug

ROOT = Path(__file__).resolve().parents[1]
EN = ROOT / "notebooks"
ZH = EN / "zh"
MARKER = re.compile(r"^<!-- cell (?P<id>[\w-]+) \| en (?P<en>[0-9a-f]{12}) -->[ \t]*$", re.M)


@dataclass
class Translation:
    cell_id: str
    en_hash: str
    text: str


def en_hash(source: str) -> str:
    """What a translation records of the English text it was made from."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]


def read_translations(path: Path) -> dict[str, Translation]:
    """{cell id: Translation} of one translation file (empty when there is none yet)."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    marks = list(MARKER.finditer(text))
    found = {}
    ends = [m.start() for m in marks[1:]] + [len(text)] if marks else []
    for mark, end in zip(marks, ends, strict=True):
        body = text[mark.end() : end].strip("\n")
        found[mark["id"]] = Translation(mark["id"], mark["en"], body)
    return found


def translation_file(notebook: Path) -> Path:
    return ZH / "translations" / (notebook.stem + ".md")


def _with_badge(source: str, name: str, slug: str) -> str:
    """The first cell's badge, pointing to the Chinese notebook itself."""
    lines = [line for line in source.splitlines() if not line.startswith(BADGE_PREFIX)]
    at = 1 if lines and lines[0].startswith("#") else 0
    lines[at:at] = ["", badge(slug, f"zh/{name}"), ""] if at else [badge(slug, f"zh/{name}"), ""]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


LANGUAGE_LINE = (
    "\n\nfrom resnet_helpers.i18n import set_language\n\n"
    'set_language("zh")  # 辅助函数的图表、控件标签和错误信息使用中文'
)


def build(notebook: Path, translations: dict[str, Translation], slug: str):
    """(the Chinese notebook, problems): problems name missing and stale translations."""
    nb = nbformat.read(notebook, as_version=4)
    problems = []
    for index, cell in enumerate(nb.cells):
        if (
            cell.cell_type == "code"
            and cell.source.startswith(SETUP_MARK)
            and LANGUAGE_LINE not in cell.source
        ):
            cell.source += LANGUAGE_LINE
        if cell.cell_type != "markdown":
            continue
        t = translations.get(cell.get("id"))
        if t is None:
            problems.append(f"{notebook.name}: markdown cell {cell.get('id')} (#{index}) has no translation")
            continue
        if t.en_hash != en_hash(cell.source):
            problems.append(
                f"{notebook.name}: markdown cell {cell.id} (#{index}) changed in English since it was "
                f"translated (translated from {t.en_hash}, now {en_hash(cell.source)})"
            )
        cell.source = _with_badge(t.text, notebook.name, slug) if index == 0 else t.text
    nb.metadata["zh_edition"] = {"built_from": f"../{notebook.name}", "by": "python tools/zh.py"}
    return nb, problems


def _built(slug: str):
    """(English notebook, its Chinese notebook, problems) for every notebook of the collection."""
    for notebook in notebooks(EN):
        nb, problems = build(notebook, read_translations(translation_file(notebook)), slug)
        yield notebook, nb, problems


def check(slug: str | None = None) -> list[str]:
    """Every problem of the Chinese edition: translations missing or stale, notebooks out of date."""
    problems = []
    for notebook, nb, found in _built(slug or repo_slug()):
        target = ZH / notebook.name
        problems += found
        if not target.exists():
            problems.append(f"zh/{notebook.name} is missing: run `make zh`")
        elif target.read_text(encoding="utf-8") != nbformat.writes(nb) + "\n":
            problems.append(f"zh/{notebook.name} differs from what the build gives: run `make zh`")
    return problems


def write(slug: str | None = None) -> list[str]:
    """Rebuild every Chinese notebook; returns the problems found on the way."""
    problems = []
    for notebook, nb, found in _built(slug or repo_slug()):
        (ZH / notebook.name).write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        problems += found
    return problems


def todo(notebook: Path) -> str:
    """Blocks to translate for `notebook`: cells without a translation or with a stale one."""
    translations = read_translations(translation_file(notebook))
    nb = nbformat.read(notebook, as_version=4)
    blocks = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            t = translations.get(cell.id)
            if t is None or t.en_hash != en_hash(cell.source):
                blocks.append(f"<!-- cell {cell.id} | en {en_hash(cell.source)} -->\n{cell.source}\n")
    return "\n".join(blocks)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/zh.py",
        description="Check the Chinese edition (notebooks/zh/) against the English notebooks and "
        "the translations; with --write, rebuild it.",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="rebuild notebooks/zh/*.ipynb (make zh)")
    action.add_argument(
        "--todo",
        nargs="+",
        metavar="NB",
        help="print the blocks to translate in these notebooks: new and changed cells",
    )
    args = parser.parse_args(argv)
    if args.todo:
        for name in args.todo:
            notebook = EN / Path(name).with_suffix(".ipynb").name  # 02_residual_block, with or without .ipynb
            if not notebook.exists():
                known = ", ".join(p.stem for p in notebooks(EN))
                parser.error(f"--todo {name}: no notebook {notebook.name} in {EN}; one of: {known}")
            print(todo(notebook))
        return 0
    if args.write:
        ZH.mkdir(exist_ok=True)
        problems = write()
    else:
        problems = check()
    agrees = f"the Chinese edition agrees with the {len(notebooks(EN))} English notebooks"
    print("\n".join(problems) or agrees)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
