"""Segmentation metrics (Chapter 11_crack_segmentation).

The book's protocol: threshold 0.5, TP / FP / FN / TN summed over the whole test set (not
averaged per image), precision, recall, F1, crack IoU, background IoU and AIoU = their mean. The
LR-CrackNet paper defines no threshold, no pooling and no AIoU; what it does show is that every
(F1, IoU) pair of its Tables I-V satisfies IoU = F1 / (2 - F1) to the printed digits, which holds
when F1 and IoU come from one pooled confusion matrix (per-image means do not obey it);
``tests/test_segmentation.py`` checks it on :mod:`roadlite.paper_numbers`. The threshold 0.5
and AIoU as the mean of crack and background IoU are our reading. Also the field's threshold sweeps with strict pixel
matching (no distance tolerance): ODS (one threshold for the data set, best pooled F1) and OIS
(best F1 per image, averaged). Numbers of other protocols (per-image means, tolerance of a few
pixels) are not comparable with these.
"""

from __future__ import annotations

import numpy as np


def confusion(prob: np.ndarray, target: np.ndarray, threshold: float = 0.5) -> dict[str, int]:
    """Pooled TP / FP / FN / TN of probabilities ``prob`` >= ``threshold`` against binary
    ``target`` (any shapes, the same)."""
    prob, target = np.asarray(prob), np.asarray(target)
    if prob.shape != target.shape:
        raise ValueError(f"prediction shape {prob.shape} != target shape {target.shape}")
    p = prob >= threshold
    t = target > 0
    tp = int(np.count_nonzero(p & t))
    fp = int(np.count_nonzero(p & ~t))
    fn = int(np.count_nonzero(~p & t))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": int(t.size - tp - fp - fn)}


def _div(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def scores(c: dict[str, int]) -> dict[str, float]:
    """Precision, recall, F1, IoU, background IoU, AIoU, accuracy (fractions) from counts."""
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    precision, recall = _div(tp, tp + fp), _div(tp, tp + fn)
    iou, iou_bg = _div(tp, tp + fp + fn), _div(tn, tn + fp + fn)
    return {"precision": precision, "recall": recall, "f1": _div(2 * tp, 2 * tp + fp + fn),
            "iou": iou, "iou_background": iou_bg, "aiou": (iou + iou_bg) / 2,
            "accuracy": _div(tp + tn, tp + fp + fn + tn)}


def pooled_metrics(prob: np.ndarray, target: np.ndarray, threshold: float = 0.5
                   ) -> dict[str, float]:
    c = confusion(prob, target, threshold)
    return {**scores(c), **c}


def ods_ois(prob: np.ndarray, target: np.ndarray, thresholds: int = 99) -> dict[str, float]:
    """ODS and OIS F1 with strict pixel matching over ``thresholds`` evenly spaced thresholds
    in (0, 1); ``prob``/``target`` are ``[N, ...]`` (one entry per image)."""
    prob, target = np.asarray(prob), np.asarray(target) > 0
    if prob.shape != target.shape or prob.ndim < 2:
        raise ValueError(f"ods_ois needs [N, ...] arrays of one shape, got {prob.shape}, "
                         f"{target.shape}")
    ts = np.linspace(0, 1, thresholds + 2)[1:-1]
    n = len(prob)
    p, t = prob.reshape(n, -1), target.reshape(n, -1)
    tp = np.stack([np.count_nonzero((p >= th) & t, 1) for th in ts])  # [T, N]
    pp = np.stack([np.count_nonzero(p >= th, 1) for th in ts])
    pos = np.count_nonzero(t, 1)[None]
    f1_img = np.where(pp + pos > 0, 2 * tp / np.maximum(pp + pos, 1), 0.0)
    f1_ds = 2 * tp.sum(1) / np.maximum(pp.sum(1) + pos.sum(), 1)
    best = int(np.argmax(f1_ds))
    return {"ods_f1": float(f1_ds[best]), "ods_threshold": float(ts[best]),
            "ois_f1": float(f1_img.max(0).mean())}
