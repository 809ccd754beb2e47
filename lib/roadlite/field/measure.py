"""What an inspector records from a crack mask (Chapter 12_field_test).

* **length**: the mask is thinned to a one-pixel skeleton (Zhang & Suen's thinning; scikit-image
  is not a dependency of the book, OpenCV's ``ximgproc`` thinning neither); the length is the
  sum of the links between 8-connected skeleton pixels (1 along a row or column, sqrt 2 along
  a diagonal), plus, at each end of a crack, the distance transform there (thinning eats back
  the ends by about half the width).
* **width**: at each skeleton pixel, 2 d - 1, where d is the Euclidean distance transform of
  the mask (distance to the nearest background pixel's centre): a straight crack of odd width
  w pixels gives w; mean and maximum over the skeleton.
* **area share**: crack pixels / all pixels.
* **number of cracks**: 8-connected components of at least ``min_pixels`` pixels.

With ``mm_per_pixel`` the lengths and widths are also given in millimetres.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

EIGHT = np.ones((3, 3), bool)


def _neighbours(s: np.ndarray) -> list[np.ndarray]:
    """P2..P9 of Zhang & Suen (clockwise from north) of a padded boolean image."""
    p = np.pad(s, 1)
    h, w = s.shape
    at = lambda dy, dx: p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]  # noqa: E731
    return [at(-1, 0), at(-1, 1), at(0, 1), at(1, 1), at(1, 0), at(1, -1), at(0, -1), at(-1, -1)]


def skeletonize(mask: np.ndarray, max_iter: int = 10_000) -> np.ndarray:
    """One-pixel-wide skeleton (bool) of a binary mask: Zhang & Suen (1984) thinning."""
    s = np.asarray(mask) > 0
    s = s.copy()
    for _ in range(max_iter):
        changed = False
        for step in (0, 1):
            n = _neighbours(s)
            b = sum(x.astype(np.uint8) for x in n)
            ring = n + [n[0]]
            a = sum(((~ring[k]) & ring[k + 1]).astype(np.uint8) for k in range(8))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            if step == 0:
                c = ~(p2 & p4 & p6) & ~(p4 & p6 & p8)
            else:
                c = ~(p2 & p4 & p8) & ~(p2 & p6 & p8)
            remove = s & (b >= 2) & (b <= 6) & (a == 1) & c
            if remove.any():
                s &= ~remove
                changed = True
        if not changed:
            break
    # Zhang-Suen can erase a small even-sided blob whole (its last 2 x 2 block): such a crack
    # keeps one skeleton pixel, its deepest one
    labels, n = ndimage.label(np.asarray(mask) > 0, EIGHT)
    if n:
        kept = ndimage.maximum(s, labels, index=np.arange(1, n + 1))
        lost = np.flatnonzero(np.asarray(kept) == 0) + 1
        if len(lost):
            depth = ndimage.distance_transform_edt(np.pad(labels > 0, 1))[1:-1, 1:-1]
            for y, x in ndimage.maximum_position(depth, labels, index=lost):
                s[y, x] = True
    return s


def _ring_components() -> tuple[np.ndarray, np.ndarray]:
    """For each of the 256 configurations of a pixel's 8 neighbours (bit k = ring position k,
    clockwise from north): how many neighbours, and in how many 8-connected groups."""
    adj = {k: {(k + 1) % 8, (k - 1) % 8} for k in range(8)}
    for k in (0, 2, 4, 6):  # orthogonal neighbours touch diagonally (N and E, ...)
        adj[k] |= {(k + 2) % 8, (k - 2) % 8}
    count, groups = np.zeros(256, np.int8), np.zeros(256, np.int8)
    for cfg in range(256):
        on = {k for k in range(8) if cfg >> k & 1}
        count[cfg], seen = len(on), set()
        for k in on:
            if k in seen:
                continue
            groups[cfg] += 1
            stack = [k]
            while stack:
                j = stack.pop()
                if j not in seen:
                    seen.add(j)
                    stack += [i for i in adj[j] if i in on and i not in seen]
    return count, groups


_COUNT, _GROUPS = _ring_components()
_RING = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def thin_corners(skeleton: np.ndarray) -> np.ndarray:
    """Make a skeleton 8-thin: remove, one at a time, every pixel whose neighbours stay one
    8-connected group without it and that is not an end (the corners of Zhang-Suen's
    staircases), so that a diagonal run is measured as diagonal steps."""
    s = np.pad(np.asarray(skeleton, bool), 1)
    changed = True
    while changed:
        changed = False
        for y, x in zip(*np.nonzero(s), strict=True):
            cfg = 0
            for k, (dy, dx) in enumerate(_RING):
                if s[y + dy, x + dx]:
                    cfg |= 1 << k
            if _COUNT[cfg] >= 2 and _GROUPS[cfg] == 1:
                s[y, x] = False
                changed = True
    return s[1:-1, 1:-1]


def skeleton_length(skeleton: np.ndarray) -> float:
    """Length (pixels) of a skeleton: 1 per orthogonal and sqrt 2 per diagonal link between
    skeleton pixels, a diagonal link not counted where an orthogonal path joins the same two
    pixels through a third."""
    s = np.asarray(skeleton, bool)
    ortho = float((s[:, :-1] & s[:, 1:]).sum() + (s[:-1, :] & s[1:, :]).sum())
    d1 = s[:-1, :-1] & s[1:, 1:]  # down-right
    d2 = s[:-1, 1:] & s[1:, :-1]  # down-left
    # a diagonal whose corner is bridged by an orthogonal pair (an L of three pixels) is not
    # a separate link
    d1 &= ~(s[:-1, 1:] | s[1:, :-1])
    d2 &= ~(s[:-1, :-1] | s[1:, 1:])
    return ortho + math.sqrt(2.0) * float(d1.sum() + d2.sum())


def endpoints(skeleton: np.ndarray) -> np.ndarray:
    """Skeleton pixels with exactly one 8-neighbour on the skeleton."""
    s = np.asarray(skeleton, bool)
    n = ndimage.convolve(s.astype(np.uint8), EIGHT.astype(np.uint8), mode="constant") - s
    return s & (n == 1)


def measure_mask(mask: np.ndarray, mm_per_pixel: float | None = None, min_pixels: int = 1
                 ) -> dict[str, float]:
    """The inspector's quantities of a binary crack mask [H, W] (module docstring)."""
    m = np.asarray(mask) > 0
    if m.ndim != 2:
        raise ValueError(f"a mask is [H, W], got shape {m.shape}")
    labels, n = ndimage.label(m, EIGHT)
    if n and min_pixels > 1:
        sizes = ndimage.sum(m, labels, index=np.arange(1, n + 1))
        small = np.flatnonzero(sizes < min_pixels) + 1
        m = m & ~np.isin(labels, small)
        n -= len(small)
    out = {"area_share": float(m.mean()), "crack_pixels": int(m.sum()), "n_cracks": int(n)}
    if not m.any():
        out.update(length_px=0.0, mean_width_px=0.0, max_width_px=0.0)
    else:
        dist = ndimage.distance_transform_edt(np.pad(m, 1))[1:-1, 1:-1]
        sk = thin_corners(skeletonize(m))
        width = 2.0 * dist[sk] - 1.0
        ends = endpoints(sk)
        # an isolated skeleton pixel (a blob thinned to a dot): its length is its width
        lone = sk & (ndimage.convolve(sk.astype(np.uint8), EIGHT.astype(np.uint8),
                                      mode="constant") == 1)
        length = skeleton_length(sk) + float(dist[ends].sum() - 0.5 * ends.sum())
        length += float((2.0 * dist[lone] - 1.0).sum())
        out.update(length_px=length, mean_width_px=float(width.mean()),
                   max_width_px=float(width.max()))
    if mm_per_pixel is not None:
        for k in ("length", "mean_width", "max_width"):
            out[f"{k}_mm"] = out[f"{k}_px"] * float(mm_per_pixel)
    return out
