"""Fashion-MNIST from the network: the sources, in the order FASHION_MNIST_SOURCE names them.

Each source gives the four files' idx contents (decompressed); `resnet_helpers.data` checks them
by the published MD5 and writes them into torchvision's cache. This module only fetches and
decodes: it knows the sources' addresses and formats, not where the data goes.

Sources (`FASHION_MNIST_SOURCE=torchvision,hf,modelscope` is the default order):
- `torchvision`: the idx .gz files from torchvision's mirror (Zalando's S3 bucket), or from the
  folder URL in FASHION_MNIST_IDX_URL (any server holding the four .gz files);
- `hf`: the Hugging Face hub's dataset zalando-datasets/fashion_mnist, two parquet files
  (PNG images and labels); HF_ENDPOINT chooses the host, e.g. https://hf-mirror.com in China;
- `modelscope`: ModelScope's copy, cutedataset/fashion_mnist (assumed to hold the hub's parquet
  files at the same paths); FASHION_MNIST_MODELSCOPE_URL replaces https://www.modelscope.cn.

Arrays become idx files with the idx header (magic number, count, 28, 28) and the raw uint8
bytes: the published files are exactly that, so a correct download re-encodes to byte-identical
content and the published MD5s verify every source alike.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import urllib.error
import urllib.request
import zlib

import numpy as np

from .i18n import _

__all__ = ["SOURCES", "DEFAULT_ORDER", "SourceError", "source_order", "describe", "fetch"]

SOURCES = ("torchvision", "hf", "modelscope")
DEFAULT_ORDER = SOURCES
HF_DATASET = "zalando-datasets/fashion_mnist"
MODELSCOPE_DATASET = "cutedataset/fashion_mnist"
TIMEOUT_S = 60  # seconds without data before a download is given up

IDX_NAMES = {  # split -> (images file, labels file), as the published files are named
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class SourceError(RuntimeError):
    """A source could not give the data; the message says why in one line."""


def source_order() -> list[str]:
    """The sources to try, in order: FASHION_MNIST_SOURCE (comma-separated), else DEFAULT_ORDER."""
    raw = os.environ.get("FASHION_MNIST_SOURCE", "")
    if not raw.strip():
        return list(DEFAULT_ORDER)
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in SOURCES]
    if unknown or not names:
        what = (
            _("an unknown source ({names})").format(names=", ".join(unknown)) if unknown else _("no source")
        )
        raise ValueError(
            _(
                "FASHION_MNIST_SOURCE={raw!r} names {what}. Fix: a comma-separated list of "
                "{sources}, e.g. FASHION_MNIST_SOURCE=hf,torchvision (or unset it for that order)"
            ).format(raw=raw, what=what, sources=", ".join(SOURCES))
        )
    return names


def describe(name: str) -> str:
    """Where a source downloads from, for messages."""
    if name == "torchvision":
        return _(" or ").join(_idx_folders())
    if name == "hf":
        return f"{_hf_endpoint()}/datasets/{HF_DATASET}"
    return f"{_modelscope_host()}/datasets/{MODELSCOPE_DATASET}"


def fetch(name: str) -> dict[str, bytes]:
    """The four idx contents (decompressed) from source `name`, keyed by file name.
    Raises SourceError saying why (unreachable, not found, not decodable)."""
    if name == "torchvision":
        return _from_idx_folders(_idx_folders())
    if name == "hf":
        endpoint, path = _hf_endpoint(), f"datasets/{HF_DATASET}/resolve"
        urls = {
            split: [
                f"{endpoint}/{path}/main/fashion_mnist/{split}-00000-of-00001.parquet",
                # the hub's own conversion, kept on a branch beside main
                f"{endpoint}/{path}/refs%2Fconvert%2Fparquet/fashion_mnist/{split}/0000.parquet",
            ]
            for split in IDX_NAMES
        }
        return _from_parquet(urls)
    if name == "modelscope":
        api = f"{_modelscope_host()}/api/v1/datasets/{MODELSCOPE_DATASET}/repo?Revision=master&FilePath="
        return _from_parquet(
            {split: [f"{api}fashion_mnist/{split}-00000-of-00001.parquet"] for split in IDX_NAMES}
        )
    raise ValueError(
        _("unknown Fashion-MNIST source {name!r}; the sources are {sources}").format(
            name=name, sources=", ".join(SOURCES)
        )
    )


# --- where each source is --------------------------------------------------------------------


def _idx_folders() -> list[str]:
    env = os.environ.get("FASHION_MNIST_IDX_URL")
    if env:
        return [env.rstrip("/") + "/"]
    from torchvision.datasets import FashionMNIST

    return list(FashionMNIST.mirrors)


def _hf_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def _modelscope_host() -> str:
    return (os.environ.get("FASHION_MNIST_MODELSCOPE_URL") or "https://www.modelscope.cn").rstrip("/")


# --- downloading and decoding ----------------------------------------------------------------


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "resnet_helpers"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.read()
    except urllib.error.HTTPError as e:
        raise SourceError(f"{url}: HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise SourceError(f"{url}: {e.reason}") from e
    except OSError as e:  # a timeout or a connection reset while reading
        raise SourceError(f"{url}: {type(e).__name__}: {e}") from e


def _get_first(urls: list[str]) -> bytes:
    """The content of the first URL that answers; else SourceError naming each URL's failure."""
    reasons = []
    for url in urls:
        try:
            return _get(url)
        except SourceError as e:
            reasons.append(str(e))
    raise SourceError("; ".join(reasons))


