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
