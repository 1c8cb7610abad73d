import gzip
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

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
    assert "Tried, in order:" in message and "nowhere" in message and "FASHION_MNIST_DIR" in message
    assert "download: not tried (download=False)" in message


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


# d2l's loader always starts 4 workers; on a 2-core machine PyTorch warns about it (expected here).
@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")
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


# --- where the data step looks, in order (issue 18): found already, Debian's apt-get, the download,
# and the one message when all fail. These run on four tiny files of Fashion-MNIST's format (their
# MD5s replace the real ones), with every place pointed at empty temporary folders, PATH holding
# only fake tools, and the network faked: nothing here reads /usr/share or runs the real apt-get.


def _tiny_files(folder: Path) -> dict[str, str]:
    """Write the four files, Fashion-MNIST's format with 3 training and 2 test images; their MD5s."""
    folder.mkdir(parents=True, exist_ok=True)
    md5 = {}
    for name in D.FILES:
        n = 3 if name.startswith("train") else 2
        if "images" in name:
            content = struct.pack(">IIII", 2051, n, 28, 28) + bytes(i * 7 % 256 for i in range(n * 784))
        else:
            content = struct.pack(">II", 2049, n) + bytes(range(n))
        with gzip.open(folder / f"{name}.gz", "wb") as f:
            f.write(content)
        md5[name] = hashlib.md5(content).hexdigest()
    return md5


