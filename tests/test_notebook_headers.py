"""Every notebook's Colab badge and setup cell agree with the slug in pyproject.toml
(tools/notebook_headers.py)."""

import shutil

import nbformat
import pytest

import notebook_headers as colab


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


def test_setup_cell_installs_without_touching_torch_or_numpy():
    cell = colab.setup_cell("owner/name")
    assert 'repo = "git+https://github.com/owner/name"' in cell
    assert '"--no-deps", "d2l==1.0.3", f"resnet-helpers @ {repo}"' in cell
    assert max(len(line) for line in cell.splitlines()) <= 100  # no line runs off a notebook's width
    for package in ('torch"', "numpy", "torchvision"):
        assert package not in cell.split("environment_report")[0]
    compile(cell, "setup", "exec")


def test_a_stale_badge_or_setup_cell_is_caught_and_fixed(tmp_path):
    src = colab.notebooks()[0]
    path = tmp_path / src.name
    shutil.copy(src, path)
    assert colab.check_notebook(path, "someone/else") != []
    assert colab.write_notebook(path, "someone/else")
    assert colab.check_notebook(path, "someone/else") == []
    assert not colab.write_notebook(path, "someone/else")  # idempotent
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].source.count("someone/else") == 1
