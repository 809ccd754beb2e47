"""Sparse knowledge distillation, MobiLiteNet's third compression step (Chapter 05_distillation).

A large *teacher* (the paper's "ResNet"; ResNet-18 in the authors' code) guides a small
*student* (Model 2) through its softened output distribution. With logits z_s (student), z_t
(teacher), labels y and temperature T, the paper's loss (its Eqs. 2-5) is the unweighted sum

    L = T^2 * KL(softmax(z_t / T) || softmax(z_s / T)) + CE(z_s, y) + lambda * sum |theta|

The authors' code, and this module, weight the first two terms with alpha:

    L = alpha * T^2 * KL(softmax(z_t / T) || softmax(z_s / T))      (soft, "dark knowledge")
        + (1 - alpha) * CE(z_s, y)                                   (hard labels)
        + lambda * sum |theta|                                       (L1 sparsity)

with T = 4, alpha = 0.5, lambda = 1e-5 in the authors' code, where the L1 sum runs over *all*
student parameters (convolutions, BN gamma and beta, ECA, the classifier). Hinton et al. (2015)
scale the soft term by T^2: the gradients of softmax(z / T) shrink like 1 / T^2, so without the
factor a higher temperature would silently weaken the teacher's voice relative to the hard labels.
The L1 term pushes many weights and BN scales towards zero, which Chapter 06_pruning exploits.

The authors compute the soft term as the cross-entropy between the teacher's and the student's
softened distributions; it differs from the KL divergence only by the teacher's entropy, a
constant for the student, so the gradients are the same. We report the KL divergence (0 when the
student copies the teacher exactly).

Chapter 05_distillation uses :func:`make_kd_criterion` with :func:`roadlite.training.fit`, plots
:func:`bn_scales` and :func:`conv_weights`, and lets readers test their own loss with
:func:`roadlite.checkers.distillation.check_sparse_kd_loss`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from roadlite.data.loading import normalize
from roadlite.training import FitResult, TrainConfig, fit

__all__ = [
    "KDCriterion",
    "KDLossParts",
    "bn_scales",
    "conv_weights",
    "l1_norm",
    "make_kd_criterion",
    "sparse_kd_loss",
    "train_kd_students",
]


class KDLossParts(NamedTuple):
    """The parts of the sparse distillation loss (Chapter 05_distillation).

    Raw quantities: ``kl`` = KL(softmax(z_t / T) || softmax(z_s / T)) averaged over the batch,
    ``ce`` = CE(z_s, y), ``l1_norm`` = sum |theta| (0 without an L1 term). Weighted terms that add
    up to ``total``: ``kd_term`` = alpha * T^2 * kl, ``ce_term`` = (1 - alpha) * ce,
    ``l1_term`` = lambda * l1_norm. All are 0-d tensors; ``total`` carries the gradient.
    """

    total: torch.Tensor
    kl: torch.Tensor
    ce: torch.Tensor
    l1_norm: torch.Tensor
    kd_term: torch.Tensor
    ce_term: torch.Tensor
    l1_term: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        """The parts as a ``{name: float}`` dict (for logging and plotting)."""
        return {k: float(v) for k, v in self._asdict().items()}


def _real(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _check_hyper(T: float, alpha: float, lam: float) -> None:
    if not (_real(T) and math.isfinite(T) and T > 0):
        raise ValueError(f"the temperature T must be a finite number > 0, got T={T!r}")
    if not (_real(alpha) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha (weight of the soft KD term) must be in [0, 1], got {alpha!r}")
    if not (_real(lam) and math.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam (lambda, weight of the L1 term) must be >= 0, got {lam!r}")


def l1_norm(params: Iterable[torch.Tensor]) -> torch.Tensor:
    """sum |theta| over the tensors ``params`` (Chapter 05_distillation).

    The sparsity term of the distillation loss before its weight lambda; differentiable. Pass
    ``model.parameters()`` for the authors' choice (all student parameters). An empty iterable
    gives a 0-d zero tensor.
    """
    total: torch.Tensor | None = None
    for p in params:
        s = p.abs().sum()
        total = s if total is None else total + s.to(total.device)
    return total if total is not None else torch.zeros(())


def sparse_kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    y: torch.Tensor,
    T: float = 4.0,
    alpha: float = 0.5,
    lam: float = 1e-5,
    params: Iterable[torch.Tensor] | None = None,
    return_parts: bool = False,
) -> torch.Tensor | KDLossParts:
    """MobiLiteNet's sparse KD loss in the alpha-weighted form of the authors' code
    (Chapter 05_distillation).

    L = alpha * T^2 * KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) * CE(z_s, y)
    + lambda * sum |theta|. The paper's Eq. 5 has no alpha: L_soft + L_hard + lambda * ||theta||_1,
    with L_soft = T^2 * KL (its Eq. 2) and L_hard = CE (its Eq. 3); alpha = 0.5 gives half of its
    first two terms. Here the KL divergence is summed over the classes and averaged over
    the batch ("batchmean"), CE is averaged over the batch and the L1 sum runs over ``params``
    (``lam`` is lambda; the authors' code uses all student parameters, ``student.parameters()``).

    ``student_logits`` and ``teacher_logits`` are [N, K]; ``y`` holds N class indices. The
    teacher's logits are a fixed target: they are detached, so no gradient reaches the teacher.
    ``params=None`` or ``lam == 0`` means no L1 term. Defaults T = 4, alpha = 0.5,
    lambda = 1e-5 are the authors' code's. Returns the total loss, or a :class:`KDLossParts` with
    ``return_parts=True``. Raises ``ValueError`` for T <= 0, alpha outside [0, 1], lam < 0 or
    logits of different shapes.
    """
    _check_hyper(T, alpha, lam)
    if student_logits.shape != teacher_logits.shape or student_logits.dim() != 2:
        raise ValueError(
            "student_logits and teacher_logits must both be [N, K] with the same shape, got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    z_t = teacher_logits.detach().to(student_logits.device, student_logits.dtype)
    log_p_s = F.log_softmax(student_logits / T, dim=1)
    log_p_t = F.log_softmax(z_t / T, dim=1)
    kl = F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)
    ce = F.cross_entropy(student_logits, y)
    zero = student_logits.new_zeros(())
    if params is not None and lam > 0:
        l1 = l1_norm(params).to(student_logits.device)
    else:
        l1 = zero
    kd_term = alpha * T * T * kl
    ce_term = (1.0 - alpha) * ce
    l1_term = lam * l1 if lam > 0 else zero
    total = kd_term + ce_term + l1_term
    if return_parts:
        return KDLossParts(total, kl, ce, l1, kd_term, ce_term, l1_term)
    return total


class TeacherCache:
    """The teacher's logits on a fixed set of training images, computed once (Chapter
    05_distillation; ours, to save time: the authors' code runs the teacher on every batch).

    The teacher is frozen and in eval mode, so its answer on an image never changes; only the
    augmentation varies what the student sees, and the book's is flips
    (:func:`roadlite.training.iterate_batches`): each image reaches the teacher in one of four
    forms. The cache runs the teacher once on each form (``flips=True``) or on the images alone,
    and looks a batch up by the exact bytes of each normalised image; an image it does not
    hold is run through the teacher then. With two students of ten epochs each, the teacher
    runs on four forms instead of twenty epochs. The logits match the uncached ones up to the
    last bits (the teacher sees batches of ``batch_size`` instead of the training batches).
    ``hits`` and ``misses`` count the images looked up.
    """

    def __init__(self, teacher: nn.Module, images: torch.Tensor, flips: bool = True,
                 batch_size: int = 256):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be uint8 [N, 3, H, W], got {images.dtype} "
                             f"{tuple(images.shape)}")
        self.teacher = teacher
        self.table: dict[bytes, torch.Tensor] = {}
        self.hits = self.misses = 0
        teacher.eval()
        device = next(teacher.parameters()).device
        forms = [(), (-1,), (-2,), (-1, -2)] if flips else [()]
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                x = normalize(images[i:i + batch_size])
                for dims in forms:
                    xf = x.flip(dims) if dims else x
                    logits = teacher(xf.to(device)).float().cpu()
                    for key, row in zip(self._keys(xf), logits, strict=True):
                        self.table[key] = row

    @staticmethod
    def _keys(x: torch.Tensor) -> list[bytes]:
        arr = x.detach().cpu().contiguous().numpy()
        return [hashlib.blake2b(a.tobytes(), digest_size=16).digest() for a in arr]

    def __len__(self) -> int:
        return len(self.table)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The teacher's logits on the batch ``x`` [B, 3, H, W] (normalised, as the student
        sees it)."""
        keys = self._keys(x)
        missing = [i for i, k in enumerate(keys) if k not in self.table]
        if missing:
            self.teacher.eval()
            device = next(self.teacher.parameters()).device
            computed = self.teacher(x[missing].to(device)).float().cpu()
            for i, row in zip(missing, computed, strict=True):
                self.table[keys[i]] = row
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        return torch.stack([self.table[k] for k in keys]).to(x.device)


class KDCriterion:
    """A ``criterion(logits, y, x) -> loss`` for :func:`roadlite.training.fit` that distils a
    teacher into a student with :func:`sparse_kd_loss` (Chapter 05_distillation).

    On every call the teacher runs in eval mode under ``no_grad`` on the same (normalised) batch
    ``x`` the student saw; the teacher is moved to the student's device on first use. The L1 term
    (weight lambda = ``lam``) runs over all parameters of ``student``. ``history`` keeps the loss
    parts of every training batch as floats (``as_floats()`` of :class:`KDLossParts` plus ``n``,
    the batch size) so the chapter can plot them; :meth:`reset_history` clears it.
    ``config`` is ``{"T", "alpha", "lam"}`` for ``TrainConfig.extra``. With ``cache`` (a
    :class:`TeacherCache`) the teacher's logits come from it.
    """

    def __init__(self, teacher: nn.Module, student: nn.Module, T: float = 4.0,
                 alpha: float = 0.5, lam: float = 1e-5, record: bool = True,
                 cache: TeacherCache | None = None):
        _check_hyper(T, alpha, lam)
        self.teacher, self.student, self.cache = teacher, student, cache
        self.T, self.alpha, self.lam = float(T), float(alpha), float(lam)
        self.record = record
        self.history: list[dict[str, float]] = []
        self.last_parts: KDLossParts | None = None

    @property
    def config(self) -> dict[str, float]:
        return {"T": self.T, "alpha": self.alpha, "lam": self.lam}

    def reset_history(self) -> None:
        self.history.clear()

    @torch.no_grad()
    def teacher_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The teacher's logits on ``x`` (eval mode, no gradient; from the cache if any)."""
        if self.cache is not None:
            return self.cache(x)
        self.teacher.eval()
        param = next(self.teacher.parameters(), None)
        if param is not None and param.device != x.device:
            self.teacher.to(x.device)
        return self.teacher(x)

    def __call__(self, logits: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        z_t = self.teacher_logits(x)
        params = self.student.parameters() if self.lam > 0 else None
        parts = sparse_kd_loss(logits, z_t, y, self.T, self.alpha, self.lam, params,
                               return_parts=True)
        self.last_parts = parts
        if self.record:
            row = {k: float(v.detach()) for k, v in parts._asdict().items()}
            row["n"] = int(y.shape[0])
            self.history.append(row)
        return parts.total

    def __repr__(self) -> str:
        return (f"KDCriterion(teacher={type(self.teacher).__name__}, "
                f"student={type(self.student).__name__}, T={self.T}, alpha={self.alpha}, "
                f"lam={self.lam})")


def make_kd_criterion(teacher: nn.Module, student: nn.Module, T: float = 4.0,
                      alpha: float = 0.5, lam: float = 1e-5,
                      cache: TeacherCache | None = None) -> KDCriterion:
    """A ``criterion(logits, y, x)`` for :func:`roadlite.training.fit` (Chapter 05_distillation).

    Sparse KD with temperature T, soft-term weight alpha and L1 weight lambda (``lam``) over all
    ``student`` parameters; the teacher runs in eval mode under ``no_grad`` on the batch ``x``.
    The authors' values: T = 4, alpha = 0.5, lambda = 1e-5 (distillation) and lambda = 0
    (fine-tuning after pruning, Chapter 06_pruning). See :class:`KDCriterion`.
    """
    return KDCriterion(teacher, student, T, alpha, lam, cache=cache)


def train_kd_students(
    teacher: nn.Module,
    lambdas: Mapping[str, float],
    build: Callable[[], nn.Module],
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    cfg: TrainConfig,
    ckpt_root: str | Path,
    *,
    T: float = 4.0,
    alpha: float = 0.5,
    seed: int = 0,
    cache_teacher: bool = True,
) -> tuple[dict[str, nn.Module], dict[str, FitResult], dict[str, KDCriterion]]:
    """Distil ``teacher`` into one student per L1 weight (Chapter 05_distillation).

    ``lambdas`` maps a student's name to its lambda (e.g. ``{"model3_kd": 1e-5,
    "model3_kd_no_l1": 0.0}``). Each student is ``build()`` from the same seed ``seed`` (the
    same random weights), trained with :func:`roadlite.training.fit` on ``train`` / ``val`` with
    the KD loss (:func:`make_kd_criterion`, ``T``, ``alpha``, its lambda), ``cfg`` with the
    loss's hyper-parameters in ``extra``, and its checkpoints in ``ckpt_root/<name>``. Returns
    ``(students, fit results, criteria)`` by name; a criterion's ``history`` holds the loss
    parts of every batch. With ``cache_teacher`` the teacher's logits on the training images
    (and their flips when ``cfg.augment``) are computed once for all students
    (:class:`TeacherCache`).
    """
    students, results, criteria = {}, {}, {}
    cache = TeacherCache(teacher, train[0], flips=cfg.augment) if cache_teacher else None
    for key, lam in lambdas.items():
        torch.manual_seed(seed)
        student = build()
        crit = make_kd_criterion(teacher, student, T=T, alpha=alpha, lam=lam, cache=cache)
        student_cfg = dataclasses.replace(cfg, extra={**cfg.extra, **crit.config})
        results[key] = fit(student, train, val, student_cfg, Path(ckpt_root) / key,
                           criterion=crit, name=key)
        students[key], criteria[key] = student, crit
    return students, results, criteria


def bn_scales(model: nn.Module) -> np.ndarray:
    """All |gamma| of the BatchNorm2d layers of ``model``, one float32 vector (Chapter 05).

    The histogram of Chapter 05_distillation: the L1 term drives many BN scales towards 0, and
    a channel whose scale is ~0 contributes almost nothing (the basis of Chapter 06_pruning).
    """
    values = [m.weight.detach().abs().flatten().float().cpu()
              for m in model.modules() if isinstance(m, nn.BatchNorm2d) and m.weight is not None]
    return torch.cat(values).numpy() if values else np.zeros(0, dtype=np.float32)


def conv_weights(model: nn.Module) -> np.ndarray:
    """All Conv2d weights theta of ``model`` flattened into one float32 vector (Chapter 05).

    For the weight histogram of Chapter 05_distillation (with and without the lambda L1 term).
    ECA's Conv1d (a few weights per layer) is not included.
    """
    values = [m.weight.detach().flatten().float().cpu()
              for m in model.modules() if isinstance(m, nn.Conv2d)]
    return torch.cat(values).numpy() if values else np.zeros(0, dtype=np.float32)