def _tool(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """Nothing anywhere: every place is an empty temporary folder, PATH holds only `bin` (no real
    apt-get or sudo; `env` and `true` for the fake sudo), the download fails as offline. `package`
    holds tiny files whose MD5s stand in for the real ones; `log` records the fake tools' calls."""
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setenv("RESNET_DATA_ROOT", str(tmp_path / "root"))
    notebooks = tmp_path / "work" / "notebooks"
    notebooks.mkdir(parents=True)
    monkeypatch.chdir(notebooks)  # d2l's ../data: tmp_path/work/data
    monkeypatch.setattr(D, "DEBIAN_DIR", tmp_path / "debian")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("env", "true"):
        (bin_dir / name).symlink_to(shutil.which(name))
    monkeypatch.setenv("PATH", str(bin_dir))
    # the download: torchvision-style files from a local folder that is empty (so it fails, as offline)
    (tmp_path / "mirror").mkdir()
    monkeypatch.setenv("FASHION_MNIST_SOURCE", "torchvision")
    monkeypatch.setenv("FASHION_MNIST_IDX_URL", (tmp_path / "mirror").as_uri())
    monkeypatch.setattr(D, "FILES", _tiny_files(tmp_path / "package"))
    return SimpleNamespace(
        tmp=tmp_path,
        mirror=tmp_path / "mirror",
        bin=bin_dir,
        root=tmp_path / "root",
        debian=tmp_path / "debian",
        package=tmp_path / "package",
        log=tmp_path / "calls.log",
    )


# what apt-get prints when another process (here unattended upgrades) holds dpkg's lock
LOCKED = (
    "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (unattended-upgr)\n"
    "N: Be aware that removing the lock file is not a solution and may break your system.\n"
    "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?"
)
WAIT = f"-o DPkg::Lock::Timeout={D.APT_LOCK_WAIT_S}"  # apt-get's option to wait for that lock


def _fake_apt(where, package_known: bool, install_works: bool = True, install_fails_with: str = ""):
    """apt-cache and apt-get that log their calls; `apt-get install` "installs" the package by
    copying the tiny files into the folder that stands in for /usr/share/datasets/fashion-mnist,
    or prints `install_fails_with` and exits 100."""
    log = f'echo "${{0##*/}} $*" >> "{where.log}"\n'
    _tool(where.bin, "apt-cache", log + f"exit {0 if package_known else 100}\n")
    if not install_works:
        install_fails_with = "E: Unable to locate package dataset-fashion-mnist"
    if install_fails_with:
        install = f"/bin/cat <<'END'\n{install_fails_with}\nEND\nexit 100"
    else:
        install = f'/bin/mkdir -p "{where.debian}" && /bin/cp "{where.package}"/*.gz "{where.debian}"/'
    commands = f'for word in "$@"; do\n  case "$word" in\n    update) exit 0 ;;\n    install)\n{install}\n'
    _tool(where.bin, "apt-get", log + commands + "      exit $? ;;\n  esac\ndone\n")


def _calls(where) -> list[str]:
    return where.log.read_text().splitlines() if where.log.exists() else []


def _as_user(monkeypatch, uid: int):
    monkeypatch.setattr(D.os, "geteuid", lambda: uid)


@pytest.mark.parametrize("place", ["FASHION_MNIST_DIR", "project cache", "d2l cache", "Debian folder"])
def test_found_already_runs_neither_apt_nor_download(nowhere, monkeypatch, capsys, place):
    folder = {
        "FASHION_MNIST_DIR": nowhere.tmp / "mine",
        "project cache": nowhere.root / "FashionMNIST" / "raw",
        "d2l cache": nowhere.tmp / "work" / "data" / "FashionMNIST" / "raw",
        "Debian folder": nowhere.debian,
    }[place]
    shutil.copytree(nowhere.package, folder, dirs_exist_ok=True)
    if place == "FASHION_MNIST_DIR":
        monkeypatch.setenv("FASHION_MNIST_DIR", str(folder))
    _as_user(monkeypatch, 0)
    _fake_apt(nowhere, package_known=True)
    shutil.copytree(nowhere.package, nowhere.mirror, dirs_exist_ok=True)  # a download would work
    raw = D.prepare(nowhere.tmp / "seeded")
    assert _calls(nowhere) == []
    out = capsys.readouterr().out
    assert f"Fashion-MNIST verified (MD5) from {folder}: 3 training and 2 test images" in out
    assert "installing" not in out and "downloading" not in out
    assert sorted(p.name for p in raw.iterdir()) == sorted(D.FILES)


def test_apt_get_as_root_updates_then_installs(nowhere, monkeypatch, capsys):
    _as_user(monkeypatch, 0)
    _fake_apt(nowhere, package_known=False)
    shutil.copytree(nowhere.package, nowhere.mirror, dirs_exist_ok=True)  # a download would work
    D.prepare(nowhere.tmp / "seeded")
    assert _calls(nowhere) == [
        "apt-cache show dataset-fashion-mnist",
        f"apt-get {WAIT} update -q",  # the package was unknown: the index is refreshed first
        f"apt-get {WAIT} install -y -q dataset-fashion-mnist",
    ]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "Fashion-MNIST not found: installing Debian's dataset-fashion-mnist "
        "(apt-get install -y dataset-fashion-mnist, as root)"
    )
    assert lines[1].startswith(f"Fashion-MNIST verified (MD5) from {nowhere.debian}: 3 training")


def test_apt_get_through_passwordless_sudo(nowhere, monkeypatch, capsys):
    _as_user(monkeypatch, 1000)
    _tool(nowhere.bin, "sudo", f'echo "sudo $*" >> "{nowhere.log}"\n[ "$1" = -n ] && shift\nexec "$@"\n')
    _fake_apt(nowhere, package_known=True)
    assert D.find_fashion_mnist(apt_get=True) == nowhere.debian
    assert _calls(nowhere) == [
        "sudo -n true",
        "apt-cache show dataset-fashion-mnist",  # known: no apt-get update
        f"sudo -n env DEBIAN_FRONTEND=noninteractive apt-get {WAIT} install -y -q dataset-fashion-mnist",
        f"apt-get {WAIT} install -y -q dataset-fashion-mnist",
    ]
    assert capsys.readouterr().out == (
        "Fashion-MNIST not found: installing Debian's dataset-fashion-mnist "
        "(sudo apt-get install -y dataset-fashion-mnist, through sudo)\n"
    )


