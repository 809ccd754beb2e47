"""What every checker of the classroom edition shares: call the reader's function, compare what
it returned with the reference, and say in one ``AssertionError`` what differs.

The message names the exercise and the case, then the first difference found, in this order:
the function raised (``NotImplementedError`` means the exercise is not filled in yet), it
returned nothing, the shape, the dtype, the values (the largest deviation, where, and the two
values there). When the wrong answer equals what a known mistake would give on the same inputs
(a checker lists them: off-by-one kernel size, missing T², wrong sign of the zero point, ...),
the message names that mistake too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["Mistake", "call", "compare", "outputs", "passed", "to_array"]

# A known mistake: a description, and a function of the same inputs that makes it.
Mistake = tuple[str, Callable[..., Any]]


def call(exercise: str, case: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; an exception becomes one ``AssertionError`` naming the case."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as exc:
        raise AssertionError(
            f"{exercise}, {case}: not implemented yet (your function raised "
            f"NotImplementedError{': ' + str(exc) if str(exc) else ''}). Replace "
            "`raise NotImplementedError()` with your code and run this cell again.") from exc
    except Exception as exc:
        raise AssertionError(f"{exercise}, {case}: your function raised "
                             f"{type(exc).__name__}: {exc}") from exc


def to_array(value: Any) -> np.ndarray:
    """A numpy array of ``value`` (a tensor is detached and moved to the CPU first)."""
    if torch.is_tensor(value):
        value = value.detach().cpu()
        if value.is_quantized:
            value = value.dequantize()
        return value.numpy()
    return np.asarray(value)


def _dtype_name(value: Any) -> str:
    if torch.is_tensor(value) or isinstance(value, np.ndarray):
        return str(value.dtype)
    return type(value).__name__


def _same(got: np.ndarray, expected: np.ndarray, atol: float, rtol: float) -> bool:
    if got.shape != expected.shape:
        return False
    if got.dtype.kind in "biu" and expected.dtype.kind in "biu":
        return bool(np.array_equal(got, expected))
    try:
        return bool(np.allclose(got.astype(np.float64), expected.astype(np.float64),
                                atol=atol, rtol=rtol, equal_nan=False))
    except (TypeError, ValueError):
        return False


def _matches(got: Any, wrong: Any, atol: float, rtol: float) -> bool:
    try:
        g, w = to_array(got), to_array(wrong)
    except Exception:
        return False
    if g.dtype == object or w.dtype == object:
        return False
    return _same(g, w, atol, rtol)


def _where(index: tuple[int, ...]) -> str:
    return "" if not index else f" at index {list(index)}"


def compare(exercise: str, case: str, got: Any, expected: Any, *, atol: float = 1e-6,
            rtol: float = 1e-5, dtype: Any = None, name: str = "the result",
            mistakes: Iterable[Mistake] = (), inputs: Sequence[Any] = (),
            others: Callable[[], Sequence[tuple[Sequence[Any], Any]]] | None = None,
            hint: str = "") -> None:
    """Raise one ``AssertionError`` when ``got`` differs from ``expected``; return None if not.

    ``dtype``: the dtype ``got`` must have (a ``torch.dtype`` or numpy dtype; None = any).
    ``mistakes`` are evaluated on ``inputs`` only when ``got`` differs; the likely mistake named
    is the first one whose result equals ``got`` here and, when ``others`` is given (a function
    returning the reader's results on the other cases as ``(inputs, result)`` pairs, see
    :func:`outputs`), on every other case too; failing that, the first that matches here.
    ``hint`` is added to every message.
    """
    head = f"{exercise}, {case}: {name}"
    tail = f" {hint}" if hint else ""
    if got is None and expected is not None:
        raise AssertionError(f"{head} is None: did the function forget to `return` it?{tail}")
    if dtype is not None:
        want = dtype
        have = getattr(got, "dtype", None)
        if torch.is_tensor(expected) and not torch.is_tensor(got):
            raise AssertionError(f"{head}: expected a torch tensor of dtype {want}, got "
                                 f"{_dtype_name(got)}.{tail}")
        if have != want:
            raise AssertionError(f"{head}: dtype differs: expected {want}, got "
                                 f"{_dtype_name(got)}.{tail}")
    g, e = to_array(got), to_array(expected)
    if g.shape != e.shape:
        what = f"shape differs: expected {tuple(e.shape)}, got {tuple(g.shape)}"
    elif _same(g, e, atol, rtol):
        return
    elif g.dtype.kind not in "biuf" or e.dtype.kind not in "biuf":
        what = f"expected {expected!r}, got {got!r}"
    else:
        what = _deviation(g, e, atol, rtol)
    likely = _likely(got, list(mistakes), inputs, others, atol, rtol)
    raise AssertionError(f"{head}: {what}.{likely}{tail}")


_FAILED = object()


def outputs(fn: Callable[..., Any], cases: Iterable[Sequence[Any]],
            project: Callable[[Any], Any] = lambda v: v) -> list[tuple[Sequence[Any], Any]]:
    """The reader's results on every case, as ``(inputs, project(result))`` pairs (a case on
    which ``fn`` or ``project`` raises is left out): the ``others`` of :func:`compare`."""
    out = []
    for args in cases:
        try:
            out.append((args, project(fn(*args))))
        except Exception:
            continue
    return out


def _likely(got: Any, mistakes: list[Mistake], inputs: Sequence[Any],
            others: Callable[[], Sequence[tuple[Sequence[Any], Any]]] | None,
            atol: float, rtol: float) -> str:
    here = []
    for description, wrong in mistakes:
        try:
            value = wrong(*inputs)
        except Exception:
            continue
        if _matches(got, value, atol, rtol):
            here.append((description, wrong))
    if not here:
        return ""
    if len(here) > 1 and others is not None:
        pairs = others()
        consistent = []
        for description, wrong in here:
            ok = True
            for args, result in pairs:
                try:
                    ok = _matches(result, wrong(*args), atol, rtol)
                except Exception:
                    ok = False
                if not ok:
                    break
            if ok:
                consistent.append((description, wrong))
        # Two mistakes that agree on every case are the same function written two ways: name both.
        here = consistent or here[:1]
    return " Likely mistake: " + "; or: ".join(d for d, _ in here) + "."


def _deviation(g: np.ndarray, e: np.ndarray, atol: float, rtol: float) -> str:
    """Where and how much ``g`` differs from ``e`` (same shape, numeric)."""
    g64, e64 = g.astype(np.float64), e.astype(np.float64)
    dev = np.abs(g64 - e64)
    dev = np.where(np.isnan(dev), np.inf, dev)
    if e.ndim == 0:
        return f"expected {e.item()!r}, got {g.item()!r}"
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(dev)), dev.shape))
    n_bad = int(np.sum(~np.isclose(g64, e64, atol=atol, rtol=rtol)))
    return (f"{n_bad} of {e.size} values differ; the largest deviation is {float(dev[idx]):.6g}"
            f"{_where(idx)} (expected {e[idx].item()!r}, got {g[idx].item()!r})")


def passed(exercise: str, n: int, verbose: bool) -> int:
    """Print the one line a passing checker prints, and return ``n`` (the checks passed)."""
    if verbose:
        print(f"{exercise}: all {n} checks passed")
    return n
