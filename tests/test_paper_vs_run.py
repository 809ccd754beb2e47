"""Tests of roadlite.paper_vs_run: every "paper vs this run" table, on made-up paper numbers
(``PAPER``) and on the papers' own (the defaults), and the rule that only this module, the
results page and the notebooks read roadlite.paper_numbers."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from roadlite.evaluation import accuracy_intervals, bootstrap_accuracy_ci
from roadlite.paper_numbers import LR_CRACKNET, MOBILITENET, MOBILITENET_FIELD_TESTS, POLAT
from roadlite.paper_vs_run import (
    LR_CRACKNET_TEST_COLUMNS,
    POLAT_TEST_LABEL,
    ablation_table,
    before_after_table,
    field_budget_table,
    lr_cracknet_ablation_tables,
    lr_cracknet_fps_ratios,
    lr_cracknet_test_table,
    paper_vs_this_run,
    polat_test_table,
    polat_train_test_table,
    seed_ablation,
    time_reductions_vs_paper,
)

LIB = Path(__file__).resolve().parents[1] / "lib" / "roadlite"

PAPER = {"mobilenet_v2": {"accuracy": 90.0, "accuracy_std": 0.5, "params": 1000,
                          "size_mb": 4.0, "latency_ms_phone": 100.0},
         "model5_int8": {"accuracy": 95.0, "accuracy_std": 0.25, "params": 500, "size_mb": None,
                         "latency_ms_phone": 25.0},
         "model1_eca": {"accuracy": 96.0, "accuracy_std": 1.0, "params": 1000, "size_mb": None}}


# ---- the import rule ------------------------------------------------------------------------------

#: The modules of lib/roadlite that may read the papers' numbers (the notebooks may too).
PAPER_READERS = {"paper_numbers.py", "paper_vs_run.py", "results.py"}


def _imports_paper_numbers(source: str) -> bool:
    """Whether a module's code imports roadlite.paper_numbers, in any form (``import``,
    ``from roadlite import paper_numbers``, ``from roadlite.paper_numbers import ...``, relative
    forms), at the top or inside a function."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            if any(a.name.split(".")[:2] == ["roadlite", "paper_numbers"] for a in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            mod = (node.module or "").split(".")
            if "paper_numbers" in mod or (
                    mod[-1:] in (["roadlite"], [""]) and
                    any(a.name == "paper_numbers" for a in node.names)):
                return True
    return False


def test_the_import_check_sees_every_form():
    for src in ("import roadlite.paper_numbers", "from roadlite.paper_numbers import POLAT",
                "from roadlite import paper_numbers", "from .. import paper_numbers",
                "from ..paper_numbers import MOBILITENET",
                "def f():\n    from roadlite.paper_numbers import POLAT\n"):
        assert _imports_paper_numbers(src), src
    for src in ("import roadlite.paper_vs_run", "from roadlite import book",
                "from roadlite.paper_vs_run import paper_vs_this_run", "x = 'paper_numbers'"):
        assert not _imports_paper_numbers(src), src


def test_only_paper_vs_run_and_the_results_page_import_the_papers_numbers():
    readers = sorted(str(p.relative_to(LIB)) for p in LIB.rglob("*.py")
                     if _imports_paper_numbers(p.read_text(encoding="utf-8")))
    assert readers, "no module imports roadlite.paper_numbers: the check reads nothing"
    assert set(readers) <= PAPER_READERS, (
        f"{sorted(set(readers) - PAPER_READERS)} import roadlite.paper_numbers: build the table "
        "in roadlite.paper_vs_run instead")
    assert "paper_vs_run.py" in readers


# ---- MobiLiteNet's ladder (chapters 03-06, 08, 09) --------------------------------------------------

