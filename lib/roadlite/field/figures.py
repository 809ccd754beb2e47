"""Figures of Chapter 12_field_test: photos with their masks, time per stage, the gate."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .pipeline import STAGES, Inspection
from .report import overlay


def photos_figure(results: Sequence[Inspection], n: int = 3, threshold: float = 0.5):
    """Per photo: the photo, its ground truth (when known), the stitched probabilities with
    the segmenter on flagged tiles, and the overlay (red found, cyan missed, yellow tiles)."""
    shown = list(results)[:n]
    fig, axes = plt.subplots(len(shown), 4, figsize=(16, 3.2 * len(shown)), squeeze=False)
    for row, r in zip(axes, shown, strict=True):
        row[0].imshow(r.image)
        row[0].set_title(r.name)
        if r.mask is not None:
            row[1].imshow(r.mask, cmap="gray")
            row[1].set_title("ground truth")
        row[2].imshow(r.prob, cmap="magma", vmin=0, vmax=1)
        row[2].set_title(f"crack probability ({len(r.flagged)}/{len(r.grid)} tiles)")
        row[3].imshow(overlay(r, threshold))
        row[3].set_title("overlay")
        for ax in row:
            ax.axis("off")
    fig.tight_layout()
    return fig


def stages_figure(results: Sequence[Inspection]):
    """Median time per stage (ms, one thread), the all-tile segmenter beside the gated one."""
    med = {s: 1000 * float(np.median([r.seconds[s] for r in results if s in r.seconds]))
           for s in STAGES if any(s in r.seconds for r in results)}
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.barh(list(med), list(med.values()), color=["C3" if s == "segment_all" else "C0"
                                                   for s in med])
    ax.invert_yaxis()
    ax.set_xlabel("median time per photo (ms, one thread)")
    fig.tight_layout()
    return fig


def gate_figure(results: Sequence[Inspection]):
    """Per photo: segmenter time saved by the gate (share) against the crack pixels that the
    all-tile run finds and the gated run misses (share)."""
    pts = [(1 - r.seconds["segment_gated"] / max(r.seconds["segment_all"], 1e-12),
            r.truth["missed_by_gate"] / max(r.truth["found_all"], 1))
           for r in results if r.truth is not None and "segment_all" in r.seconds]
    fig, ax = plt.subplots(figsize=(5, 4))
    if pts:
        a = np.array(pts) * 100
        ax.scatter(a[:, 0], a[:, 1])
    ax.set_xlabel("segmenter time saved by the gate (%)")
    ax.set_ylabel("crack pixels missed by the gate (%)")
    fig.tight_layout()
    return fig
