"""Tiles of a whole photo at a model's input size, and the stitched full-resolution mask
(Chapter 12_field_test).

A photo of any size is cut into square tiles of side ``tile`` whose top-left corners step by
``tile - overlap``; the last row and column are moved back to end exactly at the photo's edge,
so every pixel is covered and no tile is padded (a photo smaller than one tile is padded by
reflection and cropped back). :func:`stitch` averages the tiles' probabilities where they
overlap; pixels that no *processed* tile covers (the gate skipped them) get 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """Where the tiles of one photo lie: ``positions`` are (top, left) corners."""

    height: int
    width: int
    tile: int
    overlap: int
    positions: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def padded_hw(self) -> tuple[int, int]:
        return max(self.height, self.tile), max(self.width, self.tile)


def _starts(n: int, tile: int, stride: int) -> list[int]:
    if n <= tile:
        return [0]
    starts = list(range(0, n - tile + 1, stride))
    if starts[-1] != n - tile:
        starts.append(n - tile)
    return starts


def tile_grid(height: int, width: int, tile: int, overlap: int) -> Grid:
    """The grid of ``tile`` x ``tile`` tiles over a ``height`` x ``width`` photo with at least
    ``overlap`` pixels shared by neighbouring tiles."""
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must lie in [0, tile) = [0, {tile}), got {overlap}")
    if height < 1 or width < 1:
        raise ValueError(f"empty photo ({height} x {width})")
    stride = tile - overlap
    pos = tuple((y, x) for y in _starts(height, tile, stride) for x in _starts(width, tile, stride))
    return Grid(int(height), int(width), int(tile), int(overlap), pos)


def _pad(image: np.ndarray, tile: int) -> np.ndarray:
    h, w = image.shape[:2]
    if h >= tile and w >= tile:
        return image
    pad = [(0, max(0, tile - h)), (0, max(0, tile - w))] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, pad, mode="reflect" if min(h, w) > 1 else "edge")


def cut_tiles(image: np.ndarray, grid: Grid) -> np.ndarray:
    """The tiles of ``image`` [H, W, ...] on ``grid``: [N, tile, tile, ...] (a copy)."""
    if image.shape[:2] != (grid.height, grid.width):
        raise ValueError(f"image of shape {image.shape[:2]} does not match the grid's "
                         f"{(grid.height, grid.width)}")
    padded = _pad(image, grid.tile)
    t = grid.tile
    return np.stack([padded[y:y + t, x:x + t] for y, x in grid.positions])


def stitch(probs: np.ndarray, grid: Grid, which: Sequence[int] | np.ndarray | None = None
           ) -> np.ndarray:
    """A full-resolution [H, W] float32 map from tile maps ``probs`` [N, tile, tile]: the mean
    of the tiles that cover each pixel. ``which`` (indices into the grid) says which tiles
    ``probs`` holds (default: all, in the grid's order); pixels covered by none are 0."""
    idx = np.arange(len(grid)) if which is None else np.asarray(which, dtype=int)
    probs = np.asarray(probs, dtype=np.float32)
    if probs.shape[0] != len(idx) or probs.shape[1:] != (grid.tile, grid.tile):
        raise ValueError(f"probs of shape {probs.shape} do not match {len(idx)} tiles of "
                         f"{grid.tile} x {grid.tile}")
    ph, pw = grid.padded_hw
    total = np.zeros((ph, pw), np.float32)
    count = np.zeros((ph, pw), np.float32)
    t = grid.tile
    for p, i in zip(probs, idx, strict=True):
        y, x = grid.positions[i]
        total[y:y + t, x:x + t] += p
        count[y:y + t, x:x + t] += 1
    out = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return out[:grid.height, :grid.width]


def coverage(grid: Grid, which: Sequence[int] | np.ndarray) -> np.ndarray:
    """Boolean [H, W]: the pixels that the tiles ``which`` cover."""
    ph, pw = grid.padded_hw
    cov = np.zeros((ph, pw), bool)
    t = grid.tile
    for i in np.asarray(which, dtype=int):
        y, x = grid.positions[i]
        cov[y:y + t, x:x + t] = True
    return cov[:grid.height, :grid.width]
