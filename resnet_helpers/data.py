"""Fashion-MNIST, offline first: locate, verify (MD5), load; seed the torchvision/d2l cache.

Places tried, in order (the first that holds all four files wins):
1. the folder in the environment variable FASHION_MNIST_DIR;
2. torchvision's cache `<root>/FashionMNIST/raw` under this project's data root and under
   d2l's `../data` (seen from the working directory, as `d2l.load_data_fashion_mnist` uses);
3. Debian's package `dataset-fashion-mnist`: /usr/share/datasets/fashion-mnist/;
4. a download by torchvision into the data root.

Each file is checked by the MD5 of its *decompressed* content, so a re-compressed copy
(Debian's) passes while a corrupt or truncated one is refused with the file's name and the
remedy. A file already on disk is never overwritten. `python -m resnet_helpers.data`
prepares everything (`make data` runs it).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "CLASS_NAMES",
    "FILES",
    "DEBIAN_DIR",
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

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

FIXES = (
    "Fixes: on Debian/Ubuntu `sudo apt-get install dataset-fashion-mnist`; or put the four "
    "files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
    "t10k-labels-idx1-ubyte.gz) in a folder and set FASHION_MNIST_DIR to it; or connect to "
    "the internet so torchvision can download them."
)


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


def _read_verified(path: Path, name: str) -> bytes:
    """The decompressed bytes of `path`, checked against the published MD5."""
    remedy = (
        f"Delete or replace {path} (a good copy: `sudo apt-get install dataset-fashion-mnist`, "
        "or let torchvision download it), then run `python -m resnet_helpers.data` again."
    )
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                content = f.read()
        else:
            content = path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"Fashion-MNIST file {path} is corrupt or truncated ({e}). {remedy}") from e
    digest = hashlib.md5(content).hexdigest()
    if digest != FILES[name]:
        raise DataError(
            f"Fashion-MNIST file {path} is corrupt or truncated: the MD5 of its content is "
            f"{digest}, expected {FILES[name]} ({len(content):,} bytes read). {remedy}"
        )
    return content


def find_fashion_mnist(download: bool = True) -> Path:
    """The first folder holding all four files; downloads into the data root if none does."""
    tried = []
    for description, folder in candidate_dirs():
        found = [_file_in(folder, name) for name in FILES]
        if all(found):
            return folder
        if description == "FASHION_MNIST_DIR":
            missing = [n for n, f in zip(FILES, found, strict=True) if f is None]
            raise DataError(
                f"FASHION_MNIST_DIR={folder} lacks {', '.join(m + '.gz' for m in missing)}. "
                "Put the four files there or unset FASHION_MNIST_DIR."
            )
        tried.append(f"{description}: {folder}")
    if download:
        root = default_root()
        try:
            from torchvision.datasets import FashionMNIST as TorchvisionFashionMNIST

            TorchvisionFashionMNIST(root=str(root), train=True, download=True)
            folder = root / "FashionMNIST" / "raw"
            if all(_file_in(folder, name) for name in FILES):
                return folder
        except Exception as e:  # noqa: BLE001 - any failure ends in the one error below
            tried.append(f"download into {root}: {type(e).__name__}: {e}")
    raise DataError("Fashion-MNIST not found. Tried:\n  " + "\n  ".join(tried) + "\n" + FIXES)


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
                raise DataError(f"{folder} lacks {name}.gz. " + FIXES)
            tensors[name] = _parse_idx(_read_verified(path, name), name)
        _CACHE[key] = FashionMNIST(
            train_images=tensors["train-images-idx3-ubyte"],
            train_labels=tensors["train-labels-idx1-ubyte"],
            test_images=tensors["t10k-images-idx3-ubyte"],
            test_labels=tensors["t10k-labels-idx1-ubyte"],
            source=folder,
        )
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
        target = raw / name
        if target.exists():
            _read_verified(target, name)  # raises on a corrupt file; never replaced silently
            continue
        content = _read_verified(_file_in(source, name), name)
        fd, tmp = tempfile.mkstemp(dir=raw, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, target)
    return raw


def prepare(root: str | Path | None = None) -> Path:
    """Find and verify the data, seed the torchvision cache; print what was done."""
    source = find_fashion_mnist()
    data = load_fashion_mnist(source)
    raw = seed_torchvision_cache(root, source)
    print(
        f"Fashion-MNIST verified (MD5) from {source}: {len(data.train_labels):,} training and "
        f"{len(data.test_labels):,} test images"
    )
    print(f"torchvision/d2l cache ready: {raw}")
    return raw


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        prepare(argv[0] if argv else None)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
