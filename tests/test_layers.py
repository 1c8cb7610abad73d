"""The house: lessons -> training -> core, never upwards; a light `import resnet_helpers`."""

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


def test_importing_the_core_pulls_in_no_training_lessons_or_plotting():
    code = (
        "import sys, torch\n"
        "before = set(sys.modules)\n"  # torch itself imports tqdm, for one
        "import resnet_helpers\n"
        "bad = [m for m in set(sys.modules) - before if m.startswith(('resnet_helpers.training',"
        " 'resnet_helpers.lessons', 'matplotlib', 'tqdm', 'ipywidgets', 'pandas'))]\n"
        "print(sorted(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_the_training_command_line_pulls_in_no_plotting():
    code = (
        "import sys\n"
        "import resnet_helpers.training.cli\n"
        "print([m for m in sys.modules\n"
        "       if m.startswith(('matplotlib', 'ipywidgets', 'resnet_helpers.lessons'))])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_no_module_is_longer_than_a_screenful_or_four():
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "resnet_helpers").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 420
    }
    assert not long, long