def test_download_when_sudo_asks_for_a_password(nowhere, monkeypatch, capsys):
    _as_user(monkeypatch, 1000)
    asks_password = 'echo "sudo: a password is required" >&2; exit 1'
    _tool(nowhere.bin, "sudo", f'echo "sudo $*" >> "{nowhere.log}"; {asks_password}')
    _fake_apt(nowhere, package_known=True)
    shutil.copytree(nowhere.package, nowhere.mirror, dirs_exist_ok=True)  # the download works
    D.prepare()
    assert _calls(nowhere) == ["sudo -n true"]  # apt-get itself never ran
    out = capsys.readouterr().out
    assert "installing" not in out
    assert f"Fashion-MNIST: downloading from torchvision ({nowhere.mirror.as_uri()}/)" in out
    assert f"Fashion-MNIST verified (MD5) from {nowhere.root / 'FashionMNIST' / 'raw'}: 3 training" in out


def test_apt_get_failure_then_download_failure_names_both(nowhere, monkeypatch, capsys):
    _as_user(monkeypatch, 0)
    _fake_apt(nowhere, package_known=False, install_works=False)
    with pytest.raises(D.DataError) as info:
        D.find_fashion_mnist(apt_get=True)
    message = str(info.value)
    assert (
        "apt-get install dataset-fashion-mnist: failed (exit status 100): "
        "E: Unable to locate package dataset-fashion-mnist" in message
    )
    mirror = nowhere.mirror.as_uri()
    assert f"download from torchvision ({mirror}/): {mirror}/train-images-idx3-ubyte.gz: " in message
    assert "sudo apt-get install dataset-fashion-mnist" in message
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "installing" in out[0] and "downloading" in out[1]  # each step says it runs


