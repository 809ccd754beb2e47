"""Chapter 09_confusion's tables: every model's predictions on the one test split, "paper vs this
run" (chapters 03-05 and 09), the ablation table beside the paper's Fig. 5b, the ablation over
seeds (``make book SEEDS=N``), and the recipe against its peers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from roadlite import book
from roadlite.paper_numbers import MOBILITENET

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


# The columns paper_vs_this_run knows: name -> (header, value of this run's entry ("ours") or
# of the paper's numbers ("paper")). "{img_size}" in a header is filled in.
_OURS_COLUMNS: dict[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {
    "accuracy": ("test accuracy (%)", lambda e: 100 * e["accuracy"]),
    "params": ("parameters", lambda e: e["params"]),
    "macs": ("MMACs @ {img_size}", lambda e: e["macs"] / 1e6),
}
_PAPER_COLUMNS: dict[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {
    "paper_accuracy": ("paper accuracy (%)", lambda p: p["accuracy"]),
    "paper_std": ("paper ± std", lambda p: p["accuracy_std"]),
    "paper_accuracy_pm": ("paper accuracy (%)",
                          lambda p: f"{p['accuracy']:.2f} ± {p['accuracy_std']:.2f}"),
    "paper_params": ("paper parameters", lambda p: p["params"]),
    "paper_size_mb": ("paper size (MB)", lambda p: p.get("size_mb")),
}
PAPER_VS_THIS_RUN_COLUMNS = tuple(_OURS_COLUMNS) + tuple(_PAPER_COLUMNS)
Column = str | tuple[str, Callable[[str, Mapping[str, Any]], Any]]


def paper_vs_this_run(entries: Mapping[str, Mapping[str, Any]], columns: Sequence[Column], *,
                      labels: Mapping[str, str] | None = None, img_size: int | None = None,
                      extra_rows: Mapping[str, Mapping[str, Any]] | None = None,
                      paper: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """The "paper vs this run" table of chapters 03-05 and 09 (Chapter 09_confusion).

    ``entries`` maps a model key to its entry of ``metrics["models"]`` (``accuracy``, ``params``,
    ``macs``, ...); one row each, in that order, named ``labels[key]``, else the book's label
    (:func:`roadlite.book.model`), else the key. ``columns`` are, in order, names of
    :data:`PAPER_VS_THIS_RUN_COLUMNS` -- this run's ``accuracy`` (in %), ``params``, ``macs``
    (millions, at ``img_size`` px), and the paper's ``paper_accuracy``, ``paper_std``,
    ``paper_accuracy_pm`` (the paper's "value ± spread"), ``paper_params``, ``paper_size_mb`` -- or
    ``(header, function(key, entry))`` pairs for other columns. The paper's numbers come from
    ``paper`` (default :data:`roadlite.paper_numbers.MOBILITENET`); a model the paper does not
    have gets no paper columns (NaN), a number the paper does not give is None. ``extra_rows``
    (``{row name: {header: value}}``) are appended as they are, e.g. a baseline that is not a
    model of the ladder.
    """
    paper = MOBILITENET if paper is None else paper
    labels = labels or {}
    unknown = [c for c in columns if isinstance(c, str) and c not in PAPER_VS_THIS_RUN_COLUMNS]
    if unknown:
        raise KeyError(f"unknown column(s) {unknown}; known: {', '.join(PAPER_VS_THIS_RUN_COLUMNS)}")
    if "macs" in columns and img_size is None:
        raise ValueError("the 'macs' column needs img_size")
    rows: dict[str, dict[str, Any]] = {}
    for key, entry in entries.items():
        label = labels.get(key) or book.label(key)
        row: dict[str, Any] = {}
        for col in columns:
            if not isinstance(col, str):
                header, value = col
                row[header] = value(key, entry)
            elif col in _OURS_COLUMNS:
                header, value = _OURS_COLUMNS[col]
                row[header.format(img_size=img_size)] = value(entry)
            elif key in paper:
                header, value = _PAPER_COLUMNS[col]
                row[header] = value(paper[key])
        rows[label] = row
    rows.update({name: dict(r) for name, r in (extra_rows or {}).items()})
    return pd.DataFrame(rows).T


def ablation_table(preds: Mapping[str, Any], y_true: Any, params: Mapping[str, int],
                   size_bytes: Mapping[str, int], latency_ms: Mapping[str, float], *,
                   n_boot: int = 2000, seed: int = 0, level: float = 0.95,
                   reference: str = "mobilenet_v2", reference_name: str = "MobileNetV2",
                   paper: Mapping[str, Mapping[str, Any]] | None = None
                   ) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """The ablation table of chapter 09 beside the paper's Fig. 5b (Chapter 09_confusion).

    One row per model of ``preds`` (predicted classes on the test split ``y_true``): accuracy
    (%) with its bootstrap interval (:func:`bootstrap_accuracy_ci` with ``n_boot``, ``seed``,
    ``level``), the paper's value ± spread, parameters (``params``), ``.tflite`` size in MB
    (``size_bytes``), end-to-end latency relative to ``reference`` (``latency_ms``), each beside
    the paper's number (:func:`paper_vs_this_run`; its latency ratio from the Huawei P40 times;
    ``reference_name`` names ``reference`` in the headers).
    Returns ``(table, intervals)``, ``intervals[key]`` being the bootstrap's
    ``{"accuracy", "ci_low", "ci_high"}``.
    """
    paper = MOBILITENET if paper is None else paper
    cis = {key: bootstrap_accuracy_ci(y_true, p, n_boot=n_boot, seed=seed, level=level)
           for key, p in preds.items()}
    ref_phone = paper[reference]["latency_ms_phone"]

    def paper_ratio(key: str, _entry: Mapping[str, Any]) -> float | None:
        phone = paper.get(key, {}).get("latency_ms_phone")
        return phone / ref_phone if phone else None

    columns: list[Column] = [
        ("accuracy (%)", lambda k, _e: 100 * cis[k]["accuracy"]),
        (f"{int(100 * level)} % interval",
         lambda k, _e: f"{100 * cis[k]['ci_low']:.1f}–{100 * cis[k]['ci_high']:.1f}"),
        "paper_accuracy_pm", "params", "paper_params",
        (".tflite (MB)", lambda k, _e: size_bytes[k] / 1e6), "paper_size_mb",
        (f"latency vs {reference_name}", lambda k, _e: latency_ms[k] / latency_ms[reference]),
        (f"paper latency vs {reference_name} (P40)", paper_ratio)]
    table = paper_vs_this_run({k: {"params": params[k]} for k in preds}, columns, paper=paper)
    return table, cis


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


def seed_ablation(acc_by_seed: Mapping[int, Mapping[str, float]],
                  paper: Mapping[str, Mapping[str, Any]] | None = None
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The ablation over seeds beside the paper's value ± spread (Chapter 09_confusion).

    ``acc_by_seed`` is :func:`accuracies_over_seeds`'s ``{seed: {key: accuracy}}`` (fractions).
    One row per model (the first seed's order): the number of seeds, the mean and the sample
    standard deviation (:func:`mean_std`, in % and points), the lowest and highest seed, each
    seed's accuracy, and the paper's value ± spread. Returns ``(table, summary)``; ``summary`` is
    ``{"seeds": [...], "models": {key: {"n", "mean", "std", "values"}}}`` (fractions) for
    ``metrics.json``.
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

    def pct(x: float) -> str:
        return f"{100 * x:.1f}"

    columns: list[Column] = [
        ("seeds", lambda k, _e: models[k]["n"]),
        ("mean accuracy (%)", lambda k, _e: 100 * models[k]["mean"]),
        ("std (points)", lambda k, _e: 100 * models[k]["std"]),
        ("lowest–highest (%)", lambda k, _e: f"{pct(min(models[k]['values']))}–"
                                              f"{pct(max(models[k]['values']))}"),
        ("per seed (%)", lambda k, _e: " / ".join(pct(v) for v in models[k]["values"])),
        "paper_accuracy_pm"]
    table = paper_vs_this_run({k: {} for k in keys}, columns,
                              paper=MOBILITENET if paper is None else paper)
    return table, {"seeds": seeds, "models": models}


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
