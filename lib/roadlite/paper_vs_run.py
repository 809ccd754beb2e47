"""Every "paper vs this run" table of the book: this run's numbers beside the papers'.

The one module that puts :mod:`roadlite.paper_numbers` beside a run's results (chapters 03-06,
08-10; the results page quotes the papers through :mod:`roadlite.results`). Chapter modules
compute their own numbers and never import the papers' numbers; a chapter's notebook hands
them to a builder here. Every builder takes ``paper`` (default: the paper of its chapter), so
its tests can give small made-up numbers.

* :func:`paper_vs_this_run` -- MobiLiteNet's ladder beside Fig. 5b (chapters 03-05 and 09);
* :func:`before_after_table` -- pruning's before / after table (chapter 06);
* :func:`time_reductions_vs_paper` -- this run's time reductions and the paper's Fig. 6b
  (chapter 08);
* :func:`ablation_table`, :func:`seed_ablation` -- chapter 09's ablation beside Fig. 5b, on
  one seed with bootstrap intervals and over seeds;
* :func:`polat_test_table`, :func:`polat_train_test_table` -- chapter 10's metrics beside
  Polat et al.'s Table 3 and text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from roadlite import book
from roadlite.paper_numbers import MOBILITENET, POLAT

__all__ = [
    "PAPER_VS_THIS_RUN_COLUMNS",
    "POLAT_TEST_LABEL",
    "ablation_table",
    "before_after_table",
    "paper_vs_this_run",
    "polat_test_table",
    "polat_train_test_table",
    "seed_ablation",
    "time_reductions_vs_paper",
]

Paper = Mapping[str, Mapping[str, Any]]

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
                      paper: Paper | None = None) -> pd.DataFrame:
    """The "paper vs this run" table of chapters 03-05 and 09.

    ``entries`` maps a model key to its entry of ``metrics["models"]`` (``accuracy``, ``params``,
    ``macs``, ...); one row each, in that order, named ``labels[key]``, else the book's label
    (:func:`roadlite.book.label`), else the key. ``columns`` are, in order, names of
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


def before_after_table(entries: Mapping[str, Mapping[str, Any]], img_size: int,
                       labels: Sequence[str] | None = None,
                       paper: Paper | None = None) -> pd.DataFrame:
    """Pruning's before / after table (Chapter 06_pruning).

    ``entries`` holds two entries of ``metrics["models"]``, before and after pruning, by model
    key (``accuracy``, ``params``, ``macs`` at ``img_size`` px). One row each, named by
    ``labels`` (default: the keys): parameters, MMACs, float32 size (4 bytes per parameter),
    test accuracy (%), and the paper's parameters and accuracy (``paper``, default
    :data:`roadlite.paper_numbers.MOBILITENET`); a third row, "<after> / <before>", divides
    the two.
    """
    if len(entries) != 2:
        raise ValueError(f"before_after_table needs two entries (before, after), got {len(entries)}")
    paper = MOBILITENET if paper is None else paper
    labels = list(entries) if labels is None else list(labels)
    if len(labels) != 2:
        raise ValueError(f"two labels needed, got {labels}")
    rows = {}
    for label, (key, e) in zip(labels, entries.items(), strict=True):
        rows[label] = {"parameters": e["params"], f"MMACs @ {img_size}": e["macs"] / 1e6,
                       "fp32 size (MB)": 4 * e["params"] / 1e6,
                       "test accuracy (%)": 100 * e["accuracy"],
                       "paper parameters": paper[key]["params"],
                       "paper accuracy (%)": paper[key]["accuracy"]}
    table = pd.DataFrame(rows).T
    table.loc[f"{labels[1]} / {labels[0]}"] = table.loc[labels[1]] / table.loc[labels[0]]
    return table


def time_reductions_vs_paper(reductions: Mapping[str, Mapping[str, float]],
                             final: str = "model5_int8",
                             references: Mapping[str, str] | None = None,
                             paper: Paper | None = None) -> dict[str, dict[str, float]]:
    """This run's time reductions and then the paper's (Chapter 08_benchmark).

    ``reductions`` is :func:`roadlite.latency.time_reductions`'s ``{row: {"vs <name> (%)":
    reduction}}``; the paper's phone and headset rows follow (Fig. 6b, from ``paper``, default
    :data:`roadlite.paper_numbers.MOBILITENET`): 100 (1 - t(final) / t(reference)) for each
    of ``references`` (name -> model key; default MobileNetV2 and ResNet, as the paper
    compares, the default of :func:`roadlite.latency.time_reductions`)."""
    references = references or {"MobileNetV2": "mobilenet_v2", "ResNet": "resnet18"}
    paper = MOBILITENET if paper is None else paper
    out = {row: dict(r) for row, r in reductions.items()}
    for device_name, col in (("paper: Huawei P40", "latency_ms_phone"),
                             ("paper: Meta Quest 3", "latency_ms_headset")):
        out[device_name] = {f"vs {name} (%)": 100 * (1 - paper[final][col] / paper[ref][col])
                            for name, ref in references.items()}
    return out


