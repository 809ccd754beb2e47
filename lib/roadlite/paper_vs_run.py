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
  Polat et al.'s Table 3 and text;
* :func:`lr_cracknet_test_table`, :func:`lr_cracknet_ablation_tables`,
  :func:`lr_cracknet_fps_ratios` -- chapter 11's scores beside LR-CrackNet's Tables I, II, IV;
* :func:`field_budget_table` -- chapter 12's time per photo beside the paper's field tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from roadlite import book
from roadlite.paper_numbers import LR_CRACKNET, MOBILITENET, MOBILITENET_FIELD_TESTS, POLAT

__all__ = [
    "PAPER_VS_THIS_RUN_COLUMNS",
    "LR_CRACKNET_TEST_COLUMNS",
    "POLAT_TEST_LABEL",
    "ablation_table",
    "before_after_table",
    "field_budget_table",
    "lr_cracknet_ablation_tables",
    "lr_cracknet_fps_ratios",
    "lr_cracknet_test_table",
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


# ---- LR-CrackNet (chapter 11) ---------------------------------------------------------------------

#: The columns of :func:`lr_cracknet_test_table`.
LR_CRACKNET_TEST_COLUMNS = ("precision", "recall", "f1", "iou", "aiou", "params")


def lr_cracknet_test_table(scores: Mapping[str, Mapping[str, float]],
                           columns: Sequence[str] = LR_CRACKNET_TEST_COLUMNS,
                           paper: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """Chapter 11's networks on the test split beside the paper's Table IV (Chapter
    11_crack_segmentation).

    ``scores``: ``{network: {column: value}}`` (e.g. :func:`roadlite.segmentation.train.evaluate`'s
    scores in %, with ``params``); one row each with ``columns``, then one row per network of
    Table IV, ``"paper, DeepCrack: <name>"`` (``paper``, default
    :data:`roadlite.paper_numbers.LR_CRACKNET`; NaN for a column the paper does not give).
    """
    paper = LR_CRACKNET if paper is None else paper
    rows = {f"paper, DeepCrack: {k}": v for k, v in paper["table4_deepcrack"].items()}
    return pd.concat([pd.DataFrame(scores).T[list(columns)], pd.DataFrame(rows).T])


def lr_cracknet_ablation_tables(scores: Mapping[str, Mapping[str, float]],
                                paper: Mapping[str, Mapping[str, Any]] | None = None
                                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper's ablations on DeepCrack (Tables I and II) with this run's F1 beside them
    (Chapter 11_crack_segmentation).

    ``scores``: ``{network: {"f1": ...}}``; an ablation named ``"ablation: <row>"`` fills the
    table row ``<row>``; ``"student (distilled)"`` fills Table I's ``"+ L_LD (full)"`` and
    Table II's ``"LR-CrackNet"``, ``"U-Net"`` Table II's ``"U-Net (Base, 32 ch.)"``. The paper's
    columns are prefixed ``"paper Table I "`` / ``"paper Table II "``; ``"this run f1"`` is NaN
    where this run has no such network. ``paper``: default
    :data:`roadlite.paper_numbers.LR_CRACKNET`. Returns ``(table I, table II)``.
    """
    paper = LR_CRACKNET if paper is None else paper
    t1 = pd.DataFrame(paper["table1_deepcrack"]).T.add_prefix("paper Table I ")
    t2 = pd.DataFrame(paper["table2_deepcrack"]).T.add_prefix("paper Table II ")
    ours = {k.removeprefix("ablation: "): v for k, v in scores.items()}
    for t in (t1, t2):
        t["this run f1"] = [ours.get(k, {}).get("f1", np.nan) for k in t.index]
    if "student (distilled)" in scores:
        t2.loc["LR-CrackNet", "this run f1"] = scores["student (distilled)"]["f1"]
        t1.loc["+ L_LD (full)", "this run f1"] = scores["student (distilled)"]["f1"]
    if "U-Net" in scores:
        t2.loc["U-Net (Base, 32 ch.)", "this run f1"] = scores["U-Net"]["f1"]
    return t1, t2


def lr_cracknet_fps_ratios(ratios: pd.Series,
                           paper: Mapping[str, Any] | None = None) -> pd.Series:
    """This run's frames-per-second ratios student / U-Net (e.g. ``fps_torch``,
    ``fps_litert``) and then the paper's, ``"paper (RTX 3090)"`` (Table II; ``paper``, default
    :data:`roadlite.paper_numbers.LR_CRACKNET`) (Chapter 11_crack_segmentation)."""
    paper = LR_CRACKNET if paper is None else paper
    out = ratios.copy()
    out["paper (RTX 3090)"] = paper["fps_ratio_to_unet"]
    return out


# ---- the field test (chapter 12) ------------------------------------------------------------------

def field_budget_table(summary: Mapping[str, Any],
                       paper: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """Chapter 12's time per photo beside the paper's field tests on the headset (Chapter
    12_field_test).

    ``summary``: the run's ``median_ms_inspection``, ``photos_per_second`` and ``photo_size``
    (a list of sizes); rows "this run (1 thread, CPU)", "paper: MobiLiteNet app, headset" and
    "paper: YOLOv8 app, headset" (``paper``, default
    :data:`roadlite.paper_numbers.MOBILITENET_FIELD_TESTS`), columns ms per photo, photos per
    second, photo size. The paper's photo size is the headset's ``image_px`` for both apps.
    """
    paper = MOBILITENET_FIELD_TESTS if paper is None else paper
    head, yolo = paper["headset"], paper["headset_yolov8"]
    px = f"{head['image_px']}x{head['image_px']}"
    return pd.DataFrame({
        "this run (1 thread, CPU)": {"ms per photo": summary["median_ms_inspection"],
                                     "photos per second": summary["photos_per_second"],
                                     "photo size": ", ".join(summary["photo_size"])},
        "paper: MobiLiteNet app, headset": {"ms per photo": head["time_ms"],
                                            "photos per second": 1000 / head["time_ms"],
                                            "photo size": px},
        "paper: YOLOv8 app, headset": {"ms per photo": yolo["time_ms"],
                                       "photos per second": 1000 / yolo["time_ms"],
                                       "photo size": px}}).T
