"""How long each notebook takes a student: reading time plus the `cpu` execution time, core path apart.

    python tools/reading_time.py            # the table, from the notebooks and docs/execution_times.json
    python tools/reading_time.py --record   # measure the execution times from the notebooks' saved
                                            # cell timings and write docs/execution_times.json
    python tools/reading_time.py --check    # do the notebooks' "Time:" lines, 00's map and the
                                            # README state the minutes of the table? (a test runs it)

Estimated the same way for every notebook:
- reading: the words of the markdown cells at PROSE_WPM words a minute, and the non-blank lines of
  the code cells at CODE_LPM lines a minute (outputs are not counted; the setup cell is read once,
  in 00, which explains it);
- running: the seconds the notebook's cells took when it was last executed under `cpu`, as recorded
  in docs/execution_times.json (`--record` takes them from the timings nbclient saves in each cell's
  metadata, `execution`: from `iopub.execute_input` to `iopub.status.idle`).
Core path and deep dives: a notebook in DEEP_DIVE_NOTEBOOKS is a deep dive as a whole; elsewhere a
markdown heading whose title contains "(deep dive)" starts one, up to the next heading of the same or
a higher level. Everything else is the core path: the cells that carry d2l 7.6 and its exercises.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime
from pathlib import Path

import nbformat

from notebook_headers import SETUP_MARK  # the setup cell, read once: in 00, which explains it

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TIMES = ROOT / "docs" / "execution_times.json"
PROSE_WPM = 200  # words of prose a minute
CODE_LPM = 10  # lines of code a minute (read, not typed)
DEEP_DIVE_NOTEBOOKS = {"05_going_deeper", "06_why_it_works", "07_several_gpus"}
MARKER = "(deep dive)"
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$", re.MULTILINE)
WORD = re.compile(r"[^\W\d_](?:[\w'’-]*\w)?|\d+(?:[.,]\d+)*|[\u4e00-\u9fff]", re.UNICODE)
URL = re.compile(r"\(?https?://\S+|<[^>]+>")


def words(markdown: str) -> int:
    """Words a reader reads in a markdown text: links' addresses and HTML tags left out."""
    return len(WORD.findall(URL.sub(" ", markdown)))


def code_lines(code: str) -> int:
    return sum(1 for line in code.splitlines() if line.strip())


def deep_dive_flags(nb, name: str) -> list[bool]:
    """For every cell: is it in a deep dive? A heading's marker holds until a heading of its level or higher;
    a cell with a heading takes the state after its first heading (a marked heading marks its own cell)."""
    if name in DEEP_DIVE_NOTEBOOKS:
        return [True] * len(nb.cells)
    flags, open_level = [], None  # open_level: the level of the heading that opened the deep dive
    for cell in nb.cells:
        first = None
        if cell.cell_type == "markdown":
            for m in HEADING.finditer(cell.source):
                level = len(m.group(1))
                if open_level is not None and level <= open_level:
                    open_level = None
                if open_level is None and MARKER in m.group(2).lower():
                    open_level = level
                first = open_level is not None if first is None else first
        flags.append(open_level is not None if first is None else first or open_level is not None)
    return flags


