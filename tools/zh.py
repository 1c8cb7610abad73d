"""The Chinese edition (中文版), `notebooks/zh/`: built from the English notebooks, executed on its own.

A Chinese notebook is its English notebook with every markdown cell replaced by a translation and
every code comment by its Chinese one: the code itself, the cells' ids and tags are the English
notebook's, so the two editions run the same code with the same seeds. The setup cell ends with
`set_language("zh")` (LANGUAGE_LINE), so the helpers' figures, printed conclusions, widget labels
and error messages come out in Chinese (resnet_helpers/i18n.py). The outputs are the Chinese
notebook's own: `make notebooks` executes it after the build, and a rebuild keeps the outputs of
every code cell whose source is unchanged and clears the others (the check then asks for a run).

Translations live in `notebooks/zh/translations/<notebook>.md`, one block per markdown cell, keyed
by the cell's id and recording which English text it was made from (the first 12 hex digits of its
SHA-1), then the code comments, keyed by the English comment itself (so a changed comment has no
translation until someone writes one, and the check names it):

    <!-- cell 2fd30304 | en 1a2b3c4d5e6f -->
    # 从这里开始 ...

    <!-- code comments -->

    en: # the course's run: all images at 96x96, 10 epochs
    zh: # 课程的完整运行：全部图像，96×96，10 轮

    python tools/zh.py            # check: stale or missing translations, out-of-date notebooks
    python tools/zh.py --write    # rebuild notebooks/zh/*.ipynb (`make zh`)
    python tools/zh.py --todo NB  # print blocks to translate: new cells and changed ones (with
                                  # the English text), and comments without a translation, ready
                                  # to paste into the translation file; NB: 02_residual_block,
                                  # with or without .ipynb

When an English markdown cell changes, its translation goes stale: the check names the cell, and
the build keeps the old translation until someone updates it (it never shows English silently).
A comment without a translation stays English in the build and is named by the check; so is a
translated comment that no code cell has any more.
This is a maintainer's tool: it works in a source checkout, like `notebook_headers.py`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

import nbformat

from notebook_headers import BADGE_PREFIX, SETUP_MARK, badge, notebooks, repo_slug

ROOT = Path(__file__).resolve().parents[1]
EN = ROOT / "notebooks"
ZH = EN / "zh"
MARKER = re.compile(r"^<!-- cell (?P<id>[\w-]+) \| en (?P<en>[0-9a-f]{12}) -->[ \t]*$", re.M)
COMMENTS_MARK = "<!-- code comments -->"
PAIR = re.compile(r"^en: (?P<en>#.*?)[ \t]*\nzh: (?P<zh>#.*?)[ \t]*$", re.M)
PRAGMA = re.compile(r"^#\s*(noqa|type:|fmt:|pragma)")  # comments for tools, not readers: kept as they are


@dataclass
class Translation:
    cell_id: str
    en_hash: str
    text: str


def en_hash(source: str) -> str:
    """What a translation records of the English text it was made from."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]


def _sections(path: Path) -> tuple[str, str]:
    """(the markdown cells' blocks, the code comments' section) of a translation file."""
    if not path.exists():
        return "", ""
    cells, _, comments = path.read_text(encoding="utf-8").partition(COMMENTS_MARK)
    return cells, comments


def read_translations(path: Path) -> dict[str, Translation]:
    """{cell id: Translation} of one translation file (empty when there is none yet)."""
    text = _sections(path)[0]
    marks = list(MARKER.finditer(text))
    found = {}
    ends = [m.start() for m in marks[1:]] + [len(text)] if marks else []
    for mark, end in zip(marks, ends, strict=True):
        body = text[mark.end() : end].strip("\n")
        found[mark["id"]] = Translation(mark["id"], mark["en"], body)
    return found


def read_comments(path: Path) -> dict[str, str]:
    """{English comment: Chinese comment} of one translation file's code comments."""
    return {m["en"]: m["zh"] for m in PAIR.finditer(_sections(path)[1])}


def comments(source: str) -> list[tuple[int, int, str]]:
    """(line index, column, text) of each comment a reader reads in a code cell's source: Python's
    own comment tokens (so a "#" inside a string is no comment), IPython's `%` and `!` lines aside;
    tool pragmas (noqa, type:, fmt:) left out."""
    magic = re.compile(r"^(\s*)[%!].*$", re.M)  # IPython's magics and shell lines: no Python to read
    lines = magic.sub(lambda m: m[1] + "pass", source)
    tokens = tokenize.generate_tokens(io.StringIO(lines).readline)
    found = []
    for token in tokens:
        text = token.string.rstrip()
        if token.type == tokenize.COMMENT and not PRAGMA.match(text):
            found.append((token.start[0] - 1, token.start[1], text))
    return found


