"""Chapter 09_confusion's figures: the confusion heatmap, the accuracy-latency-size plot with its
Pareto front, and the accuracies over seeds beside the paper's mean ± std."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from roadlite import book

from .metrics import pareto_front


def plot_confusion(cm: Any, labels: Sequence[str], title: str | None = None,
                   normalize: bool = True, ax: Any = None):
    """Seaborn heatmap of a confusion matrix (Chapter 09_confusion); returns the figure.

    Each cell is annotated with its count; with ``normalize`` the shading is the row-normalised
    fraction (the recall of the row's class on the diagonal, 0-1 colour scale) and the
    percentage is printed under the count, so classes of different sizes compare. Rows: true
    class, columns: predicted class. ``ax``: draw into an existing axes.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    cm = np.asarray(cm)
    k = len(labels)
    if cm.shape != (k, k):
        raise ValueError(f"confusion matrix of shape {cm.shape} does not fit {k} labels")
    if ax is None:
        size = 1.0 + 0.9 * k
        _, ax = plt.subplots(figsize=(size + 1.2, size))
    counts = cm.astype(np.int64)
    if normalize:
        rows = cm.sum(axis=1, keepdims=True).astype(np.float64)
        shade = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)
        annot = np.array([[f"{counts[i, j]}\n{shade[i, j]:.0%}" for j in range(k)]
                          for i in range(k)])
        sns.heatmap(shade, annot=annot, fmt="", cmap="Blues", vmin=0.0, vmax=1.0, square=True,
                    xticklabels=labels, yticklabels=labels, ax=ax,
                    cbar_kws={"label": "fraction of the true class"})
    else:
        sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", square=True,
                    xticklabels=labels, yticklabels=labels, ax=ax, cbar_kws={"label": "count"})
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.tick_params(axis="y", labelrotation=0)
    if title:
        ax.set_title(title)
    fig = ax.figure
    fig.tight_layout()
    return fig


def plot_pareto(df: pd.DataFrame, x: str, y: str, size: str | None = None,
                label: str | None = None, title: str | None = None, logx: bool = False,
                ax: Any = None):
    """Accuracy-latency-size plot (Chapter 09_confusion); returns the figure.

    One marker per row at (``x``, ``y``), e.g. latency (lower is better) and accuracy (higher is
    better); the marker area grows with the ``size`` column (e.g. file size in MB) and the
    ``label`` column names each point. The dashed step line is the Pareto front in x and y
    (minimize x, maximize y); markers with a black edge are on the front of all three (``size``
    minimised too).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5))
    xs = df[x].to_numpy(dtype=np.float64)
    ys = df[y].to_numpy(dtype=np.float64)
    if size is not None:
        s = df[size].to_numpy(dtype=np.float64)
        smax = np.nanmax(s) if np.isfinite(s).any() and np.nanmax(s) > 0 else 1.0
        areas = 40.0 + 560.0 * np.sqrt(np.nan_to_num(s, nan=0.0) / smax)
    else:
        areas = np.full(len(df), 80.0)
    front3 = pareto_front(df, minimize=[x] + ([size] if size else []), maximize=[y])
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i in range(len(df)):
        ax.scatter(xs[i], ys[i], s=areas[i], alpha=0.7, color=colors[i % len(colors)],
                   edgecolors="black" if front3[i] else "none", linewidths=1.5, zorder=3)
        if label is not None:
            ax.annotate(str(df[label].iloc[i]), (xs[i], ys[i]), textcoords="offset points",
                        xytext=(6, 6), fontsize=8)
    front2 = pareto_front(df, minimize=[x], maximize=[y])
    if front2.any():
        order = np.argsort(xs[front2])
        ax.step(xs[front2][order], ys[front2][order], where="post", linestyle="--",
                color="grey", zorder=2, label="Pareto front")
        ax.legend(loc="lower right", fontsize=8)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if size is not None:
        ax.text(0.01, 0.01, f"marker area ~ {size}", transform=ax.transAxes, fontsize=7,
                color="grey")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig = ax.figure
    fig.tight_layout()
    return fig


def plot_seed_ablation(summary: Mapping[str, Any], paper: Mapping[str, Mapping[str, Any]],
                       ax: Any = None):
    """Each model's accuracy in every seed (dots), their mean ± std (bar), and the paper's value
    ± spread where ``paper`` (e.g. :data:`roadlite.paper_numbers.MOBILITENET`, which the
    notebook hands in) has the model (Chapter 09_confusion); returns the figure."""
    import matplotlib.pyplot as plt

    models = summary["models"]
    keys = list(models)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(keys) + 2), 4.2))
    xs = np.arange(len(keys))
    for i, key in enumerate(keys):
        m = models[key]
        ax.scatter(np.full(len(m["values"]), i - 0.12), 100 * np.asarray(m["values"]), s=14,
                   color="tab:blue", alpha=0.6, zorder=3, label="one seed" if i == 0 else None)
        ax.errorbar(i - 0.12, 100 * m["mean"], yerr=100 * np.nan_to_num(m["std"]), fmt="_",
                    color="tab:blue", markersize=14, capsize=4, zorder=4,
                    label="this book: mean ± std" if i == 0 else None)
        if key in paper:
            ax.errorbar(i + 0.12, paper[key]["accuracy"], yerr=paper[key]["accuracy_std"],
                        fmt="o", color="tab:orange", markersize=4, capsize=4,
                        label="paper: value ± spread" if key == next(k for k in keys if k in paper)
                        else None)
    ax.set_xticks(xs)
    ax.set_xticklabels([book.label(k) for k in keys],
                       rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Accuracy over {len(summary['seeds'])} seeds")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig = ax.figure
    fig.tight_layout()
    return fig