def cell_seconds(cell) -> float:
    """The seconds a code cell ran when the notebook was last executed (0 when not recorded)."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("iopub.status.idle")
    if not (start and end):
        return 0.0
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return max(0.0, (parse(end) - parse(start)).total_seconds())


def notebook_paths(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def measure(path: Path) -> dict:
    """Reading minutes and recorded run seconds of one notebook, all and on the core path."""
    nb = nbformat.read(path, as_version=4)
    flags = deep_dive_flags(nb, path.stem)
    out = {
        "words": 0,
        "code lines": 0,
        "core words": 0,
        "core code lines": 0,
        "seconds": 0.0,
        "core seconds": 0.0,
    }
    for cell, deep in zip(nb.cells, flags, strict=True):
        if cell.cell_type == "markdown":
            key, n = "words", words(cell.source)
        elif cell.cell_type == "code":
            setup = cell.source.startswith(SETUP_MARK) and not path.stem.startswith("00")
            key, n = "code lines", 0 if setup else code_lines(cell.source)
            seconds = cell_seconds(cell)
            out["seconds"] += seconds
            out["core seconds"] += 0.0 if deep else seconds
        else:
            continue
        out[key] += n
        if not deep:
            out["core " + key] += n
    return out


def reading_minutes(n_words: int, n_lines: int) -> float:
    return n_words / PROSE_WPM + n_lines / CODE_LPM


def record(paths: list[Path], profile: str = "cpu", times_path: Path = TIMES) -> dict:
    """Write the execution seconds of the saved notebooks (all cells, and the core path's) to `times_path`."""
    times = {
        "profile": profile,
        "how": "tools/reading_time.py --record: the cells' saved execution timings (nbclient), summed",
        "notebooks": {},
    }
    for path in paths:
        m = measure(path)
        times["notebooks"][path.stem] = {
            "seconds": round(m["seconds"], 1),
            "core seconds": round(m["core seconds"], 1),
        }
    times_path.write_text(json.dumps(times, indent=2) + "\n", encoding="utf-8")
    return times


def minutes(paths: list[Path], times_path: Path = TIMES) -> dict[str, list[float]]:
    """For every notebook (and "all"): reading, running, total and core-path minutes."""
    recorded = json.loads(times_path.read_text(encoding="utf-8"))["notebooks"] if times_path.exists() else {}
    rows, sums = {}, [0.0, 0.0, 0.0, 0.0]
    for path in paths:
        m = measure(path)
        run = recorded.get(path.stem, {})
        read = reading_minutes(m["words"], m["code lines"])
        core = reading_minutes(m["core words"], m["core code lines"]) + run.get("core seconds", 0) / 60
        rows[path.stem] = [read, run.get("seconds", 0) / 60, read + run.get("seconds", 0) / 60, core]
        sums = [a + b for a, b in zip(sums, rows[path.stem], strict=True)]
    rows["all"] = sums
    return rows


def table(paths: list[Path], times_path: Path = TIMES) -> str:
    """The reading-time table, as markdown: one row per notebook, then the totals."""
    lines = [
        "| notebook | reading (min) | running under `cpu` (min) | total (min) | core path (min) |",
        "|---|---:|---:|---:|---:|",
    ]
    for stem, row in minutes(paths, times_path).items():
        if stem == "all":
            lines.append("| **all** | " + " | ".join(f"**{v:.0f}**" for v in row) + " |")
        else:
            lines.append(f"| `{stem}` | " + " | ".join(f"{v:.0f}" for v in row) + " |")
    return "\n".join(lines)


TIME_LINE = re.compile(r"\*\*Time:\*\* about (\d+) minutes")
CORE_TAKES = re.compile(r"\*\*core path\*\* takes about (\d+)")
MAP_ROW = re.compile(r"^\| `(\d\d_\w+)` \|.*\| (\d+) \((\d+|-)\) \|$", re.MULTILINE)
MAP_TOTALS = re.compile(r"about (\d+) minutes in all.*?takes about (\d+) minutes", re.DOTALL)


def check(paths: list[Path], times_path: Path = TIMES, readme: Path = ROOT / "README.md") -> list[str]:
    """Where a page states other minutes than the table: each notebook's "**Time:**" line (total,
    and core path where the notebook has deep dives), 00's map (rows and totals) and the README's
    table. Returns one line per disagreement (none: all agree)."""
    rows = {stem: [round(v) for v in row] for stem, row in minutes(paths, times_path).items()}
    problems = []
    for path in paths:
        read, run, total, core = rows[path.stem]
        top = "\n".join(
            c.source for c in nbformat.read(path, as_version=4).cells[:3] if c.cell_type == "markdown"
        )
        stated = TIME_LINE.search(top)
        if not stated or int(stated.group(1)) != total:
            problems.append(
                f"{path.stem}: its Time line says {stated and stated.group(1)} minutes, the table {total}"
            )
        if path.stem not in DEEP_DIVE_NOTEBOOKS and core != total:
            stated = CORE_TAKES.search(top)
            if not stated or int(stated.group(1)) != core:
                problems.append(
                    f"{path.stem}: core path stated {stated and stated.group(1)}, the table {core}"
                )
    start = next((p for p in paths if p.stem.startswith("00")), None)
    if start is not None:
        text = "\n".join(
            c.source for c in nbformat.read(start, as_version=4).cells if c.cell_type == "markdown"
        )
        for stem, total, core in MAP_ROW.findall(text):
            want = (rows[stem][2], "-" if stem in DEEP_DIVE_NOTEBOOKS else rows[stem][3])
            if (int(total), core if core == "-" else int(core)) != want:
                problems.append(f"00's map: {stem} {total} ({core}), the table {want[0]} ({want[1]})")
        totals = MAP_TOTALS.search(text)
        if not totals or (int(totals.group(1)), int(totals.group(2))) != (rows["all"][3], rows["all"][2]):
            problems.append(
                f"00's map: totals {totals and totals.groups()}, the table {rows['all'][3]}, {rows['all'][2]}"
            )
    if readme.exists() and table(paths, times_path) not in readme.read_text(encoding="utf-8"):
        problems.append(f"{readme.name}: the reading-time table differs from `python tools/reading_time.py`")
    return problems


def main(argv=None) -> int:
    description = __doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python tools/reading_time.py", description=description)
    parser.add_argument(
        "--record", action="store_true", help=f"write {TIMES.relative_to(ROOT)} from the notebooks"
    )
    parser.add_argument(
        "--profile", default="cpu", help="the profile the notebooks were executed under (recorded)"
    )
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="the folder of the notebooks")
    parser.add_argument(
        "--times", type=Path, default=TIMES, help="the execution times (JSON) to read or write"
    )
    parser.add_argument("--check", action="store_true", help="check the minutes the pages state")
    args = parser.parse_args(argv)
    paths = notebook_paths(args.notebooks)
    if args.check:
        problems = check(paths, args.times)
        print("\n".join(problems) or "every page states the table's minutes")
        return 1 if problems else 0
    if args.record:
        record(paths, args.profile, args.times)
        print(f"wrote {args.times}")
    print(
        f"Reading: prose at {PROSE_WPM} words/min, code at {CODE_LPM} lines/min; running: the `cpu` "
        f"execution times in {args.times.name}; core path: all but the deep dives (notebooks "
        f"{', '.join(sorted(n[:2] for n in DEEP_DIVE_NOTEBOOKS))} and sections marked {MARKER!r})."
    )
    print(table(paths, args.times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