def test_library_calls_never_run_apt_get(nowhere, monkeypatch):
    _as_user(monkeypatch, 0)
    _fake_apt(nowhere, package_known=True)
    with pytest.raises(D.DataError) as info:
        D.load_fashion_mnist()
    assert _calls(nowhere) == []
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist: not run by library calls" in message
    assert "Fixes: run `python -m resnet_helpers.data` (`make data`)" in message


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_command_line_when_everything_fails(tmp_path):
    """`python -m resnet_helpers.data` with nothing anywhere, no apt-get and no network (the download
    goes through a proxy on a closed loopback port): one message naming every place, status 1."""
    notebooks = tmp_path / "work" / "notebooks"
    notebooks.mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    proxy = f"http://127.0.0.1:{_closed_port()}"
    unset = (
        "FASHION_MNIST_DIR",
        "FASHION_MNIST_SOURCE",
        "FASHION_MNIST_IDX_URL",
        "HF_ENDPOINT",
        "no_proxy",
        "NO_PROXY",
    )
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        PATH=str(tmp_path / "bin"),
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        RESNET_DATA_ROOT=str(tmp_path / "root"),
        RESNET_DEBIAN_DIR=str(tmp_path / "debian"),
        http_proxy=proxy,
        https_proxy=proxy,
        HTTP_PROXY=proxy,
        HTTPS_PROXY=proxy,
    )
    result = subprocess.run(
        [sys.executable, "-m", "resnet_helpers.data"],
        cwd=notebooks,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    sources = ["torchvision", "hf", "modelscope"]  # the default order, each saying it downloads
    assert [line.split(" (")[0] for line in result.stdout.splitlines()] == [
        f"Fashion-MNIST: downloading from {source}" for source in sources
    ]
    message = result.stderr  # the one message: no traceback, no warning
    assert message.startswith("error: Fashion-MNIST not found.") and "Traceback" not in message
    for line in (
        "error: Fashion-MNIST not found. Tried, in order:",
        "  FASHION_MNIST_DIR: not set",
        f"  project cache: {tmp_path / 'root' / 'FashionMNIST' / 'raw'}",
        f"  d2l cache (../data): {tmp_path / 'work' / 'data' / 'FashionMNIST' / 'raw'}",
        f"  Debian dataset-fashion-mnist: {tmp_path / 'debian'}",
        "  apt-get install dataset-fashion-mnist: skipped: no apt-get here (not Debian/Ubuntu)",
    ):
        assert line in message.splitlines(), message
    for source in sources:  # each source named with its reason (no network: the proxy is closed)
        assert f"  download from {source} (" in message, message
    assert (
        "  download from torchvision (http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/): "
        in message
    )
    fixes = message.splitlines()[-1]
    assert fixes.startswith("Fixes: on Debian/Ubuntu `sudo apt-get install dataset-fashion-mnist`")
    assert "FASHION_MNIST_DIR to it" in fixes and "run `python -m resnet_helpers.data` again" in fixes


def test_seeding_from_a_folder_missing_a_file_names_the_file(tmp_path, fmnist):
    """Regression: a source folder without one of the four files raised AttributeError
    ('NoneType' object has no attribute 'suffix') instead of a DataError naming the file."""
    source = _copy_source(tmp_path, fmnist)
    missing = list(D.FILES)[0]
    D._file_in(source, missing).unlink()
    with pytest.raises(D.DataError, match=missing):
        D.seed_torchvision_cache(tmp_path / "root", source)


@pytest.mark.parametrize("kind", ["a file", "under /proc"])
def test_main_with_a_root_it_cannot_use_says_so_in_one_line(tmp_path, capsys, kind):
    root = tmp_path / "a-file" if kind == "a file" else Path("/proc/nonexistent")
    if kind == "a file":
        root.write_text("")
    assert D.main([str(root)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: cannot use {root} as the data root (") and "choose a folder" in err


# --- bug 5 (issue 25): apt-get and dpkg's lock. On a fresh cloud machine, unattended upgrades hold
# dpkg's lock at boot: apt-get must wait for it, and when it still fails the final message must
# name the apt step and the reason (who holds the lock), beside the download's own failure.


def test_apt_get_waits_for_dpkgs_lock(nowhere, monkeypatch):
    """The fake apt-get installs only when told to wait for the lock (as the real one then does)."""
    _as_user(monkeypatch, 0)
    _fake_apt(nowhere, package_known=True)
    real = (nowhere.bin / "apt-get").read_text()
    waits = f'case "$*" in *"{WAIT}"*) ;; *) /bin/cat <<\'END\'\n{LOCKED}\nEND\nexit 100 ;; esac\n'
    (nowhere.bin / "apt-get").write_text(real.replace("#!/bin/sh\n", "#!/bin/sh\n" + waits, 1))
    assert D.find_fashion_mnist(apt_get=True) == nowhere.debian
    assert _calls(nowhere) == [
        "apt-cache show dataset-fashion-mnist",
        f"apt-get {WAIT} install -y -q dataset-fashion-mnist",
    ]


def test_apt_lock_failure_is_named_in_the_final_message(nowhere, monkeypatch):
    _as_user(monkeypatch, 0)
    _fake_apt(nowhere, package_known=True, install_fails_with=LOCKED)
    with pytest.raises(D.DataError) as info:
        D.find_fashion_mnist(apt_get=True)
    assert _calls(nowhere)[-1] == f"apt-get {WAIT} install -y -q dataset-fashion-mnist"
    lines = str(info.value).splitlines()
    apt = [line for line in lines if line.startswith("  apt-get install dataset-fashion-mnist: ")]
    assert apt == [
        "  apt-get install dataset-fashion-mnist: failed (exit status 100): another process held dpkg's "
        f"lock for more than {D.APT_LOCK_WAIT_S} s (E: Could not get lock /var/lib/dpkg/lock-frontend. "
        "It is held by process 1234 (unattended-upgr)); a fresh machine often runs unattended upgrades "
        "at boot: wait for them to finish"
    ]
    download = [line for line in lines if line.startswith("  download from torchvision")]
    assert len(download) == 1 and lines.index(apt[0]) < lines.index(download[0])  # both steps, in order
    assert lines[-1].startswith("Fixes: on Debian/Ubuntu `sudo apt-get install dataset-fashion-mnist`")
