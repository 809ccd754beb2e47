"""Parameters and multiply-accumulate operations (MACs) of a model, in total and per block.

Chapters 03_eca and 04_refinement teach these counts; chapters 06_pruning and 08_benchmark reuse
them. MACs count only the multiply-accumulates of convolutions and fully connected layers, the
convention of the MobileNet papers ("Mult-Adds"): for each Conv2d / Conv1d / Linear layer,

    MACs = (number of output elements) x (input channels / groups) x (kernel height x width),

for one image. Batch norm, activations, pooling, the ECA gate multiply and the residual add are
not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn

from roadlite.imaging import image_hw

from .eca import ECA
from .mobilenet import ConvBNReLU6, InvertedResidual

__all__ = ["block_table", "count_macs", "count_params", "macs_per_layer"]


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (Chapter 03_eca); only trainable ones if asked."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _layer_macs(module: nn.Module, out: torch.Tensor) -> int:
    per_image = out.numel() // out.shape[0]
    if isinstance(module, nn.Linear):
        return per_image * module.in_features
    kernel = 1
    for k in module.kernel_size:
        kernel *= k
    return per_image * (module.in_channels // module.groups) * kernel


@torch.no_grad()
def macs_per_layer(
    model: nn.Module, img_size: int | Sequence[int], in_channels: int = 3
) -> dict[str, int]:
    """MACs of each Conv2d / Conv1d / Linear layer for one image, keyed by module name.

    Chapter 04_refinement. The model runs once on a zero image of size ``img_size`` in eval mode
    (its training flag is restored afterwards).
    """
    h, w = image_hw(img_size)
    result: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d | nn.Conv1d | nn.Linear):

            def hook(mod, _inp, out, name=name):
                result[name] = result.get(name, 0) + _layer_macs(mod, out)

            handles.append(module.register_forward_hook(hook))
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    was_training = model.training
    try:
        model.eval()
        model(torch.zeros(1, in_channels, h, w, device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return result


def count_macs(model: nn.Module, img_size: int | Sequence[int], in_channels: int = 3) -> int:
    """Multiply-accumulates for one ``img_size`` image (Chapters 03_eca, 04_refinement).

    Sum over the Conv2d, Conv1d and Linear layers of out_elements x in_channels / groups x
    kernel_h x kernel_w. At 224 px: baseline MobileNetV2 (4 classes) about 299.5 M, Model 2
    about 139.6 M.
    """
    return sum(macs_per_layer(model, img_size, in_channels).values())


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def _describe(part: str, module: nn.Module) -> dict:
    """Channels, stride, expansion t and ECA k read from the layers themselves (so that the
    table stays right after channel pruning has changed them)."""
    row: dict = {"part": part, "in_ch": None, "out_ch": None, "t": None, "stride": None,
                 "eca_k": None, "residual": None}
    convs = _convs(module)
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if convs:
        row["in_ch"], row["out_ch"] = convs[0].in_channels, convs[-1].out_channels
        row["stride"] = max(c.stride[0] for c in convs)
    elif linears:
        row["in_ch"], row["out_ch"] = linears[0].in_features, linears[-1].out_features
    if isinstance(module, InvertedResidual):
        depthwise = [c for c in convs if c.groups > 1 and c.groups == c.in_channels]
        hidden = depthwise[0].in_channels if depthwise else row["in_ch"]
        row["t"] = round(hidden / row["in_ch"], 2)
        row["residual"] = module.use_res_connect
    ecas = [m for m in module.modules() if isinstance(m, ECA)]
    if ecas:
        row["eca_k"] = ecas[0].k_size
    return row


def block_table(
    model: nn.Module, img_size: int | Sequence[int] = 224, total: bool = True
) -> pd.DataFrame:
    """Per-block parameters and MACs, the table of Chapters 03_eca and 04_refinement.

    For a MobileNetV2-family model (``features`` + ``classifier``) the rows are the stem, each
    inverted residual block (named ``in→out`` with its expansion t, stride s, ECA kernel k and
    whether it has the residual connection), the 1x1 head and the classifier. Any other model
    gets one row per top-level child. Columns: ``part, module, in_ch, out_ch, t, stride, eca_k,
    residual, params, macs``; with ``total=True`` a last row sums params and MACs.
    """
    per_layer = macs_per_layer(model, img_size)
    parts: list[tuple[str, str, nn.Module]] = []
    if isinstance(getattr(model, "features", None), nn.Sequential) and hasattr(model, "classifier"):
        features = list(model.features.named_children())
        n_blocks = 0
        for i, (child_name, child) in enumerate(features):
            module_name = f"features.{child_name}"
            if isinstance(child, InvertedResidual):
                n_blocks += 1
                convs = _convs(child)
                label = f"block {n_blocks}: {convs[0].in_channels}→{convs[-1].out_channels}"
            elif i == 0 and isinstance(child, ConvBNReLU6 | nn.Sequential):
                label = "stem"
            elif i == len(features) - 1:
                label = "head"
            else:
                label = module_name
            parts.append((label, module_name, child))
        parts.append(("classifier", "classifier", model.classifier))
    else:
        parts = [(name, name, child) for name, child in model.named_children()]

    rows = []
    for label, module_name, module in parts:
        row = _describe(label, module)
        row["module"] = module_name
        row["params"] = count_params(module)
        row["macs"] = sum(
            v for k, v in per_layer.items() if k == module_name or k.startswith(module_name + ".")
        )
        rows.append(row)
    columns = ["part", "module", "in_ch", "out_ch", "t", "stride", "eca_k", "residual",
               "params", "macs"]
    table = pd.DataFrame(rows, columns=columns)
    if total:
        extra = count_params(model) - int(table["params"].sum())
        if extra:  # parameters outside the listed parts (should not happen for our models)
            table.loc[len(table)] = {"part": "other", "module": "", "params": extra, "macs": 0}
        table.loc[len(table)] = {"part": "total", "module": "", "params": int(table["params"].sum()),
                                 "macs": int(table["macs"].sum())}
    return table.astype({"in_ch": "Int64", "out_ch": "Int64", "stride": "Int64", "eca_k": "Int64",
                         "t": "Float64", "residual": "boolean", "params": "int64",
                         "macs": "int64"})
