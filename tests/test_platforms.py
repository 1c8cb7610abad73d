"""resnet_helpers.platforms: each hosted platform recognised by what it sets (faked here), where its
files go, and the precision its GPU gets; the setup cell's own check agrees with the module."""

import os
import sys
import types
from pathlib import Path

import pytest
import torch

from resnet_helpers import platforms
from resnet_helpers.platforms import ENV_MARKERS, PATH_MARKERS, detect_platform, setup_platform, work_dir
from resnet_helpers.profiles import choose_precision

ALL_ENV = [variable for names in ENV_MARKERS.values() for variable in names]


def make_nowhere(monkeypatch) -> set[str]:
    """A machine that is no hosted platform: no marker variable, no marker folder, no google.colab.
    Returns the set of marker folders to pretend exist (empty: none)."""
    for variable in ALL_ENV:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    real_is_dir = Path.is_dir
    markers = {str(path) for path in PATH_MARKERS.values()}
    folders: set[str] = set()

    def is_dir(self):
        if str(self) in markers:
            return str(self) in folders
        return real_is_dir(self)

    monkeypatch.setattr(Path, "is_dir", is_dir)
    return folders


@pytest.fixture
def nowhere(monkeypatch):
    return make_nowhere(monkeypatch)  # add a marker folder's path to make it exist


def fake(monkeypatch, folders, platform: str, how: str):
    """Make this machine look like `platform`, through a marker variable ("env") or folder ("path")."""
    if platform == "colab":
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    elif how == "env":
        monkeypatch.setenv(ENV_MARKERS[platform][0], "Interactive")
    else:
        folders.add(str(PATH_MARKERS[platform]))


CASES = [
    ("colab", "module"),
    ("kaggle", "env"),
    ("kaggle", "path"),
    ("studiolab", "path"),
    ("modelscope", "env"),
    ("modelscope", "path"),
]


def test_your_own_computer_is_local(nowhere):
    assert detect_platform() == "local"
    assert work_dir() == Path.cwd()


@pytest.mark.parametrize("platform, how", CASES)
def test_each_platform_is_recognised_by_its_marker(nowhere, monkeypatch, platform, how):
    fake(monkeypatch, nowhere, platform, how)
    assert detect_platform() == platform


def test_dsw_instance_id_also_means_modelscope(nowhere, monkeypatch):
    monkeypatch.setenv("DSW_INSTANCE_ID", "dsw-123")
    assert detect_platform() == "modelscope"


def test_an_empty_marker_variable_is_no_marker(nowhere, monkeypatch):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "")
    assert detect_platform() == "local"


@pytest.mark.parametrize(
    "platform, folder",
    [
        ("colab", "/content"),
        ("kaggle", "/kaggle/working"),
        ("studiolab", "/home/studio-lab-user"),
        ("modelscope", "/mnt/workspace"),
    ],
)
def test_work_dir_is_the_folder_each_platform_keeps(platform, folder):
    assert work_dir(platform) == Path(folder)


def test_an_unknown_platform_is_named_with_the_choices():
    with pytest.raises(ValueError, match="unknown platform 'binder'; choose one of colab, kaggle"):
        work_dir("binder")
    with pytest.raises(ValueError, match="unknown platform 'binder'"):
        platforms.platform_info("binder")


def test_setup_on_your_own_computer_changes_nothing(nowhere, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RESNET_DATA_ROOT", raising=False)
    lines = []
    assert not setup_platform(log=lines.append).hosted
    assert lines == [] and "RESNET_DATA_ROOT" not in os.environ and Path.cwd() == tmp_path


@pytest.mark.parametrize("platform", ["kaggle", "studiolab", "modelscope"])
def test_setup_on_a_hosted_platform_keeps_data_and_checkpoints_in_its_work_dir(
    nowhere, monkeypatch, tmp_path, platform
):
    kept = tmp_path / "kept"
    kept.mkdir()
    monkeypatch.setitem(PATH_MARKERS, platform, kept)
    nowhere.add(str(kept))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # outside the work dir: moved in, so checkpoints/ is kept
    monkeypatch.delenv("RESNET_DATA_ROOT", raising=False)
    lines = []
    found = setup_platform(log=lines.append)
    assert found.name == platform and found.work_dir == kept
    assert os.environ["RESNET_DATA_ROOT"] == str(kept / "data")
    assert Path.cwd() == kept
    assert len(lines) == 1 and f"data in {kept / 'data'}" in lines[0]
    assert f"checkpoints in {kept / 'checkpoints'}" in lines[0] and found.title in lines[0]


def test_setup_leaves_a_folder_inside_the_work_dir_and_a_data_root_set(nowhere, monkeypatch, tmp_path):
    monkeypatch.setitem(PATH_MARKERS, "kaggle", tmp_path)
    nowhere.add(str(tmp_path))
    inside = tmp_path / "resnet-notebooks" / "notebooks"
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    monkeypatch.setenv("RESNET_DATA_ROOT", str(tmp_path / "mine"))
    lines = []
    setup_platform(log=lines.append)
    assert Path.cwd() == inside and os.environ["RESNET_DATA_ROOT"] == str(tmp_path / "mine")
    assert "data in " + str(tmp_path / "mine") in lines[0]


@pytest.mark.parametrize(
    "gpu, capability, expected, scaler",
    [
        ("T4 (Colab, Kaggle, Studio Lab)", (7, 5), "fp16", True),
        ("P100 (Kaggle)", (6, 0), "fp32", False),
        ("A10 (ModelScope)", (8, 6), "bf16", False),
        ("V100", (7, 0), "fp16", True),
    ],
)
def test_each_platforms_gpu_gets_its_precision(gpu, capability, expected, scaler):
    """A T4 has fp16 tensor cores and no bf16: fp16 with a GradScaler."""
    precision = choose_precision(torch.device("cuda"), cuda_capability=capability)
    assert (precision.name, precision.use_grad_scaler) == (expected, scaler), gpu
    if expected == "fp16":
        assert precision.dtype is torch.float16


def test_the_module_is_windows_safe():
    """No shell, no '/' joined paths: folders are pathlib Paths (the markers are Linux paths of
    the hosted platforms, used only through Path)."""
    source = Path(platforms.__file__).read_text()
    assert "os.system" not in source and "shell=True" not in source and "subprocess" not in source
    assert "os.path.join" not in source
