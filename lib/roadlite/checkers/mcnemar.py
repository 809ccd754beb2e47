"""Checker for the exercise of Chapter 09_confusion: McNemar's statistic for two classifiers
evaluated on the same test images.

b = images model A classifies correctly and model B wrongly, c = the reverse (images both get
right, or both get wrong, say nothing about which is better: with more than two classes, two
*different* wrong answers are still "both wrong"). With Edwards' continuity correction the
statistic is

    chi2 = max(|b - c| - 1, 0)^2 / (b + c),     0 when b + c = 0,

compared with a chi-square distribution with 1 degree of freedom. The book's
:func:`roadlite.evaluation.mcnemar_test` uses this statistic when b + c >= 25 and the exact
binomial test below that; the unit tests compare the reference here with it.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from .compare import call, compare, outputs, passed

__all__ = ["check_mcnemar", "mcnemar_reference"]


def _bc(y: Any, a: Any, b: Any) -> tuple[int, int]:
    y, a, b = np.asarray(y), np.asarray(a), np.asarray(b)
    return int(np.sum((a == y) & (b != y))), int(np.sum((a != y) & (b == y)))


def _chi2(b: int, c: int, correction: float = 1.0, clip: bool = True) -> float:
    if b + c == 0:
        return 0.0
    d = abs(b - c) - correction
    return float((max(d, 0.0) if clip else d) ** 2 / (b + c))


def mcnemar_reference(y_true: Any, pred_a: Any, pred_b: Any) -> tuple[int, int, float]:
    """(b, c, chi2) of McNemar's test with continuity correction (Chapter 09_confusion)."""
    b, c = _bc(y_true, pred_a, pred_b)
    return b, c, _chi2(b, c)


def _disagree(y: Any, a: Any, b: Any) -> tuple[int, int]:
    """The mistake of counting disagreements of the predictions instead of correctness."""
    y, a, b = np.asarray(y), np.asarray(a), np.asarray(b)
    diff = a != b
    return int(np.sum(diff & (a == y))), int(np.sum(diff & (a != y)))


MISTAKES: list[tuple[str, Callable[..., tuple[int, int, float]]]] = [
    ("no continuity correction: (b - c)^2 / (b + c); the book uses Edwards' "
     "(|b - c| - 1)^2 / (b + c)",
     lambda y, a, b: (*_bc(y, a, b), _chi2(*_bc(y, a, b), correction=0.0))),
    ("b and c swapped: b counts the images A gets right and B gets wrong",
     lambda y, a, b: (*_bc(y, a, b)[::-1], _chi2(*_bc(y, a, b)))),
    ("the images where A and B *predict* differently were counted; with more than two classes "
     "two different wrong answers are not discordant",
     lambda y, a, b: (*_disagree(y, a, b), _chi2(*_disagree(y, a, b)))),
    ("divided by the number of images n instead of b + c",
     lambda y, a, b: (*_bc(y, a, b), _chi2(*_bc(y, a, b)) * sum(_bc(y, a, b)) / len(y))),
    ("|b - c| - 1 not clipped at 0: with b = c the statistic is 0, not 1 / (b + c)",
     lambda y, a, b: (*_bc(y, a, b), _chi2(*_bc(y, a, b), clip=False))),
    ("not squared: (|b - c| - 1) / (b + c)",
     lambda y, a, b: (*_bc(y, a, b), (max(abs(_bc(y, a, b)[0] - _bc(y, a, b)[1]) - 1, 0)
                                      / max(sum(_bc(y, a, b)), 1)))),
]


def _cases() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(9)
    y = rng.integers(0, 4, 60)
    a = np.where(rng.random(60) < 0.8, y, (y + rng.integers(1, 4, 60)) % 4)
    b = np.where(rng.random(60) < 0.6, y, (y + rng.integers(1, 4, 60)) % 4)
    y2 = np.array([0, 1, 1, 0, 1, 0, 1, 1, 0, 0])
    a2 = np.array([0, 1, 0, 0, 1, 1, 1, 0, 0, 0])
    b2 = np.array([0, 0, 1, 1, 1, 0, 1, 1, 1, 0])
    y3 = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    a3 = np.array([1, 1, 3, 3, 2, 1, 0, 3])
    b3 = np.array([2, 1, 0, 3, 3, 1, 1, 3])
    return [
        ("4 classes, 60 images", y, a, b),
        ("2 classes, b = c = 3", y2, a2, b2),
        ("4 classes, both wrong but different on 4 images (b + c = 0)", y3, a3, b3),
        ("A always right, B right on half", y2, y2, np.where(np.arange(10) % 2 == 0, y2, 1 - y2)),
    ]


def check_mcnemar(fn: Callable[[Any, Any, Any], Any], verbose: bool = True) -> int:
    """Test a reader's ``mcnemar(y_true, pred_a, pred_b) -> (b, c, chi2)`` (Chapter 09).

    Four cases (4 classes, ties b = c, no discordant image, one model always right). ``b`` and
    ``c`` must equal the reference's counts and ``chi2`` be within 1e-9. Returns the cases
    passed.
    """
    ex = "mcnemar"
    cases = _cases()
    for case, y, a, b in cases:
        got = call(ex, case, fn, y.copy(), a.copy(), b.copy())
        if not isinstance(got, tuple | list) or len(got) != 3:
            raise AssertionError(f"{ex}, {case}: expected a triple (b, c, chi2), got {got!r}.")
        want = mcnemar_reference(y, a, b)
        for part, name in enumerate(("b", "c", "chi2")):
            value = got[part]
            if part < 2 and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
                raise AssertionError(f"{ex}, {case}: {name} is a count and must be an int, got "
                                     f"{type(value).__name__} {value!r}.")
            mistakes = [(d, lambda *args, f=f, p=part: f(*args)[p]) for d, f in MISTAKES]
            cast = int if part < 2 else float
            compare(ex, case, cast(value), cast(want[part]), atol=1e-9, rtol=1e-9, name=name,
                    mistakes=mistakes, inputs=(y, a, b),
                    others=lambda p=part, cast=cast: outputs(fn, [c[1:] for c in cases],
                                                             lambda v: cast(v[p])))
    return passed(ex, len(cases), verbose)
