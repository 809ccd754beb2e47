"""Confusion matrices, per-class metrics, significance tests, ablation summaries (Chapter 09_confusion).

The MobiLiteNet paper draws its confusion matrices (Fig. 5c) with the labels BR (broken pavement
marking), LO (longitudinal crack), MA (alligator crack) and TR (transverse crack);
:data:`PAPER_CLASS_ABBREV` maps the book's class names onto them.

Two classifiers evaluated on the *same* test images are compared pairwise, since their errors
are correlated: :func:`mcnemar_test` looks only at the images on which exactly one of them is
right, :func:`paired_bootstrap` resamples images (the same draw for both models) to get a
confidence interval for the accuracy difference. :func:`bootstrap_accuracy_ci` gives the interval
of one model's accuracy (chapter 09's ablation table uses it: every run trains one seed).
:func:`mean_std` gives mean ± std over seeds (the paper prints value ± spread without saying
what the ± is over); :func:`accuracies_over_seeds` and
:func:`seed_ablation` use it for the seed runs of ``make book SEEDS=N``;
:func:`pareto_front` and :func:`plot_pareto` show which models no other model beats in
accuracy, latency and size at once.

Labels are integer class indices 0 .. K-1 throughout (``y_true``, ``y_pred`` as arrays or lists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from roadlite import book
from roadlite.paper_numbers import MOBILITENET

__all__ = [
    "PAPER_CLASS_ABBREV",
    "PAPER_VS_THIS_RUN_COLUMNS",
    "abbreviate",
    "ablation_table",
    "accuracies_over_seeds",
    "bootstrap_accuracy_ci",
    "collect_predictions",
    "confusion",
    "mcnemar_test",
    "mean_std",
    "paired_bootstrap",
    "paper_vs_this_run",
    "pareto_front",
    "per_class_report",
    "plot_confusion",
    "plot_pareto",
    "plot_seed_ablation",
    "recipe_verdict",
    "recipe_vs_peers",
    "seed_ablation",
]

PAPER_CLASS_ABBREV = {"broken_marking": "BR", "longitudinal": "LO", "alligator": "MA",
                      "transverse": "TR"}

MCNEMAR_EXACT_BELOW = 25  # b + c below this: exact binomial test


def abbreviate(classes: Sequence[str]) -> list[str]:
    """The paper's confusion-matrix labels for class names (Chapter 09_confusion).

    ``["alligator", "broken_marking", "longitudinal", "transverse"]`` -> ``["MA", "BR", "LO",
    "TR"]``; a name without a paper label (e.g. ``"intact"``) is kept as it is.
    """
    return [PAPER_CLASS_ABBREV.get(c, c) for c in classes]


def _labels(y: Any, name: str) -> np.ndarray:
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer class indices, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _pair(y_true: Any, y_pred: Any, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    if n_classes is not None:
        for name, a in (("y_true", t), ("y_pred", p)):
            if a.size and (a.min() < 0 or a.max() >= n_classes):
                raise ValueError(f"{name} holds class indices outside 0..{n_classes - 1}: "
                                 f"min {a.min()}, max {a.max()}")
    return t, p


def confusion(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """Confusion matrix [n_classes, n_classes] of counts (Chapter 09_confusion).

    Row i = true class i, column j = predicted class j (scikit-learn's convention), so the row
    sums are the class supports. Classes absent from both give rows / columns of zeros.
    """
    t, p = _pair(y_true, y_pred, n_classes)
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes)


def per_class_report(y_true: Any, y_pred: Any, classes: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, plus the macro average (Chapter 09_confusion).

    Computed with :func:`sklearn.metrics.precision_recall_fscore_support` (a class never
    predicted gets precision 0, not a warning). Index: the class names, then ``"macro avg"`` (the
    unweighted mean over classes; its support is the number of samples). ``df.attrs["accuracy"]``
    holds the overall accuracy.
    """
    from sklearn.metrics import precision_recall_fscore_support

    classes = list(classes)
    t, p = _pair(y_true, y_pred, len(classes))
    labels = list(range(len(classes)))
    prec, rec, f1, sup = precision_recall_fscore_support(t, p, labels=labels, average=None,
                                                         zero_division=0)
    df = pd.DataFrame({"precision": prec, "recall": rec, "f1": f1, "support": sup},
                      index=pd.Index(classes, name="class"))
    df.loc["macro avg"] = [float(np.mean(prec)), float(np.mean(rec)), float(np.mean(f1)),
                           int(np.sum(sup))]
    df["support"] = df["support"].astype(int)
    df.attrs["accuracy"] = float(np.mean(t == p)) if t.size else float("nan")
    return df


def plot_confusion(cm: Any, labels: Sequence[str], title: str | None = None,
                   normalize: bool = True, ax: Any = None):
    """Seaborn heatmap of a confusion matrix (Chapter 09_confusion); returns the figure.

    Each cell is annotated with its count; with ``normalize`` the shading is the row-normalised
    fraction (the recall of the row's class on the diagonal, 0-1 colour scale) and the
    percentage is printed under the count, so classes of different sizes compare. Rows: true
    class, columns: predicted class. ``ax``: draw into an existing axes.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    cm = np.asarray(cm)
    k = len(labels)
    if cm.shape != (k, k):
        raise ValueError(f"confusion matrix of shape {cm.shape} does not fit {k} labels")
    if ax is None:
        size = 1.0 + 0.9 * k
        _, ax = plt.subplots(figsize=(size + 1.2, size))
    counts = cm.astype(np.int64)
    if normalize:
        rows = cm.sum(axis=1, keepdims=True).astype(np.float64)
        shade = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)
        annot = np.array([[f"{counts[i, j]}\n{shade[i, j]:.0%}" for j in range(k)]
                          for i in range(k)])
        sns.heatmap(shade, annot=annot, fmt="", cmap="Blues", vmin=0.0, vmax=1.0, square=True,
                    xticklabels=labels, yticklabels=labels, ax=ax,
                    cbar_kws={"label": "fraction of the true class"})
    else:
        sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", square=True,
                    xticklabels=labels, yticklabels=labels, ax=ax, cbar_kws={"label": "count"})
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.tick_params(axis="y", labelrotation=0)
    if title:
        ax.set_title(title)
    fig = ax.figure
    fig.tight_layout()
    return fig


def _correct(y_true: Any, pred_a: Any, pred_b: Any) -> tuple[np.ndarray, np.ndarray]:
    t, a = _pair(y_true, pred_a)
    _, b = _pair(y_true, pred_b)
    if t.size == 0:
        raise ValueError("no samples: y_true is empty")
    return a == t, b == t


def mcnemar_test(y_true: Any, pred_a: Any, pred_b: Any) -> dict[str, Any]:
    """McNemar's test: do two classifiers have the same error rate on these images? (Chapter 09_confusion)

    b = images model A gets right and model B wrong, c = the reverse; images both get right or
    both wrong say nothing about the difference. Under the null hypothesis each discordant image
    is a fair coin flip. With b + c < 25 the p-value is the exact two-sided binomial one,
    min(1, 2 P[X <= min(b, c)]) for X ~ Bin(b + c, 1/2) (``statistic`` = min(b, c));
    otherwise ``statistic`` = (max(|b - c| - 1, 0))^2 / (b + c) (Edwards' continuity
    correction) with a chi-square(1) p-value. b + c = 0 gives p = 1.

    Returns ``{"b", "c", "statistic", "p_value", "method"}`` (method ``"exact"`` or
    ``"chi2"``).
    """
    from scipy import stats

    ok_a, ok_b = _correct(y_true, pred_a, pred_b)
    b = int(np.sum(ok_a & ~ok_b))
    c = int(np.sum(~ok_a & ok_b))
    n = b + c
    if n < MCNEMAR_EXACT_BELOW:
        statistic = float(min(b, c))
        p = 1.0 if n == 0 else min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), n, 0.5)))
        method = "exact"
    else:
        statistic = max(abs(b - c) - 1, 0) ** 2 / n
        p = float(stats.chi2.sf(statistic, df=1))
        method = "chi2"
    return {"b": b, "c": c, "statistic": float(statistic), "p_value": p, "method": method}


def _percentile_ci(values: np.ndarray, level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def paired_bootstrap(y_true: Any, pred_a: Any, pred_b: Any, n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> dict[str, float]:
    """Paired bootstrap of the accuracy difference acc(A) - acc(B) (Chapter 09_confusion).

    Each bootstrap replicate draws n test images with replacement (the *same* draw for both
    models, which keeps the pairing) and recomputes the difference. Because the per-image
    difference of correctness takes only the values -1, 0 and +1, a replicate is drawn exactly
    as a multinomial count of those three outcomes, which is the same distribution as resampling
    indices but costs O(n_boot) instead of O(n_boot * n).

    Returns ``diff`` (on the full test set), ``ci_low`` / ``ci_high`` (percentile interval at
    ``level``) and a two-sided ``p_value`` for "no difference": the share of replicates whose
    distance from ``diff`` is at least |diff| (the bootstrap distribution shifted to the null),
    as (1 + count) / (1 + n_boot), so it is never exactly 0. Reproducible for a ``seed``.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    ok_a, ok_b = _correct(y_true, pred_a, pred_b)
    d = ok_a.astype(np.int64) - ok_b.astype(np.int64)
    n = d.size
    counts = np.array([np.sum(d == -1), np.sum(d == 0), np.sum(d == 1)], dtype=np.float64)
    diff = float(d.mean())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, counts / n, size=n_boot)
    boot = (draws[:, 2] - draws[:, 0]) / n
    lo, hi = _percentile_ci(boot, level)
    extreme = int(np.sum(np.abs(boot - diff) >= abs(diff) - 1e-12))
    return {"diff": diff, "ci_low": lo, "ci_high": hi,
            "p_value": (1 + extreme) / (1 + n_boot)}


