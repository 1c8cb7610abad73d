"""environment.yml and pyproject.toml list the same packages; the Makefile and CI agree with README."""

import functools
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
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


@functools.cache
def _help(module: str) -> subprocess.CompletedProcess:
    """`python -W default -m <module> --help`, run once per module for all the tests here."""
    cli = [sys.executable, "-W", "default", "-m", module, "--help"]
    return subprocess.run(cli, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "module, option",
    [("resnet_helpers.training", "--recipe"), ("resnet_helpers.training.bench", "--steps"),
     ("resnet_helpers.data", "--help")],
)  # fmt: skip
def test_command_lines_print_no_warning(module, option):
    """`python -m resnet_helpers.<module> --help` works and prints no warning (runpy warns when a
    package imports the module it is asked to run; this package's `__init__` imports no CLI)."""
    done = _help(module)
    assert done.returncode == 0, done.stderr
    assert option in done.stdout
    assert "Warning" not in done.stderr, done.stderr


def test_entry_points_name_real_functions():
    import importlib

    for name, target in _pyproject()["project"]["scripts"].items():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), name


def _shown_commands() -> dict[str, dict[str, Path]]:
    """Every `python -m resnet_helpers...` command a reader is shown (both READMEs, the notebooks
    in both languages, the translations, the package's docstrings): module -> {option: where}, the
    module itself under the key "" (where it is first shown)."""
    zh = ROOT / "notebooks" / "zh"
    places = [ROOT / "README.md", ROOT / "README.zh-CN.md"]
    places += sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(zh.glob("*.ipynb"))
    places += sorted((zh / "translations").glob("*.md")) + sorted((ROOT / "resnet_helpers").rglob("*.py"))
    commands: dict[str, dict[str, Path]] = {}
    for path in places:
        where = path.relative_to(ROOT)
        for module, rest in re.findall(r"python -m (resnet_helpers[\w.]*\w)([^`|\n\"]*)", path.read_text()):
            shown = commands.setdefault(module, {"": where})
            for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest):
                shown.setdefault(option, where)
    return commands


def test_commands_shown_to_readers_exist():
    """A command copied from a page runs: its module exists and takes every option written after it
    (notebook 04 once showed `python -m resnet_helpers.train`, a module renamed `training`)."""
    commands = _shown_commands()
    assert {"resnet_helpers.training", "resnet_helpers.training.bench", "resnet_helpers.zh"} <= set(commands)
    for module, shown in sorted(commands.items()):
        done = _help(module)
        assert done.returncode == 0, f"{shown['']} shows `python -m {module}`: {done.stderr.strip()[-300:]}"
        for option, where in shown.items():
            assert option in done.stdout, f"{where} shows `python -m {module} ... {option}`: not its option"


def test_readme_package_map_names_every_module():
    """The README's one-screen map of `resnet_helpers/` names every module a student may open."""
    readme = (ROOT / "README.md").read_text()
    package_map = readme[readme.index("resnet_helpers/\n") : readme.index("Command lines:")]
    for path in sorted((ROOT / "resnet_helpers").rglob("*.py")):
        if path.stem not in ("__init__", "__main__"):
            assert re.search(rf"\b{path.stem}\b", package_map), f"README's package map lacks {path.stem}"
