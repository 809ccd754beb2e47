"""How Polat et al.'s classifier is trained (Chapter 10_crack_classifier): the losses
(:func:`dice_loss`, :func:`bce_loss`), the paper's augmentation (:func:`polat_augmentation`:
torchvision transforms v2 for flip and brightness, image by image, and a batched rotation and
zoom with Keras' edge fill), and the choice among the trained variants. The training loop is the
book's (:func:`roadlite.training.fit`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .model import VARIANTS, crack_logit, crack_probability


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


def select_variant(val_accuracy: dict[str, float]) -> str:
    """The variant with the best validation accuracy; ties go to the earlier one in
    :data:`VARIANTS` (the paper's frozen set-up first). The test split plays no part."""
    order = [v for v in VARIANTS if v in val_accuracy]
    if not order:
        raise ValueError("no variant to select from")
    return max(order, key=lambda v: (val_accuracy[v], -order.index(v)))


def variant_record(test: dict, fit_result, trainable: int, total: int) -> dict:
    """Chapter 10_crack_classifier: a variant's entry of ``metrics.json``: its test metrics and
    how its training went."""
    r = fit_result
    return {**test, "best_epoch": r.best_epoch, "epochs_run": len(r.history),
            "best_val_accuracy": r.best_val_accuracy, "stopped_early": r.stopped_early,
            "train_seconds": r.train_seconds, "trainable_params": trainable, "params": total}