def bootstrap_accuracy_ci(y_true: Any, y_pred: Any, n_boot: int = 2000, seed: int = 0,
                          level: float = 0.95) -> dict[str, float]:
    """Bootstrap percentile interval of a classifier's accuracy (Chapter 09_confusion).

    Resampling n images with replacement makes the number of correct ones Binomial(n, acc), so
    the replicates are drawn that way (exactly the same distribution). Returns ``accuracy``,
    ``ci_low``, ``ci_high``; reproducible for a ``seed``.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    t, p = _pair(y_true, y_pred)
    if t.size == 0:
        raise ValueError("no samples: y_true is empty")
    acc = float(np.mean(t == p))
    rng = np.random.default_rng(seed)
    boot = rng.binomial(t.size, acc, size=n_boot) / t.size
    lo, hi = _percentile_ci(boot, level)
    return {"accuracy": acc, "ci_low": lo, "ci_high": hi}


def mean_std(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) over seeds, printed like the paper's
    "value ± spread" (the paper does not say what its ± is over) (Chapter 09_confusion).

    With a single value the standard deviation is undefined and returned as NaN (not 0: one run
    says nothing about the spread); with no values both are NaN.
    """
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        return float("nan"), float("nan")
    mean = float(a.mean())
    std = float(a.std(ddof=1)) if a.size > 1 else float("nan")
    return mean, std


