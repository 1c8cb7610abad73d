"""Apple's GPU (MPS): the data's generators and the clock's synchronisation on the device itself.

Run on a Mac with Apple silicon; skipped everywhere else (the CI machines have no MPS).
"""

from types import SimpleNamespace

import pytest
import torch

from resnet_helpers.profiles import synchronize
from resnet_helpers.training.device_data import DeviceData

pytestmark = pytest.mark.skipif(
    not torch.backends.mps.is_available(), reason="needs Apple's MPS (a Mac with Apple silicon)"
)


def small_data(n_train: int = 50, n_test: int = 10) -> SimpleNamespace:
    """Fashion-MNIST's layout (uint8 images, int64 labels) with random pixels: label i is image i's index."""
    g = torch.Generator().manual_seed(0)
    return SimpleNamespace(
        train_images=torch.randint(0, 256, (n_train, 28, 28), dtype=torch.uint8, generator=g),
        train_labels=torch.arange(n_train),
        test_images=torch.randint(0, 256, (n_test, 28, 28), dtype=torch.uint8, generator=g),
        test_labels=torch.arange(n_test),
    )


def epoch(data: DeviceData, **kwargs) -> list:
    return [(X.cpu(), y.cpu()) for X, y in data.train_batches(8, 32, **kwargs)]


def test_the_generators_live_on_mps_and_repeat_an_epoch_exactly():
    data = DeviceData("mps", data=small_data())
    assert data.generator(seed=0, epoch=0).device.type == "mps"
    assert data.train_images.device.type == "mps"
    first = epoch(data, epoch=3, seed=1, flip=True, translate=2)
    again = epoch(data, epoch=3, seed=1, flip=True, translate=2)  # a resumed run sees the same batches
    for (X, y), (X_again, y_again) in zip(first, again, strict=True):
        assert torch.equal(X, X_again) and torch.equal(y, y_again)


def test_every_image_once_per_epoch_in_a_new_order_each_epoch():
    data = DeviceData("mps", data=small_data())
    orders = []
    for e in (0, 1):
        batches = list(data.train_batches(8, 32, epoch=e, seed=0, flip=True, translate=2))
        assert all(X.device.type == "mps" and X.shape[1:] == (1, 32, 32) for X, _ in batches)
        assert all(0 <= X.min() and X.max() <= 1 for X, _ in batches)
        labels = torch.cat([y for _, y in batches]).cpu()
        assert sorted(labels.tolist()) == list(range(50))
        orders.append(labels)
    assert not torch.equal(orders[0], orders[1])


def test_synchronize_waits_for_mps():
    x = torch.randn(512, 512, device="mps")
    y = x @ x
    synchronize("mps")
    assert torch.isfinite(y.cpu()).all()
