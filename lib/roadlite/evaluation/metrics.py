"""Confusion matrices, per-class metrics, significance tests, the Pareto front (Chapter 09_confusion).

The MobiLiteNet paper draws its confusion matrices (Fig. 5c) with the labels BR (broken pavement
marking), LO (longitudinal crack), MA (alligator crack) and TR (transverse crack);
:data:`PAPER_CLASS_ABBREV` maps the book's class names onto them.

Two classifiers evaluated on the *same* test images are compared pairwise, since their errors
are correlated: :func:`mcnemar_test` looks only at the images on which exactly one of them is
right, :func:`paired_bootstrap` resamples images (the same draw for both models) to get a
confidence interval for the accuracy difference. :func:`bootstrap_accuracy_ci` gives the interval
of one model's accuracy (chapter 09's ablation table uses it: every run trains one seed).
:func:`mean_std` gives the paper's form, mean ± std; :func:`pareto_front` says which models no
other model beats in accuracy, latency and size at once.

Labels are integer class indices 0 .. K-1 throughout (``y_true``, ``y_pred`` as arrays or lists).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

PAPER_CLASS_ABBREV = {"broken_marking": "BR", "longitudinal": "LO", "alligator": "MA",
                      "transverse": "TR"}
MCNEMAR_EXACT_BELOW = 25  # b + c below this: exact binomial test


def abbreviate(classes: Sequence[str]) -> list[str]:
    """The paper's confusion-matrix labels for class names (Chapter 09_confusion).

    ``["alligator", "broken_marking", "longitudinal", "transverse"]`` -> ``["MA", "BR", "LO",
    "TR"]``; a name without a paper label (e.g. ``"intact"``) is kept as it is.
    """
    return [PAPER_CLASS_ABBREV.get(c, c) for c in classes]


def _labels(y: Any, name: str) -> np.ndarray:
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer class indices, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _pair(y_true: Any, y_pred: Any, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    if n_classes is not None:
        for name, a in (("y_true", t), ("y_pred", p)):
            if a.size and (a.min() < 0 or a.max() >= n_classes):
                raise ValueError(f"{name} holds class indices outside 0..{n_classes - 1}: "
                                 f"min {a.min()}, max {a.max()}")
    return t, p


def confusion(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """Confusion matrix [n_classes, n_classes] of counts (Chapter 09_confusion).

    Row i = true class i, column j = predicted class j (scikit-learn's convention), so the row
    sums are the class supports. Classes absent from both give rows / columns of zeros.
    """
    t, p = _pair(y_true, y_pred, n_classes)
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes)


def per_class_report(y_true: Any, y_pred: Any, classes: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, plus the macro average (Chapter 09_confusion).

    Computed with :func:`sklearn.metrics.precision_recall_fscore_support` (a class never
    predicted gets precision 0, not a warning). Index: the class names, then ``"macro avg"`` (the
    unweighted mean over classes; its support is the number of samples). ``df.attrs["accuracy"]``
    holds the overall accuracy.
    """
    from sklearn.metrics import precision_recall_fscore_support

    classes = list(classes)
    t, p = _pair(y_true, y_pred, len(classes))
    labels = list(range(len(classes)))
    prec, rec, f1, sup = precision_recall_fscore_support(t, p, labels=labels, average=None,
                                                         zero_division=0)
    df = pd.DataFrame({"precision": prec, "recall": rec, "f1": f1, "support": sup},
                      index=pd.Index(classes, name="class"))
    df.loc["macro avg"] = [float(np.mean(prec)), float(np.mean(rec)), float(np.mean(f1)),
                           int(np.sum(sup))]
    df["support"] = df["support"].astype(int)
    df.attrs["accuracy"] = float(np.mean(t == p)) if t.size else float("nan")
    return df


def _correct(y_true: Any, pred_a: Any, pred_b: Any) -> tuple[np.ndarray, np.ndarray]:
    t, a = _pair(y_true, pred_a)
    _, b = _pair(y_true, pred_b)
    if t.size == 0:
        raise ValueError("no samples: y_true is empty")
    return a == t, b == t


def mcnemar_test(y_true: Any, pred_a: Any, pred_b: Any) -> dict[str, Any]:
    """McNemar's test: do two classifiers have the same error rate on these images? (Chapter 09_confusion)

    b = images model A gets right and model B wrong, c = the reverse; images both get right or
    both wrong say nothing about the difference. Under the null hypothesis each discordant image
    is a fair coin flip. With b + c < 25 the p-value is the exact two-sided binomial one,
    min(1, 2 P[X <= min(b, c)]) for X ~ Bin(b + c, 1/2) (``statistic`` = min(b, c));
    otherwise ``statistic`` = (max(|b - c| - 1, 0))^2 / (b + c) (Edwards' continuity
    correction) with a chi-square(1) p-value. b + c = 0 gives p = 1.

    Returns ``{"b", "c", "statistic", "p_value", "method"}`` (method ``"exact"`` or
    ``"chi2"``).
    """
    from scipy import stats

    ok_a, ok_b = _correct(y_true, pred_a, pred_b)
    b = int(np.sum(ok_a & ~ok_b))
    c = int(np.sum(~ok_a & ok_b))
    n = b + c
    if n < MCNEMAR_EXACT_BELOW:
        statistic = float(min(b, c))
        p = 1.0 if n == 0 else min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), n, 0.5)))
        method = "exact"
    else:
        statistic = max(abs(b - c) - 1, 0) ** 2 / n
        p = float(stats.chi2.sf(statistic, df=1))
        method = "chi2"
    return {"b": b, "c": c, "statistic": float(statistic), "p_value": p, "method": method}


