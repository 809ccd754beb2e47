"""Polat et al.'s classifier: MobileNetV2's body and the head, its backbones and variants, saving
and loading (Chapter 10_crack_classifier).

:class:`PolatClassifier` is the MobileNetV2 feature extractor of :mod:`roadlite.models` plus the
paper's head. The one sigmoid output z is returned as the two logits (0, z): softmax over them is
exactly sigmoid(z), cross-entropy is exactly binary cross-entropy, and argmax is ``z > 0``, so
the training core, its accuracy and the LiteRT export work unchanged. Backbones: the one chapter
03_eca trained (:func:`transferred_backbone`, offline), ImageNet's (:func:`imagenet_backbone`,
needs internet) or none (random), and the three variants the chapter compares
(:data:`VARIANTS`). The classifier is saved with :func:`roadlite.models.save_model` under
:data:`ARCH` (registered here with its dropout and frozen flag as its config).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn

from roadlite.data import DataError, normalize
from roadlite.models import load_model, save_model
from roadlite.models.mobilenet import mobilenet_v2
from roadlite.models.registry import register_model

ARCH = "polat_mobilenet_v2"
# The variants the chapter trains side by side: what transfer buys.
VARIANTS: tuple[str, ...] = ("frozen_transfer", "frozen_random", "finetuned")
VARIANT_LABELS = {
    "frozen_transfer": "frozen, transferred backbone (the paper's set-up)",
    "frozen_random": "frozen, random backbone",
    "finetuned": "fully fine-tuned, transferred backbone",
}


class PolatClassifier(nn.Module):
    """MobileNetV2's body + a head for Polat et al.'s task (Chapter 10_crack_classifier).

    ``features`` is the MobileNetV2 body of :func:`roadlite.models.mobilenet_v2` (stem, 17
    inverted residual blocks, 1x1 head convolution to 1280 channels); ``head`` is
    Dropout(``dropout``) -> Linear(1280, 1) on the globally average-pooled features (our layout;
    the paper gives the sigmoid output and "Dropout: 50%", not the layers). The forward
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
    """Save the classifier with :func:`roadlite.models.save_model` (architecture :data:`ARCH`,
    its dropout and frozen flag as the config, ``meta`` beside them; atomic) (Chapter
    10_crack_classifier); :func:`load_classifier` reads it back."""
    return save_model(model, path, ARCH, meta,
                      config={"dropout": float(model.head[0].p), "frozen": model.frozen})


def load_classifier(path: str | os.PathLike) -> PolatClassifier:
    """The classifier saved by :func:`save_classifier`, in eval mode (Chapter 10_crack_classifier;
    :func:`roadlite.models.load_model`, which names the file when it is not such a checkpoint)."""
    return load_model(path, arch=ARCH)


register_model(ARCH, PolatClassifier)
