"""Tests of roadlite.evaluation (Chapter 09_confusion), on hand-made examples."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from roadlite.evaluation import (
    PAPER_CLASS_ABBREV,
    abbreviate,
    bootstrap_accuracy_ci,
    collect_predictions,
    confusion,
    mcnemar_test,
    mean_std,
    paired_bootstrap,
    pareto_front,
    per_class_report,
    plot_confusion,
    plot_pareto,
)

CLASSES = ["alligator", "broken_marking", "longitudinal", "transverse"]
#                0  0  0  1  1  2  2  2  2  3
Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
Y_PRED = np.array([0, 0, 2, 1, 0, 2, 2, 3, 2, 3])


def _pairs(b: int, c: int, both_right: int = 5, both_wrong: int = 3):
    """Labels where model A alone is right on b images, model B alone on c."""
    n = b + c + both_right + both_wrong
    y = np.zeros(n, dtype=int)
    a = np.zeros(n, dtype=int)
    p = np.zeros(n, dtype=int)
    a[b:b + c] = 1  # c images: A wrong, B right
    p[:b] = 1  # b images: A right, B wrong
    a[b + c + both_right:] = 1
    p[b + c + both_right:] = 1  # both wrong
    return y, a, p


def test_abbreviations():
    assert abbreviate(CLASSES) == ["MA", "BR", "LO", "TR"]
    assert abbreviate(["intact", "transverse"]) == ["intact", "TR"]
    assert PAPER_CLASS_ABBREV["alligator"] == "MA"


def test_confusion_matrix_by_hand():
    cm = confusion(Y_TRUE, Y_PRED, 4)
    expected = np.array([[2, 0, 1, 0],
                         [1, 1, 0, 0],
                         [0, 0, 3, 1],
                         [0, 0, 0, 1]])
    np.testing.assert_array_equal(cm, expected)
    assert cm.sum() == len(Y_TRUE)
    assert confusion([0], [0], 3).shape == (3, 3)
    with pytest.raises(ValueError, match="outside"):
        confusion([0, 4], [0, 1], 4)
    with pytest.raises(ValueError, match="length"):
        confusion([0, 1], [0], 4)


def test_per_class_report_by_hand():
    df = per_class_report(Y_TRUE, Y_PRED, CLASSES)
    assert list(df.index) == CLASSES + ["macro avg"]
    assert list(df.columns) == ["precision", "recall", "f1", "support"]
    # alligator: TP 2, FP 1 (a broken marking), FN 1
    assert df.loc["alligator", "precision"] == pytest.approx(2 / 3)
    assert df.loc["alligator", "recall"] == pytest.approx(2 / 3)
    # broken_marking: TP 1, FP 0, FN 1
    assert df.loc["broken_marking", "precision"] == 1.0
    assert df.loc["broken_marking", "recall"] == 0.5
    assert df.loc["broken_marking", "f1"] == pytest.approx(2 / 3)
    # transverse: TP 1, FP 1, FN 0
    assert df.loc["transverse", "precision"] == 0.5 and df.loc["transverse", "recall"] == 1.0
    assert df["support"].tolist() == [3, 2, 4, 1, 10]
    per_class = df.iloc[:4]
    assert df.loc["macro avg", "recall"] == pytest.approx(per_class["recall"].mean())
    assert df.loc["macro avg", "f1"] == pytest.approx(per_class["f1"].mean())
    assert df.attrs["accuracy"] == pytest.approx(0.7)
    # a class never predicted: precision 0 without a warning
    df = per_class_report([0, 1], [0, 0], ["a", "b"])
    assert df.loc["b", "precision"] == 0.0 and df.loc["b", "recall"] == 0.0


def test_plot_confusion_runs():
    cm = confusion(Y_TRUE, Y_PRED, 4)
    fig = plot_confusion(cm, abbreviate(CLASSES), "hand-made")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "3\n75%" in texts  # longitudinal: 3 of 4
    plt.close(fig)
    fig, ax = plt.subplots()
    assert plot_confusion(cm, list("abcd"), None, normalize=False, ax=ax) is fig
    plt.close(fig)
    with pytest.raises(ValueError):
        plot_confusion(cm, ["a", "b"])


def test_mcnemar_exact_by_hand():
    y, a, b = _pairs(b=10, c=2)
    res = mcnemar_test(y, a, b)
    assert (res["b"], res["c"], res["method"]) == (10, 2, "exact")
    assert res["p_value"] == pytest.approx(2 * stats.binom.cdf(2, 12, 0.5))
    assert res["p_value"] == pytest.approx(158 / 4096)  # 2 * (1 + 12 + 66) / 2^12
    assert mcnemar_test(y, b, a)["p_value"] == pytest.approx(res["p_value"])  # symmetric
    same = mcnemar_test(y, a, a)
    assert (same["b"], same["c"], same["p_value"]) == (0, 0, 1.0)
    assert mcnemar_test(*_pairs(b=5, c=5))["p_value"] == 1.0  # capped at 1


def test_mcnemar_chi_square_branch():
    y, a, b = _pairs(b=40, c=20, both_right=100, both_wrong=10)
    res = mcnemar_test(y, a, b)
    assert res["method"] == "chi2" and (res["b"], res["c"]) == (40, 20)
    expected = (abs(40 - 20) - 1) ** 2 / (40 + 20)
    assert res["statistic"] == pytest.approx(expected)
    assert res["p_value"] == pytest.approx(stats.chi2.sf(expected, 1))
    assert mcnemar_test(*_pairs(b=13, c=12))["method"] == "chi2"  # b + c = 25
    assert mcnemar_test(*_pairs(b=12, c=12))["method"] == "exact"


def test_paired_bootstrap():
    # A right on 90 of 100, B right on 70 (A alone right on 25, B alone on 5): diff = 0.20
    y, a, b = _pairs(b=25, c=5, both_right=65, both_wrong=5)
    res = paired_bootstrap(y, a, b, n_boot=2000, seed=0)
    assert res["diff"] == pytest.approx(0.20)
    assert res["ci_low"] < 0.20 < res["ci_high"]
    assert 0.05 < res["ci_low"] and res["ci_high"] < 0.35
    assert res["p_value"] < 0.01
    assert paired_bootstrap(y, a, b, n_boot=2000, seed=0) == res  # reproducible
    assert paired_bootstrap(y, a, b, n_boot=2000, seed=1) != res
    rev = paired_bootstrap(y, b, a, n_boot=2000, seed=0)
    assert rev["diff"] == pytest.approx(-0.20) and rev["ci_high"] < 0
    tie = paired_bootstrap(y, a, a, n_boot=200)
    assert tie["diff"] == tie["ci_low"] == tie["ci_high"] == 0.0 and tie["p_value"] == 1.0


def test_bootstrap_accuracy_ci():
    y = np.zeros(200, dtype=int)
    pred = np.r_[np.zeros(160, dtype=int), np.ones(40, dtype=int)]  # accuracy 0.8
    res = bootstrap_accuracy_ci(y, pred, n_boot=2000, seed=0)
    assert res["accuracy"] == pytest.approx(0.8)
    assert res["ci_low"] < 0.8 < res["ci_high"]
    # close to the normal approximation 0.8 +- 1.96 * sqrt(0.8 * 0.2 / 200) = +- 0.055
    assert res["ci_high"] - res["ci_low"] == pytest.approx(2 * 0.0554, abs=0.015)
    assert bootstrap_accuracy_ci(y, pred, n_boot=2000, seed=0) == res
    narrow = bootstrap_accuracy_ci(y, pred, n_boot=2000, seed=0, level=0.5)
    assert narrow["ci_high"] - narrow["ci_low"] < res["ci_high"] - res["ci_low"]


def test_mean_std():
    m, s = mean_std([94.0, 94.5, 93.5])
    assert m == pytest.approx(94.0) and s == pytest.approx(0.5)  # ddof=1
    m, s = mean_std([96.1])
    assert m == 96.1 and np.isnan(s)
    assert all(np.isnan(v) for v in mean_std([]))


def test_pareto_front_by_hand():
    df = pd.DataFrame({
        "model": ["resnet", "mnv2", "m2", "m5", "bad", "m5_copy"],
        "latency": [36.0, 7.0, 3.5, 1.7, 8.0, 1.7],
        "size": [44.7, 8.9, 4.0, 0.6, 9.5, 0.6],
        "acc": [0.98, 0.94, 0.93, 0.96, 0.90, 0.96],
    })
    mask = pareto_front(df, minimize=["latency", "size"], maximize=["acc"])
    assert mask.dtype == bool
    # m2 is dominated by m5 (slower, bigger, less accurate); bad by mnv2; ties both kept
    assert df["model"][mask].tolist() == ["resnet", "m5", "m5_copy"]
    only_acc = pareto_front(df, maximize=["acc"])
    assert df["model"][only_acc].tolist() == ["resnet"]
    with_nan = df.assign(acc=[np.nan, 0.94, 0.93, 0.96, 0.90, 0.96])
    assert df["model"][pareto_front(with_nan, ["latency"], ["acc"])].tolist() == ["m5", "m5_copy"]
    with pytest.raises(ValueError):
        pareto_front(df)
    with pytest.raises(KeyError):
        pareto_front(df, minimize=["nope"])


def test_plot_pareto_runs():
    df = pd.DataFrame({"model": ["a", "b", "c"], "latency_ms": [1.0, 2.0, 3.0],
                       "size_mb": [0.5, 4.0, 9.0], "acc": [0.9, 0.95, 0.93]})
    fig = plot_pareto(df, "latency_ms", "acc", size="size_mb", label="model", title="t")
    assert {t.get_text() for t in fig.axes[0].texts} >= {"a", "b", "c"}
    plt.close(fig)
    plt.close(plot_pareto(df, "latency_ms", "acc", logx=True))


# --------------------------------------------------------------------------- predictions


def _saved(logits, y_true, classes=CLASSES):
    return {"y_true": np.asarray(y_true), "logits": np.asarray(logits, dtype=np.float32),
            "classes": np.array(classes)}


def test_collect_predictions_takes_argmax_in_order_and_checks_the_split():
    eye = np.eye(4)
    saved = {"b": _saved(eye[Y_PRED], Y_TRUE), "a": _saved(eye[Y_TRUE], Y_TRUE)}
    calls = []

    def load(key):
        calls.append(key)
        return saved[key]

    preds, y, classes = collect_predictions(["b", "a"], load)
    assert calls == ["b", "a"] and list(preds) == ["b", "a"]
    np.testing.assert_array_equal(preds["b"], Y_PRED)
    np.testing.assert_array_equal(preds["a"], Y_TRUE)
    np.testing.assert_array_equal(y, Y_TRUE)
    assert classes == CLASSES and all(isinstance(c, str) for c in classes)
    saved["c"] = _saved(eye[Y_TRUE], Y_PRED)  # another test split
    with pytest.raises(ValueError, match="predictions of c"):
        collect_predictions(["a", "c"], load)
    with pytest.raises(ValueError, match="no model"):
        collect_predictions([], load)


# --------------------------------------------------------------------------- paper vs this run

def test_recipe_vs_peers_verdicts_and_the_sentence():
    from roadlite.evaluation import recipe_verdict, recipe_vs_peers

    y = np.array([0, 1, 2, 3] * 25)
    final = y.copy()
    final[:10] = (final[:10] + 1) % 4  # 90 % right
    better = y.copy()  # 100 % right
    worse = y.copy()
    worse[:30] = (worse[:30] + 1) % 4  # 70 % right
    preds = {"model5_int8": final, "mobilenet_v3_small_int8": better,
             "shufflenet_v2_x0_5_int8": worse, "shufflenet_v2_x1_0_int8": worse,
             "mnasnet0_5_int8": better}
    lat = {"model5_int8": 1.0, "mobilenet_v3_small_int8": 0.8, "shufflenet_v2_x0_5_int8": 0.5,
           "shufflenet_v2_x1_0_int8": 1.5, "mnasnet0_5_int8": 2.0}
    size = dict.fromkeys(lat, 100)
    peers = ["mobilenet_v3_small_int8", "shufflenet_v2_x0_5_int8", "shufflenet_v2_x1_0_int8",
             "mnasnet0_5_int8"]
    t = recipe_vs_peers(y, preds, lat, size, peers, n_boot=500)
    assert list(t.index) == ["MobileNetV3-small INT8", "ShuffleNetV2 x0.5 INT8",
                             "ShuffleNetV2 x1.0 INT8", "MNASNet 0.5 INT8"]
    assert list(t["verdict"]) == ["dominates", "faster, less accurate", "dominated",
                                  "slower, more accurate"]
    assert t.loc["MobileNetV3-small INT8", "accuracy difference (points)"] == pytest.approx(10.0)
    assert t.loc["ShuffleNetV2 x0.5 INT8", "latency ratio"] == 0.5
    assert t.loc["ShuffleNetV2 x0.5 INT8", "significant"]
    text = recipe_verdict(t)
    assert text.startswith("No: MobileNetV3-small INT8 (+10.0 points, 0.80× the time) is at least")
    assert "Model 5 dominates ShuffleNetV2 x1.0 INT8 (-20.0 points, 1.50× the time)" in text
    assert "Faster but less accurate: ShuffleNetV2 x0.5 INT8" in text
    assert "More accurate but slower: MNASNet 0.5 INT8" in text
    only_dominated = recipe_verdict(t[t["verdict"] == "dominated"])
    assert only_dominated.startswith("Yes, on this run")
    tie = recipe_vs_peers(y, {**preds, "mnasnet0_5_int8": final}, {**lat, "mnasnet0_5_int8": 1.0},
                          size, ["mnasnet0_5_int8"], n_boot=100)
    assert tie.iloc[0]["verdict"] == "tie"  # an exact tie dominates nothing
    assert not tie.iloc[0]["significant"]
    assert "no peers" in recipe_verdict(t.iloc[0:0])


# ---- over seeds ----------------------------------------------------------------------------------

def test_accuracies_over_seeds_and_the_seed_ablation_agree_with_numpy():
    from roadlite.evaluation import accuracies_over_seeds, plot_seed_ablation, summarise_seeds
    from roadlite.paper_numbers import MOBILITENET

    y = np.array([0, 1, 2, 3] * 5)
    rng = np.random.default_rng(0)

    def loader(seed):
        def load(key):
            logits = rng.normal(size=(len(y), 4)) + 3 * np.eye(4)[y] * (key == "model5_int8")
            return {"y_true": y, "logits": logits, "classes": ["a", "b", "c", "d"]}
        return load

    acc = accuracies_over_seeds(["mobilenet_v2", "model5_int8"], {s: loader(s) for s in (0, 1, 2)})
    assert sorted(acc) == [0, 1, 2] and all(0 <= a <= 1 for d in acc.values() for a in d.values())
    summary = summarise_seeds(acc)
    values = [acc[s]["model5_int8"] for s in (0, 1, 2)]
    m5 = summary["models"]["model5_int8"]
    assert m5["n"] == 3 and m5["values"] == values
    assert m5["mean"] == pytest.approx(np.mean(values))
    assert m5["std"] == pytest.approx(np.std(values, ddof=1))
    assert summary["seeds"] == [0, 1, 2] and list(summary["models"]) == ["mobilenet_v2",
                                                                       "model5_int8"]
    with pytest.raises(ValueError, match="no seeds"):
        summarise_seeds({})
    fig = plot_seed_ablation(summary, MOBILITENET)
    assert len(fig.axes[0].get_xticklabels()) == 2


def test_accuracies_over_seeds_refuses_runs_on_other_test_images():
    from roadlite.evaluation import accuracies_over_seeds

    def loader(y):
        return lambda key: {"y_true": np.asarray(y), "logits": np.eye(2)[y], "classes": ["a", "b"]}

    with pytest.raises(ValueError, match="seed 1's models were tested on other images"):
        accuracies_over_seeds(["mobilenet_v2"], {0: loader([0, 1]), 1: loader([1, 0])})
