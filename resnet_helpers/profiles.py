"""Run profiles (smoke / cpu / full), device and precision choice, and the environment report.

A profile only changes sizes (epochs, images, resolution, depth sweeps), never which code
runs. Pick one with the environment variable RESNET_PROFILE; the default is `full` where a
GPU is present and `cpu` otherwise. RESNET_PRECISION=fp32 turns mixed precision off (to time what a
laptop without bf16 does). Notebooks ask for their own sizes with `pick`:

    P = get_profile()
    epochs = P.pick(smoke=1, cpu=3, full=10)
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

import torch

from .i18n import _

__all__ = [
    "PROFILES",
    "Profile",
    "Precision",
    "get_profile",
    "choose_device",
    "choose_precision",
    "cpu_supports_bf16",
    "environment_report",
    "synchronize",
]

PROFILES = ("smoke", "cpu", "full")


@dataclass(frozen=True)
class Profile:
    name: str

    def pick(self, *, smoke, cpu, full):
        """The value for this profile: `P.pick(smoke=1, cpu=3, full=10)`."""
        return {"smoke": smoke, "cpu": cpu, "full": full}[self.name]

    def __str__(self) -> str:
        return self.name


def get_profile(name: str | None = None) -> Profile:
    """The profile named, else RESNET_PROFILE, else `full` with a GPU and `cpu` without."""
    if name is None:
        name = os.environ.get("RESNET_PROFILE", "").strip()
        if not name:
            name = "full" if choose_device().type == "cuda" else "cpu"
    name = name.lower()
    if name not in PROFILES:
        raise ValueError(
            _("unknown run profile {name!r}; choose one of {choices} (e.g. RESNET_PROFILE=smoke).").format(
                name=name, choices=", ".join(PROFILES)
            )
        )
    return Profile(name)


def choose_device() -> torch.device:
    """CUDA if present, then Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_supports_bf16() -> bool:
    """True on CPUs with native bf16 matrix instructions (AVX512-BF16 or AMX)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    for check in checks:
        fn = getattr(torch.cpu, check, None)
        if fn is not None and fn():
            return True
    return False


@dataclass(frozen=True)
class Precision:
    """The arithmetic a training step uses: a dtype for autocast (None: fp32) and a scaler flag."""

    name: str  # "bf16", "fp16", "fp32"
    dtype: torch.dtype | None
    use_grad_scaler: bool
    reason: str

    def __str__(self) -> str:
        return self.name


def choose_precision(
    device: torch.device | str | None = None, cuda_capability=None, cpu_bf16: bool | None = None
) -> Precision:
    """bf16 on Ampere+ GPUs and bf16-capable CPUs, fp16 + GradScaler on T4/V100, else fp32.

    The environment variable RESNET_PRECISION=fp32 asks for fp32 everywhere (autocast off);
    `auto` or unset: the choice above. `cuda_capability` and `cpu_bf16` override what is
    detected (for tests and what-ifs).
    """
    device = torch.device(device) if device is not None else choose_device()
    asked = os.environ.get("RESNET_PRECISION", "").strip().lower()
    if asked == "fp32":
        return Precision("fp32", None, False, "RESNET_PRECISION=fp32 (autocast off)")
    if asked not in ("", "auto"):
        raise ValueError(
            _(
                "RESNET_PRECISION={asked!r} is not a precision this project chooses by hand; "
                "use fp32 (autocast off) or auto (the hardware's choice), or unset it."
            ).format(asked=asked)
        )
    if device.type == "cuda":
        major, minor = cuda_capability or torch.cuda.get_device_capability(device)
        if major >= 8:
            return Precision("bf16", torch.bfloat16, False, f"GPU sm_{major}{minor} has bf16 tensor cores")
        if major >= 7:
            return Precision(
                "fp16", torch.float16, True, f"GPU sm_{major}{minor} has fp16 tensor cores, no bf16"
            )
        return Precision("fp32", None, False, f"GPU sm_{major}{minor} has no tensor cores")
    if device.type == "cpu":
        bf16 = cpu_supports_bf16() if cpu_bf16 is None else cpu_bf16
        if bf16:
            return Precision("bf16", torch.bfloat16, False, "CPU has AVX512-BF16/AMX")
        return Precision("fp32", None, False, "CPU has no native bf16 (no AVX512-BF16/AMX)")
    return Precision("fp32", None, False, f"{device.type}: fp32 is the safe choice")


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        name = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        name = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        threads = torch.get_num_threads()
        return f"{name}, {threads} thread{'s' if threads != 1 else ''}"
    return device.type


def environment_report(profile: Profile | str | None = None) -> str:
    """Three short lines: the versions; the device and precision; the profile and how to change it.

    Short, so that a saved notebook shows them unwrapped on GitHub and nbviewer.
    """
    import torchvision

    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    device = choose_device()
    precision = choose_precision(device)
    return (
        f"Python {platform.python_version()} | torch {torch.__version__} | "
        f"torchvision {torchvision.__version__}\n"
        f"device {device.type} ({_device_name(device)}) | precision {precision}\n"
        f"profile {profile} (set RESNET_PROFILE=smoke|cpu|full to change)"
    )


def synchronize(device: torch.device | str) -> None:
    """Wait until `device` has finished the work queued on it: call it before reading a clock.

    CUDA GPUs and Apple's MPS run asynchronously (a Python line returns before the GPU has done
    its work), so a timing without this measures how fast work was queued; the CPU has nothing
    to wait for.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
    elif device.type not in ("cpu", "meta"):
        raise ValueError(
            _(
                "synchronize knows the devices cuda, mps and cpu, not {device!r}. Fix: time on one of "
                "those (choose_device() picks one)."
            ).format(device=device.type)
        )
