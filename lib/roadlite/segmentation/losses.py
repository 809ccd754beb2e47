"""LR-CrackNet's losses (Chapter 11_crack_segmentation; §III-D, weights of §IV-B).

* :func:`channel_wise_divergence` -- Shu et al. (2021): per channel a softmax over the H*W
  positions (temperature ``tau``), KL(teacher || student) summed over positions, times tau^2,
  divided by N*C (Eqs. 12-15). The paper gives no tau: the book uses 1.
* :func:`segmentation_loss` -- 0.5 BCE + 0.5 Dice (Eqs. 16-18, smoothing eps = 1).
* :func:`discriminator_loss`, :func:`generator_loss` -- Eqs. 19-22 with the discriminator's
  global (encoder) and per-pixel outputs as logits (BCE with logits = -log sigmoid); both sides'
  global and per-pixel terms follow ``d_global`` / ``d_local`` (a zero weight: no term), so
  Table I's rows train what they name.
* :class:`Distiller` -- the student's total loss, with a 1x1 adapter when the student's up3
  features have another channel count than the teacher's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class LossWeights:
    """The paper's weights (§IV-B). ``kd``, ``seg``, ``adv``: the three terms of Eq. 10."""

    kd: float = 1.0
    seg: float = 1.0
    adv: float = 1.0
    fd: float = 1.0
    ld: float = 1.5
    bce: float = 0.5
    dice: float = 0.5
    d: float = 0.4
    g: float = 0.5
    d_global: float = 1.0
    d_local: float = 1.0
    tau: float = 1.0


def channel_wise_divergence(student: torch.Tensor, teacher: torch.Tensor,
                            tau: float = 1.0) -> torch.Tensor:
    """CWD loss of two ``[N, C, H, W]`` maps of the same shape (the teacher is detached)."""
    if student.shape != teacher.shape:
        raise ValueError(f"channel_wise_divergence: student {tuple(student.shape)} and teacher "
                         f"{tuple(teacher.shape)} differ (use an adapter)")
    n, c = student.shape[:2]
    s = student.reshape(n * c, -1) / tau
    t = teacher.detach().reshape(n * c, -1) / tau
    p_t = F.softmax(t, dim=1)
    kl = (p_t * (F.log_softmax(t, dim=1) - F.log_softmax(s, dim=1))).sum()
    return kl * tau ** 2 / (n * c)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - (2 sum(O Y) + eps) / (sum O + sum Y + eps), over the whole batch (Eq. 18)."""
    o = torch.sigmoid(logits)
    inter = (o * target).sum()
    return 1 - (2 * inter + eps) / (o.sum() + target.sum() + eps)


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor,
                      w: LossWeights = LossWeights()) -> torch.Tensor:
    target = target.float()
    return (w.bce * F.binary_cross_entropy_with_logits(logits, target)
            + w.dice * dice_loss(logits, target))


def _bce(logits: torch.Tensor, value: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, value))


def discriminator_loss(real: tuple[torch.Tensor, torch.Tensor],
                       fake: tuple[torch.Tensor, torch.Tensor],
                       w: LossWeights = LossWeights()) -> torch.Tensor:
    """lambda_D (lambda_Dg L_Dg + lambda_Dl L_Dl) (Eq. 20); ``real``/``fake`` = (global,
    per-pixel) logits. A zero weight drops its term (it is not computed, so it cannot carry a
    non-finite value into the sum); with both weights zero the loss is an error, not a silent 0."""
    _check_adversarial_weights(w, "discriminator_loss")
    terms = []
    if w.d_global:
        terms.append(w.d_global * (_bce(real[0], 1.0) + _bce(fake[0], 0.0)))
    if w.d_local:
        terms.append(w.d_local * (_bce(real[1], 1.0) + _bce(fake[1], 0.0)))
    return w.d * sum(terms)


def generator_loss(fake: tuple[torch.Tensor, torch.Tensor],
                   w: LossWeights = LossWeights()) -> torch.Tensor:
    """lambda_G L_G: the segmenter wants the discriminator's outputs to call its prediction real.

    The paper's L_G (Eq. 22) sums a global and a per-pixel term; its Table I adds L_Dg and L_Dl
    one at a time. The generator's two terms follow the same switches, weighted by ``d_global``
    and ``d_local`` (both 1 in the paper's weights, so the full model is Eq. 22 unchanged): with
    ``d_local = 0`` (Table I's "+ L_Dg" row) the per-pixel head, which is not trained then, adds
    nothing to the segmenter's loss. The weighting of L_G's parts is ours: the paper gives L_G
    one weight, lambda_G."""
    _check_adversarial_weights(w, "generator_loss")
    terms = []
    if w.d_global:
        terms.append(w.d_global * _bce(fake[0], 1.0))
    if w.d_local:
        terms.append(w.d_local * _bce(fake[1], 1.0))
    return w.g * sum(terms)


def _check_adversarial_weights(w: LossWeights, where: str) -> None:
    if w.d_global < 0 or w.d_local < 0:
        raise ValueError(f"{where}: d_global ({w.d_global}) and d_local ({w.d_local}) must be "
                         ">= 0")
    if not (w.d_global or w.d_local):
        raise ValueError(f"{where}: d_global and d_local are both 0, so there is no adversarial "
                         "term; train without a discriminator instead")


class Distiller(nn.Module):
    """The student's loss of Eq. 10 (without the adversarial term, added by the trainer):
    ``kd * (fd * CWD(up3) + ld * CWD(logits)) + seg * (bce BCE + dice Dice)``.
    A 1x1 convolution adapts the student's up3 features when channel counts differ (it is
    trained with the student)."""

    def __init__(self, student_channels: int, teacher_channels: int,
                 weights: LossWeights = LossWeights(), feature: bool = True, logits: bool = True):
        super().__init__()
        self.w, self.feature, self.logits = weights, feature, logits
        self.adapter = (nn.Identity() if student_channels == teacher_channels
                        else nn.Conv2d(student_channels, teacher_channels, 1))

    def forward(self, s_logits, s_feat, t_logits, t_feat, target) -> dict[str, torch.Tensor]:
        w = self.w
        parts = {"seg": w.seg * segmentation_loss(s_logits, target, w)}
        if self.feature:
            parts["fd"] = w.kd * w.fd * channel_wise_divergence(self.adapter(s_feat), t_feat,
                                                                  w.tau)
        if self.logits:
            parts["ld"] = w.kd * w.ld * channel_wise_divergence(s_logits, t_logits, w.tau)
        return parts
