"""The committed notebooks as a reader sees them without a kernel (GitHub, nbviewer, Colab's preview).

Reads every notebook under notebooks/ (and notebooks/zh/ when it exists), one test per notebook and
check, so a failure names both. No kernel is started: these are checks of the saved pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")) + sorted(
    (ROOT / "notebooks" / "zh").glob("[0-9]*.ipynb")
)
IDS = [str(p.relative_to(ROOT / "notebooks")) for p in NOTEBOOKS]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# a path of the machine that executed the notebook: POSIX home and work folders, Windows users
LOCAL_PATH = re.compile(r"(?<![\w.:/])(/work/|/home/|/root/|/tmp/|/Users/|/content/|[A-Za-z]:\\\\?Users\\)")
MACHINERY = re.compile(r"#\s*(NBVAL_\w+|fmt:\s*\w+)|\bNBVAL_[A-Z_]+")
HEADING = re.compile(r"^(#{1,6})\s*(?:\d+\.\s*)?(.+?)\s*$", re.MULTILINE)

notebook = pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
# The words each edition uses for the page's landmarks (the Chinese ones are d2l-zh's: 小结, 练习).
WORDS = {
    "en": dict(learn="In this notebook you will learn", summary="summary", exercises="exercises",
               solutions="solutions"),
    "zh": dict(learn="在本笔记本中，你将学到", summary="小结", exercises="练习", solutions="参考答案"),
}  # fmt: skip


def _words(path: Path) -> dict:
    return WORDS["zh" if path.parent.name == "zh" else "en"]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _output_texts(output) -> list[str]:
    if output.get("output_type") == "stream":
        return [output.get("text", "")]
    texts = []
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/") or mime.endswith("json"):
            texts.append(value if isinstance(value, str) else str(value))
    if output.get("output_type") == "error":
        texts.append("\n".join(output.get("traceback", [])))
    return texts


def _headings(nb) -> list[tuple[int, str, str]]:
    """(cell index, level '#'s, title) of every markdown heading, in order."""
    return [
        (i, m.group(1), m.group(2))
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown"
        for m in HEADING.finditer(cell.source)
    ]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@notebook
def test_no_machine_paths_in_outputs(path):
    found = [
        f"cell {i}: ...{text[max(0, m.start() - 40) : m.end() + 40]!r}..."
        for i, cell in enumerate(_read(path).cells)
        for output in cell.get("outputs", [])
        for text in _output_texts(output)
        for m in LOCAL_PATH.finditer(text)
    ]
    assert not found, "outputs show paths of the machine that ran them:\n" + "\n".join(found[:10])


@notebook
def test_no_stderr_or_errors_in_outputs(path):
    found = [
        f"cell {i}: {output.get('output_type')} {''.join(_output_texts(output))[:200]!r}"
        for i, cell in enumerate(_read(path).cells)
        for output in cell.get("outputs", [])
        if output.get("name") == "stderr" or output.get("output_type") == "error"
    ]
    assert not found, "saved outputs with warnings or errors (stderr):\n" + "\n".join(found[:10])


@notebook
def test_no_test_machinery_in_the_code(path):
    found = [
        f"cell {i}: {line.strip()!r}"
        for i, cell in enumerate(_read(path).cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if MACHINERY.search(line)
    ]
    assert not found, (
        "test markers in the student's code (move them to cell tags: tools/tidy_notebooks.py):\n"
        + "\n".join(found[:10])
    )


def _widget_outputs(path: Path):
    """(cell index, output data) of every saved output that holds a widget view."""
    for i, cell in enumerate(_read(path).cells):
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                yield i, output["data"]


@notebook
def test_every_widget_has_a_static_view(path):
    found = [
        f"cell {i}: {data.get('text/plain', '')[:80]!r}"
        for i, data in _widget_outputs(path)
        if not ({"image/png", "text/html"} & set(data))
    ]
    assert not found, (
        "widget outputs with nothing to show without a kernel (use with_snapshot / progress_bar):\n"
        + "\n".join(found[:10])
    )


@notebook
def test_progress_bars_show_where_they_ended(path):
    """A saved bar that reads 0% (`desc: 0%| | 0/400`) looks as if nothing ran."""
    found = [
        f"cell {i}: {str(data.get('text/plain', ''))[:80]!r}"
        for i, data in _widget_outputs(path)
        if re.search(r"\b0%\|.*\| 0/\d+", str(data.get("text/plain", "")))
    ]
    assert not found, "progress bars saved in their initial state:\n" + "\n".join(found[:10])


@notebook
def test_first_cell_says_what_you_will_learn(path):
    nb = _read(path)
    first, learn = nb.cells[0], _words(path)["learn"]
    assert first.cell_type == "markdown" and learn in first.source, (
        f'the first cell should be the title and "{learn}"'
    )


@notebook
def test_ends_with_summary_exercises_and_collapsed_solutions(path):
    nb, words = _read(path), _words(path)
    headings = _headings(nb)
    titles = [title.lower() for _, _, title in headings]
    for key in ("summary", "exercises", "solutions"):
        needed = words[key]
        assert any(t.startswith(needed) for t in titles), f'no "{needed}" heading; headings: {titles}'
    at = {
        name: max(i for i, (_, _, t) in enumerate(headings) if t.lower().startswith(words[name]))
        for name in ("summary", "exercises", "solutions")
    }
    assert at["summary"] < at["exercises"] < at["solutions"], "expected Summary, Exercises, then Solutions"
    solutions_cell, level, _ = headings[at["solutions"]]
    later = [t for _, lv, t in headings[at["solutions"] + 1 :] if len(lv) <= len(level)]
    assert not later, f'"Solutions" must be the last section; after it: {later}'
    code = [(i, c) for i, c in enumerate(nb.cells) if i > solutions_cell and c.cell_type == "code"]
    assert code, "the Solutions section has no code cells"
    for key in ("source_hidden", "outputs_hidden"):
        shown = [i for i, c in code if not c.metadata.get("jupyter", {}).get(key)]
        assert not shown, f"solution code cells not collapsed (metadata.jupyter.{key}): {shown}"


def _open_prose(text: str) -> str:
    """What a reader sees of a markdown text without unfolding anything: all but headings and
    <details> blocks (whose <summary> shows, the rest not)."""
    folded = re.sub(r"<details>.*?</details>", "", text, flags=re.DOTALL)
    return "\n".join(line for line in folded.splitlines() if line.strip() and not HEADING.match(line))


@notebook
def test_solution_prose_is_folded(path):
    """The answers in words are folded too (tools/tidy_notebooks.py), not only the code."""
    nb, words = _read(path), _words(path)
    solutions = re.compile(
        r"^#{1,6}\s*(?:\d+\.\s*)?" + re.escape(words["solutions"]) + r".*$",  # the whole heading line
        re.MULTILINE | re.IGNORECASE,
    )
    open_prose, started = [], False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        text = cell.source
        if not started:
            m = solutions.search(text)
            if not m:
                continue
            started, text = True, text[m.end() :]
        if _open_prose(text):
            open_prose.append(f"cell {i}: {_open_prose(text)[:80]!r}")
    assert started, "no Solutions heading"
    assert not open_prose, "solution prose shown open (fold it: tools/tidy_notebooks.py):\n" + "\n".join(
        open_prose
    )


def test_tidy_script_moves_markers_to_tags_and_collapses_solutions(tmp_path):
    import subprocess
    import sys

    nb = nbformat.v4.new_notebook(metadata={"widgets": {"state": {}}})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\nIn this notebook you will learn"),
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)"),
        nbformat.v4.new_code_cell("x = dict(a=1,\n         b=2)  # fmt: skip\n# NBVAL_IGNORE_OUTPUT"),
        nbformat.v4.new_markdown_cell("## Exercises\n\n**1.** Do it.\n\n## Solutions\n\n**1.** Like this:"),
        nbformat.v4.new_code_cell("print(2)"),
        nbformat.v4.new_markdown_cell("It works because...\n\n### Solution 2: more\n\nThe second answer."),
    ]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    script = ROOT / "tools" / "tidy_notebooks.py"
    subprocess.run([sys.executable, script, path], check=True, capture_output=True)
    once = path.read_text()
    tidied = nbformat.read(path, as_version=4)
    assert tidied.cells[1].source == "print(1)" and tidied.cells[1].metadata.tags == ["nbval-check-output"]
    assert tidied.cells[2].source == "x = dict(a=1,\n         b=2)"
    assert tidied.cells[2].metadata.tags == ["nbval-ignore-output"]
    assert not tidied.cells[1].metadata.get("jupyter", {}).get("source_hidden")
    assert tidied.cells[4].metadata.jupyter == {"source_hidden": True, "outputs_hidden": True}
    assert "widgets" not in tidied.metadata
    # the exercise stays open; each answer in words is folded, headings stay outside
    assert tidied.cells[3].source == (
        "## Exercises\n\n**1.** Do it.\n\n## Solutions\n\n"
        "<details><summary>Solution 1</summary>\n\n**1.** Like this:\n\n</details>"
    )
    assert tidied.cells[5].source == (
        "<details><summary>Solution 1, continued</summary>\n\nIt works because...\n\n</details>\n\n"
        "### Solution 2: more\n\n<details><summary>Solution 2</summary>\n\nThe second answer.\n\n</details>"
    )
    assert not any(_open_prose(c.source) for c in tidied.cells[5:])
    out = subprocess.run([sys.executable, script, path], check=True, capture_output=True, text=True).stdout
    assert path.read_text() == once and "0 change(s)" in out  # idempotent


def _reading_time():
    import importlib.util

    spec = importlib.util.spec_from_file_location("reading_time", ROOT / "tools" / "reading_time.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reading_time_counts_deep_dives_apart():
    """tools/reading_time.py: a heading marked "(deep dive)" holds until a heading of its level or higher."""
    rt = _reading_time()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\none two three"),
        nbformat.v4.new_markdown_cell("## 1. Core\n\nfour five"),
        nbformat.v4.new_markdown_cell("### More (deep dive)\n\nsix"),
        nbformat.v4.new_code_cell("x = 1\n\ny = 2"),
        nbformat.v4.new_markdown_cell("#### still deep"),
        nbformat.v4.new_markdown_cell("### Back on the path"),
        nbformat.v4.new_markdown_cell("## 2. Extra (deep dive)"),
        nbformat.v4.new_markdown_cell("## Summary"),
    ]
    assert rt.deep_dive_flags(nb, "01_x") == [False, False, True, True, True, False, True, False]
    assert rt.deep_dive_flags(nb, "05_going_deeper") == [True] * 8
    assert rt.words("## 1. Core, see [d2l](https://d2l.ai/x.html) <b>now</b>") == 5  # 1 Core see d2l now
    assert rt.code_lines("x = 1\n\n  y = 2\n") == 2


def test_reading_time_has_a_recorded_time_for_every_notebook():
    import json

    rt = _reading_time()
    recorded = json.loads(rt.TIMES.read_text(encoding="utf-8"))
    assert recorded["profile"] == "cpu"
    missing = [p.stem for p in rt.notebook_paths() if p.stem not in recorded["notebooks"]]
    assert not missing, f"no execution time recorded for {missing}: python tools/reading_time.py --record"


def test_pages_state_the_reading_times_of_the_table():
    """Every notebook's "Time:" line, 00's map and the README give the minutes the script computes."""
    rt = _reading_time()
    problems = rt.check(rt.notebook_paths())
    assert not problems, "python tools/reading_time.py --check:\n" + "\n".join(problems)


def test_reading_time_check_finds_a_wrong_time_line(tmp_path):
    rt = _reading_time()
    nb = nbformat.v4.new_notebook()
    text = "# 01 · X\n\n**Time:** about 7 minutes to read.\n\n" + "word " * 400
    nb.cells = [nbformat.v4.new_markdown_cell(text)]
    nbformat.write(nb, tmp_path / "01_x.ipynb")
    times = tmp_path / "times.json"
    times.write_text('{"profile": "cpu", "notebooks": {"01_x": {"seconds": 60, "core seconds": 60}}}')
    problems = rt.check(rt.notebook_paths(tmp_path), times, readme=tmp_path / "none.md")
    assert problems == ["01_x: its Time line says 7 minutes, the table 3"]  # 2 min reading + 1 running


def test_tidy_keeps_a_marked_solutions_heading_whole():
    """ "## Solutions (deep dive)": the marker is part of the heading, not prose to fold."""
    import tidy_notebooks

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "## Exercises\n\n**1.** Do it.\n\n## Solutions (deep dive)\n\n**1.** So."
        )
    ]
    tidy_notebooks.tidy(nb)
    assert nb.cells[0].source == (
        "## Exercises\n\n**1.** Do it.\n\n## Solutions (deep dive)\n\n"
        "<details><summary>Solution 1</summary>\n\n**1.** So.\n\n</details>"
    )
