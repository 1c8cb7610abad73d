"""Notebook 07's words: what its cells print around the numbers they compute (the gradients of
shards against the whole batch's, the two torchrun runs, the all-reduce's traffic), in the reader's
language (`resnet_helpers.i18n`). The training itself is `resnet_helpers.training` (its
`distributed` module), run by torchrun; each function here returns the text one cell prints."""

from __future__ import annotations

from ..i18n import _

__all__ = ["gradient_check", "training_args", "launch_report", "time_ratio", "all_reduce_cost", "shard_check"]


def gradient_check(same: bool) -> str:
    """Whether the average of the shards' gradients equals the whole batch's gradient."""
    return _("averaged shard gradients == whole-batch gradient: {same}").format(same=same)


def training_args(args) -> str:
    """The command-line arguments both torchrun runs give the trainer."""
    return _("training: {args}").format(args=" ".join(args))


def launch_report(nproc: int, seconds: float, last) -> str:
    """One torchrun run: its wall clock with `nproc` processes, then the trainer's `last` lines, indented."""
    lines = [_("{nproc} process(es): {seconds:.1f} s wall clock").format(nproc=nproc, seconds=seconds)]
    lines += ["    " + line for line in last]
    return "\n".join(lines)


def time_ratio(seconds: dict, cpu_count: int | None, machine: str) -> str:
    """The wall clock of 2 processes over 1 process's (`seconds`: {processes: seconds}), with the CPU
    cores the machine has and its device line (environment_report's)."""
    return _(
        "2 processes / 1 process: {ratio:.2f}x the time ({cores} CPU cores seen, device: {machine})"
    ).format(ratio=seconds[2] / seconds[1], cores=cpu_count, machine=machine)


def all_reduce_cost(
    gradients: int, megabytes: float, sent: float, ms: float, devices: int = 2, gb_per_s=10
) -> str:
    """The all-reduce of one step: `gradients` numbers (`megabytes`), the MB each of `devices` devices
    sends (`sent`), and the milliseconds that takes at `gb_per_s` GB/s (`ms`)."""
    return "\n".join(
        [
            _(
                "{gradients:,} gradients = {megabytes:.1f} MB per all-reduce; each of {devices} devices "
                "sends {sent:.1f} MB"
            ).format(gradients=gradients, megabytes=megabytes, devices=devices, sent=sent),
            _("at {gb_per_s} GB/s: about {ms:.1f} ms per step").format(gb_per_s=gb_per_s, ms=ms),
        ]
    )


def shard_check(weighted: bool, same: bool) -> str:
    """Solution 1: whether the (un)weighted average of unequal shards' gradients is the whole batch's."""
    if weighted:
        return _("weighted: equal to the whole-batch gradient: {same}").format(same=same)
    return _("unweighted: equal to the whole-batch gradient: {same}").format(same=same)