def pareto_front(points: pd.DataFrame, minimize: Sequence[str] = (),
                 maximize: Sequence[str] = ()) -> np.ndarray:
    """Boolean mask of the Pareto-optimal rows of ``points`` (Chapter 09_confusion).

    A row is dominated when another row is at least as good in every objective (lower in each
    ``minimize`` column, higher in each ``maximize`` column) and strictly better in one. The mask
    is True for the rows no other row dominates (ties are all kept). Rows with a missing value
    in an objective are never on the front and dominate nothing. Use as ``points[mask]``.
    """
    cols = list(minimize) + list(maximize)
    if not cols:
        raise ValueError("pareto_front needs at least one column to minimize or maximize")
    missing = [c for c in cols if c not in points.columns]
    if missing:
        raise KeyError(f"columns not in the table: {missing}")
    cost = np.column_stack(
        [points[c].to_numpy(dtype=np.float64) for c in minimize]
        + [-points[c].to_numpy(dtype=np.float64) for c in maximize])
    valid = ~np.isnan(cost).any(axis=1)
    mask = valid.copy()
    idx = np.flatnonzero(valid)
    for i in idx:
        others = cost[idx]
        dominated = np.all(others <= cost[i], axis=1) & np.any(others < cost[i], axis=1)
        mask[i] = not dominated.any()
    return mask


