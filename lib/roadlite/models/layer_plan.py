"""The layer plan: the shape of every layer of a network (Chapter 06_pruning).

Structured pruning (:mod:`roadlite.prune`) leaves a network of its base architecture with fewer
channels. Its checkpoint stores the layer plan beside the weights, so that
:func:`roadlite.models.load_model` rebuilds it from the architecture's name without pickled
code: build the base network, :func:`rebuild` its layers to the plan, load the weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from .eca import ECA
from .mobilenet import InvertedResidual, MobileNetV2
from .registry import build_model

PLAN_FORMAT = "roadlite-pruned/1"


def sync_block_attributes(model: nn.Module) -> None:
    """Update the descriptive channel counts of our blocks after their layers changed."""
    for m in model.modules():
        if isinstance(m, InvertedResidual):
            convs = [c for c in m.conv.modules() if isinstance(c, nn.Conv2d)]
            m.inp, m.oup = convs[0].in_channels, convs[-1].out_channels
            depthwise = [c for c in convs if c.groups > 1]
            m.hidden = depthwise[0].in_channels if depthwise else m.inp
        if isinstance(m, ECA) and m.channels < 1:
            raise RuntimeError("pruning removed every channel of an ECA block")
    if isinstance(model, MobileNetV2):
        model.stem_channels = model.features[0][0].out_channels
        model.last_channels = model.features[-1][0].out_channels


def layer_plan(model: nn.Module) -> dict[str, dict]:
    """The shape of every Conv / BatchNorm / Linear / ECA / Dropout layer of ``model`` by name
    (Chapter 06_pruning): what :func:`rebuild` needs to rebuild a pruned network from its base
    architecture. Plain ints, floats and strings only (safe for ``weights_only=True``)."""
    plan: dict[str, dict] = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d):
            plan[name] = {"type": type(m).__name__, "in_channels": m.in_channels,
                          "out_channels": m.out_channels, "groups": m.groups,
                          "kernel_size": list(m.kernel_size), "bias": m.bias is not None}
        elif isinstance(m, nn.BatchNorm2d):
            plan[name] = {"type": "BatchNorm2d", "num_features": m.num_features}
        elif isinstance(m, nn.Linear):
            plan[name] = {"type": "Linear", "in_features": m.in_features,
                          "out_features": m.out_features, "bias": m.bias is not None}
        elif isinstance(m, ECA):
            plan[name] = {"type": "ECA", "channels": m.channels, "k_size": m.k_size}
        elif isinstance(m, nn.Dropout):
            plan[name] = {"type": "Dropout", "p": float(m.p)}
    return plan


def plan_num_classes(plan: Mapping[str, dict]) -> int:
    """The class count of a plan: its last Linear layer's outputs (4 where it has none)."""
    linears = [spec for spec in plan.values() if spec["type"] == "Linear"]
    return int(linears[-1]["out_features"]) if linears else 4


def _shrink(module: nn.Module, spec: dict) -> None:
    """Resize ``module``'s parameters and attributes to ``spec`` (values are loaded later)."""
    kind = spec["type"]
    if kind in ("Conv1d", "Conv2d"):
        if list(module.kernel_size) != list(spec["kernel_size"]) or \
                (module.bias is not None) != spec["bias"]:
            raise ValueError("kernel size or bias differs from the base architecture")
        module.in_channels, module.out_channels = spec["in_channels"], spec["out_channels"]
        module.groups = spec["groups"]
        shape = (spec["out_channels"], spec["in_channels"] // spec["groups"],
                 *spec["kernel_size"])
        module.weight = nn.Parameter(torch.empty(shape))
        if module.bias is not None:
            module.bias = nn.Parameter(torch.empty(spec["out_channels"]))
    elif kind == "BatchNorm2d":
        n = spec["num_features"]
        module.num_features = n
        if module.affine:
            module.weight = nn.Parameter(torch.empty(n))
            module.bias = nn.Parameter(torch.empty(n))
        if module.track_running_stats:
            module.running_mean = torch.zeros(n)
            module.running_var = torch.ones(n)
    elif kind == "Linear":
        if (module.bias is not None) != spec["bias"]:
            raise ValueError("bias differs from the base architecture")
        module.in_features, module.out_features = spec["in_features"], spec["out_features"]
        module.weight = nn.Parameter(torch.empty(spec["out_features"], spec["in_features"]))
        if module.bias is not None:
            module.bias = nn.Parameter(torch.empty(spec["out_features"]))
    elif kind == "ECA":
        if module.k_size != spec["k_size"]:
            raise ValueError(f"ECA kernel {spec['k_size']} differs from the base's "
                             f"{module.k_size}")
        module.channels = spec["channels"]
    elif kind == "Dropout":
        module.p = spec["p"]


def rebuild(arch: str, plan: Mapping[str, dict]) -> nn.Module:
    """Build ``arch`` and shrink its layers to ``plan``; ``ValueError`` if it does not fit."""
    model = build_model(arch, num_classes=plan_num_classes(plan))
    modules = dict(model.named_modules())
    base_plan = layer_plan(model)
    if set(base_plan) != set(plan):
        extra, missing = sorted(set(plan) - set(base_plan)), sorted(set(base_plan) - set(plan))
        raise ValueError(f"the layers differ from {arch!r}: not in {arch!r}: {extra[:5]}, "
                         f"missing: {missing[:5]}")
    for name, spec in plan.items():
        if spec["type"] != base_plan[name]["type"]:
            raise ValueError(f"layer {name!r} is a {spec['type']} here but a "
                             f"{base_plan[name]['type']} in {arch!r}")
        try:
            _shrink(modules[name], spec)
        except ValueError as exc:
            raise ValueError(f"layer {name!r}: {exc}") from None
    sync_block_attributes(model)
    return model
