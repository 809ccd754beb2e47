"""Chapter 09_confusion's tables: every model's predictions on the one test split, their
bootstrap intervals, the accuracies over seeds (``make book SEEDS=N``), and the recipe against
its peers. The tables beside the paper's numbers are :mod:`roadlite.paper_vs_run`'s."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from roadlite import book

from .metrics import bootstrap_accuracy_ci, mean_std, paired_bootstrap


def collect_predictions(keys: Iterable[str], load: Callable[[str], Mapping[str, Any]]
                        ) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    """Every model's predicted classes on the one test split (Chapter 09_confusion).

    ``load(key)`` returns a model's saved test predictions, ``{"y_true", "logits", "classes"}``
    (e.g. :meth:`roadlite.upstream.Upstream.predictions`). Returns ``(preds, y_true, classes)``:
    ``{key: argmax of the logits}`` in the order of ``keys``, the true labels and the class
    names. A model whose ``y_true`` differs from the first one's was tested on another split:
    a ValueError says which.
    """
    preds: dict[str, np.ndarray] = {}
    y_true, classes = None, None
    for key in keys:
        z = load(key)
        preds[key] = np.asarray(z["logits"]).argmax(1)
        if y_true is None:
            y_true, classes = np.asarray(z["y_true"]), [str(c) for c in z["classes"]]
        elif not np.array_equal(y_true, z["y_true"]):
            raise ValueError(f"the predictions of {key} were made on another test split")
    if y_true is None:
        raise ValueError("no model keys given")
    return preds, y_true, classes


def accuracy_intervals(preds: Mapping[str, Any], y_true: Any, *, n_boot: int = 2000,
                       seed: int = 0, level: float = 0.95) -> dict[str, dict[str, float]]:
    """Every model's test accuracy with its bootstrap interval (Chapter 09_confusion).

    ``preds``: each model's predicted classes on the test split ``y_true``. Returns
    ``{key: {"accuracy", "ci_low", "ci_high"}}`` (:func:`bootstrap_accuracy_ci` with ``n_boot``,
    ``seed``, ``level``), in the order of ``preds``; the ablation table beside the paper is
    :func:`roadlite.paper_vs_run.ablation_table`.
    """
    return {key: bootstrap_accuracy_ci(y_true, p, n_boot=n_boot, seed=seed, level=level)
            for key, p in preds.items()}


def accuracies_over_seeds(keys: Sequence[str],
                          loaders: Mapping[int, Callable[[str], Mapping[str, Any]]]
                          ) -> dict[int, dict[str, float]]:
    """Every model's test accuracy in every seed's run (Chapter 09_confusion).

    ``loaders[seed](key)`` returns a model's saved test predictions in that seed's run (e.g.
    ``Upstream.seed_run(seed).predictions``). Returns ``{seed: {key: accuracy}}``. Every run
    must have tested on the same images: a ValueError names the seed that did not.
    """
    out: dict[int, dict[str, float]] = {}
    y0 = None
    for seed, load in loaders.items():
        preds, y_true, _ = collect_predictions(keys, load)
        if y0 is None:
            y0 = y_true
        elif not np.array_equal(y0, y_true):
            raise ValueError(f"seed {seed}'s models were tested on other images than seed "
                             f"{next(iter(loaders))}'s")
        out[int(seed)] = {k: float(np.mean(p == y_true)) for k, p in preds.items()}
    return out


def summarise_seeds(acc_by_seed: Mapping[int, Mapping[str, float]]) -> dict[str, Any]:
    """Each model's accuracy over seeds (Chapter 09_confusion).

    ``acc_by_seed`` is :func:`accuracies_over_seeds`'s ``{seed: {key: accuracy}}`` (fractions).
    Returns ``{"seeds": [...], "models": {key: {"n", "mean", "std", "values"}}}`` (fractions;
    the mean and the sample standard deviation by :func:`mean_std`; models in the first seed's
    order) for ``metrics.json``; the table beside the paper's value ± spread is
    :func:`roadlite.paper_vs_run.seed_ablation`.
    """
    seeds = sorted(acc_by_seed)
    if not seeds:
        raise ValueError("no seeds given")
    keys = list(acc_by_seed[seeds[0]])
    models: dict[str, dict[str, Any]] = {}
    for key in keys:
        values = [float(acc_by_seed[s][key]) for s in seeds if key in acc_by_seed[s]]
        mean, std = mean_std(values)
        models[key] = {"n": len(values), "mean": mean, "std": std, "values": values}
    return {"seeds": seeds, "models": models}


def recipe_vs_peers(y_true: Any, preds: Mapping[str, Any], latency_ms: Mapping[str, float],
                    size_bytes: Mapping[str, int], peers: Sequence[str],
                    final: str = "model5_int8", n_boot: int = 2000, seed: int = 0,
                    level: float = 0.95) -> pd.DataFrame:
    """Does the MobiLiteNet recipe beat picking a smaller network and quantizing it? (Chapter
    09_confusion)

    One row per model of ``peers`` (e.g. the INT8 peers), named by its book label: its
    accuracy minus ``final``'s in points with the paired-bootstrap interval and p-value
    (:func:`paired_bootstrap`, same test images), its latency and size over ``final``'s, and
    ``verdict``: ``"dominates"`` (at least as accurate and at least as fast as ``final``, one of
    them strictly: point estimates), ``"dominated"`` (the reverse), ``"faster, less accurate"``
    or ``"slower, more accurate"`` (``"tie"`` when both are equal). ``significant`` says whether the interval excludes 0.
    """
    rows = {}
    for key in peers:
        pb = paired_bootstrap(y_true, preds[key], preds[final], n_boot=n_boot, seed=seed,
                              level=level)
        d, lat = pb["diff"], latency_ms[key] / latency_ms[final]
        if d == 0 and lat == 1:
            verdict = "tie"
        elif d >= 0 and lat <= 1 and (d > 0 or lat < 1):
            verdict = "dominates"
        elif d <= 0 and lat >= 1 and (d < 0 or lat > 1):
            verdict = "dominated"
        elif lat < 1:
            verdict = "faster, less accurate"
        else:
            verdict = "slower, more accurate"
        rows[book.model(key).label] = {
            "key": key, "accuracy difference (points)": 100 * d,
            "interval low": 100 * pb["ci_low"], "interval high": 100 * pb["ci_high"],
            "p-value": pb["p_value"], "significant": not pb["ci_low"] <= 0 <= pb["ci_high"],
            "latency ratio": lat, "size ratio": size_bytes[key] / size_bytes[final],
            "verdict": verdict}
    return pd.DataFrame(rows).T


def recipe_verdict(table: pd.DataFrame, final_label: str = "Model 5") -> str:
    """The answer of :func:`recipe_vs_peers`'s table in one paragraph (Chapter 09_confusion):
    which peers dominate ``final_label``, which it dominates, and which trade speed for
    accuracy, with the numbers."""
    if table.empty:
        return "This run trained no peers (chapter 03's `peers`), so the question stays open."

    def names(verdict: str) -> list[str]:
        sel = table[table["verdict"] == verdict]
        return [f"{label} ({r['accuracy difference (points)']:+.1f} points, "
                f"{r['latency ratio']:.2f}× the time{'' if r['significant'] else ', accuracy difference not significant'})"
                for label, r in sel.iterrows()]

    dominating, dominated = names("dominates"), names("dominated")
    faster, slower = names("faster, less accurate"), names("slower, more accurate")
    parts = []
    if dominating:
        parts.append(f"No: {', '.join(dominating)} {'is' if len(dominating) == 1 else 'are'} at "
                     f"least as accurate as {final_label} and at least as fast, so picking "
                     f"{'that network' if len(dominating) == 1 else 'one of them'} and "
                     f"quantizing it beats the recipe on this run.")
    elif dominated and not faster and not slower:
        parts.append(f"Yes, on this run: {final_label} is at least as accurate and at least as "
                     f"fast as every quantized peer.")
    else:
        parts.append(f"No peer is both at least as accurate as {final_label} and at least as "
                     f"fast on this run.")
    if dominated:
        parts.append(f"{final_label} dominates {', '.join(dominated)}.")
    if faster:
        parts.append(f"Faster but less accurate: {', '.join(faster)}.")
    if slower:
        parts.append(f"More accurate but slower: {', '.join(slower)}.")
    parts.append("Accuracy differences are peer minus " + final_label + " on the same test "
                 "images, with paired-bootstrap intervals; times are LiteRT, 1 thread, end to end.")
    return " ".join(parts)
