"""The dynamic morphological iteration algorithm (DMIA): a boundary map from a crack mask
(Chapter 11_crack_segmentation; LR-CrackNet §III-C).

Erode the mask with a small elliptical structuring element (OpenCV's 3x3 ellipse) until nothing
is left; the number of erosions ``n`` measures the crack's half-width. The radius is
``r = max(1, round(factor * n))`` -- the paper determines the radius from ``n`` "through
proportional scaling" without giving the factor; the book uses ``factor = 1`` (parameter ``dmia_factor``). Dilate the mask with a diamond
(the Manhattan ball ``|dy| + |dx| <= r``, :func:`diamond`) and subtract the mask: a band of width ``r``
around the crack, wider around wider cracks. An empty mask gives an empty boundary.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

ELLIPSE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


def diamond(r: int) -> np.ndarray:
    """The diamond structuring element of radius ``r``: uint8 [2r+1, 2r+1], 1 where
    ``|dy| + |dx| <= r`` (the same as scikit-image's ``morphology.diamond``)."""
    d = np.abs(np.arange(-r, r + 1))
    return ((d[:, None] + d[None, :]) <= r).astype(np.uint8)


def erosion_count(mask: np.ndarray, max_iter: int = 64) -> int:
    """How many erosions with the 3x3 ellipse it takes until ``mask`` is empty (0 for an
    empty mask; at most ``max_iter``)."""
    m = (np.asarray(mask) > 0).astype(np.uint8)
    n = 0
    while m.any() and n < max_iter:
        m = cv2.erode(m, ELLIPSE, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        n += 1
    return n


def dmia_radius(mask: np.ndarray, factor: float = 1.0, max_iter: int = 64) -> int:
    """The diamond's radius: ``max(1, round(factor * erosions))``; 0 for an empty mask."""
    if factor <= 0:
        raise ValueError(f"dmia factor must be > 0, got {factor}")
    n = erosion_count(mask, max_iter)
    return 0 if n == 0 else max(1, int(round(factor * n)))


def dmia_boundary(mask: np.ndarray, factor: float = 1.0, max_iter: int = 64) -> np.ndarray:
    """The boundary map (uint8 {0, 1}, same shape) of a binary ``mask`` [H, W]."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"dmia_boundary expects one 2-D mask, got shape {m.shape}")
    m = (m > 0).astype(np.uint8)
    r = dmia_radius(m, factor, max_iter)
    if r == 0:
        return np.zeros_like(m)
    dil = cv2.dilate(m, diamond(r), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return dil - m


def dmia_batch(masks: torch.Tensor, factor: float = 1.0) -> torch.Tensor:
    """Boundary maps of uint8 masks ``[N, 1, H, W]`` -> uint8 ``[N, 1, H, W]``."""
    out = np.stack([dmia_boundary(m[0], factor) for m in masks.cpu().numpy()])[:, None]
    return torch.from_numpy(out)
