"""Every notebook's Colab badge and setup cell agree with the slug in pyproject.toml."""

import shutil

import nbformat
import pytest

from resnet_helpers import colab


def test_slug_is_read_from_pyproject():
    assert colab.repo_slug() == "d2l-resnet/resnet-notebooks"


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
