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


def gate_figure(summary: dict, chosen: float | None = None):
    """The gate's trade over thresholds (``summary["gate_curve"]``): tiles the segmenter skips
    against the crack pixels (found by the all-tile run) that the gated run misses."""
    curve = summary.get("gate_curve") or []
    fig, ax = plt.subplots(figsize=(5.5, 4))
    if curve:
        x = [100 * c["tiles_skipped_share"] for c in curve]
        y = [np.nan if c["missed_share_of_found"] is None else 100 * c["missed_share_of_found"]
             for c in curve]
        ax.plot(x, y, "o-")
        for c, xi, yi in zip(curve, x, y, strict=True):
            ax.annotate(f"{c['gate_threshold']:g}", (xi, yi), textcoords="offset points",
                        xytext=(4, 4), fontsize=8,
                        color="C3" if chosen is not None and abs(c["gate_threshold"] - chosen)
                        < 1e-9 else "0.3")
    ax.set_xlim(-5, 105)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("tiles the segmenter skips (%)")
    ax.set_ylabel("crack pixels missed by the gate (%)")
    ax.set_title("the gate's trade (labels: gate threshold)")
    fig.tight_layout()
    return fig