def _from_idx_folders(folders: list[str]) -> dict[str, bytes]:
    contents = {}
    for name in (*IDX_NAMES["train"], *IDX_NAMES["test"]):
        packed = _get_first([folder + name + ".gz" for folder in folders])
        try:
            contents[name] = gzip.decompress(packed)
        except (OSError, EOFError, zlib.error) as e:
            raise SourceError(
                _("{name}.gz is not a readable gzip file ({error})").format(name=name, error=e)
            ) from e
    return contents


def _from_parquet(urls: dict[str, list[str]]) -> dict[str, bytes]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:
        raise SourceError(
            _("this source's parquet files need pyarrow, which is not installed (fix: `pip install pyarrow`)")
        ) from e
    contents = {}
    for split, (images_name, labels_name) in IDX_NAMES.items():
        content = _get_first(urls[split])
        try:
            table = pq.read_table(io.BytesIO(content), columns=["image", "label"])
            images = np.stack([_decode_png(cell["bytes"]) for cell in table.column("image").to_pylist()])
            labels = np.asarray(table.column("label").to_pylist(), dtype=np.uint8)
        except Exception as e:  # noqa: BLE001 - whatever is wrong with the file, the source failed
            raise SourceError(
                _("the {split} parquet file is not Fashion-MNIST's ({error_type}: {error})").format(
                    split=split, error_type=type(e).__name__, error=e
                )
            ) from e
        contents[images_name] = idx_images(images)
        contents[labels_name] = idx_labels(labels)
    return contents


def _decode_png(data: bytes) -> np.ndarray:
    from PIL import Image  # torchvision's dependency

    with Image.open(io.BytesIO(data)) as image:
        array = np.asarray(image.convert("L"), dtype=np.uint8)
    if array.shape != (28, 28):
        raise ValueError(
            _("an image of {width}x{height} pixels, not 28x28").format(
                width=array.shape[1], height=array.shape[0]
            )
        )
    return array


def idx_images(images: np.ndarray) -> bytes:
    """uint8 images (N, 28, 28) as an idx3 file's content (Fashion-MNIST's format)."""
    n, rows, cols = images.shape
    return struct.pack(">IIII", 2051, n, rows, cols) + np.ascontiguousarray(images, dtype=np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    """uint8 labels (N,) as an idx1 file's content."""
    return struct.pack(">II", 2049, len(labels)) + np.ascontiguousarray(labels, dtype=np.uint8).tobytes()
