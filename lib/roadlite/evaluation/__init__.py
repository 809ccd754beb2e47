"""Confusion matrices, per-class metrics, significance tests, ablation summaries (Chapter 09_confusion).

One concern a module, as in the other chapters' packages:

* :mod:`.metrics` -- confusion matrices, per-class reports with the paper's class labels
  (BR, LO, MA, TR), McNemar's test, paired and single bootstrap intervals, mean ± std, the
  Pareto front;
* :mod:`.tables` -- every model's predictions on the one test split, their bootstrap intervals,
  the accuracies over seeds, the recipe against its peers (the tables beside the paper's
  numbers are :mod:`roadlite.paper_vs_run`'s);
* :mod:`.figures` -- the confusion heatmap, the accuracy-latency-size plot, the seeds plot.

The names of all three are handed on here (``from roadlite.evaluation import ...``). Labels are
integer class indices 0 .. K-1 throughout (``y_true``, ``y_pred`` as arrays or lists).
"""

from __future__ import annotations

from .figures import plot_confusion, plot_pareto, plot_seed_ablation
from .metrics import (
    PAPER_CLASS_ABBREV,
    abbreviate,
    bootstrap_accuracy_ci,
    confusion,
    mcnemar_test,
    mean_std,
    paired_bootstrap,
    pareto_front,
    per_class_report,
)
from .tables import (
    accuracies_over_seeds,
    accuracy_intervals,
    collect_predictions,
    recipe_verdict,
    recipe_vs_peers,
    summarise_seeds,
)

__all__ = [
    "PAPER_CLASS_ABBREV",
    "abbreviate",
    "accuracies_over_seeds",
    "accuracy_intervals",
    "bootstrap_accuracy_ci",
    "collect_predictions",
    "confusion",
    "mcnemar_test",
    "mean_std",
    "paired_bootstrap",
    "pareto_front",
    "per_class_report",
    "plot_confusion",
    "plot_pareto",
    "plot_seed_ablation",
    "recipe_verdict",
    "recipe_vs_peers",
    "summarise_seeds",
]
