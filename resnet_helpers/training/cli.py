"""`python -m resnet_helpers.training` (or `resnet-train`): train ResNet-18 on Fashion-MNIST.

Bad arguments stop before anything runs, with argparse's one error line (exit 2). Ctrl-C and
SIGTERM stop a run between two steps: it prints the last complete checkpoint and the command that
resumes it, and exits 130 (SIGINT) or 143 (SIGTERM: 128 + 15, what a process stopped by the signal
reports, so a container runtime or a scheduler sees that it was asked to stop).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

from ..measure import smallest_resolution
from ..models import PRESETS
from ..profiles import PROFILES, choose_device, choose_precision, get_profile
from .device_data import tune_cpu_allocator
from .recipes import RECIPES, check_run_size, run_settings
from .trainer import CheckpointError, Terminated, TrainingInterrupted, sigterm_as_interrupt, train_resnet

__all__ = ["main"]

EXIT_SIGINT, EXIT_SIGTERM = 130, 143  # 128 + the signal's number, as a shell reports it


def whole_number(minimum: int, advice: str):
    """An argparse `type=`: an int >= `minimum`, else an error that names the value and the fix."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; {advice}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is too small; {advice}")
        return value

    return parse


def run_size(name: str):
    """The argparse `type=` of a run size: the library's own check (`recipes.check_run_size`)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        try:
            return check_run_size(name, value)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def preset_resolution():
    """The argparse `type=` of `--resolution`: what the smallest preset needs (`check_resolution`
    then checks the chosen preset)."""
    smallest = min(smallest_resolution(config) for config in PRESETS.values())
    return whole_number(smallest, f"the presets need {smallest} pixels or more (the course uses 96)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m resnet_helpers.training",
        description="Train ResNet-18 on Fashion-MNIST with the course's or the improved recipe.",
    )
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="course")
    profile_help = "run sizes (default: RESNET_PROFILE, else full with a GPU, cpu without)"
    parser.add_argument("--profile", choices=["smoke", "cpu", "full"], default=None, help=profile_help)
    parser.add_argument("--model", default="resnet18", choices=list(PRESETS), help="a preset")
    parser.add_argument("--epochs", type=run_size("epochs"))
    parser.add_argument("--batch-size", type=run_size("batch_size"))
    parser.add_argument(
        "--resolution", type=preset_resolution(), help="image side after resizing (course: 96)"
    )
    parser.add_argument("--train-size", type=run_size("train_size"), help="train on the first N images only")
    parser.add_argument(
        "--test-size", type=run_size("test_size"), help="test on the first N test images (10000: all)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile", action="store_true", help="torch.compile the network (GPUs)")
    parser.add_argument("--checkpoint", help="file to save every epoch (and to resume from)")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    allocator_help = "keep glibc's default allocator on the CPU (default: keep freed memory for reuse)"
    parser.add_argument("--default-allocator", action="store_true", help=allocator_help)
    parser.add_argument(
        "--report-memory", action="store_true", help="print the resident memory after each epoch"
    )
    return parser


def check_resolution(parser, args) -> None:
    """A parser error when `args.resolution` is too small for the preset `args.model`."""
    if args.resolution is None:
        return
    smallest = smallest_resolution(PRESETS[args.model])
    if args.resolution < smallest:
        parser.error(
            f"argument --resolution: {args.resolution} is too small for {args.model}: its last stage "
            f"would get no pixels; the smallest that works is {smallest} (the course uses 96)"
        )


def _check_checkpoint(parser, args) -> None:
    """A checkpoint path that can be written: its folder exists (created if missing) and takes files."""
    if args.resume and not args.checkpoint:
        parser.error("argument --resume: needs --checkpoint PATH, the file to continue from")
    if not args.checkpoint:
        return
    path = Path(args.checkpoint)
    if path.is_dir():
        parser.error(f"argument --checkpoint: {path} is a folder; give a file in it, e.g. {path / 'run.pt'}")
    folder = path.parent
    if not folder.is_dir():
        try:
            folder.mkdir(parents=True)
        except OSError as e:
            blocker = next((a for a in (folder, *folder.parents) if a.exists() and not a.is_dir()), None)
            why = f"{blocker} is a file" if blocker is not None else e.strerror
            parser.error(
                f"argument --checkpoint: cannot create the folder {folder} ({why}); "
                "choose a folder you can write to"
            )
        print(f"created the folder {folder} for the checkpoint", flush=True)
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        parser.error(
            f"argument --checkpoint: cannot write in the folder {folder} ({e.strerror}); "
            "choose a folder you can write to"
        )
    if path.exists() and not args.resume:
        print(f"note: {path} exists and will be replaced (add --resume to continue it)", flush=True)


def resume_command(argv: list[str], profile) -> str:
    """The command line that continues this run: the same arguments, the profile, --resume."""
    args = list(argv)
    if not any(a == "--profile" or a.startswith("--profile=") for a in args):
        args += ["--profile", str(profile)]
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join([sys.executable, "-m", "resnet_helpers.training", *args])


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    check_resolution(parser, args)
    _check_checkpoint(parser, args)
    try:
        profile = get_profile(args.profile)
    except ValueError:  # --profile has choices: the bad name came from the environment
        parser.error(
            f"RESNET_PROFILE={os.environ.get('RESNET_PROFILE')!r} is not a run profile; choose one of "
            f"{', '.join(PROFILES)} (or pass --profile)"
        )
    sizes = dict(epochs=args.epochs, batch_size=args.batch_size, resolution=args.resolution)
    settings = run_settings(profile).replace(**sizes, train_size=args.train_size, test_size=args.test_size)
    device = choose_device()
    precision = choose_precision(device)
    print(
        f"recipe {args.recipe} | model {args.model} | profile {profile} | device {device.type} | "
        f"precision {precision} | {settings}",
        flush=True,
    )
    if device.type == "cpu" and not args.default_allocator:
        # A command line owns its process: keep freed memory for reuse (faster CPU steps).
        print(f"CPU allocator: {tune_cpu_allocator()} (--default-allocator keeps glibc's)", flush=True)
    with sigterm_as_interrupt():
        try:
            result = train_resnet(
                args.model,
                args.recipe,
                settings,
                seed=args.seed,
                device=device,
                precision=precision,
                checkpoint=args.checkpoint,
                resume=args.resume,
                progress=False,
                live_plot=False,
                log=lambda line: print(line, flush=True),
                compile=args.compile,
                report_memory=args.report_memory,
            )
        except TrainingInterrupted as e:
            print(e.message, file=sys.stderr, flush=True)
            if e.resumable:
                print(f"resume with: {resume_command(argv, profile)}", file=sys.stderr, flush=True)
            return EXIT_SIGTERM if e.signal_name == "SIGTERM" else EXIT_SIGINT
        except KeyboardInterrupt as e:  # before the epochs started (loading data or a checkpoint)
            print("interrupted before training started: nothing new was saved", file=sys.stderr, flush=True)
            return EXIT_SIGTERM if isinstance(e, Terminated) else EXIT_SIGINT
        except CheckpointError as e:
            parser.error(f"argument --checkpoint: {e}")
    print(
        f"{result.images_per_s:.1f} images/s (wall clock of the training steps, data included); "
        + "; ".join(result.notes),
        flush=True,
    )
    print(f"test acc {result.test_acc:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
