"""Move test machinery out of the student's code, mechanically and idempotently.

    python tools/tidy_notebooks.py notebooks/01_function_classes.ipynb ...   (`make notebooks` runs it)

For every code cell of each notebook given:
- a comment line `# NBVAL_CHECK_OUTPUT` (or NBVAL_IGNORE_OUTPUT, NBVAL_SKIP, NBVAL_RAISES_EXCEPTION)
  is removed and becomes the cell tag nbval reads instead (`nbval-check-output`, ...);
- a trailing `# fmt: skip` is removed (the line keeps its layout: ruff ignores E501 in notebooks);
- after the markdown heading "Solutions", the cell's source and its outputs are collapsed
  (`metadata.jupyter.source_hidden` and `outputs_hidden` = true), so a student sees the exercise
  before its answer.
For every markdown cell after the heading "Solutions" (and the part of the heading's own cell after
it), each paragraph run of prose is folded into `<details><summary>Solution N</summary> ...
</details>`: a run starts at a "**N.**" paragraph or a heading "Solution N...", and ends at the next
one, a heading or the end of the cell; headings stay outside, so the section's outline stays visible.
And for the notebook: the widget state nbclient saves (`metadata.widgets`) is dropped, unless
`--keep-widget-state`. Every panel and progress bar carries static snapshots beside its widget view
(`with_snapshot`, `progress_bar`); with the state saved, nbconvert and nbviewer render the widget
instead, from a script they fetch from unpkg.com, and show nothing where that cannot load.
Outputs and everything else are left as they are. Running it twice changes nothing the second time.
Prints one line per notebook: what it changed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

MARKER = re.compile(r"^\s*#\s*NBVAL_(CHECK_OUTPUT|IGNORE_OUTPUT|SKIP|RAISES_EXCEPTION)\s*$")
FMT_SKIP = re.compile(r"\s*#\s*fmt:\s*(skip|off|on)\s*$")
SOLUTIONS = re.compile(r"^#{1,6}\s*(\d+\.\s*)?Solutions\b.*$", re.MULTILINE)  # the whole heading line
HEADING = re.compile(r"^#{1,6}\s")
NUMBER = re.compile(r"^(?:#{1,6}\s*Solution\s+|\*\*)(\d+)\b")  # "### Solution 2: ..." or "**2.** ..."
DETAILS_OPEN, DETAILS_CLOSE = "<details>", "</details>"
SUMMARY = re.compile(r"<summary>Solution (\d+)")


def _lines(source) -> list[str]:
    text = "".join(source) if isinstance(source, list) else source
    return text.splitlines(keepends=True)


def fold_prose(text: str, number: str | None = None) -> tuple[str, str | None]:
    """`text` (markdown inside the Solutions section) with its prose folded into <details> blocks.

    `number` is the solution an earlier cell left off in; returns the new text and the solution
    it ends in. Headings stay outside the blocks; blocks already folded are kept as they are.
    """
    out, run = [], []
    fresh = False  # True right after a "Solution N" heading: the next run starts that solution

    def flush():
        nonlocal fresh
        body = "".join(run).strip("\n")
        if run and not body.strip():
            out.append("\n")  # the blank lines between two blocks
        run.clear()
        if not body.strip():
            return
        if number is None:
            label = "Answer"
        elif fresh or NUMBER.match(body):
            label = f"Solution {number}"
        else:
            label = f"Solution {number}, continued"
        out.append(f"{DETAILS_OPEN}<summary>{label}</summary>\n\n{body}\n\n{DETAILS_CLOSE}\n\n")
        fresh = False

    inside = False  # within a block folded earlier
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if inside or stripped.startswith(DETAILS_OPEN):
            if not inside:
                flush()
                folded = SUMMARY.search(stripped)
                number = folded.group(1) if folded else number
            out.append(line)
            inside = stripped != DETAILS_CLOSE if inside else not stripped.endswith(DETAILS_CLOSE)
            fresh = False
            continue
        m = NUMBER.match(stripped)
        if HEADING.match(stripped):
            flush()
            out.append(line.rstrip("\n") + "\n\n")
            if m:
                number, fresh = m.group(1), True
            continue
        if m:
            flush()
            number = m.group(1)
        run.append(line)
    flush()
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).strip("\n"), number


def tidy(nb: dict, keep_widget_state: bool = False) -> list[str]:
    """Tidy the notebook (an nbformat v4 dict) in place; a list of what changed."""
    changes = []
    if not keep_widget_state and "widgets" in nb.get("metadata", {}):
        del nb["metadata"]["widgets"]
        changes.append("dropped the saved widget state")
    in_solutions, number = False, None
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            heading = SOLUTIONS.search(text)
            if heading and not in_solutions:
                in_solutions = True
                head, text = text[: heading.end()], text[heading.end() :]
                folded, number = fold_prose(text)
                new = head + ("\n\n" + folded if folded else "")
            elif in_solutions:
                new, number = fold_prose(text, number)
            else:
                continue
            if new != "".join(cell["source"]):
                cell["source"] = new
                changes.append(f"cell {i}: solution prose folded into <details>")
            continue
        if cell["cell_type"] != "code":
            continue
        lines, kept, tags = _lines(cell["source"]), [], []
        for line in lines:
            m = MARKER.match(line)
            if m:
                tags.append("nbval-" + m.group(1).lower().replace("_", "-"))
                continue
            stripped = FMT_SKIP.sub("", line.rstrip("\n"))
            if stripped != line.rstrip("\n"):
                changes.append(f"cell {i}: dropped a fmt comment")
                line = stripped + ("\n" if line.endswith("\n") else "")
            kept.append(line)
        text = "".join(kept).lstrip("\n").rstrip()  # no blank line left where a marker was
        if text != "".join(lines):
            cell["source"] = text
            changes.append(f"cell {i}: source tidied")
        meta = cell.setdefault("metadata", {})
        for tag in tags:
            if tag not in meta.setdefault("tags", []):
                meta["tags"].append(tag)
                changes.append(f"cell {i}: tag {tag}")
        if in_solutions:
            jupyter = meta.setdefault("jupyter", {})
            for key in ("source_hidden", "outputs_hidden"):
                if not jupyter.get(key):
                    jupyter[key] = True
                    changes.append(f"cell {i}: {key} (solution)")
    return changes


def main(argv=None) -> int:
    description = __doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python tools/tidy_notebooks.py", description=description)
    parser.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK")
    parser.add_argument("--keep-widget-state", action="store_true", help="keep metadata.widgets")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        changes = tidy(nb, keep_widget_state=args.keep_widget_state)
        if changes:
            nbformat.write(nb, path)
        print(f"{path}: {len(changes)} change(s)" + "".join(f"\n  {c}" for c in changes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
