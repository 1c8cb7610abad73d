"""Where a notebook runs: your own computer, or a hosted notebook (Colab, Kaggle, SageMaker Studio
Lab, ModelScope), and where its files go there.

Every notebook's setup cell installs the package on a hosted notebook, then calls `setup_platform()`:

    platform = setup_platform()   # on a hosted notebook: one line saying where data and checkpoints go

Each platform is recognised by what it sets (the markers below, from the platforms' own pages):
- Colab: the kernel has imported `google.colab`.
- Kaggle: `KAGGLE_KERNEL_RUN_TYPE` ("Interactive" or "Batch") or the folder /kaggle/working, the
  only writable folder whose files Kaggle keeps (as the notebook's output).
- SageMaker Studio Lab: the user `studio-lab-user`, home /home/studio-lab-user (kept between sessions).
- ModelScope (its notebooks run on Alibaba Cloud PAI-DSW): `MODELSCOPE_ENVIRONMENT` (read by
  ModelScope's own hub client in its cloud containers), `DSW_INSTANCE_ID`, or /mnt/workspace, the
  persistent storage mounted there (files elsewhere are lost when the instance stops).

On a hosted notebook the data goes to `<work dir>/data` (RESNET_DATA_ROOT, unless you set it) and
checkpoints to `checkpoints/` in the current folder, which is moved into the work dir when it is
outside. The precision follows the GPU (`profiles.choose_precision`): a T4 (Colab, Kaggle, Studio
Lab) runs fp16 with a GradScaler, an A10 (ModelScope) bf16, a P100 (Kaggle) fp32.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .i18n import _

__all__ = [
    "ENV_MARKERS",
    "PATH_MARKERS",
    "PLATFORMS",
    "Platform",
    "detect_platform",
    "platform_info",
    "setup_platform",
    "work_dir",
]

# What each hosted platform sets: environment variables, then folders (first match wins, in this
# order). The setup cell (tools/notebook_headers.py) is generated from these same tuples.
ENV_MARKERS = {
    "kaggle": ("KAGGLE_KERNEL_RUN_TYPE",),
    "studiolab": (),
    "modelscope": ("MODELSCOPE_ENVIRONMENT", "DSW_INSTANCE_ID"),
}
PATH_MARKERS = {
    "kaggle": Path("/kaggle/working"),
    "studiolab": Path("/home/studio-lab-user"),
    "modelscope": Path("/mnt/workspace"),
}
PLATFORMS = ("colab", "kaggle", "studiolab", "modelscope", "local")


@dataclass(frozen=True)
class Platform:
    """A place notebooks run: its name, a title, the writable folder that is kept, and what to know."""

    name: str  # one of PLATFORMS
    title: str
    work_dir: Path  # data goes to work_dir / "data"; checkpoints/ lives under it
    gpu: str  # the free GPU there and how to get it
    hint: str  # how files are kept

    @property
    def hosted(self) -> bool:
        return self.name != "local"

    def __str__(self) -> str:
        return self.title


def detect_platform(environ: Mapping[str, str] | None = None) -> str:
    """'colab', 'kaggle', 'studiolab', 'modelscope', or 'local' (your own computer, or anything else)."""
    environ = os.environ if environ is None else environ
    if "google.colab" in sys.modules:
        return "colab"
    for name in ("kaggle", "studiolab", "modelscope"):
        if any(environ.get(variable) for variable in ENV_MARKERS[name]) or PATH_MARKERS[name].is_dir():
            return name
    return "local"


def work_dir(name: str | None = None) -> Path:
    """The writable folder a platform keeps: /content on Colab (Google Drive for checkpoints:
    `checkpoint_dir(mount_drive=True)`), /kaggle/working, the home folder on Studio Lab,
    /mnt/workspace on ModelScope, and the current folder on your own computer."""
    name = detect_platform() if name is None else name
    if name == "colab":
        return Path("/content")
    if name in PATH_MARKERS:
        return PATH_MARKERS[name]
    if name == "local":
        return Path.cwd()
    raise _unknown_platform(name)


def _unknown_platform(name: str) -> ValueError:
    return ValueError(
        _("unknown platform {name!r}; choose one of {choices}").format(
            name=name, choices=", ".join(PLATFORMS)
        )
    )


def _about() -> dict[str, tuple[str, str, str]]:
    """{platform: (title, its free GPU and how to get it, how files are kept)}, in the reader's
    language (a function, so that `set_language` after the import counts)."""
    return {
        "colab": (
            "Colab",
            _("a T4 (Runtime > Change runtime type > T4 GPU)"),
            _(
                "files in /content are lost when the runtime disconnects; checkpoint_dir(mount_drive=True) "
                "keeps checkpoints on Google Drive"
            ),
        ),
        "kaggle": (
            "Kaggle",
            _("two T4s or a P100 (Settings > Accelerator; turn Internet on to install)"),
            _("/kaggle/working is kept as the notebook's output when you save a version"),
        ),
        "studiolab": (
            "SageMaker Studio Lab",
            _("a T4 (start the runtime with GPU)"),
            _("your home folder is kept between sessions"),
        ),
        "modelscope": (
            "ModelScope",
            _("the free GPU instance (an A10) of ModelScope's notebook"),
            _("only /mnt/workspace is kept when the instance stops"),
        ),
        "local": (_("your computer"), _("your own GPU, if any (a CPU works with the cpu profile)"), ""),
    }


def platform_info(name: str | None = None) -> Platform:
    """The Platform for `name` (default: the one detected)."""
    name = detect_platform() if name is None else name
    about = _about()
    if name not in about:
        raise _unknown_platform(name)
    title, gpu, hint = about[name]
    return Platform(name, title, work_dir(name), gpu, hint)


def setup_platform(name: str | None = None, log=print) -> Platform:
    """On a hosted notebook: data under `<work dir>/data` (RESNET_DATA_ROOT, unless already set),
    the current folder moved into the work dir when it is outside (so `checkpoints/` is kept), and
    one line saying so. On your own computer: nothing changes and nothing is printed."""
    platform = platform_info(name)
    if not platform.hosted:
        return platform
    folder = platform.work_dir
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("RESNET_DATA_ROOT", str(folder / "data"))
    cwd = Path.cwd().resolve()
    if folder.resolve() != cwd and folder.resolve() not in cwd.parents:
        os.chdir(folder)
    log(
        _("{platform}: data in {data}, checkpoints in {checkpoints} ({hint}); GPU: {gpu}").format(
            platform=platform.title,
            data=os.environ["RESNET_DATA_ROOT"],
            checkpoints=Path.cwd() / "checkpoints",
            hint=platform.hint,
            gpu=platform.gpu,
        )
    )
    return platform
