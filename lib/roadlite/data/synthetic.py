"""Procedural road-distress generator: the embedded default data set of the book.

Chapter 01_dataset teaches this module. Each call to :func:`generate_sample` renders one
road-surface patch seen from above (or obliquely) with one kind of distress, together with a
pixel mask. Everything is drawn from ``numpy.random.default_rng(seed)``, so a sample is fully
determined by ``(cls, condition, size, seed)``.

What the mask means, per class (1 = distress pixel, 0 = background):

- ``longitudinal`` / ``transverse`` / ``alligator`` / ``crack``: the crack pixels themselves
  (the dark crack lines; for alligator the whole polygonal network, not the patch around it).
- ``broken_marking``: the worn-away paint, i.e. pixels inside the marking's nominal outline
  (the stripe as it was painted) where the paint is now missing. Remaining paint is 0.
- ``intact``: empty (all zero).

Distractors never enter the mask: intact lane markings, oil stains, patch repairs (with their
seams), shadows, puddles and reflections.

Rendering happens at twice the requested size and is averaged down 2x2 (anti-aliasing). The
mask is drawn at the same resolution; a pixel is 1 when at least a quarter (cracks) or half
(paint loss) of its 2x2 block is distress, so that hair-line cracks keep a connected mask.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter
from scipy.signal import lfilter
from scipy.spatial import Voronoi

from roadlite.artifacts import atomic_write_bytes
from roadlite.imaging import png_bytes

from .manifest import COLUMNS, write_manifest

CLASSES_4 = ("alligator", "broken_marking", "longitudinal", "transverse")
CLASSES_5 = CLASSES_4 + ("intact",)
CLASSES_BINARY = ("crack", "intact")
CONDITIONS = ("parallel", "oblique", "rain", "night")
CRACK_TYPES = ("alligator", "longitudinal", "transverse")

MASK_MEANING = {
    "alligator": "pixels of the polygonal crack network",
    "longitudinal": "crack pixels",
    "transverse": "crack pixels",
    "crack": "crack pixels (the sample is a longitudinal, transverse or alligator crack)",
    "broken_marking": "worn-away paint: pixels inside the marking's painted outline where "
    "the paint is missing",
    "intact": "empty (all zero)",
}

_ALL_CLASSES = CLASSES_5 + ("crack",)


@dataclass
class Sample:
    """One generated sample (Chapter 01_dataset).

    ``image`` is uint8 HxWx3 RGB, ``mask`` uint8 HxW with values in {0, 1} (see the module
    docstring for what 1 means per class), ``meta`` a JSON-friendly dict of what was drawn.
    """

    image: np.ndarray
    mask: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- small helpers


@lru_cache(maxsize=8)
def _grid(r: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (yy, xx) of an r x r image, float32, read-only."""
    c = np.arange(r, dtype=np.float32) + 0.5
    yy, xx = np.meshgrid(c, c, indexing="ij")
    yy.setflags(write=False)
    xx.setflags(write=False)
    return yy, xx


def _smooth(rng: np.random.Generator, r: int, grid: int) -> np.ndarray:
    """Smooth noise: a grid x grid field of N(0, 1) values resized (bicubic) to r x r."""
    grid = int(max(2, min(grid, r)))
    g = rng.standard_normal((grid, grid), dtype=np.float32)
    if grid == r:
        return g
    return np.asarray(Image.fromarray(g).resize((r, r), Image.BICUBIC))


def _to_l(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a * 255.0, 0, 255).astype(np.uint8))


_SOFT3 = ImageFilter.Kernel((3, 3), (1, 2, 1, 2, 4, 2, 1, 2, 1), 16)


def _soften(im: Image.Image, radius: float) -> Image.Image:
    """Approximate Gaussian blur: a 3x3 kernel for small radii, else box-down / bilinear-up."""
    if radius <= 0.3:
        return im
    if radius <= 1.5:
        return im.filter(_SOFT3)
    k = max(2, int(round(radius * 1.5)))
    w, h = im.size
    small = im.reduce(k) if min(w, h) >= 2 * k else im.resize((1, 1), Image.BOX)
    return small.resize((w, h), Image.BILINEAR)


def _blur(a: np.ndarray, radius: float) -> np.ndarray:
    """Blur a float field in [0, 1] (through an 8-bit PIL image: fast, and enough here)."""
    if radius <= 0.3:
        return a
    return np.asarray(_soften(_to_l(a), radius), dtype=np.float32) * np.float32(1 / 255)


def _blur_l(im: Image.Image, radius: float) -> np.ndarray:
    return np.asarray(_soften(im, radius), dtype=np.float32) * np.float32(1 / 255)


