"""The checkers' shared comparison (roadlite.checkers.compare): what a mismatch says.

Each checker passes the reference, the reference agrees with a maintained library, and the
checker fails, with the right message, on wrong answers written the way a student would
write them (the `rejects` fixture: tests/conftest.py)."""


import pytest
import torch

from roadlite.checkers import compare as cmp


def not_implemented(*args):
    raise NotImplementedError()


def test_compare_reports_shape_dtype_and_largest_deviation():
    with pytest.raises(AssertionError, match=r"shape differs: expected \(2, 3\), got \(3, 2\)"):
        cmp.compare("ex", "case", torch.zeros(3, 2), torch.zeros(2, 3))
    with pytest.raises(AssertionError, match="dtype differs: expected torch.int32, got "
                                             "torch.int64"):
        cmp.compare("ex", "case", torch.zeros(2, dtype=torch.int64),
                    torch.zeros(2, dtype=torch.int32), dtype=torch.int32)
    got = torch.tensor([[0.0, 1.0], [2.0, 3.5]])
    with pytest.raises(AssertionError, match=r"1 of 4 values differ; the largest deviation is "
                                             r"0.5 at index \[1, 1\] \(expected 3.0, got 3.5\)"):
        cmp.compare("ex", "case", got, torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    with pytest.raises(AssertionError, match="forget to `return`"):
        cmp.compare("ex", "case", None, torch.zeros(2))
    cmp.compare("ex", "case", torch.ones(2), torch.ones(2) + 1e-9)  # equal within tolerance


def test_call_turns_not_implemented_into_the_checkers_message():
    with pytest.raises(AssertionError, match="not implemented yet"):
        cmp.call("ex", "case", not_implemented)
    with pytest.raises(AssertionError, match="raised ZeroDivisionError"):
        cmp.call("ex", "case", lambda: 1 / 0)
