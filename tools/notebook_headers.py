"""The notebooks' headers: each one's Colab badge and setup cell, generated from one place, the
repository URL in pyproject.toml (`[project.urls] Repository`).

    python tools/notebook_headers.py           # check: list every notebook that disagrees (exit 1)
    python tools/notebook_headers.py --write   # rewrite the badges and setup cells to agree

A notebook's first cell (markdown) holds the badge line; its first code cell is the setup cell.
This is a maintainer's tool: it works in a source checkout, not on an installed copy.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BADGE_PREFIX = "[![Open In Colab]"

SETUP_TEMPLATE = """# Setup: on Colab, install the helpers and d2l (without d2l's old pins); everywhere, report.
import sys

if "google.colab" in sys.modules:
    import subprocess

    pip = [sys.executable, "-m", "pip", "install", "-q"]
    repo = "git+https://github.com/{slug}"
    subprocess.run([*pip, "torchinfo"], check=True)
    # d2l 1.0.3 is the English book's; the Chinese book's d2l==0.17.6 works here too (tested).
    subprocess.run([*pip, "--no-deps", "d2l==1.0.3", f"resnet-helpers @ {{repo}}"], check=True)

from resnet_helpers import environment_report, get_profile

P = get_profile()
print(environment_report(P))"""


def repo_slug(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """'owner/name' from `[project.urls] Repository = "https://github.com/owner/name"` (the one
    line read with a regular expression: `tomllib` is Python 3.11's, the floor is 3.10)."""
    line = re.search(r'^Repository\s*=\s*"([^"]*)"', pyproject.read_text(), flags=re.M)
    if not line:
        raise ValueError(f"{pyproject}: no `Repository = \"https://github.com/OWNER/NAME\"` line")
    url = line.group(1)
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", url)
    if not match:
        raise ValueError(f"pyproject.toml: Repository must be https://github.com/OWNER/NAME, got {url!r}")
    return match.group(1)


def badge(slug: str, notebook: str) -> str:
    url = f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{notebook}"
    return f"{BADGE_PREFIX}(https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def setup_cell(slug: str) -> str:
    return SETUP_TEMPLATE.format(slug=slug)


def _badge_and_setup(nb):
    first = nb.cells[0] if nb.cells and nb.cells[0].cell_type == "markdown" else None
    setup = next((c for c in nb.cells if c.cell_type == "code"), None)
    return first, setup


def check_notebook(path: Path, slug: str) -> list[str]:
    """Problems with a notebook's badge and setup cell (empty when it agrees)."""
    nb = nbformat.read(path, as_version=4)
    first, setup = _badge_and_setup(nb)
    problems = []
    badge_lines = [
        line for line in (first.source if first else "").splitlines() if line.startswith(BADGE_PREFIX)
    ]
    if badge_lines != [badge(slug, path.name)]:
        problems.append(f"{path.name}: first cell's badge should be {badge(slug, path.name)}")
    if setup is None or setup.source != setup_cell(slug):
        problems.append(f"{path.name}: first code cell is not the setup cell for {slug}")
    return problems


def write_notebook(path: Path, slug: str) -> bool:
    """Make the badge and setup cell agree with `slug`; True when the file changed."""
    nb = nbformat.read(path, as_version=4)
    first, setup = _badge_and_setup(nb)
    if first is None or setup is None:
        raise ValueError(f"{path.name}: needs a first markdown cell and a setup code cell")
    lines = first.source.splitlines()
    found = [i for i, line in enumerate(lines) if line.startswith(BADGE_PREFIX)]
    if found:  # replace the first badge line, drop any others
        lines[found[0]] = badge(slug, path.name)
        lines = [line for i, line in enumerate(lines) if i not in found[1:]]
    else:  # insert it under the title
        at = 1 if lines and lines[0].startswith("#") else 0
        lines[at:at] = ["", badge(slug, path.name), ""] if at else [badge(slug, path.name), ""]
    new_first = "\n".join(lines)
    changed = new_first != first.source or setup.source != setup_cell(slug)
    if changed:
        first.source = new_first
        setup.source = setup_cell(slug)
        nbformat.write(nb, path)
    return changed


def notebooks(folder: Path = ROOT / "notebooks") -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/notebook_headers.py",
        description="Check that every notebook's Colab badge and setup cell agree with pyproject.toml.",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the badges and setup cells to agree")
    args = parser.parse_args(argv)
    slug = repo_slug()
    if args.write:
        for path in notebooks():
            if write_notebook(path, slug):
                print(f"updated {path.name}")
        return 0
    problems = [p for path in notebooks() for p in check_notebook(path, slug)]
    print("\n".join(problems) or f"all {len(notebooks())} notebooks agree with {slug}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