def _down2(a: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks (the anti-aliasing downsample)."""
    return (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) * 0.25


def _flat(pts: np.ndarray) -> list[float]:
    return pts.astype(np.float64).ravel().tolist()


# ----------------------------------------------------------------------------- the surface


def _resize_f(a: np.ndarray, n: int, resample=Image.BICUBIC) -> np.ndarray:
    return np.asarray(Image.fromarray(a).resize((n, n), resample))


def _asphalt(rng: np.random.Generator, r: int, u: float) -> tuple[np.ndarray, dict]:
    """Asphalt: random base tone and tint, blotches, aggregate grains, pores and stones."""
    base = rng.uniform(80, 180)
    tint = rng.normal(0.0, 1.0, 3) + np.array([1.5, 0.5, -2.0]) * rng.uniform(-0.5, 1.5)
    coarse = rng.uniform(0.6, 1.5)  # how coarse the aggregate looks
    half = max(2, r // 2)
    q = max(2, r // 4)
    # low frequencies (blotches, stones) are built at r/4, grains at r/2, then one upsample
    low = (
        rng.uniform(2, 9) * _smooth(rng, q, 3)
        + rng.uniform(1, 5) * _smooth(rng, q, 9)
        + (rng.uniform(6, 14) * coarse) * rng.standard_normal((q, q), dtype=np.float32)
    )
    grain = rng.standard_normal((half, half), dtype=np.float32) * np.float32(
        rng.uniform(9, 20) * coarse
    )
    # pores (dark) and bright stones, one grain cell each
    spots = rng.random((half, half), dtype=np.float32)
    p_dark, p_bright = rng.uniform(0.03, 0.12), rng.uniform(0.01, 0.06)
    amp = 13.0 * coarse
    grain[spots < p_dark] -= rng.uniform(1.5, 3.0) * amp
    grain[spots > 1 - p_bright] += rng.uniform(1.5, 2.5) * amp
    grain += _resize_f(low.astype(np.float32), half)
    lum = rng.random((r, r), dtype=np.float32)  # fine uniform noise with std 4..10
    lum -= 0.5
    lum *= np.float32(rng.uniform(3, 8) * 3.46)
    lum += _resize_f(grain, r, Image.BILINEAR)
    img = lum[:, :, None] + (tint + base).astype(np.float32)[None, None, :]
    # a little colour variation between stones
    chroma = rng.standard_normal((half, half, 3), dtype=np.float32) * rng.uniform(0.3, 1.2)
    img.reshape(half, 2, half, 2, 3)[:] += chroma[:, None, :, None, :]
    return img, {"base_tone": round(float(base), 1), "coarseness": round(float(coarse), 2)}


# ----------------------------------------------------------------------------- cracks


def _walk(
    rng: np.random.Generator,
    start: np.ndarray,
    angle: float,
    length: float,
    step: float,
    wander: float,
    revert: float,
    zigzag: float,
) -> tuple[np.ndarray, np.ndarray]:
    """A meandering polyline: angle = base + AR(1) deviation + per-step zig-zag."""
    n = max(2, int(length / step))
    e = rng.normal(0.0, wander, n)
    dev = lfilter([1.0], [1.0, -(1.0 - revert)], e)
    ang = angle + dev + rng.normal(0.0, zigzag, n)
    steps = np.stack([np.cos(ang), np.sin(ang)], axis=1) * step
    pts = np.empty((n + 1, 2))
    pts[0] = start
    pts[1:] = start + np.cumsum(steps, axis=0)
    return pts, ang


def _widths(rng: np.random.Generator, n: int, w0: float, taper_start: bool, taper_end: bool):
    t = np.linspace(0.0, 1.0, n)
    w = w0 * np.exp(lfilter([1.0], [1.0, -0.9], rng.normal(0, 0.08, n)))
    if taper_start:
        w *= np.clip(t * 5, 0.25, 1.0)
    if taper_end:
        w *= np.clip((1 - t) * 5, 0.25, 1.0)
    return w


def _draw_polyline(draw: ImageDraw.ImageDraw, pts: np.ndarray, widths: np.ndarray, chunk=6):
    """Draw a polyline whose width varies along it (in chunks of a few points)."""
    n = len(pts)
    starts = range(0, n - 1, chunk)
    wch = np.add.reduceat(widths, list(starts)) / np.diff([*starts, n])
    flat = pts.ravel().tolist()
    for i, w in zip(starts, wch.tolist(), strict=True):
        wi = max(1, int(round(w)))
        seg = flat[2 * i : 2 * (i + chunk + 1)]
        draw.line(seg, fill=255, width=wi, joint="curve" if wi >= 4 else None)


def _linear_crack(
    rng: np.random.Generator, draw: ImageDraw.ImageDraw, r: int, u: float, along: float, w0: float
) -> dict:
    """One longitudinal (along = pi/2) or transverse (along = 0) crack with branches."""
    if rng.random() < 0.5:
        along += np.pi  # either direction of travel
    angle = along + rng.uniform(-0.35, 0.35)
    full = rng.random() < 0.75  # crosses the whole patch, or starts and ends inside it
    d = np.array([np.cos(angle), np.sin(angle)])
    centre = np.array([r / 2, r / 2]) + rng.uniform(-0.3, 0.3, 2) * r
    if full:
        length = rng.uniform(1.3, 1.6) * r
    else:
        length = rng.uniform(0.45, 0.9) * r
    start = centre - d * length / 2
    step = 3.0 * u
    pts, ang = _walk(
        rng,
        start,
        angle,
        length,
        step,
        rng.uniform(0.08, 0.25),
        rng.uniform(0.05, 0.25),
        rng.uniform(0.15, 0.45),
    )
    pts += rng.normal(0, 0.5 * u, pts.shape)
    _draw_polyline(draw, pts, _widths(rng, len(pts), w0, not full, not full))
    n_branch = int(rng.choice([0, 1, 1, 2, 2, 3, 4]))
    for _ in range(n_branch):
        k = int(rng.integers(len(ang) // 6, max(len(ang) // 6 + 1, 5 * len(ang) // 6)))
        side = 1 if rng.random() < 0.5 else -1
        b_ang = ang[k] + side * rng.uniform(0.45, 1.2)
        b_len = rng.uniform(0.07, 0.3) * r
        bpts, _ = _walk(rng, pts[k], b_ang, b_len, step, 0.25, 0.15, 0.35)
        _draw_polyline(draw, bpts, _widths(rng, len(bpts), w0 * rng.uniform(0.4, 0.8), False, True))
    return {"n_branches": n_branch, "full_length": bool(full)}


def _alligator(
    rng: np.random.Generator,
    draw: ImageDraw.ImageDraw,
    tone_draw: ImageDraw.ImageDraw,
    r: int,
    u: float,
    w0: float,
) -> dict:
    """Polygonal crack network (Voronoi cells, jagged edges) over an elliptic patch."""
    cells = rng.uniform(5.0, 11.0)  # cells across the image
    spacing = r / cells
    n = int(np.ceil(r / spacing)) + 3
    if rng.random() < 0.5:  # jittered grid: even blocks
        gx, gy = np.meshgrid(np.arange(n) - 1.0, np.arange(n) - 1.0)
        pts = np.stack([gx.ravel(), gy.ravel()], 1) * spacing
        pts += rng.uniform(-0.5, 0.5, pts.shape) * spacing
    else:  # uniform random points: blocks of very different sizes
        pts = rng.uniform(-1.0, n - 1.0, (n * n, 2)) * spacing
    vor = Voronoi(pts)
    verts = vor.vertices
    ridges = np.asarray(vor.ridge_vertices)
    ridges = ridges[(ridges >= 0).all(axis=1)]
    a, b = verts[ridges[:, 0]], verts[ridges[:, 1]]
    centre = np.array([r / 2, r / 2]) + rng.uniform(-0.2, 0.2, 2) * r
    radii = rng.uniform(0.3, 0.8, 2) * r
    mid = (a + b) / 2
    rho = np.sqrt((((mid - centre) / radii) ** 2).sum(1))
    keep = rho < 1.0 + rng.normal(0, 0.15, len(rho))
    keep &= rng.random(len(rho)) > rng.uniform(0.05, 0.25)  # some edges not cracked (yet)
    # stay within the canvas (with a margin) to save drawing time
    keep &= (np.minimum(a, b).min(1) > -0.1 * r) & (np.maximum(a, b).max(1) < 1.1 * r)
    n_drawn = 0
    for i in np.flatnonzero(keep):
        p, q = a[i], b[i]
        seg_len = float(np.hypot(*(q - p)))
        k = max(2, int(seg_len / (3.5 * u)))
        t = np.linspace(0, 1, k + 1)[:, None]
        line = p + (q - p) * t
        normal = np.array([-(q - p)[1], (q - p)[0]]) / max(seg_len, 1e-6)
        jit = rng.normal(0, 0.9 * u, k + 1)
        jit[0] = jit[-1] = 0
        line += normal * jit[:, None]
        w = max(1.0, w0 * rng.uniform(0.5, 1.1))
        draw.line(_flat(line), fill=255, width=max(1, int(round(w))))
        n_drawn += 1
    # slightly different tone per block (cells settle differently)
    if rng.random() < 0.6:
        amp = rng.uniform(3, 9)
        for pi in range(len(pts)):
            region = vor.regions[vor.point_region[pi]]
            if not region or -1 in region:
                continue
            if np.sqrt((((pts[pi] - centre) / radii) ** 2).sum()) > 1.0:
                continue
            poly = verts[region]
            tone_draw.polygon(_flat(poly), fill=int(128 + rng.normal(0, amp)))
    # pits where pieces broke out at some junctions
    n_pits = int(rng.integers(0, 6))
    for _ in range(n_pits):
        c = verts[ridges[int(rng.integers(len(ridges))), 0]]
        if np.sqrt((((c - centre) / radii) ** 2).sum()) > 0.9:
            continue
        rad = rng.uniform(1.5, 4.0) * u * max(1.0, w0 / (2 * u))
        draw.ellipse([c[0] - rad, c[1] - rad * 0.8, c[0] + rad, c[1] + rad * 0.8], fill=255)
    main = rng.random() < 0.4
    if main:  # a longitudinal crack the network grew from
        _linear_crack(rng, draw, r, u, np.pi / 2, w0 * 1.2)
    return {"cells_across": round(float(cells), 2), "n_edges": n_drawn, "with_main_crack": main}


# ----------------------------------------------------------------------------- markings


def _marking(
    rng: np.random.Generator,
    img: np.ndarray,
    r: int,
    u: float,
    coverage: float,
    ragged: float,
) -> tuple[np.ndarray, dict]:
    """Paint a lane marking in place; return the nominal outline minus remaining paint."""
    yy, xx = _grid(r)
    transverse = rng.random() < 0.3  # stop line / crossing bar instead of a lane line
    theta = (0.0 if transverse else np.pi / 2) + rng.uniform(-0.25, 0.25)
    # normal of the stripe = direction across it
    nx, ny = np.cos(theta + np.pi / 2), np.sin(theta + np.pi / 2)
    cx, cy = rng.uniform(0.2, 0.8) * r, rng.uniform(0.2, 0.8) * r
    d = (xx - cx) * nx + (yy - cy) * ny
    t = -(xx - cx) * ny + (yy - cy) * nx
    hw = rng.uniform(0.06, 0.2) * r
    wob = _smooth(rng, r, 7) * (0.01 * r)
    inside = np.abs(d) < hw + wob
    dashed = rng.random() < 0.45
    if dashed:  # a dash that ends inside the view
        t_end = rng.uniform(-0.25, 0.3) * r
        inside &= (t + wob * 2) * (1 if rng.random() < 0.5 else -1) < t_end
    # erosion field: several scales built at r/4, one upsample, plus fine uniform noise
    q = max(2, r // 4)
    low = (
        _smooth(rng, q, 3)
        + 0.6 * _smooth(rng, q, 8)
        + 0.5 * _smooth(rng, q, r // 10)
        + 0.35 * rng.standard_normal((q, q), dtype=np.float32)
    )
    cov = rng.random((r, r), dtype=np.float32)
    cov -= 0.5
    cov *= np.float32(0.87)  # std 0.25
    cov += _resize_f(low.astype(np.float32), r)
    dn = np.square(d / hw)
    cov -= ragged * np.square(dn)  # edges wear first
    lum0 = img[:, :, 1]
    cov += 0.015 * (lum0 - float(lum0.mean()))  # paint stays on the stones, not in the pores
    vals = cov[inside]
    if vals.size == 0:
        return np.zeros((r, r), bool), {}
    thr = np.quantile(vals[:: max(1, vals.size // 4000)], 1.0 - coverage)
    paint = inside & (cov > thr)
    yellow = rng.random() < 0.25
    if yellow:
        colour = np.array([228, 186, 62]) * rng.uniform(0.8, 1.05)
    else:
        colour = np.full(3, rng.uniform(195, 245)) + rng.normal(0, 2, 3)
    colour = colour.astype(np.float32)
    opacity = rng.uniform(0.75, 0.98)
    residue = rng.uniform(0.05, 0.3)  # worn paint leaves a faint ghost of the stripe
    cover = inside.astype(np.float32) * np.float32(residue)
    cover[paint] = 1.0
    alpha = _blur(cover, 0.4 * u) * opacity
    # dirt on the paint, and asphalt grains showing through
    dirt = 1.0 - np.float32(rng.uniform(0.04, 0.16)) * np.abs(_smooth(rng, r, 10))
    through = 0.82 + (0.18 / max(float(lum0.mean()), 1.0)) * lum0
    shade = (dirt * through * alpha)[:, :, None]
    img *= (1.0 - alpha)[:, :, None]
    img += colour[None, None, :] * shade
    meta = {
        "colour": "yellow" if yellow else "white",
        "dashed": bool(dashed),
        "transverse": bool(transverse),
        "coverage": round(float(coverage), 2),
    }
    return inside & ~paint, meta


# ----------------------------------------------------------------------------- distractors


def _oil(rng, img, r, u):
    lay = Image.new("L", (r, r), 0)
    dr = ImageDraw.Draw(lay)
    c = rng.uniform(0.1, 0.9, 2) * r
    for _ in range(int(rng.integers(1, 4))):
        rx, ry = rng.uniform(0.04, 0.16, 2) * r
        o = c + rng.normal(0, 0.05 * r, 2)
        dr.ellipse([o[0] - rx, o[1] - ry, o[0] + rx, o[1] + ry], fill=255)
    a = _blur_l(lay, rng.uniform(3, 9) * u) * rng.uniform(0.15, 0.45)
    brown = np.array([1.0, 1.03, 1.08], np.float32)  # darkens blue most: brownish
    img *= 1.0 - a[:, :, None] * brown[None, None, :]


def _patch_repair(rng, img, r, u):
    lay = Image.new("L", (r, r), 0)
    dr = ImageDraw.Draw(lay)
    c = rng.uniform(0.1, 0.9, 2) * r
    hx, hy = rng.uniform(0.12, 0.4, 2) * r
    rot = rng.uniform(-0.2, 0.2)
    corners = np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])
    corners += rng.normal(0, 0.015 * r, corners.shape)
    rm = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]])
    poly = corners @ rm.T + c
    dr.polygon(_flat(poly), fill=255)
    a = _blur_l(lay, 0.6 * u)[:, :, None]
    smooth_img = np.asarray(
        _soften(Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)), 1.2 * u),
        dtype=np.float32,
    )
    shift = rng.uniform(-45, 15)
    patched = 0.55 * smooth_img + 0.45 * img + shift
    img *= 1.0 - a
    img += patched * a
    if rng.random() < 0.5:  # a sealed seam along the edge
        seam = Image.new("L", (r, r), 0)
        ImageDraw.Draw(seam).line(
            _flat(np.vstack([poly, poly[:1]])),
            fill=255,
            width=max(1, int(round(rng.uniform(1.5, 4) * u))),
        )
        s = _blur_l(seam, 1.0 * u) * rng.uniform(0.2, 0.45)
        img *= 1.0 - s[:, :, None]


def _shadow(rng, img, r, u):
    lay = Image.new("L", (r, r), 0)
    dr = ImageDraw.Draw(lay)
    if rng.random() < 0.5:  # pole / sign shadow: a long band
        ang = rng.uniform(0, np.pi)
        c = rng.uniform(0.2, 0.8, 2) * r
        d = np.array([np.cos(ang), np.sin(ang)]) * r
        dr.line(_flat(np.array([c - d, c + d])), fill=255, width=int(rng.uniform(0.05, 0.2) * r))
    else:  # foliage / vehicle: blobby polygon entering from an edge
        n = int(rng.integers(6, 12))
        c = rng.uniform(-0.1, 1.1, 2) * r
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.2, 0.6) * r * rng.uniform(0.6, 1.3, n)
        poly = c + np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1)
        dr.polygon(_flat(poly), fill=255)
    a = _blur_l(lay, rng.uniform(1.5, 7) * u) * rng.uniform(0.25, 0.55)
    blue = np.array([1.0, 0.97, 0.88], np.float32)  # shadows are lit by the sky: less red
    img *= 1.0 - a[:, :, None] * blue[None, None, :]


# ----------------------------------------------------------------------------- conditions


def _homography(src: np.ndarray, dst: np.ndarray) -> tuple[float, ...]:
    """PIL PERSPECTIVE coefficients mapping output points ``dst`` to input points ``src``."""
    rows, rhs = [], []
    for (x, y), (sx, sy) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -sx * x, -sx * y])
        rows.append([0, 0, 0, x, y, 1, -sy * x, -sy * y])
        rhs.extend([sx, sy])
    coef = np.linalg.solve(np.asarray(rows, float), np.asarray(rhs, float))
    return tuple(float(c) for c in coef)


def _oblique_coeffs(rng: np.random.Generator, r: int, strength: float) -> tuple[float, ...]:
    """Look forward along the road: the far (top) edge covers more ground than the near one."""
    s = strength * rng.uniform(0.6, 1.0)  # how much the near edge is narrower
    shift = rng.uniform(-0.9, 0.9) * s * r
    roll = rng.uniform(-0.05, 0.05) * r
    src = np.array(
        [
            [0.0, max(0.0, roll)],
            [r, max(0.0, -roll)],
            [r * (1 - s) + shift, r],
            [r * s + shift, r],
        ]
    )
    dst = np.array([[0.0, 0.0], [r, 0.0], [r, r], [0.0, r]])
    return _homography(src, dst)


def _night(rng, img, r, u, meta):
    yy, xx = _grid(r)
    cx = r * (0.5 + rng.normal(0, 0.15))
    cy = r * rng.uniform(0.8, 1.3)
    sx, sy = r * rng.uniform(0.45, 0.9), r * rng.uniform(0.7, 1.3)
    ambient = rng.uniform(0.18, 0.4)
    beam = np.exp(-(((xx - cx) / sx) ** 2) - ((yy - cy) / sy) ** 2)
    light = ambient + (1 - ambient) * beam
    gain = rng.uniform(0.55, 1.0)
    lamp = rng.choice(["sodium", "led", "halogen"])
    tint = {"sodium": (1.05, 0.82, 0.52), "led": (0.92, 0.97, 1.06), "halogen": (1.0, 0.93, 0.8)}
    img *= (light * gain)[:, :, None] * np.asarray(tint[lamp], np.float32)[None, None, :]
    meta.update(lamp=str(lamp), noise=round(float(rng.uniform(2.0, 5.0)), 2))


def _rain(rng, img, r, u, meta):
    wet = rng.uniform(0.5, 0.75)
    lum = img.mean(axis=2, keepdims=True)
    img[:] = (lum + (img - lum) * 1.1) * wet  # wet surfaces: darker, a little more saturated
    yy, xx = _grid(r)
    # puddles: smooth regions with a mirrored, blurred sky and fewer visible grains
    q = max(2, r // 8)
    field = _resize_f((_smooth(rng, q, 4) + 0.5 * _smooth(rng, q, 9)).astype(np.float32), r)
    area = rng.uniform(0.0, 0.45)
    thr = np.quantile(field[::4, ::4], 1 - area) if area > 0.02 else np.inf
    puddle = _blur((field > thr).astype(np.float32), 2.5 * u)
    sky = rng.uniform(10, 45) * (1.15 - yy / r)  # brighter towards the far edge
    blurred = np.asarray(
        _soften(Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)), 2.0 * u),
        dtype=np.float32,
    )
    pm = puddle[:, :, None]
    img[:] = img * (1 - pm) + (0.6 * blurred + sky[:, :, None]) * pm
    # specular streaks: reflections of lamps / bright sky stretched along the viewing direction
    lay = Image.new("L", (r, r), 0)
    dr = ImageDraw.Draw(lay)
    n_streaks = int(rng.integers(1, 6))
    for _ in range(n_streaks):
        x = rng.uniform(0, r)
        y0, y1 = sorted(rng.uniform(-0.2, 1.2, 2) * r)
        w = rng.uniform(0.01, 0.06) * r
        dr.ellipse([x - w, y0, x + w, max(y1, y0 + 0.2 * r)], fill=int(rng.uniform(120, 255)))
    spec = _blur_l(lay, rng.uniform(3, 8) * u) * rng.uniform(40, 120)
    colour = np.array([1.0, 0.95, 0.85] if rng.random() < 0.5 else [1.0, 1.0, 1.0], np.float32)
    img += spec[:, :, None] * colour[None, None, :]
    # drops / ripples and falling rain
    lay = Image.new("L", (r, r), 0)
    dr = ImageDraw.Draw(lay)
    n_drops = int(rng.integers(10, 60))
    for _ in range(n_drops):
        c = rng.uniform(0, r, 2)
        rad = rng.uniform(0.5, 3.0) * u
        dr.ellipse(
            [c[0] - rad, c[1] - rad, c[0] + rad, c[1] + rad],
            outline=int(rng.uniform(100, 255)),
            width=max(1, int(u)),
        )
    slant = rng.uniform(-0.4, 0.4)
    n_rain = int(rng.integers(5, 35))
    for _ in range(n_rain):
        c = rng.uniform(0, r, 2)
        ln = rng.uniform(0.05, 0.2) * r
        dr.line([c[0], c[1], c[0] + slant * ln, c[1] + ln], fill=int(rng.uniform(60, 160)), width=1)
    drops = _blur_l(lay, 0.5 * u) * rng.uniform(25, 60)
    img += drops[:, :, None]
    meta.update(puddle_area=round(float(area), 2), n_streaks=n_streaks)


# ----------------------------------------------------------------------------- the sample


def generate_sample(cls: str, condition: str, size: int = 96, seed: int = 0) -> Sample:
    """Render one road-surface sample (Chapter 01_dataset).

    ``cls`` is one of :data:`CLASSES_5` or ``"crack"`` (a random longitudinal, transverse or
    alligator crack, for the binary and segmentation chapters); ``condition`` one of
    :data:`CONDITIONS`; ``size`` the side in pixels (even, 32..1024); ``seed`` fixes everything.
    """
    if cls not in _ALL_CLASSES:
        raise ValueError(f"unknown class {cls!r}; expected one of {_ALL_CLASSES}")
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; expected one of {CONDITIONS}")
    size = int(size)
    if size < 16 or size > 2048:
        raise ValueError(f"size must be in 16..2048, got {size}")
    rng = np.random.default_rng(seed)
    out = size
    r = 2 * out
    u = r / 192.0  # unit length: parameters are tuned for 96 px images
    meta: dict[str, Any] = {"class": cls, "condition": condition, "size": out, "seed": int(seed)}
    kind = cls
    if cls == "crack":
        kind = str(rng.choice(CRACK_TYPES))
        meta["crack_type"] = kind
    meta["mask_meaning"] = MASK_MEANING[cls]

    img, surf = _asphalt(rng, r, u)
    meta.update(surf)

    distractors: list[str] = []
    # distractors under the distress: patch repairs and oil
    if rng.random() < 0.25:
        _patch_repair(rng, img, r, u)
        distractors.append("patch_repair")
    if rng.random() < 0.3:
        _oil(rng, img, r, u)
        distractors.append("oil_stain")

    distress = np.zeros((r, r), bool)
    crack_layer = Image.new("L", (r, r), 0)
    draw = ImageDraw.Draw(crack_layer)
    tone_layer = Image.new("L", (r, r), 128)
    w0 = float(np.clip(rng.lognormal(np.log(2.6), 0.35), 1.2, 6.5)) * u
    contrast = rng.uniform(0.45, 0.9)
    if condition in ("rain", "night"):
        contrast = min(0.95, contrast * 1.15)  # water in the cracks / grazing headlight
    if kind == "longitudinal":
        meta.update(_linear_crack(rng, draw, r, u, np.pi / 2, w0))
        if rng.random() < 0.25:
            _linear_crack(rng, draw, r, u, np.pi / 2, w0 * rng.uniform(0.5, 0.9))
            meta["second_crack"] = True
    elif kind == "transverse":
        meta.update(_linear_crack(rng, draw, r, u, 0.0, w0))
        if rng.random() < 0.25:
            _linear_crack(rng, draw, r, u, 0.0, w0 * rng.uniform(0.5, 0.9))
            meta["second_crack"] = True
    elif kind == "alligator":
        w0 = max(w0 * rng.uniform(0.55, 0.9), 1.4 * u)
        contrast *= rng.uniform(0.75, 1.0)
        meta.update(_alligator(rng, draw, ImageDraw.Draw(tone_layer), r, u, w0))
    meta["crack_width_px"] = round(float(w0 / 2), 2)  # at the output resolution
    meta["crack_contrast"] = round(float(contrast), 2)

    # markings: the distress itself, or an intact one as a distractor
    if kind == "broken_marking":
        distress, mmeta = _marking(rng, img, r, u, rng.uniform(0.3, 0.75), rng.uniform(0.5, 1.5))
        meta["marking"] = mmeta
        if rng.random() < 0.15:  # a second, also worn, marking
            d2, _ = _marking(rng, img, r, u, rng.uniform(0.3, 0.8), 1.0)
            distress |= d2
    elif rng.random() < 0.35:
        _marking(rng, img, r, u, rng.uniform(0.96, 1.0), 0.05)
        distractors.append("lane_marking")

    # composite the cracks: dark core, soft darker halo, cell tones for alligator
    if kind in CRACK_TYPES:
        if tone_layer.getextrema() != (128, 128):  # alligator blocks of different tone
            img += (_blur_l(tone_layer, 0.8 * u) * 255.0 - 128.0)[:, :, None]
        core = _blur_l(crack_layer, 0.55 * u)
        halo = _blur_l(crack_layer, 2.5 * u) * rng.uniform(0.05, 0.2)
        dark = 1.0 - np.clip(contrast * core + halo, 0.0, 0.95)
        img *= dark[:, :, None]
        crack_bool = np.asarray(crack_layer) > 127
    else:
        crack_bool = np.zeros((r, r), bool)

    if rng.random() < 0.3:
        _shadow(rng, img, r, u)
        distractors.append("shadow")
    meta["distractors"] = distractors

    # camera: white balance, exposure, gamma
    # white balance: mostly along the warm-cool axis, as real photos vary
    axis = np.array([1.0, 0.2, -1.0]) * rng.normal(0.0, 0.025)
    wb = np.exp(axis + rng.normal(0.0, 0.006, 3)).astype(np.float32)
    expo = rng.uniform(0.85, 1.2)
    img *= (wb * expo)[None, None, :]
    np.clip(img, 0, 255, out=img)
    gamma = rng.uniform(0.85, 1.15)

    # view geometry: oblique for "oblique", sometimes a milder one for rain / night
    mask_l = crack_bool if kind in CRACK_TYPES else distress
    warp = None
    if condition == "oblique":
        warp = _oblique_coeffs(rng, r, 0.32)
    elif condition in ("rain", "night") and rng.random() < 0.4:
        warp = _oblique_coeffs(rng, r, 0.15)
    if warp is not None:
        im8 = Image.fromarray(img.astype(np.uint8))
        im8 = im8.transform((r, r), Image.PERSPECTIVE, warp, Image.BILINEAR)
        img = np.asarray(im8, dtype=np.float32).copy()
        if mask_l.any():
            ml = Image.fromarray(mask_l.astype(np.uint8) * np.uint8(255))
            ml = ml.transform((r, r), Image.PERSPECTIVE, warp, Image.BILINEAR)
            mask_l = np.asarray(ml) > 127
        yy, _ = _grid(r)
        haze = 0.18 * (1.0 - yy / r) ** 2 * rng.uniform(0.3, 1.0)
        img = img * (1 - haze[:, :, None]) + float(img.mean()) * haze[:, :, None]
    meta["view"] = "oblique" if warp is not None else "top-down"

    if condition == "rain":
        _rain(rng, img, r, u, meta)
    elif condition == "night":
        _night(rng, img, r, u, meta)

    # down to the output size, then sensor noise
    small = _down2(img)
    np.clip(small, 0, 255, out=small)
    lut = 255.0 * np.linspace(0.0, 1.0, 1021, dtype=np.float32) ** np.float32(gamma)
    small = lut[(small * 4.0).astype(np.int32)]  # camera gamma, to a quarter level
    sigma = np.float32(meta.get("noise", rng.uniform(0.8, 2.5)))
    small += rng.standard_normal((out, out, 1), dtype=np.float32) * sigma
    small += rng.standard_normal((out, out, 3), dtype=np.float32) * (sigma * np.float32(0.5))
    image = np.clip(small + 0.5, 0, 255).astype(np.uint8)
    m8 = mask_l.view(np.uint8)  # distress pixels per 2x2 block: 0..4
    count = m8[0::2, 0::2] + m8[1::2, 0::2] + m8[0::2, 1::2] + m8[1::2, 1::2]
    mask = (count >= (1 if kind in CRACK_TYPES else 2)).astype(np.uint8)
    meta["mask_fraction"] = round(float(mask.mean()), 5)
    return Sample(image=image, mask=mask, meta=meta)


# ----------------------------------------------------------------------------- data sets


def sample_seed(seed: int, split: str, cls: str, index: int) -> int:
    """The seed of one sample of a generated data set (Chapter 01_dataset).

    Derived from ``(seed, split, cls, index)`` by SHA-256, so it does not depend on the order
    of generation and one sample can be regenerated alone.
    """
    h = hashlib.sha256(f"roadlite|{int(seed)}|{split}|{cls}|{int(index)}".encode()).digest()
    return int.from_bytes(h[:8], "little") >> 1




def generate_dataset(
    out_dir: str | os.PathLike,
    classes: tuple[str, ...] | list[str] = CLASSES_4,
    conditions: tuple[str, ...] | list[str] = CONDITIONS,
    n_per_class: dict[str, int] | None = None,
    size: int = 96,
    seed: int = 0,
    progress: bool = True,
):
    """Write a generated ImageFolder data set and its manifest (Chapter 01_dataset).

    Layout: ``out_dir/<split>/<class>/<id>.png`` and ``out_dir/masks/<split>/<class>/<id>.png``
    (8-bit masks, 255 = distress), plus ``out_dir/manifest.csv``. ``n_per_class`` maps a split
    name to the number of images per class, e.g. ``{"train": 200, "val": 50, "test": 50}``.
    Conditions cycle with the index, so they are balanced within each class and split. Returns
    the manifest as a DataFrame (absolute paths).
    """
    from tqdm import tqdm

    if n_per_class is None:
        n_per_class = {"train": 100, "val": 25, "test": 25}
    for c in classes:
        if c not in _ALL_CLASSES:
            raise ValueError(f"unknown class {c!r}; expected one of {_ALL_CLASSES}")
    for c in conditions:
        if c not in CONDITIONS:
            raise ValueError(f"unknown condition {c!r}; expected one of {CONDITIONS}")
    out = Path(out_dir).resolve()
    jobs = [
        (split, cls, i)
        for split, n in n_per_class.items()
        for cls in classes
        for i in range(int(n))
    ]
    records = []
    for split, cls, i in tqdm(jobs, desc=f"generating {out.name}", disable=not progress):
        cond = conditions[i % len(conditions)]
        s = generate_sample(cls, cond, size, sample_seed(seed, split, cls, i))
        name = f"{split}_{i:05d}_{cond}.png"
        img_path = out / split / cls / name
        mask_path = out / "masks" / split / cls / name
        data = png_bytes(s.image, compress_level=4)
        atomic_write_bytes(img_path, data, fsync=False)
        atomic_write_bytes(mask_path, png_bytes(s.mask * np.uint8(255), compress_level=4), fsync=False)
        records.append(
            {
                "path": str(img_path),
                "mask_path": str(mask_path),
                "class": cls,
                "condition": cond,
                "split": split,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    df = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    write_manifest(df, out / "manifest.csv")
    return df
