"""Every notebook's badge line (Colab, Kaggle, Studio Lab) and setup cell agree with pyproject.toml
(tools/notebook_headers.py); the setup cell, run under each hosted platform faked, installs what it must."""

import re
import shutil
import types
from pathlib import Path

import nbformat
import pytest
from test_platforms import CASES as HOSTED  # every way each hosted platform is recognised
from test_platforms import fake, make_nowhere

import notebook_headers as colab
from resnet_helpers.platforms import detect_platform

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency, tomli, is the same parser
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_slug_is_read_from_pyproject():
    assert colab.repo_slug() == "d2l-resnet/resnet-notebooks"


def test_slug_needs_a_github_repository_line(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[project.urls]\nRepository = "https://github.com/owner/name.git"\n')
    assert colab.repo_slug(path) == "owner/name"
    path.write_text('[project.urls]\nRepository = "https://gitlab.com/owner/name"\n')
    with pytest.raises(ValueError, match="must be https://github.com/OWNER/NAME, got 'https://gitlab"):
        colab.repo_slug(path)
    path.write_text("[project]\nname = 'x'\n")
    with pytest.raises(ValueError, match="no `Repository = "):
        colab.repo_slug(path)


@pytest.mark.parametrize("path", colab.notebooks(), ids=lambda p: p.name)
def test_notebook_badge_and_setup_cell_agree(path):
    assert colab.check_notebook(path, colab.repo_slug()) == []


def test_setup_cell_fits_a_notebook_and_compiles():
    cell = colab.setup_cell("owner/name")
    assert '"resnet-helpers @ git+https://github.com/owner/name"' in cell
    assert max(len(line) for line in cell.splitlines()) <= 100  # no line runs off a notebook's width
    compile(cell, "setup", "exec")


def _run_install_part(monkeypatch, missing=()):
    """Execute the setup cell up to its imports of resnet_helpers, with pip recorded, not run, and
    `missing` (import names) reported as not installed, every other one as installed; the pip
    commands it would run."""
    import importlib.util
    import subprocess

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: calls.append(command[3:]))
    installed = types.SimpleNamespace()  # what find_spec returns for an installed module: not None
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else installed)
    cell = colab.setup_cell("owner/name")
    exec(cell[: cell.index("from resnet_helpers import")], {})
    return calls


@pytest.fixture
def nowhere(monkeypatch):
    return make_nowhere(monkeypatch)


@pytest.mark.parametrize("platform, how", HOSTED)
def test_setup_cell_installs_on_each_hosted_platform_what_is_missing(
    nowhere, monkeypatch, tmp_path, platform, how
):
    """The package from GitHub and d2l with --no-deps; of the notebooks' needs only the missing
    (torch, numpy and torchvision of the platform stay); and it recognises the same platforms as
    resnet_helpers.platforms."""
    monkeypatch.chdir(tmp_path)  # a notebook opened alone, in no checkout
    fake(monkeypatch, nowhere, platform, how)
    assert detect_platform() == platform
    calls = _run_install_part(monkeypatch, missing={"resnet_helpers", "torchinfo", "pyarrow"})
    assert calls == [
        ["install", "-q", "torchinfo", "pyarrow"],
        ["install", "-q", "--no-deps", "d2l==1.0.3", "resnet-helpers @ git+https://github.com/owner/name"],
    ]


@pytest.mark.parametrize("folder", ["notebooks", "notebooks/zh"])
def test_setup_cell_installs_the_checkout_a_notebook_is_in(nowhere, monkeypatch, tmp_path, folder):
    """Cloned or unpacked on the platform (ModelScope, Studio Lab's import): no GitHub needed."""
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / folder).mkdir(parents=True)
    monkeypatch.chdir(tmp_path / folder)
    fake(monkeypatch, nowhere, "modelscope", "path")
    calls = _run_install_part(monkeypatch, missing={"resnet_helpers"})
    assert calls == [["install", "-q", "--no-deps", "d2l==1.0.3", str(tmp_path)]]


def test_setup_cell_installs_torch_where_the_platform_has_none(nowhere, monkeypatch):
    fake(monkeypatch, nowhere, "studiolab", "path")
    calls = _run_install_part(monkeypatch, missing={"resnet_helpers", "torch", "torchvision"})
    assert calls[0] == ["install", "-q", "torch", "torchvision"] and "--no-deps" not in calls[0]


def test_setup_cell_installs_nothing_on_your_computer_or_when_installed(nowhere, monkeypatch):
    assert detect_platform() == "local"
    assert _run_install_part(monkeypatch, missing={"resnet_helpers", "torchinfo"}) == []
    fake(monkeypatch, nowhere, "kaggle", "env")
    assert _run_install_part(monkeypatch, missing={"torchinfo"}) == []  # run again: already installed


def test_setup_cell_needs_are_the_packages_dependencies():
    """What the cell may install is pyproject's dependencies, less JupyterLab (the platform's own)."""
    project = _pyproject()["project"]
    names = {re.match(r"[\w-]+", d).group() for d in project["dependencies"]}
    assert set(colab.HOSTED_NEEDS) == names - {"jupyterlab"}


def test_badge_line_opens_the_notebook_on_colab_kaggle_and_studio_lab():
    line = colab.badge("owner/name", "01_x.ipynb")
    assert line.startswith(colab.BADGE_PREFIX) and "\n" not in line
    blob = "owner/name/blob/main/notebooks/01_x.ipynb"
    assert f"(https://colab.research.google.com/github/{blob})" in line
    assert f"(https://kaggle.com/kernels/welcome?src=https://github.com/{blob})" in line
    assert f"(https://studiolab.sagemaker.aws/import/github/{blob})" in line


def test_readme_tables_link_every_notebook_on_each_platform():
    """README.md's notebook table has the same three links as each notebook's badge line."""
    readme = (ROOT / "README.md").read_text()
    slug = colab.repo_slug()
    for path in colab.notebooks():
        for platform, url in colab.launch_links(slug, path.name).items():
            assert f"]({url})" in readme, f"README lacks the {platform} link of {path.name}"


def test_a_stale_badge_or_setup_cell_is_caught_and_fixed(tmp_path):
    src = colab.notebooks()[0]
    path = tmp_path / src.name
    shutil.copy(src, path)
    assert colab.check_notebook(path, "someone/else") != []
    assert colab.write_notebook(path, "someone/else")
    assert colab.check_notebook(path, "someone/else") == []
    assert not colab.write_notebook(path, "someone/else")  # idempotent
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].source.count("someone/else") == 3  # one badge line: Colab, Kaggle, Studio Lab
    assert sum(line.startswith(colab.BADGE_PREFIX) for line in nb.cells[0].source.splitlines()) == 1
