"""The trainer under torchrun (DistributedDataParallel, gloo, 2 CPU processes on 127.0.0.1).

What data parallelism computes is written out here in one process (`data_parallel_reference`):
each global batch split into one shard per rank, each shard's forward and backward with BatchNorm
over that shard (DDP's per-rank BN), gradients averaged with each shard weighted by its size, one
SGD step, and rank 0's BatchNorm running statistics kept. The 2-process run must end with those
weights; so must a 2-process run stopped by SIGTERM after epoch 1 and resumed in one process.

Tolerance: fp32 (--fp32), |difference| <= 1e-4 + 1e-4 x |expected| on every weight and buffer.
The runs do the same arithmetic in another order (gloo sums the two ranks' gradients, the reference
accumulates them; one thread or two): measured, at most 6e-7 for the 2-rank run and 2e-5 for the
resumed one after 6 steps. A real difference is 100 times larger: one process instead of 2 ranks
(BatchNorm over 16 images instead of 8) moves the weights by 2e-2 in these 6 steps.

Threads: the in-process runs use one (as torchrun gives each rank), which also keeps these tests
fast on a busy 2-core machine.
"""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from resnet_helpers.models import build_resnet
from resnet_helpers.profiles import Precision
from resnet_helpers.training import distributed
from resnet_helpers.training.device_data import DeviceData
from resnet_helpers.training.recipes import (
    RunSettings,
    get_recipe,
    init_weights,
    make_optimizer,
    make_scheduler,
)
from resnet_helpers.training.trainer import Trainer, load_checkpoint, seeded

ROOT = Path(__file__).resolve().parents[1]
# ResNet-18 at the smallest resolution it takes, 37 images in batches of 16, 16, 5: the last batch
# splits 3 + 2 over two ranks, so the weighting of unequal shards is tested too. 2 epochs, 6 steps.
EPOCHS, BATCH, RESOLUTION, TRAIN, TEST = 2, 16, 17, 37, 16
RECIPE = "improved"
ARGS = ["--recipe", RECIPE, "--profile", "smoke", "--epochs", str(EPOCHS), "--batch-size", str(BATCH)]
ARGS += ["--resolution", str(RESOLUTION), "--train-size", str(TRAIN), "--test-size", str(TEST), "--fp32"]
TOLERANCE = dict(atol=1e-4, rtol=1e-4)
SETTINGS = RunSettings(EPOCHS, BATCH, RESOLUTION, TRAIN, TEST)
FP32 = Precision("fp32", None, False, "--fp32")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    return DeviceData("cpu", TRAIN, TEST)


def one_process(data, checkpoint=None, resume=False):
    """The run in this process, as the command line's train_resnet builds it."""
    with seeded(0):
        net = build_resnet("resnet18")
        init_weights(net, get_recipe(RECIPE))
        quiet = dict(log=None, progress=False, live_plot=False)
        trainer = Trainer(net, data, RECIPE, SETTINGS, FP32, checkpoint=checkpoint, **quiet)
        return trainer.fit(resume=resume)


def data_parallel_reference(data, world_sizes: list[int]) -> dict:
    """The weights after one epoch per entry of `world_sizes`, each epoch trained as that many
    ranks would train it (the recipe RECIPE), in this process."""
    recipe = get_recipe(RECIPE)
    with seeded(0):
        net = build_resnet("resnet18")
        init_weights(net, recipe)
    net = net.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(net, recipe)
    scheduler = make_scheduler(optimizer, recipe, len(world_sizes) * data.num_batches(BATCH))
    loss = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    for epoch, ranks in enumerate(world_sizes):
        net.train()
        augment = dict(flip=recipe.flip, translate=recipe.translate)
        for X, y in data.train_batches(BATCH, RESOLUTION, epoch, seed=0, **augment):
            optimizer.zero_grad()
            for rank, (X_r, y_r) in enumerate(zip(X.tensor_split(ranks), y.tensor_split(ranks), strict=True)):
                # The mean over the global batch: each shard's share of it.
                (loss(net(X_r), y_r) * len(y_r) / len(y)).backward()
                if rank == 0:  # DDP gives every rank rank 0's running statistics
                    rank0_buffers = [b.clone() for b in net.buffers()]
            for buffer, kept in zip(net.buffers(), rank0_buffers, strict=True):
                buffer.copy_(kept)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    return net.state_dict()


