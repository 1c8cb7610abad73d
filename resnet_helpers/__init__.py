"""Helpers for the ResNet teaching notebooks (d2l 7.6, 残差网络 ResNet).

The package is three floors; each imports only from the floors below it:

- the core (this folder): `blocks`, `models`, `measure`, `data`, `profiles`: what any
  ResNet code could reuse. Its main names are importable from here:
  `from resnet_helpers import Residual, resnet_block, build_resnet`.
- `training/`: recipes, data on the device, the trainer (with its checkpoints), the short
  experiment shared by notebooks 01, 05 and 06, and the adapter that runs d2l's own `train_ch6`.
- `lessons/`: one module per notebook (its figures, panels and experiments), none importing
  another, and what they share: `widgets`, `paper`, `diagrams`. A notebook imports each helper
  from the module that holds it.
"""

from .blocks import BLOCKS, Bottleneck, PreActResidual, Residual
from .measure import count_flops, count_params, count_weight_layers, stage_table, summary
from .models import PRESETS, ResNet, ResNetConfig, build_resnet, make_stage, resnet_block
from .profiles import choose_device, choose_precision, environment_report, get_profile

__version__ = "0.1.0"

_LAZY = {"CLASS_NAMES": "data", "DataError": "data", "load_fashion_mnist": "data"}


def __getattr__(name):
    # `data` is imported on first use, not here: `python -m resnet_helpers.data` then runs a
    # module the package has not imported yet, which is what runpy expects (no warning).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BLOCKS",
    "Bottleneck",
    "PreActResidual",
    "Residual",
    "CLASS_NAMES",
    "DataError",
    "load_fashion_mnist",
    "count_flops",
    "count_params",
    "count_weight_layers",
    "stage_table",
    "summary",
    "PRESETS",
    "ResNet",
    "ResNetConfig",
    "build_resnet",
    "make_stage",
    "resnet_block",
    "choose_device",
    "choose_precision",
    "environment_report",
    "get_profile",
]
