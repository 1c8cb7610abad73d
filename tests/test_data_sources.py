"""The download step's sources (issue 26, item 4), served by a local HTTP server on 127.0.0.1 in
each source's own format: torchvision's idx .gz files, the Hugging Face hub's parquet files (PNG
images and labels, at the hub's `resolve/main/...` paths), ModelScope's file API. The sources
are pointed at the server by their environment variables (FASHION_MNIST_IDX_URL, HF_ENDPOINT,
FASHION_MNIST_MODELSCOPE_URL), exactly as a student points them at a mirror.

The data served is a slice of the real Fashion-MNIST (Debian's copy): the first TRAIN training
and TEST test images, their MD5s (of idx files cut from the published files, not made by the
code under test) standing in for the published ones."""

import gzip
import hashlib
import http.server
import importlib.util
import io
import socket
import struct
import sys
import threading

import numpy as np
import pytest
import torch

from resnet_helpers import data as D
from resnet_helpers import data_sources as S

TRAIN, TEST = 40, 20
HF = "/datasets/zalando-datasets/fashion_mnist/resolve"
MODELSCOPE = "/api/v1/datasets/cutedataset/fashion_mnist/repo?Revision=master&FilePath="


def _slice_of_published(content: bytes, name: str) -> bytes:
    """The first TRAIN or TEST records of a published idx file, header rewritten for the count."""
    n = TRAIN if name.startswith("train") else TEST
    if "images" in name:
        return struct.pack(">IIII", 2051, n, 28, 28) + content[16 : 16 + n * 784]
    return struct.pack(">II", 2049, n) + content[8 : 8 + n]


@pytest.fixture(scope="module")
def published():
    """name -> the idx content of the slice, cut from the real files on this machine."""
    source = D.find_fashion_mnist(download=False)
    return {
        name: _slice_of_published(D._read_verified(D._file_in(source, name), name), name) for name in D.FILES
    }


def _arrays(published, split):
    images_name, labels_name = S.IDX_NAMES[split]
    images = np.frombuffer(published[images_name], np.uint8, offset=16).reshape(-1, 28, 28)
    return images, np.frombuffer(published[labels_name], np.uint8, offset=8)


