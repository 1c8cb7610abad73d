"""`python -m resnet_helpers.training` (or `resnet-train`): train ResNet-18 on Fashion-MNIST."""

from __future__ import annotations

import argparse
import sys

from ..profiles import choose_device, choose_precision, get_profile
from .checkpoints import CheckpointError
from .recipes import RECIPES, run_settings
from .trainer import train_resnet

__all__ = ["main"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m resnet_helpers.training",
        description="Train ResNet-18 on Fashion-MNIST with the course's or the improved recipe.",
    )
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="course")
    parser.add_argument(
        "--profile", choices=["smoke", "cpu", "full"], default=None,
        help="run sizes (default: RESNET_PROFILE, else full with a GPU, cpu without)",
    )  # fmt: skip
    parser.add_argument("--model", default="resnet18", help="a preset: resnet18 .. resnet152")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--resolution", type=int, help="image side after resizing (course: 96)")
    parser.add_argument("--train-size", type=int, help="train on the first N images only")
    parser.add_argument("--test-size", type=int, help="test on the first N test images (10000: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile", action="store_true", help="torch.compile the network (GPUs)")
    parser.add_argument("--checkpoint", help="file to save every epoch (and to resume from)")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    args = parser.parse_args(argv)
    if args.resume and not args.checkpoint:
        parser.error("--resume needs --checkpoint PATH")
    profile = get_profile(args.profile)
    settings = run_settings(profile).replace(
        epochs=args.epochs, batch_size=args.batch_size, resolution=args.resolution,
        train_size=args.train_size, test_size=args.test_size,
    )  # fmt: skip
    device = choose_device()
    precision = choose_precision(device)
    print(
        f"recipe {args.recipe} | model {args.model} | profile {profile} | device {device.type} | "
        f"precision {precision} | {settings}",
        flush=True,
    )
    try:
        result = train_resnet(
            args.model, args.recipe, settings, seed=args.seed, device=device, precision=precision,
            checkpoint=args.checkpoint, resume=args.resume, progress=False, live_plot=False,
            log=lambda line: print(line, flush=True), compile=args.compile,
        )  # fmt: skip
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        f"{result.images_per_s:.1f} images/s (wall clock of the training steps, data included); "
        + "; ".join(result.notes)
    )
    print(f"test acc {result.test_acc:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
