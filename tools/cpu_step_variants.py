"""What makes a training step of ResNet-18 faster on a CPU? Layout, batch size, torch.compile,
and the small-map convolutions computed as unfold + matmul, all measured in one run.

A step is forward + backward + SGD step of the course's ResNet-18 at 96x96 on random data, under
bf16 autocast (`--fp32` for fp32): `Trainer.train_step` without its grad scaler and running sums,
written out here because the Trainer always converts the network to channels_last and this script
also times the contiguous layout. Like the trainer's runs (the command line, notebook 04), it
keeps freed memory in the process (`tune_cpu_allocator`; `--default-allocator` leaves glibc's
default). Each variant prints images/s: the median of --steps timed steps after two untimed
ones, with the slowest and fastest. Last, --rounds alternating rounds of nn.Conv2d and unfold on
the 3x3 maps give paired ratios (a machine getting busier slows both). The README quotes runs of
this script (docs/measurements.md).

    python tools/cpu_step_variants.py [--steps 4] [--rounds 5] [--fp32] [--default-allocator]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from resnet_helpers.models import build_resnet
from resnet_helpers.training.device_data import tune_cpu_allocator


class UnfoldConv(nn.Module):
    """A Conv2d computed as unfold + matmul: the same weights and result, other kernels (autograd
    turns the matmul's backward into matmuls too)."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv = conv

    def forward(self, x):
        c = self.conv
        n, _, h, w = x.shape
        cols = F.unfold(x, c.kernel_size, dilation=c.dilation, padding=c.padding, stride=c.stride)
        geometry = zip((h, w), c.padding, c.dilation, c.kernel_size, c.stride, strict=True)
        size = [(s + 2 * p - d * (k - 1) - 1) // st + 1 for s, p, d, k, st in geometry]
        out = cols.transpose(1, 2) @ c.weight.reshape(c.out_channels, -1).t()  # (N, L, O)
        if c.bias is not None:
            out = out + c.bias
        return out.transpose(1, 2).reshape(n, c.out_channels, *size)


def unfold_small_maps(net: nn.Module, max_size: int, resolution: int = 96) -> int:
    """Replace every kxk (k > 1) convolution whose input map is at most max_size wide; returns how many."""
    sizes = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o, name=name: sizes.__setitem__(name, i[0].shape[-1]))
        for name, m in net.named_modules()
        if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)
    ]
    with torch.no_grad():
        net.eval()
        net(torch.zeros(2, 1, resolution, resolution))
        net.train()
    for h in hooks:
        h.remove()
    swapped = [name for name, size in sizes.items() if size <= max_size]
    for name in swapped:
        parent, _, attr = name.rpartition(".")
        module = net.get_submodule(parent) if parent else net
        setattr(module, attr, UnfoldConv(getattr(module, attr)))
    return len(swapped)


def images_per_s(batch, layout, compile_, unfold, bf16, steps) -> tuple[int, float, float, float, float]:
    """Time a fresh ResNet-18 (seed 0) with the convolutions on maps up to `unfold` wide as unfold +
    matmul (0: none): (convolutions swapped, median, slowest, fastest images/s, first step's s)."""
    torch.manual_seed(0)
    net = build_resnet("resnet18")
    swapped = unfold_small_maps(net, unfold) if unfold else 0
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    net = net.to(memory_format=fmt)
    model = torch.compile(net) if compile_ else net
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    X = torch.rand(batch, 1, 96, 96).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(X), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return swapped, batch / statistics.median(times), batch / max(times), batch / min(times), first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per variant (default 4)")
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds, Conv2d vs unfold (default 5)")
    parser.add_argument("--fp32", action="store_true", help="fp32 instead of bf16 autocast")
    parser.add_argument("--default-allocator", action="store_true", help="leave glibc's allocator as it is")
    args = parser.parse_args()
    bf16 = not args.fp32
    allocator = "default" if args.default_allocator else tune_cpu_allocator()
    precision = "bf16" if bf16 else "fp32"
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, {precision}, CPU allocator: {allocator}")

    # the unfold path must compute the same function before it is timed
    torch.manual_seed(0)
    net, ref = build_resnet("resnet18"), build_resnet("resnet18")
    ref.load_state_dict(net.state_dict())
    unfold_small_maps(net, 6)
    x = torch.rand(4, 1, 96, 96)
    a, b = net(x), ref(x)
    (a.sum() + b.sum()).backward()
    pairs = zip(net.parameters(), ref.parameters(), strict=True)
    grad = max((p.grad - q.grad).abs().max().item() for p, q in pairs)
    out = (a - b).abs().max().item()
    print(f"unfold path, fp32: max |output difference| {out:.1e}, max |grad difference| {grad:.1e}")

    variants = [  # (batch, layout, torch.compile, unfold maps up to this size)
        (256, "channels_last", False, 0),
        (256, "contiguous", False, 0),
        (128, "channels_last", False, 0),
        (64, "channels_last", False, 0),
        (128, "channels_last", True, 0),
        (256, "channels_last", False, 6),
    ]  # unfold on the 3x3 maps alone: the paired rounds below
    for batch, layout, compile_, unfold in variants:
        n, med, slow, fast, first = images_per_s(batch, layout, compile_, unfold, bf16, args.steps)
        how = f"unfold on maps <= {unfold} ({n} convs)" if unfold else "nn.Conv2d"
        print(
            f"batch {batch:3d}, {layout:13s}, {'compiled' if compile_ else 'eager':8s}, {how:27s}: "
            f"{med:6.1f} images/s ({slow:.1f}-{fast:.1f}; first step {first:.1f} s)",
            flush=True,
        )

    ratios = []
    for r in range(args.rounds):
        rates = {}
        for unfold in (0, 3) if r % 2 == 0 else (3, 0):  # alternate which goes first
            rates[unfold] = images_per_s(256, "channels_last", False, unfold, bf16, args.steps)[1]
        ratios.append(rates[3] / rates[0])
        rate = f"nn.Conv2d {rates[0]:.1f}, unfold on maps <= 3 {rates[3]:.1f} images/s"
        print(f"round {r + 1}: {rate}: {ratios[-1]:.2f}x", flush=True)
    if ratios:
        print(
            f"unfold on maps <= 3 / nn.Conv2d, batch 256, channels_last: {statistics.median(ratios):.2f}x "
            f"({min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} paired rounds)"
        )


if __name__ == "__main__":
    main()
