"""The notebooks' headers: each one's badge line (open on Colab, Kaggle, SageMaker Studio Lab) and
setup cell, generated from one place, the repository URL in pyproject.toml (`[project.urls]
Repository`), and the platforms' markers in resnet_helpers/platforms.py.

    python tools/notebook_headers.py           # check: list every notebook that disagrees (exit 1)
    python tools/notebook_headers.py --write   # rewrite the badge lines and setup cells to agree

A notebook's first cell (markdown) holds the badge line; its first code cell is the setup cell.
This is a maintainer's tool: it works in a source checkout, not on an installed copy.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

import nbformat

from resnet_helpers.platforms import ENV_MARKERS, PATH_MARKERS

ROOT = Path(__file__).resolve().parents[1]
BADGE_PREFIX = "[![Open In Colab]"

# What the notebooks need that a hosted notebook may lack (pyproject's dependencies less jupyterlab,
# which the platform's own Jupyter replaces); installed only when missing, so the platform's torch
# and numpy stay. The package itself and d2l go in with --no-deps (d2l pins an old numpy).
HOSTED_NEEDS = (
    "torch",
    "torchvision",
    "numpy",
    "matplotlib",
    "pandas",
    "requests",
    "scipy",
    "ipywidgets",
    "torchinfo",
    "tqdm",
    "pyarrow",
)

SETUP_MARK = "# Setup:"  # how every notebook's setup cell begins
SETUP_TEMPLATE = """# Setup: on a hosted notebook (Colab, Kaggle, SageMaker Studio Lab, ModelScope) install the helpers,
# what the platform lacks, and d2l without its old pins; everywhere, report.
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

markers = {env_markers}
folders = {path_markers}
hosted = "google.colab" in sys.modules or any(os.environ.get(v) for v in markers)
hosted = hosted or any(Path(folder).is_dir() for folder in folders)
if hosted and importlib.util.find_spec("resnet_helpers") is None:
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    needs = {needs}
    missing = [name for name in needs if importlib.util.find_spec(name) is None]
    if missing:
        subprocess.run([*pip, *missing], check=True)
    # the helpers from this checkout when the notebook is in one (cloned, or a ZIP unpacked), else
    # from GitHub; d2l 1.0.3 is the English book's (the Chinese book's 0.17.6 works too, tested)
    here = [str(p) for p in Path.cwd().parents[:2] if (p / "pyproject.toml").is_file()]
    package = here[0] if here else "resnet-helpers @ git+https://github.com/{slug}"
    subprocess.run([*pip, "--no-deps", "d2l==1.0.3", package], check=True)

from resnet_helpers import environment_report, get_profile
from resnet_helpers.platforms import setup_platform

setup_platform()  # on a hosted notebook: where data and checkpoints go
P = get_profile()
print(environment_report(P))"""


def repo_slug(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """'owner/name' from `[project.urls] Repository = "https://github.com/owner/name"` (the one
    line read with a regular expression: `tomllib` is Python 3.11's, the floor is 3.10)."""
    line = re.search(r'^Repository\s*=\s*"([^"]*)"', pyproject.read_text(), flags=re.M)
    if not line:
        raise ValueError(f'{pyproject}: no `Repository = "https://github.com/OWNER/NAME"` line')
    url = line.group(1)
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", url)
    if not match:
        raise ValueError(f"pyproject.toml: Repository must be https://github.com/OWNER/NAME, got {url!r}")
    return match.group(1)


def launch_links(slug: str, notebook: str) -> dict[str, str]:
    """{platform: URL that opens `notebooks/<notebook>` of the repository there}: Colab, Kaggle
    (kernels/welcome?src=<GitHub URL>) and SageMaker Studio Lab (import/github/...). ModelScope
    opens no notebook from a URL: the README gives its steps."""
    path = f"{slug}/blob/main/notebooks/{notebook}"
    return {
        "Colab": f"https://colab.research.google.com/github/{path}",
        "Kaggle": f"https://kaggle.com/kernels/welcome?src=https://github.com/{path}",
        "Studio Lab": f"https://studiolab.sagemaker.aws/import/github/{path}",
    }


def badge(slug: str, notebook: str) -> str:
    """The badge line: Colab's badge first (BADGE_PREFIX), then Kaggle's and Studio Lab's."""
    links = launch_links(slug, notebook)
    return " ".join(
        [
            f"{BADGE_PREFIX}(https://colab.research.google.com/assets/colab-badge.svg)]({links['Colab']})",
            f"[![Open In Kaggle](https://kaggle.com/static/images/open-in-kaggle.svg)]({links['Kaggle']})",
            "[![Open In SageMaker Studio Lab](https://studiolab.sagemaker.aws/studiolab.svg)]"
            f"({links['Studio Lab']})",
        ]
    )


def _tuple(names) -> str:
    """A tuple literal in double quotes (the notebooks' style)."""
    return "(" + ", ".join(f'"{name}"' for name in names) + ")"


def setup_cell(slug: str) -> str:
    env = [variable for name in ENV_MARKERS for variable in ENV_MARKERS[name]]
    paths = [path.as_posix() for path in PATH_MARKERS.values()]
    needs = textwrap.fill(_tuple(HOSTED_NEEDS), width=96, initial_indent=" " * 12, subsequent_indent=" " * 13)
    return SETUP_TEMPLATE.format(
        slug=slug, env_markers=_tuple(env), path_markers=_tuple(paths), needs=needs.strip()
    )


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
        description="Check that every notebook's badge line (Colab, Kaggle, Studio Lab) and setup cell "
        "agree with pyproject.toml and resnet_helpers/platforms.py.",
    )
    parser.add_argument(
        "--write", action="store_true", help="rewrite the badge lines and setup cells to agree"
    )
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
