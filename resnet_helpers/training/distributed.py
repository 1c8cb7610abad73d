"""Data parallelism under `torchrun`: PyTorch's DistributedDataParallel (DDP), and the few helpers
the trainer needs to run as one of several processes ("ranks").

    torchrun --nproc_per_node=2 -m resnet_helpers.training --recipe course

torchrun starts one process per GPU (or per CPU rank) and tells each who it is through environment
variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). `setup()` joins them: NCCL on
GPUs, gloo on CPUs. Without those variables nothing here does anything: a single process trains as
it always did.

What d2l 12.6 teaches, done by PyTorch: every rank draws the same global batch (the same seeded
permutation on every rank, so the data order does not depend on the number of ranks), keeps its own
shard (`shard`), runs forward and backward on it; DDP averages the gradients across ranks during
backward; every rank takes the same optimiser step. A shard's loss is weighted by its share of the
global batch (`shard_weight`), so the averaged gradient is the mean over the global batch even when
the last batch does not split evenly.

BatchNorm: each rank normalises over its own shard (DDP's default, as d2l's `nn.DataParallel` does
too; PyTorch's SyncBatchNorm runs on GPUs only). DDP copies rank 0's running statistics to the
other ranks at every forward pass, so the checkpoint holds rank 0's.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "launched",
    "setup",
    "teardown",
    "active",
    "world_size",
    "rank",
    "is_main",
    "shard",
    "shard_batches",
    "shard_weight",
    "check_batches",
    "wrap",
    "all_reduce_sum",
    "broadcast_buffers",
    "broadcast_object",
]


def launched() -> bool:
    """Whether this process was started by torchrun (its RANK and WORLD_SIZE are set)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def setup(device: torch.device) -> torch.device:
    """Join torchrun's process group and return this rank's device: NCCL and GPU number LOCAL_RANK
    when `device` is CUDA, else gloo on the CPU (gloo has no MPS support). Without torchrun:
    `device`, unchanged, and no process group."""
    if not launched():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)  # env:// from torchrun's variables
    return device


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    """Rank 0, the one that prints, draws and writes checkpoints (always true in a single process)."""
    return rank() == 0


def shard(n: int) -> slice:
    """This rank's part of a global batch of `n` examples: contiguous, sizes differing by at most
    one (the first `n % world_size` ranks take one more), as `torch.tensor_split` splits."""
    size, extra = divmod(n, world_size())
    start = rank() * size + min(rank(), extra)
    return slice(start, start + size + (rank() < extra))


def shard_batches(batches):
    """This rank's shard of each (X, y) batch (none where a batch has fewer examples than ranks)."""
    for X, y in batches:
        part = shard(len(y))
        if part.stop > part.start:
            yield X[part], y[part]


def shard_weight(n: int) -> float:
    """What this rank's mean loss is multiplied by so that DDP's average of the ranks' gradients is
    the gradient of the mean over the global batch of `n`: world_size x shard size / n (1.0 when the
    shards are equal, and in a single process)."""
    part = shard(n)
    return world_size() * (part.stop - part.start) / n


def check_batches(bounds: list[tuple[int, int]]) -> None:
    """A ValueError unless every global batch (`(start, stop)` bounds) gives every rank 2 or more
    images: in training, BatchNorm needs 2 values per channel, and DDP needs every rank in every step."""
    smallest = min(stop - start for start, stop in bounds)
    if smallest < 2 * world_size():
        raise ValueError(
            f"a global batch of {smallest} images cannot give each of {world_size()} ranks 2 or more "
            "(BatchNorm needs 2 images per batch): use fewer ranks, a larger batch_size, or a train_size "
            f"whose last batch has {2 * world_size()} or more images."
        )


def wrap(net: nn.Module, device: torch.device) -> nn.Module:
    """`net` in DistributedDataParallel when running under torchrun (DDP copies rank 0's weights and
    buffers to every rank here); `net` itself otherwise. Keep `net` for checkpoints: its
    state_dict has no 'module.' prefix."""
    if not active():
        return net
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(net, device_ids=device_ids)


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of `tensor` over the ranks, in place (unchanged in a single process)."""
    if active():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_buffers(net: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm's running statistics) to every rank, so that every rank
    evaluates the network rank 0 saves (each rank's last training step updated its own)."""
    if active():
        for buffer in net.buffers():
            dist.broadcast(buffer, src=0)


def broadcast_object(obj):
    """Rank 0's `obj` (any picklable object), on every rank (e.g. a checkpoint only rank 0 can read)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
