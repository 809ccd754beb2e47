"""Checker for the exercise of Chapter 05_distillation: the sparse knowledge-distillation loss.

The reader's ``sparse_kd_loss`` (the loss of :func:`roadlite.distill.sparse_kd_loss`,

    L = alpha * T^2 * KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) * CE(z_s, y)
        + lambda * sum |theta|)

is compared with values computed independently in numpy, and a mismatch names the likely
mistake (missing T^2, the KL the wrong way round, swapped alpha, no L1 term, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

__all__ = ["check_sparse_kd_loss"]


def _np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _np_parts(s, t, y, T, params) -> dict[str, float]:
    """Independent float64 numpy reference of the loss's pieces."""
    p_t, p_s = _np_softmax(t / T), _np_softmax(s / T)
    n = s.shape[0]
    kl = float(np.sum(p_t * (np.log(p_t) - np.log(p_s))) / n)
    kl_rev = float(np.sum(p_s * (np.log(p_s) - np.log(p_t))) / n)
    soft_ce = float(-np.sum(p_t * np.log(p_s)) / n)
    ce = float(-np.mean(np.log(_np_softmax(s)[np.arange(n), y])))
    ce_T = float(-np.mean(np.log(p_s[np.arange(n), y])))
    l1 = float(sum(np.abs(p).sum() for p in params)) if params else 0.0
    l2sq = float(sum(np.square(p).sum() for p in params)) if params else 0.0
    return {"kl": kl, "kl_rev": kl_rev, "soft_ce": soft_ce, "ce": ce, "ce_T": ce_T, "l1": l1,
            "l2sq": l2sq, "n": n, "k": s.shape[1]}


def _diagnose(got: float, parts: dict, T: float, alpha: float, lam: float) -> str:
    """Name the usual mistakes whose value matches ``got``."""
    kl, ce, l1, n = parts["kl"], parts["ce"], parts["l1"], parts["n"]
    right_rest = (1 - alpha) * ce + lam * l1
    candidates = {
        "the soft term is missing the T^2 factor (use alpha * T**2 * KL)":
            alpha * kl + right_rest,
        "the soft term is divided by T^2 instead of multiplied": alpha * kl / T**2 + right_rest,
        "the KL divergence points the wrong way: use KL(teacher || student), i.e. "
        "F.kl_div(F.log_softmax(z_s / T, 1), F.softmax(z_t / T, 1), reduction='batchmean')":
            alpha * T**2 * parts["kl_rev"] + right_rest,
        "the KL divergence is averaged over batch and classes (reduction='mean'); use "
        "reduction='batchmean' (sum over classes, mean over the batch)":
            alpha * T**2 * kl / parts["k"] + right_rest,
        "the KL divergence is summed over the batch (reduction='sum'); use 'batchmean'":
            alpha * T**2 * kl * n + right_rest,
        "alpha and (1 - alpha) are swapped": (1 - alpha) * T**2 * kl + alpha * ce + lam * l1,
        "the L1 term lambda * sum|theta| is missing": alpha * T**2 * kl + (1 - alpha) * ce,
        "the L1 term uses the squared L2 norm instead of sum |theta|":
            alpha * T**2 * kl + (1 - alpha) * ce + lam * parts["l2sq"],
        "the soft term is the cross-entropy with the softened teacher (it differs from the KL "
        "divergence by the teacher's entropy); return the KL divergence":
            alpha * T**2 * parts["soft_ce"] + right_rest,
        "the CE term uses the softened student logits z_s / T instead of z_s":
            alpha * T**2 * kl + (1 - alpha) * parts["ce_T"] + lam * l1,
    }
    hits = [why for why, value in candidates.items()
            if value is not None and math.isclose(got, value, rel_tol=1e-4, abs_tol=1e-7)]
    return (" Likely cause: " + "; or ".join(hits) + ".") if hits else ""


def check_sparse_kd_loss(
    fn: Callable[..., torch.Tensor | float], verbose: bool = True
) -> int:
    """Test a reader's own ``sparse_kd_loss`` against the reference (Chapter 05_distillation).

    ``fn(student_logits, teacher_logits, y, T, alpha, lam, params)`` is called positionally on
    a tiny known case (2 samples, 3 classes) with several settings of T, alpha and lambda; it
    may return a tensor, a float, or a tuple whose first element is the total. The first
    mismatch raises ``AssertionError`` with the setting, the expected and the obtained value and,
    when recognised, the likely mistake (missing T^2, reversed KL, swapped alpha, ...).
    Returns the number of cases passed (and prints a line when ``verbose``).
    """
    s = np.array([[2.0, -1.0, 0.5], [0.0, 1.5, -0.5]])
    t = np.array([[3.0, 0.0, -1.0], [-1.0, 2.0, 1.0]])
    y = np.array([0, 2])
    theta = [np.array([[0.5, -1.0], [2.0, 0.0]]), np.array([-0.25, 3.0])]
    cases = [  # (name, T, alpha, lam, params)
        ("authors' setting without L1", 4.0, 0.5, 0.0, None),
        ("pure KD at T=1", 1.0, 1.0, 0.0, None),
        ("pure CE", 4.0, 0.0, 0.0, None),
        ("T=2, alpha=0.3, lambda=0.01 with params", 2.0, 0.3, 0.01, theta),
        ("T=4, alpha=0.9, lambda=0.1 with params", 4.0, 0.9, 0.1, theta),
    ]
    for name, T, alpha, lam, params in cases:
        st = torch.tensor(s, dtype=torch.float32, requires_grad=True)
        tt = torch.tensor(t, dtype=torch.float32)
        yt = torch.tensor(y, dtype=torch.long)
        pt = [torch.tensor(p, dtype=torch.float32) for p in params] if params else None
        parts = _np_parts(s, t, y, T, params)
        expected = alpha * T**2 * parts["kl"] + (1 - alpha) * parts["ce"] + lam * parts["l1"]
        setting = f"case {name!r} (T={T}, alpha={alpha}, lam={lam})"
        try:
            out = fn(st, tt, yt, T, alpha, lam, pt)
        except Exception as exc:
            raise AssertionError(f"{setting}: your function raised {type(exc).__name__}: {exc}"
                                 ) from exc
        if isinstance(out, tuple):
            out = out[0]
        if torch.is_tensor(out):
            if out.numel() != 1:
                raise AssertionError(f"{setting}: expected a scalar loss, got a tensor of shape "
                                     f"{tuple(out.shape)}; reduce over the batch")
            got = float(out.detach())
        else:
            got = float(out)
        if not math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-6):
            raise AssertionError(
                f"{setting}: expected {expected:.6f}, got {got:.6f}."
                f"{_diagnose(got, parts, T, alpha, lam)} Reference parts: KL={parts['kl']:.6f}, "
                f"CE={parts['ce']:.6f}, sum|theta|={parts['l1']:.6f}"
            )
    if verbose:
        print(f"sparse_kd_loss: all {len(cases)} checks passed")
    return len(cases)