def assert_same_weights(state: dict, expected: dict) -> None:
    assert state.keys() == expected.keys()  # the bare network's names: no 'module.' prefix
    for name, value in expected.items():
        torch.testing.assert_close(state[name], value, **TOLERANCE, msg=lambda m, n=name: f"{n}: {m}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args: list[str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
    command += ["--master_addr=127.0.0.1", f"--master_port={free_port()}"]
    return subprocess.Popen(
        [*command, "-m", "resnet_helpers.training", *ARGS, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """The uninterrupted 2-process run: its final checkpoint and what it printed."""
    checkpoint = tmp_path_factory.mktemp("ddp") / "run.pt"
    code, out, err = finish(torchrun(["--checkpoint", str(checkpoint)]))
    assert code == 0, err
    return load_checkpoint(checkpoint), out


def test_the_reference_is_what_one_process_trains(data):
    """With one rank, the written-out reference is our trainer's run (what makes it a reference)."""
    result = one_process(data)
    assert_same_weights(result.net.state_dict(), data_parallel_reference(data, [1] * EPOCHS))


def test_two_ranks_train_what_data_parallelism_computes(two_ranks, data):
    state, out = two_ranks
    assert_same_weights(state["model"], data_parallel_reference(data, [2] * EPOCHS))
    assert "torchrun: 2 processes (DDP)" in out
    assert out.count(f"epoch {EPOCHS}/{EPOCHS}") == 1, out  # only rank 0 prints


def test_two_ranks_stopped_by_sigterm_resume_in_one_process(two_ranks, data, tmp_path):
    checkpoint = tmp_path / "run.pt"
    launcher = torchrun(["--checkpoint", str(checkpoint)])
    deadline = time.monotonic() + 300
    while not checkpoint.exists():  # epoch 1's checkpoint
        assert launcher.poll() is None and time.monotonic() < deadline, launcher.communicate()
        time.sleep(0.02)
    launcher.send_signal(signal.SIGTERM)
    code, out, err = finish(launcher, timeout=120)
    assert code != 0 and "Traceback" not in out
    assert f"Last complete checkpoint: {checkpoint} (after epoch 1)" in err, err
    assert err.count("Last complete checkpoint") == 1, err  # rank 0 only
    assert load_checkpoint(checkpoint)["epoch"] == 1

    resumed = one_process(data, checkpoint, resume=True)
    assert resumed.resumed_from == 1
    # Epoch 1 as 2 ranks trained it, epoch 2 as one process trains it.
    assert_same_weights(resumed.net.state_dict(), data_parallel_reference(data, [2, 1]))
    # Its history's epoch 1 is the uninterrupted 2-rank run's (losses summed over both ranks).
    uninterrupted, _ = two_ranks
    first = [i for i, epoch in enumerate(uninterrupted["history"]["epoch"]) if epoch <= 1]
    for key in ("epoch", "train_loss", "train_acc"):
        assert [resumed.history[key][i] for i in first] == [uninterrupted["history"][key][i] for i in first]
    assert resumed.history["test_acc"][0] == uninterrupted["history"]["test_acc"][0]


def test_shards_split_a_batch_like_tensor_split(monkeypatch):
    for n, ranks in [(16, 2), (5, 2), (7, 3), (2, 2)]:
        parts = []
        for rank in range(ranks):
            monkeypatch.setattr(distributed, "rank", lambda r=rank: r)
            monkeypatch.setattr(distributed, "world_size", lambda w=ranks: w)
            parts.append(distributed.shard(n))
            size = parts[-1].stop - parts[-1].start
            assert distributed.shard_weight(n) == pytest.approx(ranks * size / n)
        expected = [len(t) for t in torch.arange(n).tensor_split(ranks)]
        assert [p.stop - p.start for p in parts] == expected
        assert parts[0].start == 0 and parts[-1].stop == n
        assert all(a.stop == b.start for a, b in zip(parts, parts[1:], strict=False))


def test_a_batch_too_small_for_the_ranks_is_refused(monkeypatch):
    monkeypatch.setattr(distributed, "world_size", lambda: 4)
    distributed.check_batches([(0, 16), (16, 24)])
    with pytest.raises(ValueError, match="a global batch of 5 images cannot give each of 4 ranks 2 or more"):
        distributed.check_batches([(0, 16), (16, 21)])