def translate_comments(source: str, table: dict[str, str]) -> tuple[str, list[str]]:
    """`source` with each comment replaced by its translation in `table`; and the comments that
    have none (they stay English)."""
    lines = source.splitlines(keepends=True)
    missing = []
    for row, column, text in comments(source):
        if text not in table:
            missing.append(text)
            continue
        line = lines[row]
        end = "\n" if line.endswith("\n") else ""
        lines[row] = line[:column] + table[text] + end
    return "".join(lines), missing


def strip_comments(source: str) -> str:
    """The code of a cell without its comments (and the whitespace they leave): what the two
    editions must share."""
    lines = source.splitlines()
    for row, column, _text in reversed(comments(source)):
        lines[row] = lines[row][:column]
    return "\n".join(line.rstrip() for line in lines if line.strip())


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


def build(notebook: Path, translations: dict[str, Translation], slug: str, comments_zh=None, executed=None):
    """(the Chinese notebook, problems): problems name missing and stale translations.

    `comments_zh`: {English comment: Chinese comment} (None: comments left as they are, unchecked).
    `executed`: the Chinese notebook as saved; a code cell whose built source is the saved one keeps
    the saved outputs, every other code cell has none (None: no outputs at all)."""
    nb = nbformat.read(notebook, as_version=4)
    saved = {cell.get("id"): cell for cell in executed.cells} if executed is not None else {}
    problems, used = [], set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            english, setup = cell.source, cell.source.startswith(SETUP_MARK)
            if comments_zh is not None:
                try:
                    cell.source, missing = translate_comments(english, comments_zh)
                except (tokenize.TokenError, SyntaxError) as error:
                    missing = []
                    problems.append(f"{notebook.name}: code cell {cell.get('id')} (#{index}): {error}")
                else:
                    used.update(text for _, _, text in comments(english))
                where = f"{notebook.name}: code cell {cell.get('id')} (#{index})"
                problems += [f"{where}: comment {text!r} has no translation" for text in missing]
            if setup and LANGUAGE_LINE not in cell.source:
                cell.source += LANGUAGE_LINE
            old = saved.get(cell.get("id"))
            if old is not None and old.cell_type == "code" and old.source == cell.source:
                cell.outputs, cell.execution_count = old.outputs, old.get("execution_count")
            else:
                cell.outputs, cell.execution_count = [], None
            continue
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
    if comments_zh is not None:
        problems += [
            f"{notebook.name}: the translation of comment {text!r} is not used: no code cell has it any more"
            for text in comments_zh
            if text not in used
        ]
    nb.metadata.pop("widgets", None)
    nb.metadata["zh_edition"] = {
        "built_from": f"../{notebook.name}",
        "by": "python tools/zh.py, then executed (make notebooks)",
    }
    return nb, problems


def unexecuted(english, chinese) -> list[str]:
    """The ids of code cells with outputs in English and none in Chinese: the Chinese notebook
    has not been executed since they changed."""
    code = [cell for cell in english.cells if cell.cell_type == "code"]
    outputs = {cell.get("id"): bool(cell.get("outputs")) for cell in code}
    return [
        cell.get("id")
        for cell in chinese.cells
        if cell.cell_type == "code" and outputs.get(cell.get("id")) and not cell.get("outputs")
    ]


def _saved(notebook: Path):
    target = ZH / notebook.name
    return nbformat.read(target, as_version=4) if target.exists() else None


def _built(slug: str):
    """(English notebook, its Chinese notebook, problems) for every notebook of the collection."""
    for notebook in notebooks(EN):
        path = translation_file(notebook)
        nb, problems = build(notebook, read_translations(path), slug, read_comments(path), _saved(notebook))
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
        else:
            cells = unexecuted(nbformat.read(notebook, as_version=4), nb)
            if cells:
                problems.append(
                    f"zh/{notebook.name}: code cells {', '.join(cells)} have no outputs since their code "
                    "changed: execute it (`make notebooks`, or nbconvert --execute on it alone)"
                )
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
    path = translation_file(notebook)
    translations, known = read_translations(path), read_comments(path)
    nb = nbformat.read(notebook, as_version=4)
    blocks, new = [], []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            t = translations.get(cell.id)
            if t is None or t.en_hash != en_hash(cell.source):
                blocks.append(f"<!-- cell {cell.id} | en {en_hash(cell.source)} -->\n{cell.source}\n")
        elif cell.cell_type == "code":
            new += [text for _, _, text in comments(cell.source) if text not in known and text not in new]
    if new:
        blocks.append(f"(under {COMMENTS_MARK}, at the end)\n\n" + "\n".join(f"en: {t}\nzh: \n" for t in new))
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
