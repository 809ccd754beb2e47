"""Measuring the crack classifier (Chapter 10_crack_classifier): metrics with the standard
definitions (:func:`binary_metrics`), the chapter's tables, the patch sets' evaluation, and the
INT8 export timed beside a reference (:func:`deployment_table`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from roadlite.data import normalize
from roadlite.export import TFLiteModel, export_tflite
from roadlite.imaging import png_bytes
from roadlite.measure import benchmark_tflite

from .model import VARIANT_LABELS, crack_probability
from .patches import PatchSet


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


PERCENT_COLUMNS = ("accuracy", "precision", "recall", "f1", "dice", "iou", "soft_dice",
                   "average_precision")


def metrics_table(metrics: dict[str, dict], columns: Sequence[str] = PERCENT_COLUMNS
                  ) -> pd.DataFrame:
    """Chapter 10_crack_classifier: rows of :func:`binary_metrics` in %, one per name (a
    variant's label). The paper's rows beside them: :func:`roadlite.paper_vs_run.polat_test_table`
    and :func:`roadlite.paper_vs_run.polat_train_test_table`."""
    rows = {VARIANT_LABELS.get(k, k): {c: 100 * m[c] for c in columns} for k, m in
            metrics.items()}
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


def deployment_table(model: nn.Module, out_path: str | os.PathLike, img_size: int,
                     x_calib: torch.Tensor, x_test: torch.Tensor, y_test: np.ndarray,
                     references: dict[str, str | os.PathLike], runs: int = 50,
                     num_threads: int = 1) -> tuple[dict[str, dict], dict]:
    """Chapter 10_crack_classifier: export the classifier to INT8 ``.tflite`` (calibrated on
    ``x_calib``), test it, and time it in LiteRT beside the ``references`` files that exist
    (:func:`roadlite.measure.benchmark_tflite`, end to end from PNG bytes).

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
