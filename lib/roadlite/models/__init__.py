"""RoadLite's models: MobileNetV2, MobiLiteNet's Models 1 and 2, the ResNet-18 teacher.

Chapters 03_eca, 04_refinement and 05_distillation teach them. Build one by name with
:func:`build_model`; the names are the keys of :data:`MODEL_REGISTRY`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from .checkpoint import CheckpointError, load_model, read_checkpoint, save_model
from .eca import ECA, collect_eca_gates, eca_kernel_size
from .mobilenet import (
    REFINED_SETTING,
    STANDARD_SETTING,
    ConvBNReLU6,
    InvertedResidual,
    MobileNetV2,
    eca_mobilenet_v2,
    mobilenet_v2,
    refined_mobilenet_v2,
)
from .resnet import resnet18_teacher
from .summary import block_table, count_macs, count_params, macs_per_layer

__all__ = [
    "ECA",
    "MODEL_REGISTRY",
    "REFINED_SETTING",
    "STANDARD_SETTING",
    "CheckpointError",
    "ConvBNReLU6",
    "InvertedResidual",
    "MobileNetV2",
    "block_table",
    "build_model",
    "collect_eca_gates",
    "count_macs",
    "count_params",
    "eca_kernel_size",
    "eca_mobilenet_v2",
    "load_model",
    "macs_per_layer",
    "mobilenet_v2",
    "read_checkpoint",
    "refined_mobilenet_v2",
    "resnet18_teacher",
    "save_model",
]

#: Architecture name -> factory ``f(num_classes=..., **kw)``. The names are the ``arch`` strings
#: stored in checkpoints (Chapters 03-07).
MODEL_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "mobilenet_v2": mobilenet_v2,
    "eca_mobilenet_v2": partial(eca_mobilenet_v2, variant="paper"),
    "eca_mobilenet_v2_authors": partial(eca_mobilenet_v2, variant="authors"),
    "refined_mobilenet_v2": refined_mobilenet_v2,
    "resnet18": resnet18_teacher,
}


def build_model(name: str, num_classes: int = 4, **kw) -> nn.Module:
    """Build a model of :data:`MODEL_REGISTRY` by name (Chapters 03_eca to 07_export).

    ``"mobilenet_v2"`` (baseline), ``"eca_mobilenet_v2"`` (Model 1 as the paper describes it),
    ``"eca_mobilenet_v2_authors"`` (Model 1 as the authors' code builds it),
    ``"refined_mobilenet_v2"`` (Model 2) and ``"resnet18"`` (the teacher). Extra keyword
    arguments go to the factory (e.g. ``dropout=0.5``, ``pretrained=True``).
    """
    try:
        factory = MODEL_REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(MODEL_REGISTRY))
        raise ValueError(f"unknown model {name!r}; known models: {known}") from None
    return factory(num_classes=num_classes, **kw)