def test_paper_vs_this_run_columns_labels_and_missing_paper_numbers():
    entries = {"mobilenet_v2": {"accuracy": 0.5, "params": 1200, "macs": 3_000_000},
               "extra_model": {"accuracy": 0.25, "params": 10, "macs": 1_000_000}}
    table = paper_vs_this_run(entries, ["accuracy", "params", "macs", "paper_accuracy",
                                        "paper_std", "paper_params"],
                              img_size=64, paper=PAPER,
                              extra_rows={"histogram": {"test accuracy (%)": 30.0}})
    assert list(table.index) == ["MobileNetV2 (baseline)", "extra_model", "histogram"]
    assert list(table.columns) == ["test accuracy (%)", "parameters", "MMACs @ 64",
                                   "paper accuracy (%)", "paper ± std", "paper parameters"]
    base = table.loc["MobileNetV2 (baseline)"]
    assert base["test accuracy (%)"] == 50.0 and base["parameters"] == 1200
    assert base["MMACs @ 64"] == 3.0 and base["paper accuracy (%)"] == 90.0
    assert base["paper ± std"] == 0.5 and base["paper parameters"] == 1000
    # a model the paper does not have: no paper numbers; an extra row: only what it gives
    assert table.loc["extra_model", "test accuracy (%)"] == 25.0
    assert table.loc["extra_model", ["paper accuracy (%)", "paper parameters"]].isna().all()
    assert table.loc["histogram", "test accuracy (%)"] == 30.0
    assert pd.isna(table.loc["histogram", "parameters"])


def test_paper_vs_this_run_labels_custom_columns_and_errors():
    entries = {"model5_int8": {"accuracy": 0.75, "params": 7}}
    table = paper_vs_this_run(entries, ["paper_accuracy_pm", "paper_size_mb",
                                        ("twice the params", lambda k, e: 2 * e["params"])],
                              labels={"model5_int8": "M5"}, paper=PAPER)
    assert table.loc["M5", "paper accuracy (%)"] == "95.00 ± 0.25"
    assert table.loc["M5", "paper size (MB)"] is None  # the paper gives no number
    assert table.loc["M5", "twice the params"] == 14
    with pytest.raises(KeyError, match="unknown column"):
        paper_vs_this_run(entries, ["accuracy", "speed"], paper=PAPER)
    with pytest.raises(ValueError, match="img_size"):
        paper_vs_this_run(entries, ["macs"], paper=PAPER)


def test_paper_vs_this_run_uses_the_papers_numbers_by_default():
    table = paper_vs_this_run({"model4_pruned": {"accuracy": 0.9, "params": 1}},
                              ["paper_accuracy", "paper_params"])
    row = table.iloc[0]
    assert row["paper accuracy (%)"] == MOBILITENET["model4_pruned"]["accuracy"]
    assert row["paper parameters"] == MOBILITENET["model4_pruned"]["params"]


