"""RoadLite's models: MobileNetV2, MobiLiteNet's Models 1 and 2, the ResNet-18 teacher.

Chapters 03_eca, 04_refinement and 05_distillation teach them. Build one by name with
:func:`build_model`; the names are the keys of :data:`MODEL_REGISTRY`.
"""

from __future__ import annotations

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
from .registry import MODEL_REGISTRY, build_model
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
