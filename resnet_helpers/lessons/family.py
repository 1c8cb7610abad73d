"""The ResNet family next to torchvision's, the paper's ImageNet errors, and VGG/GoogLeNet.

Every number is computed when asked, none is typed in, except the paper's errors (quoted
with their table): models are built on the meta device (no memory, no download, no
arithmetic), FLOPs come from `count_flops` (a multiply-add counts 2), and torchvision's
accuracies from the metadata of its pretrained weights, which ships with torchvision (the
weights themselves are never downloaded).
"""

from __future__ import annotations

from functools import cache

import torch
from torch import nn

from ..measure import count_flops, count_params, count_weight_layers, stage_rows
from ..models import build_resnet, model_name
from .paper import PAPER, PAPER_TOP1_ERROR

__all__ = [
    "RESNETS",
    "PAPER",
    "PAPER_TOP1_ERROR",
    "resnet_family",
    "parameter_differences",
    "top1_errors",
    "classic_cnns",
    "torchvision_top1_error",
    "family_frame",
]

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


def _title(key: str) -> str:
    if key.startswith("resnet"):
        return model_name(key)
    if key.startswith("vgg"):
        return "VGG-" + key.removeprefix("vgg")
    return {"googlenet": "GoogLeNet"}.get(key, key)


@cache
def _ours(key: str, in_channels: int = 3, num_classes: int = 1000) -> nn.Module:
    with torch.device("meta"):
        return build_resnet(key, in_channels=in_channels, num_classes=num_classes)


@cache
def _torchvision(key: str) -> nn.Module:
    """torchvision's model (ImageNet: 3 channels, 1000 classes), untrained, on the meta device."""
    import torchvision

    kwargs = {"aux_logits": False, "init_weights": False} if key == "googlenet" else {}
    with torch.device("meta"):
        return getattr(torchvision.models, key)(**kwargs)


def torchvision_top1_error(key: str) -> float:
    """Top-1 error (%) of torchvision's first ImageNet weights for `key` (1 centre crop at 224).

    Read from the weights' metadata; nothing is downloaded.
    """
    import torchvision

    meta = torchvision.models.get_model_weights(key).IMAGENET1K_V1.meta
    return round(100 - meta["_metrics"]["ImageNet-1K"]["acc@1"], 3)


def resnet_family(resolutions=(224, 96)) -> list[dict]:
    """ResNet-18..152 from `build_resnet` and from torchvision, ImageNet-sized (3 channels, 1000 classes).

    One row a model: depth, parameters (ours, torchvision's) and FLOPs of one forward pass
    for one image at each resolution (ours, torchvision's), as ints. Our FLOPs come from
    `measure.stage_rows`' formulas, torchvision's from `count_flops` running the model on
    the meta device: two independent ways of counting (the tests check they agree on ours).
    """
    rows = []
    for key in RESNETS:
        ours, theirs = _ours(key), _torchvision(key)
        row = {
            "model": _title(key),
            "depth": count_weight_layers(ours),
            "params": count_params(ours),
            "params (torchvision)": count_params(theirs),
        }
        config = ours.config
        for r in resolutions:
            row[f"flops at {r}"] = sum(layer["flops"] for layer in stage_rows(config, r)[0])
            row[f"flops at {r} (torchvision)"] = count_flops(theirs, (1, 3, r, r))
        rows.append(row)
    return rows


def parameter_differences() -> list[dict]:
    """Where our parameter counts differ from torchvision's, model by model.

    Ours keep the course's convolution biases (torchvision's convolutions have none: the
    batch norm after each one has its own shift); torchvision puts a batch norm after the
    1x1 projection on the shortcut (ours, like the course, has a plain 1x1 convolution).
    """
    rows = []
    for key in RESNETS:
        ours, theirs = _ours(key), _torchvision(key)
        convs = [m for m in ours.modules() if isinstance(m, nn.Conv2d)]
        biases = sum(m.bias.numel() for m in convs if m.bias is not None)
        shortcut_bn = sum(
            count_params(m)
            for name, m in theirs.named_modules()
            if isinstance(m, nn.BatchNorm2d) and ".downsample." in f".{name}"
        )
        rows.append(
            {
                "model": _title(key),
                "ours": count_params(ours),
                "conv biases (ours only)": biases,
                "shortcut BN (torchvision only)": shortcut_bn,
                "ours - biases + shortcut BN": count_params(ours) - biases + shortcut_bn,
                "torchvision": count_params(theirs),
            }
        )
    return rows


def top1_errors() -> list[dict]:
    """The paper's ImageNet top-1 errors (with their table) next to torchvision's pretrained weights.

    torchvision's ResNets all use 1x1 projection shortcuts (option B), so their errors sit in the
    option-B rows; Table 2's ResNet-18 and ResNet-34 use zero padding (option A). The paper reports
    no option-B ResNet-18: its row holds torchvision's error alone.
    """
    rows = []
    for model, error, table in PAPER_TOP1_ERROR:
        if model == "ResNet-34 (option B)":  # torchvision's ResNet-18 is option B too
            rows.append(_top1_row("ResNet-18 (option B)", None, None, torchvision_top1_error("resnet18")))
        key = model.split(" ")[0].replace("ResNet-", "resnet")
        option_b = key.startswith("resnet") and (table == "Table 3")
        rows.append(_top1_row(model, error, table, torchvision_top1_error(key) if option_b else None))
    return rows


def _top1_row(model, error, table, torchvision_error) -> dict:
    return {
        "model": model,
        "paper top-1 error % (10 crops)": error,
        "source": f"He et al. 2015, {table}" if table else None,
        "torchvision weights top-1 error % (1 crop)": torchvision_error,
    }


def classic_cnns(
    keys=("vgg11", "vgg16", "googlenet", "resnet18", "resnet34", "resnet50", "resnet152"), resolution=224
) -> list[dict]:
    """torchvision's VGG, GoogLeNet and ResNets side by side: parameters, FLOPs, top-1 error."""
    return [
        {
            "model": _title(key),
            "params": count_params(_torchvision(key)),
            f"flops at {resolution}": count_flops(_torchvision(key), (1, 3, resolution, resolution)),
            "torchvision weights top-1 error % (1 crop)": torchvision_top1_error(key),
        }
        for key in keys
    ]


def family_frame(rows: list[dict]):
    """A pandas DataFrame for reading: counts with thousands separators, FLOPs in GFLOPs."""
    import pandas as pd

    def cell(column, value):
        if value is None:
            return "-"
        if column.startswith("flops"):
            return f"{value / 1e9:.2f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        if isinstance(value, float):  # errors in %: the paper gives 2 decimals, torchvision's metadata 3
            return f"{value:.3f}" if "torchvision" in column else f"{value:.2f}"
        return value

    frame = pd.DataFrame([{k.replace("flops", "GFLOPs"): cell(k, v) for k, v in r.items()} for r in rows])
    return frame.set_index(frame.columns[0])