def test_ablation_table_intervals_ratios_and_paper_columns():
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    preds = {"mobilenet_v2": np.array([0, 1, 0, 1, 0, 1, 1, 0]),  # 6 of 8
             "model5_int8": y.copy()}  # 8 of 8
    cis = accuracy_intervals(preds, y, n_boot=200, seed=3, level=0.9)
    table = ablation_table(cis, params={"mobilenet_v2": 1000, "model5_int8": 400},
                           size_bytes={"mobilenet_v2": 4_000_000, "model5_int8": 500_000},
                           latency_ms={"mobilenet_v2": 8.0, "model5_int8": 2.0},
                           level=0.9, paper=PAPER)
    assert list(cis) == list(preds)
    assert cis["mobilenet_v2"] == bootstrap_accuracy_ci(y, preds["mobilenet_v2"], n_boot=200,
                                                        seed=3, level=0.9)
    assert cis["model5_int8"] == {"accuracy": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    assert list(table.index) == ["MobileNetV2 (baseline)", "Model 5 (+INT8)"]
    assert list(table.columns) == [
        "accuracy (%)", "90 % interval", "paper accuracy (%)", "parameters", "paper parameters",
        ".tflite (MB)", "paper size (MB)", "latency vs MobileNetV2",
        "paper latency vs MobileNetV2 (P40)"]
    m5, base = table.loc["Model 5 (+INT8)"], table.loc["MobileNetV2 (baseline)"]
    assert base["accuracy (%)"] == 75.0 and m5["accuracy (%)"] == 100.0
    lo, hi = cis["mobilenet_v2"]["ci_low"], cis["mobilenet_v2"]["ci_high"]
    assert base["90 % interval"] == f"{100 * lo:.1f}–{100 * hi:.1f}"
    assert m5["90 % interval"] == "100.0–100.0"
    assert m5["paper accuracy (%)"] == "95.00 ± 0.25"
    assert m5["parameters"] == 400 and m5["paper parameters"] == 500
    assert m5[".tflite (MB)"] == 0.5 and base["paper size (MB)"] == 4.0
    assert m5["latency vs MobileNetV2"] == 0.25 and base["latency vs MobileNetV2"] == 1.0
    assert m5["paper latency vs MobileNetV2 (P40)"] == 0.25
    # a model without a phone time in the paper has no paper ratio
    table2 = ablation_table(accuracy_intervals({"mobilenet_v2": y, "model1_eca": y}, y),
                            params={"mobilenet_v2": 1, "model1_eca": 1},
                            size_bytes={"mobilenet_v2": 1, "model1_eca": 1},
                            latency_ms={"mobilenet_v2": 1.0, "model1_eca": 3.0}, paper=PAPER)
    assert table2.loc["Model 1 (+ECA)", "paper latency vs MobileNetV2 (P40)"] is None
    assert table2.loc["Model 1 (+ECA)", "latency vs MobileNetV2"] == 3.0


def test_before_after_table():
    entries = {"model3_kd": {"params": 1_000_000, "macs": 40_000_000, "accuracy": 0.8},
               "model4_pruned": {"params": 500_000, "macs": 10_000_000, "accuracy": 0.6}}
    paper = {"model3_kd": {"params": 900, "accuracy": 97.0},
             "model4_pruned": {"params": 450, "accuracy": 97.0}}
    table = before_after_table(entries, 96, labels=["Model 3", "Model 4"], paper=paper)
    assert list(table.index) == ["Model 3", "Model 4", "Model 4 / Model 3"]
    assert list(table.columns) == ["parameters", "MMACs @ 96", "fp32 size (MB)",
                                   "test accuracy (%)", "paper parameters", "paper accuracy (%)"]
    assert table.loc["Model 3", "MMACs @ 96"] == 40.0
    assert table.loc["Model 3", "fp32 size (MB)"] == 4.0
    assert table.loc["Model 4", "test accuracy (%)"] == 60.0
    ratio = table.loc["Model 4 / Model 3"]
    assert ratio["parameters"] == 0.5 and ratio["MMACs @ 96"] == 0.25
    assert ratio["test accuracy (%)"] == pytest.approx(0.75)
    assert ratio["paper parameters"] == 0.5 and ratio["paper accuracy (%)"] == 1.0
    default = before_after_table(entries, 64)  # labels: the keys; the paper's own numbers
    assert list(default.index) == ["model3_kd", "model4_pruned", "model4_pruned / model3_kd"]
    assert default.loc["model4_pruned", "paper parameters"] == MOBILITENET["model4_pruned"]["params"]
    with pytest.raises(ValueError, match="two entries"):
        before_after_table({"model3_kd": entries["model3_kd"]}, 96)


def test_time_reductions_vs_paper_appends_the_papers_rows():
    paper = {"model5_int8": {"latency_ms_phone": 30.0, "latency_ms_headset": 40.0},
             "mobilenet_v2": {"latency_ms_phone": 120.0, "latency_ms_headset": 80.0},
             "resnet18": {"latency_ms_phone": 600.0, "latency_ms_headset": 160.0}}
    mine = {"LiteRT, 1 thread(s)": {"vs MobileNetV2 (%)": 75.0, "vs ResNet (%)": 90.0}}
    red = time_reductions_vs_paper(mine, paper=paper)
    assert list(red) == ["LiteRT, 1 thread(s)", "paper: Huawei P40", "paper: Meta Quest 3"]
    assert red["LiteRT, 1 thread(s)"] == mine["LiteRT, 1 thread(s)"]
    assert red["paper: Huawei P40"] == {"vs MobileNetV2 (%)": 75.0, "vs ResNet (%)": 95.0}
    assert red["paper: Meta Quest 3"] == {"vs MobileNetV2 (%)": 50.0, "vs ResNet (%)": 75.0}
    only = time_reductions_vs_paper({}, references={"base": "mobilenet_v2"}, paper=paper)
    assert only == {"paper: Huawei P40": {"vs base (%)": 75.0},
                    "paper: Meta Quest 3": {"vs base (%)": 50.0}}


def test_reductions_default_to_the_papers_numbers():
    red = time_reductions_vs_paper({})
    p = MOBILITENET
    assert red["paper: Huawei P40"]["vs ResNet (%)"] == pytest.approx(
        100 * (1 - p["model5_int8"]["latency_ms_phone"] / p["resnet18"]["latency_ms_phone"]))


def test_seed_ablation_table_beside_the_papers_value_and_spread():
    summary = {"seeds": [0, 1, 2],
               "models": {"model5_int8": {"n": 3, "mean": 0.9, "std": 0.02,
                                          "values": [0.88, 0.9, 0.92]},
                          "not_in_paper": {"n": 2, "mean": 0.5, "std": 0.0,
                                           "values": [0.5, 0.5]}}}
    table = seed_ablation(summary)
    assert list(table.index) == ["Model 5 (+INT8)", "not_in_paper"]
    assert list(table.columns) == ["seeds", "mean accuracy (%)", "std (points)",
                                   "lowest–highest (%)", "per seed (%)", "paper accuracy (%)"]
    row = table.loc["Model 5 (+INT8)"]
    assert row["seeds"] == 3 and row["mean accuracy (%)"] == pytest.approx(90.0)
    assert row["std (points)"] == pytest.approx(2.0)
    assert row["lowest–highest (%)"] == "88.0–92.0" and row["per seed (%)"] == "88.0 / 90.0 / 92.0"
    m5 = MOBILITENET["model5_int8"]
    assert row["paper accuracy (%)"] == f"{m5['accuracy']:.2f} ± {m5['accuracy_std']:.2f}"
    assert pd.isna(table.loc["not_in_paper", "paper accuracy (%)"])
    made_up = seed_ablation(summary, paper=PAPER)
    assert made_up.loc["Model 5 (+INT8)", "paper accuracy (%)"] == "95.00 ± 0.25"


# ---- Polat et al. (chapter 10) --------------------------------------------------------------------

def test_polat_test_table_appends_table_3_and_the_texts_dice_and_iou():
    mine = pd.DataFrame({"Fine-tuned": {"accuracy": 90.0, "f1": 80.0, "dice": 70.0,
                                        "soft_dice": 60.0}}).T
    table = polat_test_table(mine)
    assert list(table.index) == ["Fine-tuned", POLAT_TEST_LABEL]
    assert list(table.columns) == list(mine.columns)
    paper = table.loc[POLAT_TEST_LABEL]
    assert paper["accuracy"] == POLAT["test"]["accuracy"] and paper["f1"] == POLAT["test"]["f1"]
    assert paper["dice"] == pytest.approx(100 * POLAT["text"]["dice"])
    assert np.isnan(paper["soft_dice"])  # the paper gives no soft Dice
    assert table.loc["Fine-tuned", "accuracy"] == 90.0 and len(mine) == 1  # not changed


def test_polat_train_test_table_appends_both_rows_and_names_a_missing_column():
    made_up = {"train": {"accuracy": 99.0, "f1": 98.0}, "test": {"accuracy": 97.0, "f1": 96.0}}
    mine = pd.DataFrame({"this run: test": {"accuracy": 90.0, "f1": 85.0}}).T
    table = polat_train_test_table(mine, paper=made_up)
    assert list(table.index) == ["this run: test", "paper, Table 3: train", "paper, Table 3: test"]
    assert table.loc["paper, Table 3: train"].tolist() == [99.0, 98.0]
    assert table.loc["paper, Table 3: test"].tolist() == [97.0, 96.0]
    assert polat_train_test_table(mine).loc["paper, Table 3: test", "f1"] == POLAT["test"]["f1"]
    with pytest.raises(KeyError, match="dice"):
        polat_train_test_table(pd.DataFrame({"r": {"dice": 1.0}}).T)


# ---- LR-CrackNet (chapter 11) ---------------------------------------------------------------------

def test_lr_cracknet_test_table_puts_table_4_under_this_runs_rows():
    scores = {"student (distilled)": {"precision": 80.0, "recall": 70.0, "f1": 74.0, "iou": 60.0,
                                      "aiou": 75.0, "params": 1000.0, "extra": 1.0}}
    table = lr_cracknet_test_table(scores)
    paper4 = LR_CRACKNET["table4_deepcrack"]
    assert list(table.index) == ["student (distilled)"] + [f"paper, DeepCrack: {k}" for k in paper4]
    assert list(table.columns) == list(LR_CRACKNET_TEST_COLUMNS)  # "extra" is left out
    assert table.loc["paper, DeepCrack: LR-CrackNet", "f1"] == paper4["LR-CrackNet"]["f1"]
    assert pd.isna(table.loc["paper, DeepCrack: LR-CrackNet", "params"])  # not in Table IV
    assert table.loc["student (distilled)", "aiou"] == 75.0


def test_lr_cracknet_ablation_tables_fill_this_runs_f1_by_row_name():
    scores = {"student (distilled)": {"f1": 80.0}, "U-Net": {"f1": 70.0},
              "ablation: without RDLDC": {"f1": 75.0}, "ablation: L_Seg": {"f1": 60.0}}
    t1, t2 = lr_cracknet_ablation_tables(scores)
    assert list(t1.columns) == ["paper Table I f1", "paper Table I iou", "this run f1"]
    assert list(t2.columns) == ["paper Table II fps_3090", "paper Table II f1",
                                "paper Table II iou", "this run f1"]
    assert t1.loc["+ L_LD (full)", "this run f1"] == 80.0 and t1.loc["L_Seg", "this run f1"] == 60.0
    assert np.isnan(t1.loc["+ L_Dg", "this run f1"])
    assert t2.loc["LR-CrackNet", "this run f1"] == 80.0
    assert t2.loc["U-Net (Base, 32 ch.)", "this run f1"] == 70.0
    assert t2.loc["without RDLDC", "this run f1"] == 75.0
    assert t2.loc["LR-CrackNet", "paper Table II f1"] == LR_CRACKNET["table2_deepcrack"][
        "LR-CrackNet"]["f1"]


def test_lr_cracknet_fps_ratios_appends_the_papers_ratio():
    mine = pd.Series({"fps_torch": 1.5, "fps_litert": 2.0})
    out = lr_cracknet_fps_ratios(mine)
    assert out.to_dict() == {"fps_torch": 1.5, "fps_litert": 2.0,
                             "paper (RTX 3090)": LR_CRACKNET["fps_ratio_to_unet"]}
    assert list(mine.index) == ["fps_torch", "fps_litert"]  # not changed
    assert lr_cracknet_fps_ratios(mine, paper={"fps_ratio_to_unet": 0.5})["paper (RTX 3090)"] == 0.5


# ---- the field test (chapter 12) ------------------------------------------------------------------

def test_field_budget_table_beside_the_papers_two_apps():
    summary = {"median_ms_inspection": 250.0, "photos_per_second": 4.0,
               "photo_size": ["640x480", "1024x768"]}
    paper = {"headset": {"time_ms": 100.0, "image_px": 320},
             "headset_yolov8": {"time_ms": 400.0}}
    table = field_budget_table(summary, paper=paper)
    assert list(table.index) == ["this run (1 thread, CPU)", "paper: MobiLiteNet app, headset",
                                 "paper: YOLOv8 app, headset"]
    assert list(table.columns) == ["ms per photo", "photos per second", "photo size"]
    assert table.loc["this run (1 thread, CPU)", "photo size"] == "640x480, 1024x768"
    assert table.loc["paper: MobiLiteNet app, headset", "photos per second"] == 10.0
    assert table.loc["paper: YOLOv8 app, headset", "ms per photo"] == 400.0
    assert table.loc["paper: YOLOv8 app, headset", "photo size"] == "320x320"
    default = field_budget_table(summary)
    assert default.loc["paper: MobiLiteNet app, headset", "ms per photo"] == \
        MOBILITENET_FIELD_TESTS["headset"]["time_ms"]
