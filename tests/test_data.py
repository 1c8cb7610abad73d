import gzip
import hashlib
import shutil
from pathlib import Path

import pytest
import torch

from resnet_helpers import data as D


@pytest.fixture(scope="module")
def fmnist():
    return D.load_fashion_mnist()


def test_real_data_sizes_and_types(fmnist):
    assert fmnist.train_images.shape == (60_000, 28, 28) and fmnist.train_images.dtype == torch.uint8
    assert fmnist.test_images.shape == (10_000, 28, 28)
    assert fmnist.train_labels.shape == (60_000,) and fmnist.train_labels.dtype == torch.int64
    assert fmnist.test_labels.shape == (10_000,)
    # balanced classes, 6,000 and 1,000 of each
    assert torch.bincount(fmnist.train_labels).tolist() == [6000] * 10
    assert torch.bincount(fmnist.test_labels).tolist() == [1000] * 10
    assert len(D.CLASS_NAMES) == 10


@pytest.mark.parametrize("name", list(D.FILES))
def test_md5_of_decompressed_content(fmnist, name):
    path = D._file_in(fmnist.source, name)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        assert hashlib.md5(f.read()).hexdigest() == D.FILES[name]


def _copy_source(tmp_path, fmnist) -> Path:
    folder = tmp_path / "fm"
    folder.mkdir()
    for name in D.FILES:
        src = D._file_in(fmnist.source, name)
        shutil.copy(src, folder / src.name)
    return folder


def test_env_dir_is_used_first(tmp_path, fmnist, monkeypatch):
    folder = _copy_source(tmp_path, fmnist)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(folder))
    assert D.find_fashion_mnist(download=False) == folder
    loaded = D.load_fashion_mnist(download=False)
    assert loaded.source == folder
    assert torch.equal(loaded.test_labels, fmnist.test_labels)


def test_truncated_file_gives_clear_error(tmp_path, fmnist, monkeypatch):
    folder = _copy_source(tmp_path, fmnist)
    bad = D._file_in(folder, "t10k-labels-idx1-ubyte")
    bad.write_bytes(bad.read_bytes()[:2000])
    monkeypatch.setenv("FASHION_MNIST_DIR", str(folder))
    with pytest.raises(D.DataError) as info:
        D.load_fashion_mnist(download=False)
    message = str(info.value)
    assert str(bad) in message and "corrupt or truncated" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert bad.stat().st_size == 2000  # the user's file is left as it was


def test_changed_content_fails_md5(tmp_path, fmnist, monkeypatch):
    folder = _copy_source(tmp_path, fmnist)
    bad = D._file_in(folder, "train-labels-idx1-ubyte")
    content = bytearray(gzip.open(bad).read() if bad.suffix == ".gz" else bad.read_bytes())
    content[100] ^= 1
    bad.unlink()
    with gzip.open(folder / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes(content))
    monkeypatch.setenv("FASHION_MNIST_DIR", str(folder))
    with pytest.raises(D.DataError, match="expected 9018921c3c673c538a1fc5bad174d6f9"):
        D.load_fashion_mnist(download=False)


def test_env_dir_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(D.DataError, match="lacks train-images-idx3-ubyte.gz"):
        D.find_fashion_mnist(download=False)


def test_nothing_found_lists_places_and_fixes(tmp_path, monkeypatch):
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setenv("RESNET_DATA_ROOT", str(tmp_path / "root"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(D, "DEBIAN_DIR", tmp_path / "nowhere")
    with pytest.raises(D.DataError) as info:
        D.find_fashion_mnist(download=False)
    message = str(info.value)
    assert "Tried:" in message and "nowhere" in message and "FASHION_MNIST_DIR" in message


def test_seed_cache_makes_torchvision_offline(tmp_path, fmnist):
    from torchvision.datasets import FashionMNIST

    raw = D.seed_torchvision_cache(tmp_path, fmnist.source)
    assert sorted(p.name for p in raw.iterdir()) == sorted(D.FILES)
    # download=True finds the files and downloads nothing (this machine has no internet)
    test = FashionMNIST(root=str(tmp_path), train=False, download=True)
    assert len(test) == 10_000
    assert torch.equal(test.targets, fmnist.test_labels)
    # a second seeding verifies and keeps what is there
    mtime = (raw / "t10k-labels-idx1-ubyte").stat().st_mtime_ns
    D.seed_torchvision_cache(tmp_path, fmnist.source)
    assert (raw / "t10k-labels-idx1-ubyte").stat().st_mtime_ns == mtime


def test_seed_cache_refuses_to_overwrite_corrupt_file(tmp_path, fmnist):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-labels-idx1-ubyte").write_bytes(b"not the labels")
    with pytest.raises(D.DataError, match="corrupt or truncated"):
        D.seed_torchvision_cache(tmp_path, fmnist.source)
    assert (raw / "train-labels-idx1-ubyte").read_bytes() == b"not the labels"


def test_d2l_loader_runs_offline_unmodified(tmp_path, fmnist, monkeypatch):
    from d2l import torch as d2l  # installed by `make install` (pip install --no-deps d2l==1.0.3)

    (tmp_path / "notebooks").mkdir()
    D.seed_torchvision_cache(tmp_path / "data", fmnist.source)
    monkeypatch.chdir(tmp_path / "notebooks")  # d2l's root is ../data
    train_iter, test_iter = d2l.load_data_fashion_mnist(256, resize=96)
    X, y = next(iter(test_iter))
    assert X.shape == (256, 1, 96, 96) and y.shape == (256,)
    assert len(train_iter.dataset) == 60_000


def test_main_reports(tmp_path, capsys):
    assert D.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "60,000 training" in out and str(tmp_path) in out
    shutil.rmtree(tmp_path / "FashionMNIST")
