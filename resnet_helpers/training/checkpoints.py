"""Checkpoints: written atomically, read with `weights_only=True`, checked against the run.

A checkpoint is a dict with `format`, `epoch`, the model, optimiser, scheduler and scaler states,
the RNG state, the history, and the run's `config` (what must match for a resume).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

__all__ = [
    "CheckpointError",
    "CHECKPOINT_FORMAT",
    "save_checkpoint",
    "load_checkpoint",
    "check_same_run",
    "checkpoint_dir",
]


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: corrupt, truncated, or from other settings."""


CHECKPOINT_FORMAT = 1


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write `state` to `path` atomically: a temporary file beside it, then os.replace.

    A crash while writing leaves the previous checkpoint as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Read a checkpoint with `weights_only=True`; a clear CheckpointError if it is damaged."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - zip, pickle and EOF errors all mean the same here
        # Only the error's type: torch's messages run over many lines, and for a damaged file its
        # advice (weights_only=False) would run arbitrary code without helping.
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated and cannot be read ({type(e).__name__}). "
            "It was probably cut off while being copied; checkpoints written by this trainer are "
            "replaced atomically, so an interrupted save never damages them. Delete the file to "
            "start over, or point to another copy."
        ) from e
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a checkpoint of resnet_helpers.training (format {CHECKPOINT_FORMAT})."
        )
    return state


def _flatten(config: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = list(value) if isinstance(value, tuple) else value
    return flat


def check_same_run(mine: dict, saved: dict, path) -> None:
    """A CheckpointError listing every difference when a checkpoint's run config is not `mine`."""
    mine, theirs = _flatten(mine), _flatten(saved)
    if mine != theirs:
        diff = [
            f"{k} {theirs.get(k)!r} -> {mine.get(k)!r}"
            for k in sorted(mine.keys() | theirs.keys())
            if mine.get(k) != theirs.get(k)
        ]
        raise CheckpointError(
            f"the checkpoint {path} was written by a run with other settings "
            f"(saved -> now: {'; '.join(diff)}). A resumed run must be the same run: resume with "
            "the saved settings, or give another checkpoint path to start a new run."
        )


def checkpoint_dir(
    folder: str = "resnet-notebooks", *, mount_drive: bool = False, use_drive: bool | None = None, log=print
) -> Path:
    """Where notebooks keep checkpoints; nothing is mounted unless asked.

    On Colab with `mount_drive=True`: Google Drive (mounted here, which asks for permission), so
    a disconnect loses nothing. On Colab with Drive already mounted: Drive, without asking.
    Otherwise `checkpoints/` in the current folder; on Colab a line says that it is lost with the
    machine and how to keep it on Drive. `use_drive` is the old name of `mount_drive`.
    """
    if use_drive is not None:
        mount_drive = use_drive
    log = log or (lambda *args, **kwargs: None)
    drive = Path("/content/drive/MyDrive")
    on_colab = "google.colab" in sys.modules
    if on_colab and mount_drive and not drive.is_dir():
        from google.colab import drive as colab_drive  # type: ignore[import-not-found]

        colab_drive.mount("/content/drive")
    if on_colab and drive.is_dir():
        path = drive / folder
        log(f"checkpoints go to Google Drive: {path}")
    else:
        path = Path("checkpoints")
        if on_colab:
            log(
                f"checkpoints go to {path.resolve()} on this Colab machine and are lost when it "
                "disconnects; checkpoint_dir(mount_drive=True) keeps them on Google Drive."
            )
    path.mkdir(parents=True, exist_ok=True)
    return path
