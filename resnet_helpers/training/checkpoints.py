"""Checkpoints: written atomically, read with `weights_only=True`, checked against the run.

A checkpoint is a dict with `format`, `epoch`, the model, optimiser, scheduler and scaler states,
the RNG state, the history, and the run's `config` (what must match for a resume).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

__all__ = ["CheckpointError", "CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint", "checkpoint_dir"]


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
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated and cannot be read ({type(e).__name__}: {e}). "
            "It was probably cut off while being copied; checkpoints written by this trainer are "
            "replaced atomically, so an interrupted save never damages them. Delete the file to "
            "start over, or point to another copy."
        ) from e
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a checkpoint of resnet_helpers.train (format {CHECKPOINT_FORMAT})."
        )
    return state


def checkpoint_dir(use_drive: bool = True, folder: str = "resnet-notebooks") -> Path:
    """Where notebooks keep checkpoints: Google Drive on Colab (asks to mount it) when
    `use_drive`, so a disconnect loses nothing; else `checkpoints/` here."""
    if use_drive and "google.colab" in sys.modules:
        from google.colab import drive  # type: ignore[import-not-found]

        drive.mount("/content/drive")
        path = Path("/content/drive/MyDrive") / folder
    else:
        path = Path("checkpoints")
    path.mkdir(parents=True, exist_ok=True)
    return path
