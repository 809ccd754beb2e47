"""Figures of Chapter 11_crack_segmentation (matplotlib; each returns the figure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .dmia import dmia_boundary, dmia_radius


def _overlay(img: np.ndarray, mask: np.ndarray, colour=(255, 0, 0)) -> np.ndarray:
    out = img.copy()
    out[mask > 0] = colour
    return out


def dmia_figure(images: np.ndarray, masks: np.ndarray, factor: float = 1.0,
                widths: Sequence[int] = (1, 3, 7, 13)):
    """Top: bars of known widths with their DMIA boundaries; bottom: data images, masks and
    boundaries (images uint8 [N, H, W, 3], masks [N, H, W])."""
    import matplotlib.pyplot as plt

    n = max(len(widths), len(images))
    fig, axes = plt.subplots(2, n, figsize=(2.3 * n, 4.8), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, w in zip(axes[0], widths, strict=False):
        bar = np.zeros((48, 48), np.uint8)
        bar[24 - w // 2: 24 - w // 2 + w, 6:42] = 1
        b = dmia_boundary(bar, factor)
        ax.imshow(bar + 2 * b, cmap="viridis", vmin=0, vmax=2)
        ax.set_title(f"width {w}: r = {dmia_radius(bar, factor)}", fontsize=9)
    for ax, img, m in zip(axes[1], images, masks, strict=False):
        b = dmia_boundary(m, factor)
        ax.imshow(_overlay(_overlay(img, b, (0, 200, 255)), m))
        ax.set_title(f"r = {dmia_radius(m, factor)}", fontsize=9)
    fig.suptitle("DMIA: mask (red) and boundary map (blue); top: bars of known width")
    fig.tight_layout()
    return fig


def predictions_figure(images: np.ndarray, masks: np.ndarray,
                       probs: Mapping[str, np.ndarray], threshold: float = 0.5):
    """Rows: images; columns: image, ground truth, each model's prediction at ``threshold``."""
    import matplotlib.pyplot as plt

    n, cols = len(images), 2 + len(probs)
    fig, axes = plt.subplots(n, cols, figsize=(1.9 * cols, 1.9 * n), squeeze=False)
    for i in range(n):
        panels = [images[i], masks[i]] + [p[i] >= threshold for p in probs.values()]
        titles = ["image", "ground truth", *probs]
        for j, (panel, title) in enumerate(zip(panels, titles, strict=True)):
            ax = axes[i, j]
            ax.imshow(panel, cmap=None if j == 0 else "gray")
            ax.axis("off")
            if i == 0:
                ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def curves_figure(histories: Mapping[str, list[dict]]):
    """Training loss and validation F1 per epoch of each phase."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, h in histories.items():
        a.plot([r["epoch"] for r in h], [r["loss"] for r in h], marker=".", label=name)
        v = [r for r in h if "val_f1" in r]
        b.plot([r["epoch"] for r in v], [100 * r["val_f1"] for r in v], marker="o", label=name)
    a.set(xlabel="epoch", ylabel="training loss (total)", title="training loss")
    b.set(xlabel="epoch", ylabel="validation F1 (%)", title="validation F1 (pooled, 0.5)")
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig
