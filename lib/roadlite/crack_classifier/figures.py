"""The crack classifier's figures (Chapter 10_crack_classifier): examples, augmentation draws,
training curves, ROC and precision-recall curves."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .data import CLASSES


def plot_examples(x: torch.Tensor, y: torch.Tensor, n: int = 6, seed: int = 0):
    """Chapter 10_crack_classifier: ``n`` images of each class (rows: crack, no crack)."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(2, n, figsize=(1.6 * n, 3.4), squeeze=False)
    for r, label in enumerate((1, 0)):
        idx = np.flatnonzero(y.numpy() == label)
        idx = np.sort(rng.permutation(idx)[:n])
        for c in range(n):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(idx):
                ax.imshow(x[idx[c]].permute(1, 2, 0).numpy())
        axes[r, 0].set_title(CLASSES[label], fontsize=9, loc="left")
    fig.tight_layout()
    return fig


def plot_augmentations(image: torch.Tensor, augment: Callable[[torch.Tensor], torch.Tensor],
                       n: int = 7, seed: int = 0):
    """Chapter 10_crack_classifier: one image and ``n`` draws of the training augmentation."""
    import matplotlib.pyplot as plt

    torch.manual_seed(seed)
    out = augment(image.unsqueeze(0).repeat(n, 1, 1, 1))
    fig, axes = plt.subplots(1, n + 1, figsize=(1.6 * (n + 1), 1.9))
    for i, ax in enumerate(axes):
        ax.imshow((image if i == 0 else out[i - 1]).permute(1, 2, 0).numpy())
        ax.set_title("original" if i == 0 else f"draw {i}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_history(histories: dict[str, list[dict]], loss_name: str = "Dice loss"):
    """Chapter 10_crack_classifier: loss, validation accuracy and learning rate per epoch (the
    learning-rate panel shows reduce-on-plateau at work; a line that ends early, early
    stopping)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for i, (name, hist) in enumerate(histories.items()):
        ep = [h["epoch"] for h in hist]
        c = f"C{i}"
        axes[0].plot(ep, [h["loss"] for h in hist], "--", color=c, label=f"{name} train")
        axes[0].plot(ep, [h["val_loss"] for h in hist], "-", color=c, label=f"{name} val")
        axes[1].plot(ep, [h["val_accuracy"] for h in hist], "-o", ms=3, color=c, label=name)
        axes[2].plot(ep, [h["lr"] for h in hist], "-o", ms=3, color=c, label=name)
    axes[0].set(xlabel="epoch", ylabel=loss_name, title="loss (train dashed, val solid)")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="validation accuracy", ylim=(0, 1.02))
    axes[2].set(xlabel="epoch", ylabel="learning rate", title="learning rate", yscale="log")
    axes[1].legend(fontsize=7, loc="lower right")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_curves(y_true: np.ndarray, probs: dict[str, np.ndarray]):
    """Chapter 10_crack_classifier: ROC and precision-recall curves (scikit-learn) per model."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    fig, (ax_r, ax_p) = plt.subplots(1, 2, figsize=(9, 3.6))
    for i, (name, p) in enumerate(probs.items()):
        fpr, tpr, _ = roc_curve(y_true, p)
        prec, rec, _ = precision_recall_curve(y_true, p)
        ax_r.plot(fpr, tpr, color=f"C{i}", label=name)
        ax_p.plot(rec, prec, color=f"C{i}", label=name)
    ax_r.plot([0, 1], [0, 1], ":", color="0.5")
    ax_r.set(xlabel="false-positive rate", ylabel="true-positive rate (recall)", title="ROC")
    ax_p.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    ax_r.legend(fontsize=7, loc="lower right")
    for ax in (ax_r, ax_p):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
