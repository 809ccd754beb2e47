"""Figures shared by the chapters (each function names the chapter that shows it).

Functions return the matplotlib figure; the notebook shows it inline and saves it with
``run.save_figure``. None of them calls ``matplotlib.use``: the inline backend renders them in the
book.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def sample_grid(images: Sequence[Sequence[np.ndarray]], masks: Sequence[Sequence[np.ndarray]],
                row_labels: Sequence[str], col_labels: Sequence[str], overlay_alpha: float = 0.45,
                title: str | None = None):
    """Chapter 01_dataset: a grid (rows x columns) of images with their masks overlaid in red.

    ``images[r][c]`` is uint8 HxWx3, ``masks[r][c]`` HxW in {0,1} (or None); the top half of each
    cell shows the image, the mask overlay is drawn as a red tint on the distress pixels.
    """
    n_r, n_c = len(row_labels), len(col_labels)
    fig, axes = plt.subplots(n_r, n_c, figsize=(2.0 * n_c, 2.0 * n_r), squeeze=False)
    for r in range(n_r):
        for c in range(n_c):
            ax = axes[r][c]
            img = images[r][c].astype(np.float32) / 255.0
            m = masks[r][c]
            if m is not None and m.any():
                red = np.zeros_like(img)
                red[..., 0] = 1.0
                a = overlay_alpha * (m[..., None] > 0)
                img = img * (1 - a) + red * a
            ax.imshow(np.clip(img, 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(col_labels[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def count_table_plot(counts, title: str = "Images per class and condition"):
    """Chapter 01_dataset: a stacked bar chart of a class x condition count table (DataFrame)."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    counts.plot(kind="bar", stacked=True, ax=ax, colormap="viridis", width=0.75)
    ax.set_ylabel("images")
    ax.set_xlabel("")
    ax.set_title(title)
    ax.legend(title=counts.columns.name, fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.tick_params(axis="x", rotation=0)
    fig.tight_layout()
    return fig


def training_curves(histories: Mapping[str, Sequence[Mapping[str, float]]]):
    """Chapter 03_eca: loss and accuracy per epoch (train dashed, validation solid) per model."""
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(10, 3.4))
    for i, (name, hist) in enumerate(histories.items()):
        color = f"C{i}"
        ep = [h["epoch"] for h in hist]
        ax_l.plot(ep, [h["loss"] for h in hist], "--", color=color, label=f"{name} train")
        ax_l.plot(ep, [h["val_loss"] for h in hist], "-", color=color, label=f"{name} val")
        ax_a.plot(ep, [h["accuracy"] for h in hist], "--", color=color, label=f"{name} train")
        ax_a.plot(ep, [h["val_accuracy"] for h in hist], "-", color=color, label=f"{name} val")
    ax_l.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_a.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
    ax_a.legend(fontsize=8, loc="lower right")
    for ax in (ax_l, ax_a):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def eca_gate_plot(gates: Mapping[str, np.ndarray], max_cols: int = 4):
    """Chapter 03_eca: the learned ECA gate (mean over test images) of every channel, per block.

    A flat line at 0.5 would mean the block's attention does nothing; spread means ECA
    re-weights channels.
    """
    names = list(gates)
    n = len(names)
    cols = min(max_cols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.1 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        g = np.asarray(gates[name])
        ax.bar(np.arange(len(g)), np.sort(g)[::-1], width=1.0, color="C2")
        ax.set_ylim(0, 1)
        ax.set_title(f"{name} (C={len(g)})", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("ECA gate per channel, sorted (mean over test images)", fontsize=10)
    fig.tight_layout()
    return fig


def paper_vs_ours(labels: Sequence[str], paper: Sequence[float | None], ours: Sequence[float],
                  paper_err: Sequence[float] | None = None, ylabel: str = "accuracy (%)",
                  log: bool = False, fmt: str = "{:.1f}"):
    """Chapters 03-09: grouped bars of the paper's numbers (labelled as such) beside ours.

    A missing paper value (None) leaves its bar out.
    """
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(1.6 * len(labels) + 2, 3.2))
    paper_v = [np.nan if v is None else v for v in paper]
    ax.bar(x - 0.2, paper_v, 0.4, yerr=paper_err, label="paper (its data and devices)",
           color="0.6")
    ax.bar(x + 0.2, ours, 0.4, label="this run", color="C0")
    for xi, v in zip(x, ours, strict=True):
        ax.annotate(fmt.format(v), (xi + 0.2, v), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, 1.12 * np.nanmax([*paper_v, *ours]))
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def block_bars(tables: Mapping[str, object], title: str = "Where parameters and MACs sit"):
    """Chapter 04_refinement: parameters and MACs per part (stem, blocks, head) of each model.

    ``tables`` maps a model name to its :func:`roadlite.models.summary.block_table` (without the
    total row). Bars are in the order of the network, so the reader sees the late, wide blocks
    carry the parameters and the early, high-resolution ones the MACs.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for i, (name, t) in enumerate(tables.items()):
        t = t[t["part"] != "total"]
        x = np.arange(len(t))
        for ax, col, scale, unit in ((axes[0], "params", 1e3, "k parameters"),
                                     (axes[1], "macs", 1e6, "M MACs")):
            ax.plot(x, t[col].to_numpy(dtype=float) / scale, "o-", color=f"C{i}", label=name,
                    ms=3)
            ax.set_ylabel(unit)
    for ax in axes:
        ax.set_xlabel("part of the network (stem ... head, classifier)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("parameters per part")
    axes[1].set_title("MACs per part")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def distributions(samples: Mapping[str, np.ndarray], xlabel: str, title: str,
                  log_x: bool = True, bins: int = 80):
    """Chapter 05_distillation: histograms of |values| per model (e.g. BN scales |gamma|).

    On a log axis the L1 term's effect shows as mass pushed towards zero.
    """
    fig, ax = plt.subplots(figsize=(7, 3.2))
    arrays = {k: np.abs(np.asarray(v, dtype=float)) for k, v in samples.items()}
    lo = max(1e-6, min(float(a[a > 0].min()) for a in arrays.values() if (a > 0).any()))
    hi = max(float(a.max()) for a in arrays.values())
    edges = np.logspace(np.log10(lo), np.log10(hi), bins) if log_x else np.linspace(0, hi, bins)
    for i, (name, a) in enumerate(arrays.items()):
        ax.hist(np.clip(a, lo, None), bins=edges, histtype="step", lw=1.6, color=f"C{i}",
                label=name, density=True)
    if log_x:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel="density", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def sensitivity_heatmap(df, value: str = "accuracy_drop",
                        title: str = "Accuracy drop when one group is pruned"):
    """Chapter 06_pruning: group x ratio heatmap of a sensitivity scan."""
    import seaborn as sns

    table = df.pivot(index="group", columns="ratio", values=value)
    table = table.reindex(list(dict.fromkeys(df["group"])))
    fig, ax = plt.subplots(figsize=(1.3 * len(table.columns) + 2.5, 0.42 * len(table) + 1.2))
    sns.heatmap(100 * table, annot=True, fmt=".1f", cmap="rocket_r", ax=ax,
                cbar_kws={"label": "points"})
    ax.set(xlabel="share of channels removed", ylabel="", title=title)
    fig.tight_layout()
    return fig


def loss_parts(history: Sequence[Mapping[str, float]], keys: Sequence[str],
               window: int = 20, title: str = "Loss terms during distillation"):
    """Chapter 05_distillation: the terms of the KD loss per training batch (moving average)."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for i, k in enumerate(keys):
        v = np.array([h[k] for h in history], dtype=float)
        if len(v) >= window:
            v = np.convolve(v, np.ones(window) / window, mode="valid")
        ax.plot(v, color=f"C{i}", label=k)
    ax.set(xlabel="training batch", ylabel="value", title=title, yscale="log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def latency_vs_cost(table, peak_gflops: float, latency: str = "inference median (ms)",
                    ylabel: str = "LiteRT inference, 1 thread (ms)"):
    """Chapter 08_benchmark: latency against MACs and against file size, log-log, one point per
    model, with the peak bound (2 FLOPs per MAC at ``peak_gflops``) as a dashed line.

    ``table`` is :func:`roadlite.latency.cost_table`'s: indexed by model, with the columns
    ``macs``, ``size_mb`` and ``latency``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, col, label in ((axes[0], "macs", "MACs per image"), (axes[1], "size_mb", "file size (MB)")):
        ax.scatter(table[col], table[latency], color="C0")
        for k, row in table.iterrows():
            ax.annotate(k, (row[col], row[latency]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        ax.set(xscale="log", yscale="log", xlabel=label, ylabel=ylabel)
        ax.grid(alpha=0.3, which="both")
    macs = table["macs"].sort_values()
    axes[0].plot(macs, 2 * macs / (peak_gflops * 1e9) * 1e3, "--", color="0.5",
                 label=f"peak bound ({peak_gflops:.0f} GFLOP/s)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig
