"""Polat et al.'s crack / no-crack classifier: MobileNetV2 transfer learning (Chapter 10_crack_classifier).

Polat, Çolak and Kılıç take MobileNetV2 pre-trained on ImageNet, freeze its body, and train a new
head -- dropout 0.5 and one sigmoid output -- with a Dice loss (Adam, learning rate 1e-4, batch
32, 50 epochs with early stopping and reduce-on-plateau; flips, rotations of +-20 degrees, 20 %
zoom and brightness changes on the training images). This module holds what the chapter needs
on top of the book's training core (:func:`roadlite.training.fit`):

* :class:`PolatClassifier`: the MobileNetV2 feature extractor of :mod:`roadlite.models` plus the
  paper's head. The one sigmoid output z is returned as the two logits (0, z): softmax over them
  is exactly sigmoid(z), cross-entropy is exactly binary cross-entropy, and argmax is
  ``z > 0``, so the training core, its accuracy and the LiteRT export work unchanged;
* the losses (:func:`dice_loss`, :func:`bce_loss`) and the paper's augmentation
  (:func:`polat_augmentation`: torchvision transforms v2 for flip and brightness, image by
  image, and a batched rotation and zoom with Keras' edge fill);
* backbones: the one chapter 03_eca trained (:func:`transferred_backbone`, offline), ImageNet's
  (:func:`imagenet_backbone`, needs internet) or none (random), and the three variants the
  chapter compares (:data:`VARIANTS`);
* data: the binary task from chapter 01's manifest (:func:`binary_manifest`), Özgenel's
  ``Positive/`` / ``Negative/`` folders with a split that keeps duplicate pairs together
  (:func:`ozgenel_manifest`), and crack / no-crack patches cut from the masks of the
  segmentation sets DeepCrack and CFD (:func:`crack_patches`);
* metrics with the standard definitions (:func:`binary_metrics`) and the INT8 export.

Label 1 is ``crack``, the positive class; label 0 is ``intact`` (no crack).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from roadlite import __version__
from roadlite.artifacts import atomic_path, jsonable
from roadlite.data import (
    CRACK_TYPES,
    DataError,
    DataNotFoundError,
    detect_layout,
    load_split,
    normalize,
    pixel_key,
    read_manifest,
    resolve_data_root,
    scan_cfd,
    scan_deepcrack,
    scan_ozgenel,
)
from roadlite.export import TFLiteModel, export_tflite
from roadlite.imaging import png_bytes
from roadlite.measure import benchmark_tflite
from roadlite.models.mobilenet import mobilenet_v2

__all__ = [
    "BinaryTask",
    "CLASSES",
    "LOSSES",
    "OzgenelData",
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

CLASSES: tuple[str, str] = ("intact", "crack")  # label 1 = crack, the positive class
ARCH = "polat_mobilenet_v2"
# The variants the chapter trains side by side: what transfer buys.
VARIANTS: tuple[str, ...] = ("frozen_transfer", "frozen_random", "finetuned")
VARIANT_LABELS = {
    "frozen_transfer": "frozen, transferred backbone (the paper's set-up)",
    "frozen_random": "frozen, random backbone",
    "finetuned": "fully fine-tuned, transferred backbone",
}


# --------------------------------------------------------------------------- the model


class PolatClassifier(nn.Module):
    """MobileNetV2's body + Polat et al.'s head (Chapter 10_crack_classifier).

    ``features`` is the MobileNetV2 body of :func:`roadlite.models.mobilenet_v2` (stem, 17
    inverted residual blocks, 1x1 head convolution to 1280 channels); ``head`` is
    Dropout(``dropout``) -> Linear(1280, 1) on the globally average-pooled features. The forward
    pass returns the logits (0, z) [N, 2], so that softmax gives (1 - sigmoid(z), sigmoid(z)).

    ``frozen=True`` freezes the body as Keras' ``trainable = False`` does: its weights get no
    gradient and its batch norms stay in inference mode (running statistics, not updated) even
    in ``train()``.
    """

    def __init__(self, dropout: float = 0.5, frozen: bool = True):
        super().__init__()
        self.features = mobilenet_v2(num_classes=1).features
        self.head = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(1280, 1))
        nn.init.normal_(self.head[1].weight, 0.0, 0.01)
        nn.init.zeros_(self.head[1].bias)
        self.frozen = False
        self.set_frozen(frozen)

    def set_frozen(self, frozen: bool) -> PolatClassifier:
        self.frozen = bool(frozen)
        for p in self.features.parameters():
            p.requires_grad_(not self.frozen)
        self.train(self.training)
        return self

    def train(self, mode: bool = True) -> PolatClassifier:
        super().train(mode)
        if self.frozen:
            self.features.eval()
        return self

    @property
    def target_layer(self) -> nn.Module:
        """The last block of the backbone (the 1x1 convolution to 1280 channels): Grad-CAM's
        target layer."""
        return self.features[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.head(self.features(x).mean(dim=(2, 3)))
        return torch.cat([torch.zeros_like(z), z], dim=1)


def crack_logit(logits: torch.Tensor) -> torch.Tensor:
    """z from the two logits (0, z) [N, 2] (or any two logits: their difference)."""
    return logits[:, 1] - logits[:, 0]


def crack_probability(logits: torch.Tensor) -> torch.Tensor:
    """sigmoid(z): the probability of ``crack`` (Chapter 10_crack_classifier)."""
    return torch.sigmoid(crack_logit(logits))


def count_trainable(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total


# --------------------------------------------------------------------------- losses


def dice_loss(logits: torch.Tensor, y: torch.Tensor, x: torch.Tensor | None = None,
              smooth: float = 1.0) -> torch.Tensor:
    """Soft Dice loss of the crack probability over a batch (Chapter 10_crack_classifier).

    With p = sigmoid(z) and labels y in {0, 1}: 1 - (2 sum(p y) + s) / (sum(p) + sum(y) + s),
    the smoothed form (s = ``smooth`` = 1) common in Keras code; the paper names the loss but
    gives no formula. ``x`` is unused (the training core's criterion signature).
    """
    p = crack_probability(logits)
    t = y.to(p.dtype)
    return 1.0 - (2.0 * (p * t).sum() + smooth) / (p.sum() + t.sum() + smooth)


def bce_loss(logits: torch.Tensor, y: torch.Tensor, x: torch.Tensor | None = None
             ) -> torch.Tensor:
    """Binary cross-entropy of the sigmoid output (Chapter 10_crack_classifier)."""
    return F.binary_cross_entropy_with_logits(crack_logit(logits), y.to(logits.dtype))


LOSSES: dict[str, Callable[..., torch.Tensor]] = {"dice": dice_loss, "bce": bce_loss}


# --------------------------------------------------------------------------- augmentation


class RandomRotateZoom(nn.Module):
    """Rotate each image of a uint8 batch [B, 3, H, W] by an angle drawn from
    [-``degrees``, ``degrees``] and zoom it by a factor drawn from [1 - ``zoom``, 1 + ``zoom``]
    (Chapter 10_crack_classifier).

    Keras' ``rotation_range`` and ``zoom_range`` with its ``fill_mode="nearest"``: corners the
    transform uncovers repeat the nearest edge pixel. torchvision v2's ``RandomAffine`` fills
    with a constant and draws one angle per call, so this module does it for the whole batch at
    once with :func:`torch.nn.functional.grid_sample` (bilinear, ``padding_mode="border"``).
    The draws come from torch's global generator, which the training core seeds.
    """

    def __init__(self, degrees: float = 20.0, zoom: float = 0.2):
        super().__init__()
        self.degrees, self.zoom = float(degrees), float(zoom)

    def forward(self, xb: torch.Tensor) -> torch.Tensor:
        n = len(xb)
        if n == 0 or (self.degrees == 0 and self.zoom == 0):
            return xb
        angle = (torch.rand(n) * 2 - 1) * self.degrees * torch.pi / 180
        scale = 1 + (torch.rand(n) * 2 - 1) * self.zoom  # > 1 zooms in
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
        grid = F.affine_grid(theta, list(xb.shape), align_corners=False)
        out = F.grid_sample(xb.float(), grid, mode="bilinear", padding_mode="border",
                            align_corners=False)
        return out.round_().clamp_(0, 255).to(torch.uint8)

    def extra_repr(self) -> str:
        return f"degrees={self.degrees:g}, zoom={self.zoom:g}"


class PolatAugmentation:
    """The paper's training augmentation (Chapter 10_crack_classifier): a uint8 batch
    [B, 3, H, W] -> an augmented uint8 batch, every image with its own random draw.

    Horizontal flip (p = 0.5) and brightness by a factor in [1 - ``brightness``,
    1 + ``brightness``] are torchvision transforms v2 (``RandomHorizontalFlip``,
    ``ColorJitter``), applied image by image: a v2 transform given a batch tensor draws one set
    of parameters for all of it, Keras' ImageDataGenerator one per image. Rotation by up to
    +-``degrees`` and zoom by [1 - ``zoom``, 1 + ``zoom``] are :class:`RandomRotateZoom`. The
    paper names these four augmentations and the rotation and zoom ranges, not the brightness
    range.
    """

    def __init__(self, degrees: float = 20.0, zoom: float = 0.2, brightness: float = 0.2):
        from torchvision.transforms import v2

        self.per_image = v2.Compose([v2.RandomHorizontalFlip(p=0.5),
                                     v2.ColorJitter(brightness=brightness)])
        self.rotate_zoom = RandomRotateZoom(degrees, zoom)
        self.name = (f"hflip, rotation +-{degrees:g} deg, zoom {1 - zoom:g}-{1 + zoom:g}, "
                     f"brightness {1 - brightness:g}-{1 + brightness:g}, edge fill")

    def __call__(self, xb: torch.Tensor) -> torch.Tensor:
        if len(xb) == 0:
            return xb
        xb = torch.stack([self.per_image(img) for img in xb])
        return self.rotate_zoom(xb)

    def __repr__(self) -> str:
        return f"PolatAugmentation({self.name})"


def polat_augmentation(degrees: float = 20.0, zoom: float = 0.2, brightness: float = 0.2
                       ) -> PolatAugmentation:
    """The paper's augmentation (:class:`PolatAugmentation`; Chapter 10_crack_classifier)."""
    return PolatAugmentation(degrees, zoom, brightness)


# --------------------------------------------------------------------------- backbones


def _features_state(state_dict: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    out = {k[len("features."):]: v for k, v in state_dict.items() if k.startswith("features.")}
    if not out:
        raise DataError(f"{where}: no 'features.*' weights (not a MobileNetV2)")
    return out


def transferred_backbone(model: nn.Module) -> dict[str, torch.Tensor]:
    """The body of a MobileNetV2 as a ``features`` state dict, the 4-class (or 1000-class) head
    left behind (Chapter 10_crack_classifier): chapter 03_eca's trained ``mobilenet_v2`` (loaded
    with :meth:`roadlite.upstream.Upstream.load_model`), the offline stand-in for ImageNet's
    weights, or a torchvision ``mobilenet_v2`` (the layouts are the same)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected the trained MobileNetV2 (an nn.Module), got {type(model)}")
    return _features_state(model.state_dict(), type(model).__name__)


# torchvision's MobileNetV2 has the book's layout: one function serves both.
torchvision_backbone = transferred_backbone


def imagenet_backbone() -> dict[str, torch.Tensor]:
    """torchvision's ImageNet MobileNetV2 weights (``IMAGENET1K_V1``), the paper's starting
    point. Downloads them once (needs internet); never used by the tests or the default and
    smoke profiles. Chapter 10_crack_classifier."""
    from torchvision.models import MobileNet_V2_Weights
    from torchvision.models import mobilenet_v2 as tv_mobilenet_v2

    try:
        tv = tv_mobilenet_v2(weights=MobileNet_V2_Weights.IMAGENET1K_V1)
    except Exception as e:  # URLError, OSError, ... : say what to do
        raise RuntimeError(
            "backbone_weights='imagenet' needs internet to download torchvision's MobileNetV2 "
            f"ImageNet weights ({type(e).__name__}: {e}); offline, use "
            "backbone_weights='chapter03'") from e
    return torchvision_backbone(tv)


def backbone_signature(state: dict[str, torch.Tensor]) -> str:
    """A short hash of a backbone's weights: part of the training fingerprint, so that a new
    chapter-03 backbone is never mistaken for the one a checkpoint was trained from."""
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def calibrate_batch_norm(features: nn.Module, x: torch.Tensor, batch_size: int = 64,
                         max_images: int = 512) -> None:
    """Set the running mean and variance of every batch norm in ``features`` to their averages
    over the uint8 images ``x`` (at most ``max_images`` of them, evenly spaced; no weight
    changes; Chapter 10_crack_classifier).

    A randomly initialised MobileNetV2 body in inference mode normalises with mean 0 and
    variance 1, which its activations do not have: after 17 blocks the features are nearly
    constant. With statistics measured on the data, a frozen random body gives random but
    informative features, the fair baseline for a transferred one.
    """
    if len(x) > max_images:
        x = x[torch.linspace(0, len(x) - 1, max_images).round().long()]
    bns = [m for m in features.modules() if isinstance(m, nn.BatchNorm2d)]
    was_training = features.training
    saved = [(bn, bn.momentum) for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches
    features.train()
    try:
        for i in range(0, len(x), batch_size):
            features(normalize(x[i:i + batch_size]))
    finally:
        for bn, momentum in saved:
            bn.momentum = momentum
        features.train(was_training)


def build_classifier(variant: str, backbone: dict[str, torch.Tensor] | None,
                     dropout: float = 0.5, seed: int = 0,
                     calibration: torch.Tensor | None = None) -> PolatClassifier:
    """One of :data:`VARIANTS` (Chapter 10_crack_classifier).

    ``frozen_transfer``: ``backbone`` loaded and frozen (the paper's set-up);
    ``frozen_random``: a random, frozen backbone (what the head alone can do), its batch-norm
    statistics measured on the uint8 images ``calibration`` when given
    (:func:`calibrate_batch_norm`); ``finetuned``: ``backbone`` loaded, every weight trained.
    The head is initialised from ``seed``, the same for every variant.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {list(VARIANTS)}")
    torch.manual_seed(seed)
    model = PolatClassifier(dropout=dropout, frozen=variant != "finetuned")
    if variant == "frozen_random" and calibration is not None:
        calibrate_batch_norm(model.features, calibration)
        model.train(False)
    if variant != "frozen_random":
        if backbone is None:
            raise ValueError(f"variant {variant!r} needs a backbone state dict")
        try:
            model.features.load_state_dict(backbone, strict=True)
        except RuntimeError as e:
            raise DataError(f"the backbone does not fit MobileNetV2's body: {e}") from e
    return model


def save_classifier(model: PolatClassifier, path: str | os.PathLike, meta: dict | None = None
                    ) -> Path:
    """Save the classifier's weights, its dropout and ``meta`` atomically (Chapter
    10_crack_classifier); :func:`load_classifier` reads it back."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    payload = {"arch": ARCH, "state_dict": state, "dropout": float(model.head[0].p),
               "frozen": model.frozen, "meta": jsonable(meta or {}),
               "roadlite_version": __version__}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_classifier(path: str | os.PathLike) -> PolatClassifier:
    """The classifier saved by :func:`save_classifier`, in eval mode (Chapter 10_crack_classifier)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("arch") != ARCH:
        raise DataError(f"{path} is not a {ARCH} checkpoint")
    model = PolatClassifier(dropout=payload["dropout"], frozen=payload["frozen"])
    model.load_state_dict(payload["state_dict"])
    return model.eval()


# --------------------------------------------------------------------------- data


def binary_manifest(df: pd.DataFrame, seed: int = 0,
                    crack_classes: Sequence[str] = CRACK_TYPES + ("crack",)) -> pd.DataFrame:
    """Chapter 01's manifest as the crack / no-crack task (Chapter 10_crack_classifier).

    ``intact`` -> intact; the classes in ``crack_classes`` (the generator's longitudinal,
    transverse and alligator cracks, or a real set's ``crack``) -> crack; other classes (the
    broken markings, which are distress but not cracks) are left out. Each split is balanced,
    as Özgenel's set is: the larger class is subsampled (drawn from ``seed``, spread evenly over
    its source classes) to the size of the smaller one. The source class stays in
    ``source_class``.
    """
    if "class" not in df or "split" not in df:
        raise DataError("the manifest has no 'class' / 'split' columns")
    df = df.copy()
    df["source_class"] = df["class"]
    keep = df["class"].isin(("intact", *crack_classes))
    df = df[keep].copy()
    df["class"] = np.where(df["source_class"] == "intact", "intact", "crack")
    rng = np.random.default_rng(seed)
    parts = []
    for split in ("train", "val", "test"):
        part = df[df["split"] == split]
        counts = part["class"].value_counts()
        missing = [c for c in CLASSES if counts.get(c, 0) == 0]
        if missing:
            raise DataError(
                f"split {split!r} of the manifest has no {' and no '.join(missing)} image; the "
                f"crack / no-crack task needs both (chapter 01 with include_intact=true, or a "
                f"data_root with Positive/ and Negative/)")
        n = int(counts.min())
        for cls in CLASSES:
            rows = part[part["class"] == cls]
            parts.append(_spread_sample(rows, n, rng))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["split", "class", "path"], kind="stable").reset_index(drop=True)


def _spread_sample(rows: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """n rows, taken round-robin over ``source_class`` (each in a seeded random order)."""
    if len(rows) <= n:
        return rows
    groups = [g.iloc[rng.permutation(len(g))] for _, g in rows.groupby("source_class", sort=True)]
    picked, i = [], 0
    while len(picked) < n:
        for g in groups:
            if i < len(g) and len(picked) < n:
                picked.append(g.iloc[i])
        i += 1
    return pd.DataFrame(picked)


@dataclass
class OzgenelData:
    """Özgenel's set as a manifest, and the groups of identical images it holds."""

    manifest: pd.DataFrame
    duplicate_groups: list[list[str]] = field(default_factory=list)


def ozgenel_manifest(root: str | os.PathLike, seed: int = 0, val_frac: float = 0.1,
                     test_frac: float = 0.1) -> OzgenelData:
    """Özgenel's ``Positive/`` (crack) and ``Negative/`` (no crack) folders as the binary task
    (Chapter 10_crack_classifier).

    A folder without the two class folders, or with one of them holding no image, is a
    :class:`DataError` that names what was expected. The split (the paper's 80/10/10 by
    default) is drawn from ``seed``, stratified by class, and keeps every group of identical
    images (same decoded pixels: the set has byte-identical consecutive pairs) in one split, so
    no test image has its copy in training. Returns the manifest and those groups.
    """
    root = Path(root)
    expected = (f"expected {root}/Positive/ (crack images) and {root}/Negative/ (no-crack "
                f"images), each with png/jpg images: Özgenel's layout")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; {expected}")
    names = {d.name.lower(): d for d in root.iterdir() if d.is_dir()}
    for name in ("positive", "negative"):
        if name not in names:
            raise DataError(f"{root} has no {name.capitalize()}/ folder; {expected}")
    try:
        df = scan_ozgenel(root, seed=seed, val_frac=val_frac, test_frac=test_frac)
    except DataError as e:
        raise DataError(f"{e}\n{expected}") from e
    for cls in CLASSES:
        if not (df["class"] == cls).any():
            raise DataError(f"{root}: no {cls} image found; {expected}")
    keys = pd.Series([pixel_key(p) for p in df["path"]], index=df.index)
    groups = []
    for _, idx in keys.groupby(keys).groups.items():
        if len(idx) > 1:
            if df.loc[idx, "split"].nunique() != 1:  # the split must never separate copies
                raise DataError(f"identical images in two splits: {list(df.loc[idx, 'path'])}")
            groups.append(sorted(df.loc[idx, "path"]))
    df = df.copy()
    df["source_class"] = df["class"]
    return OzgenelData(df.reset_index(drop=True), sorted(groups))


def read_mask_checked(image_path: str | os.PathLike, mask_path: str | os.PathLike,
                      threshold: int = 127) -> np.ndarray:
    """The crack mask of an image as bool [H, W] (value > ``threshold``); a mask whose size
    differs from its image's is a :class:`DataError` naming both files (Chapter
    10_crack_classifier)."""
    with Image.open(image_path) as im:
        size = im.size
    with Image.open(mask_path) as m:
        if m.size != size:
            raise DataError(f"mask {mask_path} is {m.size[0]}x{m.size[1]} pixels, but its image "
                            f"{image_path} is {size[0]}x{size[1]}: a mask must have its "
                            f"image's size")
        return np.asarray(m.convert("L")) > threshold


def _resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    if mask.shape == (size, size):
        return mask
    im = Image.fromarray(mask.astype(np.uint8) * 255).resize((size, size), Image.NEAREST)
    return np.asarray(im) > 127


def load_masks(df: pd.DataFrame, split: str, img_size: int) -> np.ndarray:
    """Masks bool [N, img_size, img_size] of a split's rows, in :func:`load_split`'s order
    (rows without a mask: all False). Sizes are checked against the images."""
    rows = df[df["split"] == split]
    out = np.zeros((len(rows), img_size, img_size), dtype=bool)
    for i, (path, mpath) in enumerate(zip(rows["path"], rows["mask_path"], strict=True)):
        if isinstance(mpath, str) and mpath:
            out[i] = _resize_mask(read_mask_checked(path, mpath), img_size)
    return out


def load_binary_split(df: pd.DataFrame, split: str, img_size: int, progress: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images [N, 3, H, W] (grayscale and RGBA converted to RGB) and labels (1 = crack)."""
    return load_split(df, split, img_size, list(CLASSES), progress=progress)


@dataclass
class PatchSet:
    """Square patches cut from segmentation images: uint8 images [N, 3, P, P], bool masks
    [N, P, P], labels (1 = crack), and where each came from (data set, file, row, column)."""

    images: torch.Tensor
    masks: np.ndarray
    labels: torch.Tensor
    origin: pd.DataFrame

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: Sequence[int] | np.ndarray) -> PatchSet:
        idx = np.asarray(idx, dtype=np.int64)
        return PatchSet(self.images[torch.from_numpy(idx)], self.masks[idx],
                        self.labels[torch.from_numpy(idx)],
                        self.origin.iloc[idx].reset_index(drop=True))

    @staticmethod
    def concat(sets: Iterable[PatchSet]) -> PatchSet:
        sets = list(sets)
        return PatchSet(torch.cat([s.images for s in sets]),
                        np.concatenate([s.masks for s in sets]),
                        torch.cat([s.labels for s in sets]),
                        pd.concat([s.origin for s in sets], ignore_index=True))


def cut_patches(pairs: Iterable[tuple[str, str]], patch_size: int, dataset: str = "",
                min_crack_share: float = 0.005, margin: int = 8) -> PatchSet:
    """Tile each (image, mask) pair into non-overlapping ``patch_size`` squares and label them
    (Chapter 10_crack_classifier).

    A patch is ``crack`` when at least ``min_crack_share`` of its pixels are crack, ``intact``
    when no crack pixel lies in it nor within ``margin`` pixels around it; the patches in
    between (a few crack pixels, or a crack just outside the border) are left out as ambiguous.
    Images are converted to RGB; a mask of another size than its image is a :class:`DataError`.
    """
    imgs, masks, labels, origin = [], [], [], []
    p = int(patch_size)
    for img_path, mask_path in pairs:
        mask = read_mask_checked(img_path, mask_path)
        with Image.open(img_path) as im:
            rgb = np.asarray(im.convert("RGB"))
        h, w = mask.shape
        for r in range(0, h - p + 1, p):
            for c in range(0, w - p + 1, p):
                m = mask[r:r + p, c:c + p]
                share = float(m.mean())
                if share >= min_crack_share:
                    label = 1
                else:
                    around = mask[max(0, r - margin):r + p + margin,
                                  max(0, c - margin):c + p + margin]
                    if around.any():
                        continue
                    label = 0
                imgs.append(rgb[r:r + p, c:c + p])
                masks.append(m)
                labels.append(label)
                origin.append({"dataset": dataset, "path": str(img_path), "row": r, "col": c,
                               "crack_share": share})
    if not imgs:
        return PatchSet(torch.empty(0, 3, p, p, dtype=torch.uint8), np.zeros((0, p, p), bool),
                        torch.empty(0, dtype=torch.int64),
                        pd.DataFrame(columns=["dataset", "path", "row", "col", "crack_share"]))
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()
    return PatchSet(x, np.stack(masks), torch.tensor(labels, dtype=torch.int64),
                    pd.DataFrame(origin))


def balance_patches(ps: PatchSet, max_per_class: int, seed: int = 0) -> PatchSet:
    """As many crack as intact patches, at most ``max_per_class`` each, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    y = ps.labels.numpy()
    n = min(int((y == 0).sum()), int((y == 1).sum()), int(max_per_class))
    idx = np.concatenate([np.sort(rng.permutation(np.flatnonzero(y == k))[:n]) for k in (0, 1)])
    return ps.subset(idx)


def segmentation_pairs(root: str | os.PathLike) -> tuple[str, list[tuple[str, str]]]:
    """(layout, [(image, mask), ...]) of a DeepCrack-style set (its test split) or of CFD (its
    labelled images), through the book's scanners (Chapter 10_crack_classifier)."""
    layout = detect_layout(root)
    if layout == "deepcrack":
        df = scan_deepcrack(root)
        df = df[df["split"] == "test"] if (df["split"] == "test").any() else df
    elif layout == "cfd":
        df = scan_cfd(root)
    else:
        raise DataError(f"{root}: a {layout} layout has no crack masks; crack patches need "
                        f"DeepCrack's ({{train,test}}_img/ + _lab/) or CFD's (image/ + "
                        f"masks_png/)")
    return layout, list(zip(df["path"], df["mask_path"], strict=True))


def crack_patches(root: str | os.PathLike, dataset: str, patch_size: int, img_size: int,
                  max_per_class: int, seed: int = 0, max_images: int | None = None
                  ) -> PatchSet:
    """Balanced crack / no-crack patches of a segmentation set, resized to ``img_size``
    (bilinear; masks nearest) for the classifier (Chapter 10_crack_classifier). With
    ``max_images``, only that many of the set's images (drawn from ``seed``) are cut."""
    _, pairs = segmentation_pairs(root)
    if max_images is not None and len(pairs) > max_images:
        keep = np.sort(np.random.default_rng(seed).permutation(len(pairs))[:max_images])
        pairs = [pairs[i] for i in keep]
    ps = balance_patches(cut_patches(pairs, patch_size, dataset=dataset), max_per_class, seed)
    if len(ps) and patch_size != img_size:
        imgs = [np.asarray(Image.fromarray(im).resize((img_size, img_size), Image.BILINEAR))
                for im in ps.images.permute(0, 2, 3, 1).numpy()]
        ps = PatchSet(torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous(),
                      np.stack([_resize_mask(m, img_size) for m in ps.masks]), ps.labels,
                      ps.origin)
    return ps


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor, batch_size: int = 128) -> np.ndarray:
    """Crack probabilities of uint8 images [N, 3, H, W] (eval mode, on the model's device)."""
    model.eval()
    device = next(model.parameters()).device
    out = [crack_probability(model(normalize(x[i:i + batch_size]).to(device))).float().cpu()
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


def binary_metrics(y_true: Sequence[int] | np.ndarray, prob: Sequence[float] | np.ndarray,
                   threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall, F1, Dice, IoU and more for crack = 1 (Chapter
    10_crack_classifier), with the standard definitions:

    precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2 P R / (P + R). (The paper's
    Eqs. 4-6 print recall as TP / (TP + FP), precision as TP / (TP + FN) -- swapped -- and F1
    without the factor 2.) On hard labels Dice = 2 TP / (2 TP + FP + FN), the same number as
    F1, and IoU = TP / (TP + FP + FN) (Jaccard); ``soft_dice`` and ``soft_iou`` use the
    probabilities instead of the labels (1 - the Dice loss, without smoothing). ``average_
    precision`` is the area under the precision-recall curve, ``roc_auc`` under the ROC curve.
    ``confusion`` is [[TN, FP], [FN, TP]].
    """
    from sklearn import metrics as skm

    y = np.asarray(y_true).astype(int)
    p = np.asarray(prob, dtype=np.float64)
    pred = (p >= threshold).astype(int)
    tn, fp, fn, tp = (int(v) for v in skm.confusion_matrix(y, pred, labels=[0, 1]).ravel())
    both = len(np.unique(y)) == 2
    denom_dice = 2 * tp + fp + fn
    return {
        "n": int(len(y)),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "dice": float(2 * tp / denom_dice) if denom_dice else float("nan"),
        "iou": float(tp / (tp + fp + fn)) if tp + fp + fn else float("nan"),
        "soft_dice": float(2 * (p * y).sum() / (p.sum() + y.sum())) if p.sum() + y.sum() else
        float("nan"),
        "soft_iou": float((p * y).sum() / (p.sum() + y.sum() - (p * y).sum()))
        if p.sum() + y.sum() else float("nan"),
        "average_precision": float(skm.average_precision_score(y, p)) if both else float("nan"),
        "roc_auc": float(skm.roc_auc_score(y, p)) if both else float("nan"),
        "confusion": [[tn, fp], [fn, tp]],
    }


def select_variant(val_accuracy: dict[str, float]) -> str:
    """The variant with the best validation accuracy; ties go to the earlier one in
    :data:`VARIANTS` (the paper's frozen set-up first). The test split plays no part."""
    order = [v for v in VARIANTS if v in val_accuracy]
    if not order:
        raise ValueError("no variant to select from")
    return max(order, key=lambda v: (val_accuracy[v], -order.index(v)))


def tflite_probabilities(path: str | os.PathLike, x: torch.Tensor, num_threads: int = 1
                         ) -> np.ndarray:
    """Crack probabilities of uint8 images from the classifier's ``.tflite`` file (LiteRT)."""
    logits = TFLiteModel(path, num_threads=num_threads).predict(normalize(x))
    return torch.sigmoid(torch.from_numpy(logits[:, 1] - logits[:, 0])).numpy()


def export_int8(model: nn.Module, path: str | os.PathLike, img_size: int, x_calib: torch.Tensor
                ) -> Path:
    """Full-integer INT8 ``.tflite`` of the classifier, calibrated on uint8 images ``x_calib``
    (Chapter 10_crack_classifier; :func:`roadlite.export.export_tflite`)."""
    model = model.cpu().eval().to(memory_format=torch.contiguous_format)
    batches = [normalize(x_calib[i:i + 16]) for i in range(0, len(x_calib), 16)]
    return export_tflite(model, path, img_size, quantization="static", calibration=batches)


# --------------------------------------------------------------------------- the chapter's data


@dataclass
class BinaryTask:
    """The crack / no-crack task in memory: uint8 images and labels (1 = crack) per split, the
    test masks where the data has them, and the duplicate groups the split kept together."""

    source: str
    manifest: pd.DataFrame
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    test_masks: np.ndarray | None = None
    duplicate_groups: list[list[str]] = field(default_factory=list)

    def sizes(self) -> pd.DataFrame:
        """Images per split and class."""
        return pd.DataFrame({s: {c: int((getattr(self, s)[1] == i).sum())
                                 for i, c in enumerate(CLASSES)}
                             for s in ("train", "val", "test")}).T


def load_task(manifest_path: str | os.PathLike | None, data_root: str | None, img_size: int,
              seed: int = 0, val_frac: float = 0.1, test_frac: float = 0.1,
              progress: bool = False) -> BinaryTask:
    """The chapter's data (Chapter 10_crack_classifier): with ``data_root`` None, chapter 01's
    manifest (``manifest_path``) as :func:`binary_manifest` makes it; otherwise Özgenel's
    folders at ``data_root`` (a folder or a registered data set's name) as
    :func:`ozgenel_manifest` splits them."""
    groups: list[list[str]] = []
    if data_root is None:
        df = binary_manifest(read_manifest(manifest_path), seed=seed)
        source = f"chapter 01's manifest ({Path(manifest_path).parent.name})"
    else:
        root = resolve_data_root(data_root)
        oz = ozgenel_manifest(root, seed=seed, val_frac=val_frac, test_frac=test_frac)
        df, groups = oz.manifest, oz.duplicate_groups
        source = f"Özgenel layout at {root}"
    splits = {s: load_binary_split(df, s, img_size, progress) for s in ("train", "val", "test")}
    test_rows = df[df["split"] == "test"]
    has_masks = bool(test_rows["mask_path"].fillna("").astype(str).str.len().gt(0).any())
    masks = load_masks(df, "test", img_size) if has_masks else None
    return BinaryTask(source, df, splits["train"], splits["val"], splits["test"], masks, groups)


def load_patch_sets(names: Sequence[str], patch_size: int, img_size: int, max_per_class: int,
                    seed: int = 0, max_images: int | None = None
                    ) -> tuple[dict[str, PatchSet], dict[str, str]]:
    """Crack / no-crack patches of each segmentation set in ``names`` (folders or registered
    names such as ``deepcrack``, ``cfd``), and why a set was skipped (not found) (Chapter
    10_crack_classifier). A set that is found but broken raises."""
    sets, skipped = {}, {}
    for name in names:
        try:
            root = resolve_data_root(name)
        except DataNotFoundError as e:
            skipped[name] = str(e)
            continue
        label = Path(name).name
        sets[label] = crack_patches(root, label, patch_size, img_size, max_per_class, seed,
                                    max_images)
    return sets, skipped


# --------------------------------------------------------------------------- figures


def plot_examples(x: torch.Tensor, y: torch.Tensor, n: int = 6, seed: int = 0):
    """Chapter 10_crack_classifier: ``n`` images of each class (rows: crack, no crack)."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(2, n, figsize=(1.6 * n, 3.4), squeeze=False)
    for r, label in enumerate((1, 0)):
        idx = np.flatnonzero(y.numpy() == label)
        idx = np.sort(rng.permutation(idx)[:n])
        for c in range(n):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(idx):
                ax.imshow(x[idx[c]].permute(1, 2, 0).numpy())
        axes[r, 0].set_title(CLASSES[label], fontsize=9, loc="left")
    fig.tight_layout()
    return fig


def plot_augmentations(image: torch.Tensor, augment: Callable[[torch.Tensor], torch.Tensor],
                       n: int = 7, seed: int = 0):
    """Chapter 10_crack_classifier: one image and ``n`` draws of the training augmentation."""
    import matplotlib.pyplot as plt

    torch.manual_seed(seed)
    out = augment(image.unsqueeze(0).repeat(n, 1, 1, 1))
    fig, axes = plt.subplots(1, n + 1, figsize=(1.6 * (n + 1), 1.9))
    for i, ax in enumerate(axes):
        ax.imshow((image if i == 0 else out[i - 1]).permute(1, 2, 0).numpy())
        ax.set_title("original" if i == 0 else f"draw {i}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_history(histories: dict[str, list[dict]], loss_name: str = "Dice loss"):
    """Chapter 10_crack_classifier: loss, validation accuracy and learning rate per epoch (the
    learning-rate panel shows reduce-on-plateau at work; a line that ends early, early
    stopping)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for i, (name, hist) in enumerate(histories.items()):
        ep = [h["epoch"] for h in hist]
        c = f"C{i}"
        axes[0].plot(ep, [h["loss"] for h in hist], "--", color=c, label=f"{name} train")
        axes[0].plot(ep, [h["val_loss"] for h in hist], "-", color=c, label=f"{name} val")
        axes[1].plot(ep, [h["val_accuracy"] for h in hist], "-o", ms=3, color=c, label=name)
        axes[2].plot(ep, [h["lr"] for h in hist], "-o", ms=3, color=c, label=name)
    axes[0].set(xlabel="epoch", ylabel=loss_name, title="loss (train dashed, val solid)")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="validation accuracy", ylim=(0, 1.02))
    axes[2].set(xlabel="epoch", ylabel="learning rate", title="learning rate", yscale="log")
    axes[1].legend(fontsize=7, loc="lower right")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_curves(y_true: np.ndarray, probs: dict[str, np.ndarray]):
    """Chapter 10_crack_classifier: ROC and precision-recall curves (scikit-learn) per model."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    fig, (ax_r, ax_p) = plt.subplots(1, 2, figsize=(9, 3.6))
    for i, (name, p) in enumerate(probs.items()):
        fpr, tpr, _ = roc_curve(y_true, p)
        prec, rec, _ = precision_recall_curve(y_true, p)
        ax_r.plot(fpr, tpr, color=f"C{i}", label=name)
        ax_p.plot(rec, prec, color=f"C{i}", label=name)
    ax_r.plot([0, 1], [0, 1], ":", color="0.5")
    ax_r.set(xlabel="false-positive rate", ylabel="true-positive rate (recall)", title="ROC")
    ax_p.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    ax_r.legend(fontsize=7, loc="lower right")
    for ax in (ax_r, ax_p):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def deployment_table(model: nn.Module, out_path: str | os.PathLike, img_size: int,
                     x_calib: torch.Tensor, x_test: torch.Tensor, y_test: np.ndarray,
                     references: dict[str, str | os.PathLike], runs: int = 50,
                     num_threads: int = 1) -> tuple[dict[str, dict], dict]:
    """Chapter 10_crack_classifier: export the classifier to INT8 ``.tflite`` (calibrated on
    ``x_calib``), test it, and time it in LiteRT beside the ``references`` files that exist
    (:func:`roadlite.latency.benchmark_tflite`, end to end from PNG bytes).

    Returns ({name: size, inference and end-to-end medians, and for the classifier its test
    accuracy and its agreement with PyTorch}, the INT8 model's :func:`binary_metrics`).
    """
    prob_torch = predict_proba(model, x_test)
    path = export_int8(model, out_path, img_size, x_calib)
    prob_int8 = tflite_probabilities(path, x_test, num_threads=num_threads)
    int8 = binary_metrics(y_test, prob_int8)
    name = "crack classifier, INT8"
    files = {name: Path(path), **{k: Path(v) for k, v in references.items()}}
    images = [png_bytes(img) for img in x_test[:8]]  # latency inputs: PNG files in memory
    table: dict[str, dict] = {}
    for key, f in files.items():
        if not f.is_file():
            continue
        b = benchmark_tflite(f, images, num_threads=num_threads, warmup=10, runs=runs)
        table[key] = {"size_mb": f.stat().st_size / 1e6,
                      "inference_ms": b["inference"].median_ms,
                      "end_to_end_ms": b["end_to_end"].median_ms}
    table[name].update(accuracy=int8["accuracy"],
                       agreement=float(np.mean((prob_int8 >= 0.5) == (prob_torch >= 0.5))))
    return table, int8


# --------------------------------------------------------------------------- the chapter's tables


PERCENT_COLUMNS = ("accuracy", "precision", "recall", "f1", "dice", "iou", "soft_dice",
                   "average_precision")


def metrics_table(metrics: dict[str, dict], paper: dict | None = None,
                  columns: Sequence[str] = PERCENT_COLUMNS) -> pd.DataFrame:
    """Chapter 10_crack_classifier: rows of :func:`binary_metrics` in %, one per name (a
    variant's label), and the paper's row (``paper``: ``{"label": ..., column: % value}``)."""
    rows = {VARIANT_LABELS.get(k, k): {c: 100 * m[c] for c in columns} for k, m in
            metrics.items()}
    if paper:
        rows[paper["label"]] = {c: paper.get(c, np.nan) for c in columns}
    return pd.DataFrame(rows).T


def evaluate_patches(models: dict[str, nn.Module], patches: dict[str, PatchSet]
                     ) -> tuple[dict[str, dict[str, dict]], pd.DataFrame]:
    """Chapter 10_crack_classifier: every model on every patch set: ({set: {model: metrics}},
    a table of accuracy, precision, recall and F1 in % with the number of patches)."""
    cross, rows = {}, {}
    for name, ps in patches.items():
        cross[name] = {v: binary_metrics(ps.labels.numpy(), predict_proba(m, ps.images))
                       for v, m in models.items()}
        for v, m in cross[name].items():
            rows[(name, v)] = {k: 100 * m[k] for k in ("accuracy", "precision", "recall", "f1")}
            rows[(name, v)]["patches"] = m["n"]
    return cross, pd.DataFrame(rows).T


def variant_record(test: dict, fit_result, trainable: int, total: int) -> dict:
    """Chapter 10_crack_classifier: a variant's entry of ``metrics.json``: its test metrics and
    how its training went."""
    r = fit_result
    return {**test, "best_epoch": r.best_epoch, "epochs_run": len(r.history),
            "best_val_accuracy": r.best_val_accuracy, "stopped_early": r.stopped_early,
            "train_seconds": r.train_seconds, "trainable_params": trainable, "params": total}