def plot_pareto(df: pd.DataFrame, x: str, y: str, size: str | None = None,
                label: str | None = None, title: str | None = None, logx: bool = False,
                ax: Any = None):
    """Accuracy-latency-size plot (Chapter 09_confusion); returns the figure.

    One marker per row at (``x``, ``y``), e.g. latency (lower is better) and accuracy (higher is
    better); the marker area grows with the ``size`` column (e.g. file size in MB) and the
    ``label`` column names each point. The dashed step line is the Pareto front in x and y
    (minimize x, maximize y); markers with a black edge are on the front of all three (``size``
    minimised too).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5))
    xs = df[x].to_numpy(dtype=np.float64)
    ys = df[y].to_numpy(dtype=np.float64)
    if size is not None:
        s = df[size].to_numpy(dtype=np.float64)
        smax = np.nanmax(s) if np.isfinite(s).any() and np.nanmax(s) > 0 else 1.0
        areas = 40.0 + 560.0 * np.sqrt(np.nan_to_num(s, nan=0.0) / smax)
    else:
        areas = np.full(len(df), 80.0)
    front3 = pareto_front(df, minimize=[x] + ([size] if size else []), maximize=[y])
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i in range(len(df)):
        ax.scatter(xs[i], ys[i], s=areas[i], alpha=0.7, color=colors[i % len(colors)],
                   edgecolors="black" if front3[i] else "none", linewidths=1.5, zorder=3)
        if label is not None:
            ax.annotate(str(df[label].iloc[i]), (xs[i], ys[i]), textcoords="offset points",
                        xytext=(6, 6), fontsize=8)
    front2 = pareto_front(df, minimize=[x], maximize=[y])
    if front2.any():
        order = np.argsort(xs[front2])
        ax.step(xs[front2][order], ys[front2][order], where="post", linestyle="--",
                color="grey", zorder=2, label="Pareto front")
        ax.legend(loc="lower right", fontsize=8)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if size is not None:
        ax.text(0.01, 0.01, f"marker area ~ {size}", transform=ax.transAxes, fontsize=7,
                color="grey")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig = ax.figure
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- predictions


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


# --------------------------------------------------------------------------- paper vs this run

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


# --------------------------------------------------------------------------- over seeds


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


def plot_seed_ablation(summary: Mapping[str, Any],
                       paper: Mapping[str, Mapping[str, Any]] | None = None, ax: Any = None):
    """Each model's accuracy in every seed (dots), their mean ± std (bar), and the paper's value
    ± spread where it has the model (Chapter 09_confusion); returns the figure."""
    import matplotlib.pyplot as plt

    paper = MOBILITENET if paper is None else paper
    models = summary["models"]
    keys = list(models)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(keys) + 2), 4.2))
    xs = np.arange(len(keys))
    for i, key in enumerate(keys):
        m = models[key]
        ax.scatter(np.full(len(m["values"]), i - 0.12), 100 * np.asarray(m["values"]), s=14,
                   color="tab:blue", alpha=0.6, zorder=3, label="one seed" if i == 0 else None)
        ax.errorbar(i - 0.12, 100 * m["mean"], yerr=100 * np.nan_to_num(m["std"]), fmt="_",
                    color="tab:blue", markersize=14, capsize=4, zorder=4,
                    label="this book: mean ± std" if i == 0 else None)
        if key in paper:
            ax.errorbar(i + 0.12, paper[key]["accuracy"], yerr=paper[key]["accuracy_std"],
                        fmt="o", color="tab:orange", markersize=4, capsize=4,
                        label="paper: value ± spread" if key == next(k for k in keys if k in paper)
                        else None)
    ax.set_xticks(xs)
    ax.set_xticklabels([book.label(k) for k in keys],
                       rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"Accuracy over {len(summary['seeds'])} seeds")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig = ax.figure
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- the recipe vs the peers


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
