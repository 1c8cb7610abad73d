"""The house: lessons -> training -> core, never upwards, no lesson importing another (pyproject's
import-linter contracts); a light `import resnet_helpers`."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    """pyproject's [tool.importlinter] contracts, checked by import-linter."""
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is missing: pip install -e '.[test]'"
    done = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _modules_imported_by(statement: str, prefixes: tuple) -> list[str]:
    """Modules starting with `prefixes` that `statement` imports beyond what torch imports itself."""
    code = (
        "import sys, torch\n"
        "before = set(sys.modules)\n"
        f"{statement}\n"
        f"print(sorted(m for m in set(sys.modules) - before if m.startswith({prefixes!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return ast.literal_eval(out)


def test_importing_the_core_pulls_in_no_training_lessons_or_plotting():
    heavy = ("resnet_helpers.training", "resnet_helpers.lessons", "matplotlib", "tqdm", "ipywidgets")
    heavy += ("pandas",)
    assert _modules_imported_by("import resnet_helpers", heavy) == []


def test_the_training_command_line_pulls_in_no_plotting():
    heavy = ("matplotlib", "ipywidgets", "resnet_helpers.lessons")
    assert _modules_imported_by("import resnet_helpers.training.cli", heavy) == []


# any lesson may import these
SHARED_LESSON_MODULES = {"__init__", "widgets", "paper", "diagrams", "exercises"}


def test_every_lesson_module_is_in_the_independence_contract():
    """A new lesson module is held to 'lesson modules do not import each other' only once pyproject
    lists it: every module of lessons/ is listed there or is one of the shared ones."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    lessons = {p.stem for p in (ROOT / "resnet_helpers" / "lessons").glob("*.py")}
    unlisted = {
        name
        for name in lessons - SHARED_LESSON_MODULES
        if f'"resnet_helpers.lessons.{name}"' not in pyproject
    }
    assert not unlisted, f"list {sorted(unlisted)} under the independence contract in pyproject.toml"
