"""Non-deep baselines that put the CNN results in perspective.

Chapter 01_dataset teaches these: a logistic regression on colour histograms shows how much of
a data set's class information is in plain colour / tone statistics. On the generated data it
should do poorly (the distress is a matter of shape), while the CNNs of chapter 03 do well.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from roadlite.data.loading import load_split


def _as_numpy_uint8(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise TypeError(f"expected uint8 images, got {x.dtype}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images shaped [N, 3, H, W], got {tuple(x.shape)}")
    return x


def color_histogram_features(x_uint8: Any, bins: int = 16) -> np.ndarray:
    """Per-channel colour histograms, each normalised to sum 1 (Chapter 01_dataset).

    ``x_uint8``: uint8 images ``[N, 3, H, W]`` (numpy or torch). Returns float32 ``[N, 3 * bins]``
    (R histogram, then G, then B).
    """
    x = _as_numpy_uint8(x_uint8)
    n, c, h, w = x.shape
    if not 1 <= bins <= 256:
        raise ValueError(f"bins must be in 1..256, got {bins}")
    idx = (x.reshape(n * c, h * w).astype(np.int32) * bins) >> 8  # bin of each pixel
    idx += (np.arange(n * c, dtype=np.int32) * bins)[:, None]
    counts = np.bincount(idx.ravel(), minlength=n * c * bins).astype(np.float32)
    return (counts.reshape(n, c * bins) / np.float32(h * w)).astype(np.float32)


def fit_color_histogram_baseline(
    x_train: Any,
    y_train: Any,
    x_test: Any,
    y_test: Any,
    seed: int = 0,
    bins: int = 16,
) -> dict[str, Any]:
    """Logistic regression on colour histograms (Chapter 01_dataset).

    Returns ``dict(accuracy=float, predictions=np.ndarray, train_accuracy=float, model=...)``.
    The features are standardised before the (multinomial, L2) logistic regression.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def labels(y: Any) -> np.ndarray:
        if hasattr(y, "detach"):
            y = y.detach().cpu().numpy()
        return np.asarray(y).astype(np.int64)

    f_train = color_histogram_features(x_train, bins)
    f_test = color_histogram_features(x_test, bins)
    ytr, yte = labels(y_train), labels(y_test)
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(max_iter=2000, C=1.0, random_state=seed),
    )
    model.fit(f_train, ytr)
    pred = model.predict(f_test)
    return {
        "accuracy": float((pred == yte).mean()),
        "train_accuracy": float((model.predict(f_train) == ytr).mean()),
        "predictions": pred,
        "model": model,
    }


def manifest_colour_baseline(manifest: Any, classes: list[str], img_size: int, seed: int = 0,
                             bins: int = 16) -> dict[str, Any]:
    """Chapter 01_dataset: the colour-histogram baseline on a manifest's train / test splits.

    Returns ``dict(accuracy, chance, n_classes, note)``. A data set with fewer than two task
    classes (a segmentation set such as DeepCrack or CFD, whose every image holds a crack) has
    nothing to classify: ``accuracy`` and ``chance`` are then None and ``note`` says why.
    """
    if len(classes) < 2:
        return {"accuracy": None, "chance": None, "n_classes": len(classes),
                "note": f"one class only ({', '.join(classes)}): no classification baseline; "
                        f"this data set serves the segmentation chapters"}
    rows = manifest[manifest["class"].isin(classes)]
    x_tr, y_tr = load_split(rows, "train", img_size, classes, progress=False)
    x_te, y_te = load_split(rows, "test", img_size, classes, progress=False)
    if len(set(y_tr.tolist())) < 2:
        return {"accuracy": None, "chance": None, "n_classes": len(classes),
                "note": "the training split holds one class only: no classification baseline"}
    fit = fit_color_histogram_baseline(x_tr, y_tr, x_te, y_te, seed=seed, bins=bins)
    return {"accuracy": fit["accuracy"], "chance": 1 / len(classes), "n_classes": len(classes),
            "note": ""}
