"""Chapter 09's checker (roadlite.checkers.mcnemar): McNemar's test.

Each checker passes the reference, the reference agrees with a maintained library, and the
checker fails, with the right message, on wrong answers written the way a student would
write them (the `rejects` fixture: tests/conftest.py)."""

import math

import numpy as np
import pytest

from roadlite.checkers.mcnemar import check_mcnemar, mcnemar_reference


def test_mcnemar_reference_equals_the_books_test_on_the_chi2_branch():
    from roadlite.evaluation import mcnemar_test

    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 4, 300)
        a = np.where(rng.random(300) < 0.8, y, (y + 1) % 4)
        b = np.where(rng.random(300) < 0.7, y, (y + 2) % 4)
        ref = mcnemar_test(y, a, b)
        bb, cc, chi2 = mcnemar_reference(y, a, b)
        assert (bb, cc) == (ref["b"], ref["c"]) and ref["method"] == "chi2"
        assert math.isclose(chi2, ref["statistic"], rel_tol=1e-12)


def test_mcnemar_checker_accepts_the_reference():
    assert check_mcnemar(mcnemar_reference, verbose=False) == 4


def _student_mcnemar(correction=1, swap=False, disagree=False, denom="bc", clip=True,
                     square=True):
    def mcnemar(y, a, b):
        ok_a, ok_b = a == y, b == y
        if disagree:
            nb, nc = int(np.sum((a != b) & ok_a)), int(np.sum((a != b) & ~ok_a))
        else:
            nb, nc = int(np.sum(ok_a & ~ok_b)), int(np.sum(~ok_a & ok_b))
        if swap:
            nb, nc = nc, nb
        d = abs(nb - nc) - correction
        d = max(d, 0) if clip else d
        n = nb + nc if denom == "bc" else len(y)
        return nb, nc, (d * d if square else d) / n
    return mcnemar


@pytest.mark.parametrize("fn, fragments", [
    (_student_mcnemar(correction=0), ["chi2", "no continuity correction"]),
    (_student_mcnemar(swap=True), ["b: expected 18, got 3", "swapped"]),
    (_student_mcnemar(disagree=True), ["*predict* differently"]),
    (_student_mcnemar(denom="n"), ["number of images n"]),
    (_student_mcnemar(clip=False), ["b = c = 3", "not clipped"]),
    (_student_mcnemar(square=False), ["chi2", "not squared"]),
    (_student_mcnemar(), ["b + c = 0", "ZeroDivisionError"]),   # crashes when b + c = 0
])
def test_mcnemar_checker_rejects(fn, fragments, rejects):
    rejects(check_mcnemar, fn, "mcnemar", *fragments)


def test_mcnemar_checker_accepts_a_guarded_student_solution():
    def guarded(y, a, b):
        nb, nc = int(np.sum((a == y) & (b != y))), int(np.sum((a != y) & (b == y)))
        return nb, nc, 0.0 if nb + nc == 0 else max(abs(nb - nc) - 1, 0) ** 2 / (nb + nc)
    assert check_mcnemar(guarded, verbose=False) == 4
