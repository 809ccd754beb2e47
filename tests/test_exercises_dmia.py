"""Chapter 11's checker (roadlite.checkers.dmia): the DMIA boundary band.

Each checker passes the reference, the reference agrees with a maintained library, and the
checker fails, with the right message, on wrong answers written the way a student would
write them (the `rejects` fixture: tests/conftest.py)."""


import numpy as np
import pytest

from roadlite.checkers.dmia import check_dmia_boundary, dmia_boundary_reference, dmia_cases


def test_dmia_reference_equals_opencv_and_scipy():
    from scipy import ndimage

    from roadlite.segmentation.dmia import dmia_boundary

    cross = ndimage.generate_binary_structure(2, 1)
    for _, m in dmia_cases():
        ref = dmia_boundary_reference(m)
        np.testing.assert_array_equal(ref, dmia_boundary(m))
        mb, n = m > 0, 0
        e = mb
        while e.any():
            e = ndimage.binary_erosion(e, cross, border_value=0)
            n += 1
        if n:
            d = np.abs(np.arange(-n, n + 1))
            grown = ndimage.binary_dilation(mb, (d[:, None] + d[None, :]) <= n)
            np.testing.assert_array_equal(ref, (grown & ~mb).astype(np.uint8))
        else:
            assert not ref.any()


def test_dmia_checker_accepts_the_reference_and_the_books_function():
    from roadlite.segmentation.dmia import dmia_boundary

    assert check_dmia_boundary(dmia_boundary_reference, verbose=False) == 8
    assert check_dmia_boundary(dmia_boundary, verbose=False) == 8


def _student_dmia(erode="cross", dilate="diamond", extra=0, subtract=True, dtype=np.uint8):
    def dmia(mask):
        from scipy import ndimage

        m = mask > 0
        el = ndimage.generate_binary_structure(2, 1 if erode == "cross" else 2)
        n, e = 0, m
        while e.any():
            e = ndimage.binary_erosion(e, el, border_value=0)
            n += 1
        r = n + extra if n else 0
        if r <= 0:
            return np.zeros(m.shape, dtype)
        d = np.abs(np.arange(-r, r + 1))
        se = (d[:, None] + d[None, :]) <= r if dilate == "diamond" else np.ones((2 * r + 1,) * 2)
        grown = ndimage.binary_dilation(m, se)
        return (grown & ~m if subtract else grown).astype(dtype)
    return dmia


@pytest.mark.parametrize("fn, fragments", [
    (_student_dmia(erode="square"), ["wide diagonal", "3x3 square"]),
    (_student_dmia(dilate="square"), ["square of radius r"]),
    (_student_dmia(subtract=False), ["not subtracted"]),
    (_student_dmia(extra=1), ["r = n + 1"]),
    (_student_dmia(extra=-1), ["r = n - 1"]),
    (_student_dmia(dtype=bool), ["dtype differs: expected uint8"]),
    (lambda m: _student_dmia()(m)[None], ["shape differs"]),
])
def test_dmia_checker_rejects(fn, fragments, rejects):
    rejects(check_dmia_boundary, fn, "dmia_boundary", *fragments)