def _parquet(published, split) -> bytes:
    """A parquet file in the hub's layout: image {bytes: PNG, path}, label int64."""
    pa = pytest.importorskip("pyarrow", reason="the hub's parquet files need pyarrow (pip install pyarrow)")
    import pyarrow.parquet as pq
    from PIL import Image

    images, labels = _arrays(published, split)
    cells = []
    for image in images:
        png = io.BytesIO()
        Image.fromarray(image, mode="L").save(png, format="PNG")
        cells.append({"bytes": png.getvalue(), "path": None})
    out = io.BytesIO()
    pq.write_table(pa.table({"image": cells, "label": pa.array(labels.astype(np.int64))}), out)
    return out.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch, published):
    """A server on 127.0.0.1 that serves `server.files` (URL path -> bytes, empty at first; the
    rest 404) and logs `server.requests`; every source points at it; nothing is found locally."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests = {}, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("FASHION_MNIST_IDX_URL", url + "/idx/")
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("FASHION_MNIST_MODELSCOPE_URL", url)
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.delenv("FASHION_MNIST_SOURCE", raising=False)
    monkeypatch.setenv("RESNET_DATA_ROOT", str(tmp_path / "root"))
    (tmp_path / "work" / "notebooks").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work" / "notebooks")
    monkeypatch.setattr(D, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(D, "FILES", {name: hashlib.md5(c).hexdigest() for name, c in published.items()})
    httpd.url = url
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _serve_idx(server, published, corrupt: str | None = None):
    for name, content in published.items():
        if name == corrupt:
            content = content[:-1] + bytes([content[-1] ^ 1])
        server.files[f"/idx/{name}.gz"] = gzip.compress(content)


def _serve_hf(server, published):
    for split in S.IDX_NAMES:
        server.files[f"{HF}/main/fashion_mnist/{split}-00000-of-00001.parquet"] = _parquet(published, split)


def _check_cache(published):
    """The cache holds the four verified idx files, and torchvision reads them offline."""
    from torchvision.datasets import FashionMNIST

    raw = D.default_root() / "FashionMNIST" / "raw"
    assert {p.name for p in raw.iterdir()} == set(D.FILES)
    for name, content in published.items():
        assert (raw / name).read_bytes() == content
    test = FashionMNIST(root=str(D.default_root()), train=False, download=True)  # nothing downloaded
    images, labels = _arrays(published, "test")
    assert torch.equal(test.data, torch.from_numpy(images.copy()))
    assert test.targets.tolist() == labels.tolist()


def test_default_order():
    assert S.DEFAULT_ORDER == ("torchvision", "hf", "modelscope")


def test_torchvision_style_source(server, published, capsys):
    _serve_idx(server, published)
    raw = D.find_fashion_mnist()
    assert raw == D.default_root() / "FashionMNIST" / "raw"
    assert server.requests == [f"/idx/{name}.gz" for name in D.FILES]
    assert f"Fashion-MNIST: downloading from torchvision ({server.url}/idx/)" in capsys.readouterr().out
    _check_cache(published)


def test_hub_parquet_source_through_hf_endpoint(server, published, monkeypatch):
    _serve_hf(server, published)
    monkeypatch.setenv("FASHION_MNIST_SOURCE", "hf")
    D.find_fashion_mnist()
    assert server.requests == [
        f"{HF}/main/fashion_mnist/{s}-00000-of-00001.parquet" for s in ("train", "test")
    ]
    _check_cache(published)  # decoded PNGs re-encoded as idx: byte-identical to the published slice


def test_hub_falls_back_to_its_parquet_conversion_branch(server, published, monkeypatch):
    for split in S.IDX_NAMES:
        server.files[f"{HF}/refs%2Fconvert%2Fparquet/fashion_mnist/{split}/0000.parquet"] = _parquet(
            published, split
        )
    monkeypatch.setenv("FASHION_MNIST_SOURCE", "hf")
    D.find_fashion_mnist()
    _check_cache(published)


def test_modelscope_file_api(server, published, monkeypatch):
    for split in S.IDX_NAMES:
        server.files[f"{MODELSCOPE}fashion_mnist/{split}-00000-of-00001.parquet"] = _parquet(published, split)
    monkeypatch.setenv("FASHION_MNIST_SOURCE", "modelscope")
    D.find_fashion_mnist()
    _check_cache(published)


def test_sources_tried_in_order_the_first_that_works_wins(server, published):
    _serve_hf(server, published)  # torchvision's files are missing (404): the hub is next
    D.find_fashion_mnist()
    assert server.requests[0] == f"/idx/{list(D.FILES)[0]}.gz"
    assert all(path.startswith(HF) for path in server.requests[1:])
    assert not any(path.startswith("/api/") for path in server.requests)  # modelscope never asked
    _check_cache(published)


def test_order_from_the_environment(server, published, monkeypatch):
    _serve_idx(server, published)
    _serve_hf(server, published)
    monkeypatch.setenv("FASHION_MNIST_SOURCE", "hf, torchvision")
    D.find_fashion_mnist()
    assert all(path.startswith(HF) for path in server.requests)  # the hub first, and it worked


def test_corrupt_download_is_rejected_and_the_next_source_used(server, published, monkeypatch):
    _serve_idx(server, published, corrupt="t10k-images-idx3-ubyte")
    monkeypatch.setenv("FASHION_MNIST_SOURCE", "torchvision")
    with pytest.raises(D.DataError) as info:
        D.find_fashion_mnist()
    message = str(info.value)
    assert "download from torchvision" in message and "t10k-images-idx3-ubyte from torchvision" in message
    assert f"expected {D.FILES['t10k-images-idx3-ubyte']}" in message
    assert not (
        D.default_root() / "FashionMNIST" / "raw"
    ).exists()  # nothing written, not even the good three
    _serve_hf(server, published)
    monkeypatch.setenv("FASHION_MNIST_SOURCE", "torchvision,hf")
    D.find_fashion_mnist()
    _check_cache(published)


def test_every_source_fails_names_each_and_the_fixes(server):
    with pytest.raises(D.DataError) as info:
        D.find_fashion_mnist()
    lines = str(info.value).splitlines()
    url = server.url
    train_images = list(D.FILES)[0]
    assert (
        f"  download from torchvision ({url}/idx/): {url}/idx/{train_images}.gz: HTTP 404 Not Found" in lines
    )
    hf = [line for line in lines if line.startswith("  download from hf ")]
    modelscope = [line for line in lines if line.startswith("  download from modelscope ")]
    assert hf and hf[0].startswith(f"  download from hf ({url}/datasets/zalando-datasets/fashion_mnist): ")
    assert modelscope and f"({url}/datasets/cutedataset/fashion_mnist)" in modelscope[0]
    if importlib.util.find_spec("pyarrow"):
        assert "HTTP 404" in hf[0] and "HTTP 404" in modelscope[0]
    else:
        assert "pip install pyarrow" in hf[0] and "pip install pyarrow" in modelscope[0]
    fixes = lines[-1]
    for fix in (
        "HF_ENDPOINT=https://hf-mirror.com",
        "FASHION_MNIST_DIR",
        "apt-get install dataset-fashion-mnist",
    ):
        assert fix in fixes


def test_unreachable_host_is_named(server, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("FASHION_MNIST_SOURCE", "torchvision")
    monkeypatch.setenv("FASHION_MNIST_IDX_URL", f"http://127.0.0.1:{closed}")
    with pytest.raises(
        D.DataError, match=rf"download from torchvision \(http://127.0.0.1:{closed}/\): .*refused"
    ):
        D.find_fashion_mnist()


def test_without_pyarrow_the_message_says_how_to_install_it(server, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    monkeypatch.setenv("FASHION_MNIST_SOURCE", "hf")
    with pytest.raises(D.DataError) as info:
        D.find_fashion_mnist()
    assert "need pyarrow, which is not installed (fix: `pip install pyarrow`)" in str(info.value)
    assert server.requests == []  # nothing downloaded that could not be read


@pytest.mark.parametrize("value", ["kaggle", "hf,,s3", " , "])
def test_unknown_source_name_is_refused(server, monkeypatch, value):
    monkeypatch.setenv("FASHION_MNIST_SOURCE", value)
    with pytest.raises(
        D.DataError, match=f"FASHION_MNIST_SOURCE={value!r} names (an unknown|no) source.* Fix: "
    ):
        D.find_fashion_mnist()
    assert server.requests == []


def test_the_real_addresses():
    """The addresses a student's machine asks (no request is made here)."""
    env = {k: None for k in ("HF_ENDPOINT", "FASHION_MNIST_IDX_URL", "FASHION_MNIST_MODELSCOPE_URL")}
    with pytest.MonkeyPatch.context() as mp:
        for k in env:
            mp.delenv(k, raising=False)
        assert S.describe("torchvision") == "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
        assert S.describe("hf") == "https://huggingface.co/datasets/zalando-datasets/fashion_mnist"
        assert S.describe("modelscope") == "https://www.modelscope.cn/datasets/cutedataset/fashion_mnist"
        mp.setenv("HF_ENDPOINT", "https://hf-mirror.com/")
        assert S.describe("hf") == "https://hf-mirror.com/datasets/zalando-datasets/fashion_mnist"
