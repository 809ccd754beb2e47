"""Checker for the exercise of Chapter 11_crack_segmentation: the boundary map of LR-CrackNet's
dynamic morphological iteration algorithm (DMIA).

For a binary crack mask M [H, W]: erode M with the 3x3 ellipse (a cross: the 4 neighbours and
the centre; pixels outside the image count as background) until nothing is left, and count the
erosions n; the radius is r = n (the book's ``dmia_factor = 1``; r = 0 for an empty mask). Dilate
M with a diamond of radius r (the pixels with |dy| + |dx| <= r) and subtract M: the boundary map,
uint8 {0, 1} of M's shape, a band around the crack as wide as the crack is thick.

The reference here loops over pixel shifts in numpy; the unit tests compare it with
:func:`roadlite.segmentation.dmia.dmia_boundary` (OpenCV) and with ``scipy.ndimage``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .compare import Mistake, call, compare, outputs, passed

__all__ = ["check_dmia_boundary", "dmia_boundary_reference", "dmia_cases"]

CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
SQUARE = np.ones((3, 3), dtype=bool)


def _diamond(r: int) -> np.ndarray:
    d = np.abs(np.arange(-r, r + 1))
    return (d[:, None] + d[None, :]) <= r


def _shifted(m: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """m shifted by (dy, dx), background (False) where it leaves the image."""
    out = np.zeros_like(m)
    h, w = m.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = m[ys, xs]
    return out


def _offsets(element: np.ndarray) -> list[tuple[int, int]]:
    c = element.shape[0] // 2
    return [(int(y) - c, int(x) - c) for y, x in zip(*np.nonzero(element), strict=True)]


def _erode(m: np.ndarray, element: np.ndarray) -> np.ndarray:
    out = np.ones_like(m)
    for dy, dx in _offsets(element):
        out &= _shifted(m, -dy, -dx)
    return out


def _dilate(m: np.ndarray, element: np.ndarray) -> np.ndarray:
    out = np.zeros_like(m)
    for dy, dx in _offsets(element):
        out |= _shifted(m, dy, dx)
    return out


def _erosions(m: np.ndarray, element: np.ndarray = CROSS) -> int:
    n = 0
    while m.any():
        m = _erode(m, element)
        n += 1
    return n


def _boundary(mask: Any, erode_with: np.ndarray = CROSS, dilate: str = "diamond",
              extra: int = 0, subtract: bool = True) -> np.ndarray:
    m = np.asarray(mask) > 0
    r = _erosions(m, erode_with) + extra if m.any() else 0
    if r <= 0:
        return np.zeros(m.shape, dtype=np.uint8)
    element = _diamond(r) if dilate == "diamond" else np.ones((2 * r + 1,) * 2, dtype=bool)
    grown = _dilate(m, element)
    return (grown & ~m if subtract else grown).astype(np.uint8)


def dmia_boundary_reference(mask: Any) -> np.ndarray:
    """The DMIA boundary map (uint8 {0, 1}) of a binary mask [H, W] (Chapter 11)."""
    return _boundary(mask)


MISTAKES: list[Mistake] = [
    ("eroded with a 3x3 square; the element is OpenCV's 3x3 ellipse, a cross (4 neighbours)",
     lambda m: _boundary(m, erode_with=SQUARE)),
    ("dilated with a square of radius r; the element is a diamond (|dy| + |dx| <= r)",
     lambda m: _boundary(m, dilate="square")),
    ("the mask was not subtracted: that is the dilated mask, not its boundary",
     lambda m: _boundary(m, subtract=False)),
    ("off by one: r = n + 1 (count only the erosions it takes until the mask is empty)",
     lambda m: _boundary(m, extra=1)),
    ("off by one: r = n - 1 (the last erosion, the one that empties the mask, counts too)",
     lambda m: _boundary(m, extra=-1)),
]


def dmia_cases() -> list[tuple[str, np.ndarray]]:
    """Small masks: a thin and a thick crack, a thin and a wide diagonal, a crack at the border, two cracks of
    different widths, a single pixel and an empty mask."""
    thin = np.zeros((12, 12), np.uint8)
    thin[6, 2:10] = 1
    thick = np.zeros((16, 16), np.uint8)
    thick[5:10, 3:13] = 1
    diag = np.eye(10, dtype=np.uint8) + np.eye(10, k=1, dtype=np.uint8)
    border = np.zeros((9, 9), np.uint8)
    border[:, 0:3] = 1
    two = np.zeros((14, 18), np.uint8)
    two[2, 1:8] = 1
    two[7:12, 9:16] = 255
    yy, xx = np.mgrid[:16, :16]
    wide_diag = (np.abs(yy - xx) <= 2).astype(np.uint8)
    dot = np.zeros((7, 7), np.uint8)
    dot[3, 3] = 1
    return [("a thin crack (1 px)", thin), ("a thick crack (5 px)", thick),
            ("a diagonal crack", diag), ("a wide diagonal crack (5 px)", wide_diag),
            ("a crack along the image border", border),
            ("two cracks, values 0/1 and 0/255", two), ("a single pixel", dot),
            ("an empty mask", np.zeros((5, 6), np.uint8))]


def check_dmia_boundary(fn: Callable[[np.ndarray], Any], verbose: bool = True) -> int:
    """Test a reader's ``dmia_boundary(mask) -> boundary`` on eight small masks.

    The result must be a uint8 array of the mask's shape equal to the reference everywhere.
    Returns the number of cases passed.
    """
    ex = "dmia_boundary"
    cases = dmia_cases()
    for case, m in cases:
        got = call(ex, case, fn, m.copy())
        compare(ex, case, got, dmia_boundary_reference(m), dtype=np.dtype(np.uint8),
                name="the boundary map", mistakes=MISTAKES, inputs=(m,),
                others=lambda: outputs(fn, [(c[1],) for c in cases]))
    return passed(ex, len(cases), verbose)