def _percentile_ci(values: np.ndarray, level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def paired_bootstrap(y_true: Any, pred_a: Any, pred_b: Any, n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> dict[str, float]:
    """Paired bootstrap of the accuracy difference acc(A) - acc(B) (Chapter 09_confusion).

    Each bootstrap replicate draws n test images with replacement (the *same* draw for both
    models, which keeps the pairing) and recomputes the difference. Because the per-image
    difference of correctness takes only the values -1, 0 and +1, a replicate is drawn exactly
    as a multinomial count of those three outcomes, which is the same distribution as resampling
    indices but costs O(n_boot) instead of O(n_boot * n).

    Returns ``diff`` (on the full test set), ``ci_low`` / ``ci_high`` (percentile interval at
    ``level``) and a two-sided ``p_value`` for "no difference": the share of replicates whose
    distance from ``diff`` is at least |diff| (the bootstrap distribution shifted to the null),
    as (1 + count) / (1 + n_boot), so it is never exactly 0. Reproducible for a ``seed``.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    ok_a, ok_b = _correct(y_true, pred_a, pred_b)
    d = ok_a.astype(np.int64) - ok_b.astype(np.int64)
    n = d.size
    counts = np.array([np.sum(d == -1), np.sum(d == 0), np.sum(d == 1)], dtype=np.float64)
    diff = float(d.mean())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, counts / n, size=n_boot)
    boot = (draws[:, 2] - draws[:, 0]) / n
    lo, hi = _percentile_ci(boot, level)
    extreme = int(np.sum(np.abs(boot - diff) >= abs(diff) - 1e-12))
    return {"diff": diff, "ci_low": lo, "ci_high": hi,
            "p_value": (1 + extreme) / (1 + n_boot)}


def bootstrap_accuracy_ci(y_true: Any, y_pred: Any, n_boot: int = 2000, seed: int = 0,
                          level: float = 0.95) -> dict[str, float]:
    """Bootstrap percentile interval of a classifier's accuracy (Chapter 09_confusion).

    Resampling n images with replacement makes the number of correct ones Binomial(n, acc), so
    the replicates are drawn that way (exactly the same distribution). Returns ``accuracy``,
    ``ci_low``, ``ci_high``; reproducible for a ``seed``.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    t, p = _pair(y_true, y_pred)
    if t.size == 0:
        raise ValueError("no samples: y_true is empty")
    acc = float(np.mean(t == p))
    rng = np.random.default_rng(seed)
    boot = rng.binomial(t.size, acc, size=n_boot) / t.size
    lo, hi = _percentile_ci(boot, level)
    return {"accuracy": acc, "ci_low": lo, "ci_high": hi}


def mean_std(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) over seeds, printed like the paper's
    "value ± spread" (the paper does not say what its ± is over) (Chapter 09_confusion).

    With a single value the standard deviation is undefined and returned as NaN (not 0: one run
    says nothing about the spread); with no values both are NaN.
    """
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        return float("nan"), float("nan")
    mean = float(a.mean())
    std = float(a.std(ddof=1)) if a.size > 1 else float("nan")
    return mean, std


def pareto_front(points: pd.DataFrame, minimize: Sequence[str] = (),
                 maximize: Sequence[str] = ()) -> np.ndarray:
    """Boolean mask of the Pareto-optimal rows of ``points`` (Chapter 09_confusion).

    A row is dominated when another row is at least as good in every objective (lower in each
    ``minimize`` column, higher in each ``maximize`` column) and strictly better in one. The mask
    is True for the rows no other row dominates (ties are all kept). Rows with a missing value
    in an objective are never on the front and dominate nothing. Use as ``points[mask]``.
    """
    cols = list(minimize) + list(maximize)
    if not cols:
        raise ValueError("pareto_front needs at least one column to minimize or maximize")
    missing = [c for c in cols if c not in points.columns]
    if missing:
        raise KeyError(f"columns not in the table: {missing}")
    cost = np.column_stack(
        [points[c].to_numpy(dtype=np.float64) for c in minimize]
        + [-points[c].to_numpy(dtype=np.float64) for c in maximize])
    valid = ~np.isnan(cost).any(axis=1)
    mask = valid.copy()
    idx = np.flatnonzero(valid)
    for i in idx:
        others = cost[idx]
        dominated = np.all(others <= cost[i], axis=1) & np.any(others < cost[i], axis=1)
        mask[i] = not dominated.any()
    return mask
