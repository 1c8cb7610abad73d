"""Move test machinery out of the student's code, mechanically and idempotently.

    python tools/tidy_notebooks.py notebooks/01_function_classes.ipynb ...   (`make notebooks` runs it)

For every code cell of each notebook given:
- a comment line `# NBVAL_CHECK_OUTPUT` (or NBVAL_IGNORE_OUTPUT, NBVAL_SKIP, NBVAL_RAISES_EXCEPTION)
  is removed and becomes the cell tag nbval reads instead (`nbval-check-output`, ...);
- a trailing `# fmt: skip` is removed (the line keeps its layout: ruff ignores E501 in notebooks);
- after the markdown heading "Solutions", the cell's source is collapsed
  (`metadata.jupyter.source_hidden = true`), so a student sees the exercise before its answer.
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
SOLUTIONS = re.compile(r"^#{1,6}\s*(\d+\.\s*)?Solutions\b", re.MULTILINE)


def _lines(source) -> list[str]:
    text = "".join(source) if isinstance(source, list) else source
    return text.splitlines(keepends=True)


def tidy(nb: dict, keep_widget_state: bool = False) -> list[str]:
    """Tidy the notebook (an nbformat v4 dict) in place; a list of what changed."""
    changes = []
    if not keep_widget_state and "widgets" in nb.get("metadata", {}):
        del nb["metadata"]["widgets"]
        changes.append("dropped the saved widget state")
    in_solutions = False
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown" and SOLUTIONS.search("".join(cell["source"])):
            in_solutions = True
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
        if in_solutions and not meta.get("jupyter", {}).get("source_hidden"):
            meta.setdefault("jupyter", {})["source_hidden"] = True
            changes.append(f"cell {i}: collapsed (solution)")
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
