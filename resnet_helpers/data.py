"""Fashion-MNIST, offline first: locate, verify (MD5), load; seed the torchvision/d2l cache.

Places tried, in order (the first that holds all four files wins):
1. the folder in the environment variable FASHION_MNIST_DIR;
2. torchvision's cache `<root>/FashionMNIST/raw` under this project's data root and under
   d2l's `../data` (seen from the working directory, as `d2l.load_data_fashion_mnist` uses);
3. Debian's package `dataset-fashion-mnist`: /usr/share/datasets/fashion-mnist/
   (`DEBIAN_DIR`; the environment variable RESNET_DEBIAN_DIR replaces it, for tests);
4. only from the command line (`python -m resnet_helpers.data`, `make data`): where apt-get is
   usable (as root, or through passwordless sudo), `apt-get install -y dataset-fashion-mnist`,
   after an `apt-get update` if apt does not know the package yet, waiting up to
   APT_LOCK_WAIT_S for dpkg's lock (fresh cloud machines run unattended upgrades at boot);
5. a download from each source FASHION_MNIST_SOURCE names, in order (torchvision's mirror, the
   Hugging Face hub through HF_ENDPOINT, ModelScope: see `resnet_helpers.data_sources` and
   docs/data.md), written into torchvision's cache under the data root.
When all fail, a DataError names every place and source tried, why each failed, and the fixes;
the command line prints it as one message and exits with status 1, without a traceback.

Why library calls (`load_fashion_mnist`, `find_fashion_mnist`) never run apt-get: installing a
system package as root is a change to the machine, which a setup command is expected to make and
announce, but a notebook cell or a test that merely loads data is not. They download as before
and, when that fails too, their message names `python -m resnet_helpers.data` as the first fix.

Each file is checked by the MD5 of its *decompressed* content, so a re-compressed copy
(Debian's) passes while a corrupt or truncated one is refused with the file's name and the
remedy. A file already on disk is never overwritten. A download is checked the same way: the
sources that give arrays (parquet) are re-encoded as idx files, whose content is then
byte-identical to the published files', so one set of MD5s verifies every source.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from resnet_helpers import data_sources
from resnet_helpers.i18n import _

__all__ = [
    "CLASS_NAMES",
    "FILES",
    "DEBIAN_DIR",
    "DEBIAN_PACKAGE",
    "DataError",
    "FashionMNIST",
    "default_root",
    "candidate_dirs",
    "find_fashion_mnist",
    "load_fashion_mnist",
    "seed_torchvision_cache",
    "prepare",
]

# d2l's names for the ten classes (d2l.get_fashion_mnist_labels).
CLASS_NAMES = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)

# MD5 of each file's decompressed content (published data; Debian's re-compressed .gz
# files have other .gz checksums but the same content).
FILES = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}

DEBIAN_DIR = Path(os.environ.get("RESNET_DEBIAN_DIR") or "/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"
APT_TIMEOUT_S = 900  # for each apt-get command
APT_LOCK_WAIT_S = 600  # how long apt-get waits for dpkg's lock held by another process


# The fixes are functions, not constants, so that they speak the language set when they are shown.
def _file_fix() -> str:
    return _(
        "or put the four files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in a folder and set FASHION_MNIST_DIR "
        "to it"
    )


def _network_fix() -> str:
    return _(
        "or connect to the internet; in mainland China set HF_ENDPOINT=https://hf-mirror.com and "
        "FASHION_MNIST_SOURCE=hf,modelscope (the hub's files need `pip install pyarrow`; see docs/data.md)"
    )


def _fixes() -> str:
    """The fixes a library call names (it never runs apt-get itself: see the module's docstring)."""
    return _(
        "Fixes: run `python -m resnet_helpers.data` (`make data`), which also installs Debian's "
        "{package} where apt-get is usable; or on Debian/Ubuntu "
        "`sudo apt-get install {package}`; {file_fix}; {network_fix}."
    ).format(package=DEBIAN_PACKAGE, file_fix=_file_fix(), network_fix=_network_fix())


def _cli_fixes() -> str:
    """The fixes the command line names, once it has tried apt-get and the download itself."""
    return _(
        "Fixes: on Debian/Ubuntu `sudo apt-get install {package}`; {file_fix}; {network_fix}; "
        "then run `python -m resnet_helpers.data` again."
    ).format(package=DEBIAN_PACKAGE, file_fix=_file_fix(), network_fix=_network_fix())


class DataError(RuntimeError):
    """Fashion-MNIST could not be found, or a file of it is corrupt."""


@dataclass(frozen=True)
class FashionMNIST:
    """The real data: images as uint8 (N, 28, 28), labels as int64 (N,)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: Path

    def __repr__(self) -> str:
        return (
            f"FashionMNIST(train={tuple(self.train_images.shape)}, "
            f"test={tuple(self.test_images.shape)}, source='{self.source}')"
        )


def default_root() -> Path:
    """Where this project keeps torchvision's cache: RESNET_DATA_ROOT, else `<repo>/data`
    in a source checkout (d2l's `../data` seen from notebooks/), else ~/.cache/resnet_helpers."""
    env = os.environ.get("RESNET_DATA_ROOT")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[1]
    if (repo / "pyproject.toml").is_file() and (repo / "notebooks").is_dir():
        return repo / "data"
    return Path.home() / ".cache" / "resnet_helpers" / "data"


def candidate_dirs() -> list[tuple[str, Path]]:
    """(description, folder) pairs in the order they are tried."""
    places = []
    env = os.environ.get("FASHION_MNIST_DIR")
    if env:
        places.append(("FASHION_MNIST_DIR", Path(env).expanduser()))
    places.append(("project cache", default_root() / "FashionMNIST" / "raw"))
    d2l_cache = (Path.cwd().parent / "data" / "FashionMNIST" / "raw").resolve()
    if d2l_cache != places[-1][1].resolve():
        places.append(("d2l cache (../data)", d2l_cache))
    places.append(("Debian dataset-fashion-mnist", DEBIAN_DIR))
    return places


def _file_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _check_md5(content: bytes, name: str, what: str, remedy: str = "") -> bytes:
    """`content` if its MD5 is the published one for file `name`; else a DataError about `what`."""
    digest = hashlib.md5(content).hexdigest()
    if digest != FILES[name]:
        raise DataError(
            _(
                "{what} is corrupt or truncated: the MD5 of its content is "
                "{digest}, expected {expected} ({size:,} bytes read). {remedy}"
            )
            .format(what=what, digest=digest, expected=FILES[name], size=len(content), remedy=remedy)
            .strip()
        )
    return content


def _read_verified(path: Path, name: str) -> bytes:
    """The decompressed bytes of `path`, checked against the published MD5."""
    remedy = _(
        "Delete or replace {path} (a good copy: `sudo apt-get install dataset-fashion-mnist`, "
        "or let `python -m resnet_helpers.data` download it), then run `python -m resnet_helpers.data` again."
    ).format(path=path)
    try:
        content = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            _("Fashion-MNIST file {path} is corrupt or truncated ({error}). {remedy}").format(
                path=path, error=e, remedy=remedy
            )
        ) from e
    return _check_md5(content, name, _("Fashion-MNIST file {path}").format(path=path), remedy)


def _write_new(raw: Path, name: str, content: bytes) -> None:
    """Write verified `content` as raw/name (atomically), unless a file is there: that one is
    verified and kept (a corrupt one raises: never replaced silently)."""
    target = raw / name
    if target.exists():
        _read_verified(target, name)
        return
    fd, tmp = tempfile.mkstemp(dir=raw, prefix=f".{name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.replace(tmp, target)


def _has_all(folder: Path) -> bool:
    return all(_file_in(folder, name) for name in FILES)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _run(command: list[str], timeout: float = APT_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run `command` with no input, its output (stdout and stderr) kept for the message."""
    return subprocess.run(
        command,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def _last_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return _one_line(lines[-1]) if lines else _("no output")


def _apt_reason(result: subprocess.CompletedProcess) -> str:
    """Why an apt-get command failed, in one line: for dpkg's lock, who holds it and what to do."""
    errors = [_one_line(line) for line in result.stdout.splitlines() if line.startswith("E:")]
    if any("lock" in line for line in errors):
        holder = next((line for line in errors if "held by" in line), errors[0])
        return _(
            "another process held dpkg's lock for more than {seconds} s ({holder}); "
            "a fresh machine often runs unattended upgrades at boot: wait for them to finish"
        ).format(seconds=APT_LOCK_WAIT_S, holder=holder)
    return errors[-1] if errors else _last_line(result)


def _apt_get_prefix() -> tuple[list[str] | None, str]:
    """(the prefix that runs apt-get as root, how) where apt-get is usable, else (None, why not)."""
    if shutil.which("apt-get") is None:
        return None, _("skipped: no apt-get here (not Debian/Ubuntu)")
    if getattr(os, "geteuid", lambda: -1)() == 0:
        return [], _("as root")
    if shutil.which("sudo") is None:
        return None, _("skipped: not root, and no sudo")
    try:
        sudo_ok = _run(["sudo", "-n", "true"], timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        sudo_ok = False
    if not sudo_ok:
        return None, _("skipped: not root, and sudo asks for a password (`sudo -n true` failed)")
    return ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"], _("through sudo")


def _apt_get_install() -> str | None:
    """Install Debian's dataset-fashion-mnist with apt-get where it is usable, saying so in one
    line. None once DEBIAN_DIR holds the four files, else why not (one line)."""
    prefix, how = _apt_get_prefix()
    if prefix is None:
        return how
    shown = ("sudo " if prefix else "") + f"apt-get install -y {DEBIAN_PACKAGE}"
    print(
        _("Fashion-MNIST not found: installing Debian's {package} ({command}, {how})").format(
            package=DEBIAN_PACKAGE, command=shown, how=how
        ),
        flush=True,
    )
    update = None
    try:
        known = shutil.which("apt-cache") and _run(["apt-cache", "show", DEBIAN_PACKAGE]).returncode == 0
        wait = ["-o", f"DPkg::Lock::Timeout={APT_LOCK_WAIT_S}"]  # wait for a busy dpkg, don't fail
        if not known:  # an old or empty package index: refresh it first
            update = _run([*prefix, "apt-get", *wait, "update", "-q"])
        result = _run([*prefix, "apt-get", *wait, "install", "-y", "-q", DEBIAN_PACKAGE])
    except subprocess.TimeoutExpired as e:
        return _("failed: `{command}` did not finish within {seconds} s").format(
            command=" ".join(e.cmd), seconds=APT_TIMEOUT_S
        )
    except OSError as e:
        return _("failed: {error_type}: {error}").format(error_type=type(e).__name__, error=e)
    if result.returncode != 0:
        why = _("failed (exit status {code}): {reason}").format(
            code=result.returncode, reason=_apt_reason(result)
        )
        if update is not None and update.returncode != 0:
            why += _("; the `apt-get update` before it failed too: {reason}").format(
                reason=_apt_reason(update)
            )
        return why
    if not _has_all(DEBIAN_DIR):
        return _("apt-get installed {package}, but {folder} lacks some of the four files").format(
            package=DEBIAN_PACKAGE, folder=DEBIAN_DIR
        )
    return None


def _download(source: str, root: Path) -> Path:
    """Download the four files from `source` (a name in data_sources.SOURCES), verify them by
    MD5 and write them into torchvision's cache `<root>/FashionMNIST/raw`; that folder."""
    print(
        _("Fashion-MNIST: downloading from {source} ({where})").format(
            source=source, where=data_sources.describe(source)
        ),
        flush=True,
    )
    contents = data_sources.fetch(source)
    for name in FILES:  # all four verified before anything is written
        _check_md5(contents[name], name, _("{name} from {source}").format(name=name, source=source))
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        _write_new(raw, name, contents[name])
    return raw


def find_fashion_mnist(download: bool = True, apt_get: bool = False) -> Path:
    """The first folder holding all four files (see the module's docstring for the order).

    `apt_get=True` (the command line's `prepare()` only) installs Debian's dataset-fashion-mnist
    where apt-get is usable; library calls leave the machine's packages alone. `download=True`
    then tries each source of FASHION_MNIST_SOURCE in order, into the data root. When everything
    fails: a DataError that names every place and source tried, why each failed, and the fixes.
    """
    env = os.environ.get("FASHION_MNIST_DIR")
    tried = [] if env else [_("FASHION_MNIST_DIR: not set")]
    places = {  # candidate_dirs' descriptions, in the reader's language
        "project cache": _("project cache"),
        "d2l cache (../data)": _("d2l cache (../data)"),
        "Debian dataset-fashion-mnist": _("Debian dataset-fashion-mnist"),
    }
    for description, folder in candidate_dirs():
        found = [_file_in(folder, name) for name in FILES]
        if all(found):
            return folder
        if description == "FASHION_MNIST_DIR":
            missing = [n for n, f in zip(FILES, found, strict=True) if f is None]
            raise DataError(
                _(
                    "FASHION_MNIST_DIR={folder} lacks {missing}. "
                    "Put the four files there or unset FASHION_MNIST_DIR."
                ).format(folder=folder, missing=", ".join(m + ".gz" for m in missing))
            )
        tried.append(
            _("{place}: {outcome}").format(place=places.get(description, description), outcome=folder)
        )
    apt = f"apt-get install {DEBIAN_PACKAGE}"
    if apt_get:
        why_not = _apt_get_install()
        if why_not is None:
            return DEBIAN_DIR
        tried.append(_("{place}: {outcome}").format(place=apt, outcome=why_not))
    else:
        tried.append(
            _("{command}: not run by library calls (`python -m resnet_helpers.data` runs it)").format(
                command=apt
            )
        )
    root = default_root()
    if download:
        try:
            sources = data_sources.source_order()
        except ValueError as e:
            raise DataError(str(e)) from e
        for source in sources:
            try:
                return _download(source, root)
            except (data_sources.SourceError, DataError, OSError) as e:
                tried.append(
                    _("download from {source} ({where}): {error}").format(
                        source=source, where=data_sources.describe(source), error=_one_line(e)
                    )
                )
    else:
        tried.append(_("download: not tried (download=False)"))
    fixes = _cli_fixes() if apt_get else _fixes()
    raise DataError(
        _("Fashion-MNIST not found. Tried, in order:\n  {tried}\n{fixes}").format(
            tried="\n  ".join(tried), fixes=fixes
        )
    )


def _parse_idx(content: bytes, name: str) -> torch.Tensor:
    if "images" in name:
        array = np.frombuffer(content, dtype=np.uint8, offset=16).reshape(-1, 28, 28)
        return torch.from_numpy(array.copy())
    return torch.from_numpy(np.frombuffer(content, dtype=np.uint8, offset=8).astype(np.int64))


_CACHE: dict[Path, FashionMNIST] = {}


def load_fashion_mnist(folder: str | Path | None = None, download: bool = True) -> FashionMNIST:
    """The real 60,000 training and 10,000 test images and labels, verified by MD5.

    `folder` defaults to the first place `find_fashion_mnist` finds. Results are kept in
    memory, so a second call in the same process is instant.
    """
    folder = Path(folder) if folder is not None else find_fashion_mnist(download=download)
    key = folder.resolve()
    if key not in _CACHE:
        tensors = {}
        for name in FILES:
            path = _file_in(folder, name)
            if path is None:
                raise DataError(
                    _("{folder} lacks {name}.gz. {fixes}").format(folder=folder, name=name, fixes=_fixes())
                )
            tensors[name] = _parse_idx(_read_verified(path, name), name)
        # FILES lists train images, train labels, test images, test labels: the fields' order
        _CACHE[key] = FashionMNIST(*tensors.values(), source=folder)
    return _CACHE[key]


def seed_torchvision_cache(root: str | Path | None = None, source: str | Path | None = None) -> Path:
    """Write the verified, decompressed files into `<root>/FashionMNIST/raw`, where
    `torchvision.datasets.FashionMNIST` (and so `d2l.load_data_fashion_mnist`) finds them
    and downloads nothing. Files already there are verified, never overwritten."""
    root = Path(root) if root is not None else default_root()
    source = Path(source) if source is not None else find_fashion_mnist()
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if (raw / name).exists():
            _read_verified(raw / name, name)  # raises on a corrupt file; never replaced silently
            continue
        found = _file_in(source, name)
        if found is None:
            raise DataError(
                _(
                    "{source} has no {name} (nor {name}.gz), so the torchvision cache cannot be seeded from "
                    "it. Fix: copy the four Fashion-MNIST files ({files}) into that folder, or "
                    "call seed_torchvision_cache() without `source` to use the data found on this machine."
                ).format(source=source, name=name, files=", ".join(FILES))
            )
        _write_new(raw, name, _read_verified(found, name))
    return raw


def prepare(root: str | Path | None = None) -> Path:
    """Find and verify the data, seed the torchvision cache; print what was done.

    The command line's step (`make data`): unlike a library call, it installs Debian's
    dataset-fashion-mnist with apt-get where that is usable (see the module's docstring)."""
    source = find_fashion_mnist(apt_get=True)
    data = load_fashion_mnist(source)
    raw = seed_torchvision_cache(root, source)
    print(
        _("Fashion-MNIST verified (MD5) from {source}: {train:,} training and {test:,} test images").format(
            source=source, train=len(data.train_labels), test=len(data.test_labels)
        )
    )
    print(_("torchvision/d2l cache ready: {folder}").format(folder=raw))
    return raw


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m resnet_helpers.data",
        description="Find (or install, or download) Fashion-MNIST, verify it by MD5, and seed the "
        "torchvision/d2l cache under ROOT.",
    )
    parser.add_argument("root", nargs="?", help="the data root (default: RESNET_DATA_ROOT, else <repo>/data)")
    args = parser.parse_args(argv)
    try:
        prepare(args.root)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # a root that is a file, or where no folder can be made: one line, no traceback
        why = f"{e.strerror}: {e.filename}" if e.filename else str(e)
        message = _("cannot use {root} as the data root ({why}); choose a folder you can write to").format(
            root=args.root or default_root(), why=why
        )
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
