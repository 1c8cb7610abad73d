"""checkpoint_dir: nothing mounted unless asked; a clear line about where checkpoints go."""

import sys
import types

import pytest

from resnet_helpers.training.trainer import checkpoint_dir


@pytest.fixture
def fake_colab(monkeypatch):
    """google.colab in sys.modules, with a drive.mount that records its calls."""
    mounts = []
    drive = types.SimpleNamespace(mount=mounts.append)
    colab = types.ModuleType("google.colab")
    colab.drive = drive
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    return mounts


def test_checkpoint_dir_without_colab_is_a_local_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    lines = []
    path = checkpoint_dir(log=lines.append)
    assert path == tmp_path / "checkpoints" or path.resolve() == tmp_path / "checkpoints"
    assert (tmp_path / "checkpoints").is_dir() and lines == []
    assert checkpoint_dir(mount_drive=True, log=lines.append).resolve() == tmp_path / "checkpoints"


def test_checkpoint_dir_mounts_drive_only_when_asked(tmp_path, monkeypatch, fake_colab):
    """Issue 12: checkpoint_dir() mounted Google Drive as a side effect of its default."""
    monkeypatch.chdir(tmp_path)
    lines = []
    path = checkpoint_dir(log=lines.append)
    assert fake_colab == [] and path.resolve() == tmp_path / "checkpoints"
    assert "lost when it disconnects" in lines[0] and "checkpoint_dir(mount_drive=True)" in lines[0]
    # Asked: it mounts (the fake mount mounts nothing, so the folder stays local here).
    checkpoint_dir(mount_drive=True, log=lines.append)
    assert fake_colab == ["/content/drive"]
    checkpoint_dir(use_drive=True, log=None)  # the old keyword still works
    assert fake_colab == ["/content/drive"] * 2
