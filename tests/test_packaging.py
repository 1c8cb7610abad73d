"""environment.yml and pyproject.toml list the same packages; the Makefile and CI agree with README."""

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency, tomli, is the same parser
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_is_the_students_set():
    """The conda route installs what the notebooks need: pyproject's dependencies, not the test extra."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "pip" in deps
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python="))
    floor = re.fullmatch(r">=(\d+)\.(\d+)", _pyproject()["project"]["requires-python"])
    assert tuple(map(int, python[len("python=") :].split("."))) >= tuple(map(int, floor.groups()))
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "-e ." in pip
    listed = {p for p in pip if not p.startswith("-e")}
    assert listed == set(_pyproject()["project"]["dependencies"])


def test_the_student_install_leaves_the_test_tools_out():
    """`make lab` installs the package alone; `make test` and `make test-browser` add `.[test]`."""
    project = _pyproject()["project"]
    names = {re.match(r"[\w-]+", d).group() for d in project["dependencies"]}
    test = {re.match(r"[\w-]+", d).group() for d in project["optional-dependencies"]["test"]}
    assert {"pytest", "nbval", "ruff", "pyyaml", "playwright", "import-linter"} <= test
    assert not names & test and {"jupyterlab", "ipywidgets", "torch"} <= names
    makefile = (ROOT / "Makefile").read_text()
    install = makefile[makefile.index("$(STAMP): pyproject.toml") :].split("\n\n")[0]
    assert "pip install -q -e .\n" in install and "[test]" not in install
    for target in ("lab", "test", "unit", "nbval", "lint", "test-browser"):
        prerequisites = re.search(rf"^{target}:(.*)$", makefile, flags=re.M).group(1).split()
        wanted = "install" if target == "lab" else "install-test"
        assert wanted in prerequisites or target == "test", (target, prerequisites)


def test_python_floor_is_3_10_and_the_package_uses_nothing_newer():
    """requires-python >= 3.10 (Ubuntu 22.04's Python): no 3.11-only module or syntax in the package
    (tomllib lives in tools and tests only, with a fallback)."""
    assert _pyproject()["project"]["requires-python"] == ">=3.10"
    assert _pyproject()["tool"]["ruff"]["target-version"] == "py310"
    newer = re.compile(
        r"\bimport tomllib\b|\bExceptionGroup\b|^\s*except\*|\btyping\.Self\b|"
        r"import Self\b|datetime\.UTC\b|\bStrEnum\b",
        flags=re.M,
    )
    found = [
        f"{path.relative_to(ROOT)}: {m.group()}"
        for path in sorted((ROOT / "resnet_helpers").rglob("*.py"))
        for m in newer.finditer(path.read_text())
    ]
    assert not found, found


def test_the_maintainers_tools_are_not_in_the_package():
    """The benchmark, the Chinese-edition builder, the notebook headers and tidier are scripts in
    tools/, run by the Makefile; a student who opens resnet_helpers/ sees only what notebooks use."""
    package = {path.stem for path in (ROOT / "resnet_helpers").rglob("*.py")}
    tools = {path.stem for path in (ROOT / "tools").glob("*.py")}
    assert {"bench", "bench_course", "bench_report", "zh", "notebook_headers", "tidy_notebooks"} <= tools
    assert not package & (tools | {"colab"})
    assert "resnet-bench" not in _pyproject()["project"]["scripts"]


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
def _help(command: str) -> subprocess.CompletedProcess:
    """`python -W default -m <module> --help`, or `python -W default tools/<x>.py --help` for a
    command "tools/<x>.py", run once per command for all the tests here."""
    run = [str(ROOT / command)] if command.startswith("tools/") else ["-m", command]
    cli = [sys.executable, "-W", "default", *run, "--help"]
    return subprocess.run(cli, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize(
    "module, option",
    [
        ("resnet_helpers.training", "--recipe"),
        ("resnet_helpers.data", "--help"),
        ("tools/bench.py", "--steps"),
        ("tools/zh.py", "--write"),
        ("tools/notebook_headers.py", "--write"),
        ("tools/tidy_notebooks.py", "--keep-widget-state"),
        ("tools/cpu_step_variants.py", "--fp32"),
        ("tools/notebook_loop.py", "--runs"),
        ("tools/import_time.py", "--runs"),
    ],
)
def test_command_lines_print_no_warning(module, option):
    """`python -m resnet_helpers.<module> --help` and `python tools/<x>.py --help` work and print no
    warning (runpy warns when a package imports the module it is asked to run; this package's
    `__init__` imports no CLI)."""
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
    """Every `python -m resnet_helpers...` and `python tools/<x>.py` command a reader is shown (both
    READMEs, docs/, the notebooks in both languages, the translations, the package's and the tools'
    docstrings): module -> {option: where}, the module itself under the key "" (where it is first
    shown)."""
    zh = ROOT / "notebooks" / "zh"
    places = [ROOT / "README.md", ROOT / "README.zh-CN.md", *sorted((ROOT / "docs").glob("*.md"))]
    places += sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(zh.glob("*.ipynb"))
    places += sorted((zh / "translations").glob("*.md")) + sorted((ROOT / "resnet_helpers").rglob("*.py"))
    places += sorted((ROOT / "tools").glob("*.py"))
    shown_command = r"python (?:-m )?(resnet_helpers[\w.]*\w|tools/\w+\.py)([^`|\n\"]*)"
    commands: dict[str, dict[str, Path]] = {}
    for path in places:
        where = path.relative_to(ROOT)
        for module, rest in re.findall(shown_command, path.read_text()):
            shown = commands.setdefault(module, {"": where})
            for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest):
                shown.setdefault(option, where)
    return commands


def test_commands_shown_to_readers_exist():
    """A command copied from a page runs: its module exists and takes every option written after it
    (notebook 04 once showed `python -m resnet_helpers.train`, a module renamed `training`)."""
    commands = _shown_commands()
    assert {"resnet_helpers.training", "tools/bench.py", "tools/zh.py"} <= set(commands)
    for module, shown in sorted(commands.items()):
        done = _help(module)
        command = "python " + (module if module.startswith("tools/") else f"-m {module}")
        assert done.returncode == 0, f"{shown['']} shows `{command}`: {done.stderr.strip()[-300:]}"
        for option, where in shown.items():
            assert option in done.stdout, f"{where} shows `{command} ... {option}`: not its option"


def test_readme_package_map_names_every_module():
    """The README's one-screen map of `resnet_helpers/` names every module a student may open, and
    names no module that is gone; the paragraph after it names every tool in tools/."""
    readme = (ROOT / "README.md").read_text()
    package_map = readme[readme.index("resnet_helpers/\n") : readme.index("Command lines:")]
    assert package_map.count("\n") <= 25, "the package map is a screen long at most"
    modules = {p.stem for p in (ROOT / "resnet_helpers").rglob("*.py")} - {"__init__", "__main__"}
    for stem in sorted(modules):
        assert re.search(rf"\b{stem}\b", package_map), f"README's package map lacks {stem}"
    for named in re.findall(r"\b(\w+)\.py\b", package_map):
        assert named in modules, f"README's package map names {named}.py, which resnet_helpers/ lacks"
    after = readme[readme.index("Command lines:") :].split("\n\n")[1]
    for tool in sorted((ROOT / "tools").iterdir()):
        assert tool.name in after, f"README does not name tools/{tool.name}"
