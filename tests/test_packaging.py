"""environment.yml and pyproject.toml list the same packages; the Makefile and CI agree with README."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "-e ." in pip
    listed = {p for p in pip if not p.startswith("-e")}
    project = _pyproject()["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    assert listed == wanted


def test_d2l_is_not_a_dependency():
    # d2l pins numpy==1.23.5: it is installed with --no-deps by the Makefile instead
    project = _pyproject()["project"]
    everything = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    assert not any(re.match(r"d2l\b", d) for d in everything)
    assert "--no-deps d2l==1.0.3" in (ROOT / "Makefile").read_text()


def test_readme_commands_are_make_targets():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"^make (\w[\w-]*)", readme, flags=re.M):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_notebook_is_listed_in_readme():
    readme = (ROOT / "README.md").read_text()
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert nb.name in readme, nb.name


def test_command_lines_print_no_runpy_warning():
    """`python -m resnet_helpers.<module>` must not greet students with runpy's RuntimeWarning
    about the module being in sys.modules already (the package re-exports it)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-W", "default", "-m", "resnet_helpers.train", "--help"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--recipe" in done.stdout
    assert "RuntimeWarning" not in done.stderr, done.stderr
