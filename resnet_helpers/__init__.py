"""Helpers for the ResNet teaching notebooks (d2l 7.6, 残差网络 ResNet).

Every name a notebook uses is importable from here: `from resnet_helpers import Residual`.
"""

from .architecture_explorer import (
    architecture_figure,
    architecture_panel,
    explore_architecture,
    format_headline,
    stage_frame,
)
from .block_explorer import (
    BLOCK_TYPES,
    block_explorer_panel,
    compare_blocks,
    explore_block,
    format_block_report,
    forward_without_shortcut,
    input_gradient_norms,
    residual_branch,
)
from .blocks import BLOCKS, Bottleneck, PreActResidual, Residual
from .data import CLASS_NAMES, DataError, FashionMNIST, load_fashion_mnist, seed_torchvision_cache
from .diagrams import draw_block, draw_course_blocks, draw_normal_vs_residual
from .family import (
    PAPER,
    PAPER_TOP1_ERROR,
    RESNETS,
    classic_cnns,
    family_frame,
    parameter_differences,
    resnet_family,
    top1_errors,
    torchvision_top1_error,
)
from .models import (
    PRESETS,
    ResNet,
    ResNetConfig,
    build_resnet,
    count_flops,
    count_params,
    count_weight_layers,
    make_stage,
    preset_name,
    resnet_block,
    stage_table,
    summary,
)
from .plots import show_images
from .profiles import (
    Precision,
    Profile,
    choose_device,
    choose_precision,
    environment_report,
    get_profile,
)

__version__ = "0.1.0"

__all__ = [
    "architecture_figure",
    "architecture_panel",
    "explore_architecture",
    "format_headline",
    "stage_frame",
    "PAPER",
    "PAPER_TOP1_ERROR",
    "RESNETS",
    "classic_cnns",
    "family_frame",
    "parameter_differences",
    "resnet_family",
    "top1_errors",
    "torchvision_top1_error",
    "BLOCKS",
    "BLOCK_TYPES",
    "Bottleneck",
    "CLASS_NAMES",
    "DataError",
    "FashionMNIST",
    "PRESETS",
    "Precision",
    "PreActResidual",
    "Profile",
    "ResNet",
    "ResNetConfig",
    "Residual",
    "block_explorer_panel",
    "build_resnet",
    "choose_device",
    "choose_precision",
    "compare_blocks",
    "count_flops",
    "count_params",
    "count_weight_layers",
    "draw_block",
    "draw_course_blocks",
    "draw_normal_vs_residual",
    "environment_report",
    "explore_block",
    "format_block_report",
    "forward_without_shortcut",
    "get_profile",
    "input_gradient_norms",
    "load_fashion_mnist",
    "make_stage",
    "preset_name",
    "residual_branch",
    "resnet_block",
    "seed_torchvision_cache",
    "show_images",
    "stage_table",
    "summary",
]