def ablation_table(cis: Mapping[str, Mapping[str, float]], params: Mapping[str, int],
                   size_bytes: Mapping[str, int], latency_ms: Mapping[str, float], *,
                   level: float = 0.95, reference: str = "mobilenet_v2",
                   reference_name: str = "MobileNetV2",
                   paper: Paper | None = None) -> pd.DataFrame:
    """The ablation table of chapter 09 beside the paper's Fig. 5b (Chapter 09_confusion).

    One row per model of ``cis`` (its bootstrap ``{"accuracy", "ci_low", "ci_high"}``, e.g.
    :func:`roadlite.evaluation.accuracy_intervals` at ``level``): accuracy (%) with its interval,
    the paper's value ± spread, parameters (``params``), ``.tflite`` size in MB (``size_bytes``),
    end-to-end latency relative to ``reference`` (``latency_ms``), each beside the paper's
    number (:func:`paper_vs_this_run`; its latency ratio from the Huawei P40 times;
    ``reference_name`` names ``reference`` in the headers).
    """
    paper = MOBILITENET if paper is None else paper
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
    return paper_vs_this_run({k: {"params": params[k]} for k in cis}, columns, paper=paper)


def seed_ablation(summary: Mapping[str, Any], paper: Paper | None = None) -> pd.DataFrame:
    """The ablation over seeds beside the paper's value ± spread (Chapter 09_confusion).

    ``summary`` is :func:`roadlite.evaluation.summarise_seeds`'s ``{"seeds", "models": {key:
    {"n", "mean", "std", "values"}}}`` (fractions). One row per model: the number of seeds, the
    mean and the sample standard deviation (in % and points), the lowest and highest seed, each
    seed's accuracy, and the paper's value ± spread (``paper``, default
    :data:`roadlite.paper_numbers.MOBILITENET`).
    """
    models = summary["models"]

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
    return paper_vs_this_run({k: {} for k in models}, columns,
                             paper=MOBILITENET if paper is None else paper)


#: The name of the paper's row in :func:`polat_test_table`.
POLAT_TEST_LABEL = "paper, Table 3 (test) and text"


def polat_test_table(table: pd.DataFrame, paper: Mapping[str, Mapping[str, float]] | None = None
                     ) -> pd.DataFrame:
    """Chapter 10_crack_classifier's test metrics beside Polat et al.'s (Chapter
    10_crack_classifier).

    ``table``: this run's rows in % (e.g. :func:`roadlite.crack_classifier.metrics_table`);
    appended, the paper's row :data:`POLAT_TEST_LABEL`: Table 3's test row, and the Dice and IoU
    of its text (fractions there, in % here) from ``paper`` (default
    :data:`roadlite.paper_numbers.POLAT`); NaN where the paper gives no number.
    """
    paper = POLAT if paper is None else paper
    row = {**paper["test"], **{k: 100 * v for k, v in paper["text"].items()}}
    out = table.copy()
    out.loc[POLAT_TEST_LABEL] = [row.get(c, np.nan) for c in table.columns]
    return out


def polat_train_test_table(table: pd.DataFrame,
                           paper: Mapping[str, Mapping[str, float]] | None = None) -> pd.DataFrame:
    """This run's train and test rows (in %) and then Table 3's, "paper, Table 3: train" and
    "paper, Table 3: test", for the columns of ``table`` (Chapter 10_crack_classifier; ``paper``
    default :data:`roadlite.paper_numbers.POLAT`). A column Table 3 does not have is a KeyError
    naming it."""
    paper = POLAT if paper is None else paper
    out = table.copy()
    for split in ("train", "test"):
        missing = [c for c in table.columns if c not in paper[split]]
        if missing:
            raise KeyError(f"Table 3 of the paper has no {missing} ({split} row); it has "
                           f"{list(paper[split])}")
        out.loc[f"paper, Table 3: {split}"] = [paper[split][c] for c in table.columns]
    return out
