"""Polat et al.'s crack / no-crack classifier: MobileNetV2 transfer learning (Chapter 10_crack_classifier).

Polat, Çolak and Kılıç take MobileNetV2 pre-trained on ImageNet and freeze its body: "only the
final layers were retrained for binary classification (crack/no crack) using a sigmoid
activation", with "Dropout: 50%" and a Dice loss (Adam, learning rate 1e-4, batch 32, 50 epochs
with early stopping and reduce-on-plateau; flips, rotations of +-20 degrees, 20 % zoom and
brightness changes on the training images). The package holds what the chapter needs
on top of the book's training core (:func:`roadlite.training.fit`), one concern a module, as
:mod:`roadlite.segmentation` does for chapter 11:

* :mod:`.model` -- :class:`PolatClassifier` (MobileNetV2's body + a head of our layout: the
  paper names the sigmoid and 50 % dropout, not the layers; its one sigmoid output z returned
  as the two logits (0, z)), the backbones and the three variants the chapter compares, saving and loading through :func:`roadlite.models.save_model`;
* :mod:`.train` -- the losses (Dice, BCE), the paper's augmentation, the choice of a variant;
* :mod:`.data` -- the binary task from chapter 01's manifest or Özgenel's folders (a split that
  keeps duplicate pairs together), masks;
* :mod:`.patches` -- crack / no-crack patches cut from the masks of DeepCrack and CFD;
* :mod:`.metrics` -- metrics with the standard definitions, the chapter's tables, the INT8
  export and its timing;
* :mod:`.figures` -- the chapter's figures.

The names of all six are handed on here (``from roadlite import crack_classifier as cc``).
Label 1 is ``crack``, the positive class; label 0 is ``intact`` (no crack).
"""

from __future__ import annotations

from .data import (
    CLASSES,
    BinaryTask,
    OzgenelData,
    binary_manifest,
    load_binary_split,
    load_masks,
    load_task,
    ozgenel_manifest,
    read_mask_checked,
)
from .figures import (
    plot_augmentations,
    plot_curves,
    plot_examples,
    plot_history,
)
from .metrics import (
    PERCENT_COLUMNS,
    binary_metrics,
    deployment_table,
    evaluate_patches,
    export_int8,
    metrics_table,
    predict_proba,
    tflite_probabilities,
)
from .model import (
    ARCH,
    VARIANT_LABELS,
    VARIANTS,
    PolatClassifier,
    backbone_signature,
    build_classifier,
    calibrate_batch_norm,
    count_trainable,
    crack_logit,
    crack_probability,
    imagenet_backbone,
    load_classifier,
    save_classifier,
    torchvision_backbone,
    transferred_backbone,
)
from .patches import (
    PatchSet,
    balance_patches,
    crack_patches,
    cut_patches,
    load_patch_sets,
    segmentation_pairs,
)
from .train import (
    LOSSES,
    PolatAugmentation,
    RandomRotateZoom,
    bce_loss,
    dice_loss,
    polat_augmentation,
    select_variant,
    variant_record,
)

__all__ = [
    "ARCH",
    "BinaryTask",
    "CLASSES",
    "LOSSES",
    "OzgenelData",
    "PERCENT_COLUMNS",
    "PatchSet",
    "PolatAugmentation",
    "PolatClassifier",
    "RandomRotateZoom",
    "VARIANTS",
    "VARIANT_LABELS",
    "backbone_signature",
    "balance_patches",
    "bce_loss",
    "binary_manifest",
    "binary_metrics",
    "build_classifier",
    "calibrate_batch_norm",
    "count_trainable",
    "crack_logit",
    "crack_patches",
    "crack_probability",
    "cut_patches",
    "deployment_table",
    "dice_loss",
    "evaluate_patches",
    "export_int8",
    "imagenet_backbone",
    "load_binary_split",
    "load_classifier",
    "load_masks",
    "load_patch_sets",
    "load_task",
    "metrics_table",
    "ozgenel_manifest",
    "plot_augmentations",
    "plot_curves",
    "plot_examples",
    "plot_history",
    "polat_augmentation",
    "predict_proba",
    "read_mask_checked",
    "save_classifier",
    "segmentation_pairs",
    "select_variant",
    "tflite_probabilities",
    "torchvision_backbone",
    "transferred_backbone",
    "variant_record",
]
