"""Crack / no-crack patches cut from the masks of the segmentation sets DeepCrack and CFD
(Chapter 10_crack_classifier): how the classifier fares on other data (:func:`crack_patches`,
:func:`load_patch_sets`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from roadlite.data import (
    DataError,
    DataNotFoundError,
    crack_mask_set,
    resolve_data_root,
)
from roadlite.imaging import read_image

from .data import _resize_mask, read_mask_checked


@dataclass
class PatchSet:
    """Square patches cut from segmentation images: uint8 images [N, 3, P, P], bool masks
    [N, P, P], labels (1 = crack), and where each came from (data set, file, row, column)."""

    images: torch.Tensor
    masks: np.ndarray
    labels: torch.Tensor
    origin: pd.DataFrame

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: Sequence[int] | np.ndarray) -> PatchSet:
        idx = np.asarray(idx, dtype=np.int64)
        return PatchSet(self.images[torch.from_numpy(idx)], self.masks[idx],
                        self.labels[torch.from_numpy(idx)],
                        self.origin.iloc[idx].reset_index(drop=True))

    @staticmethod
    def concat(sets: Iterable[PatchSet]) -> PatchSet:
        sets = list(sets)
        return PatchSet(torch.cat([s.images for s in sets]),
                        np.concatenate([s.masks for s in sets]),
                        torch.cat([s.labels for s in sets]),
                        pd.concat([s.origin for s in sets], ignore_index=True))


def cut_patches(pairs: Iterable[tuple[str, str]], patch_size: int, dataset: str = "",
                min_crack_share: float = 0.005, margin: int = 8) -> PatchSet:
    """Tile each (image, mask) pair into non-overlapping ``patch_size`` squares and label them
    (Chapter 10_crack_classifier).

    A patch is ``crack`` when at least ``min_crack_share`` of its pixels are crack, ``intact``
    when no crack pixel lies in it nor within ``margin`` pixels around it; the patches in
    between (a few crack pixels, or a crack just outside the border) are left out as ambiguous.
    Images are converted to RGB; a mask of another size than its image is a :class:`DataError`.
    """
    imgs, masks, labels, origin = [], [], [], []
    p = int(patch_size)
    for img_path, mask_path in pairs:
        mask = read_mask_checked(img_path, mask_path)
        rgb = read_image(img_path)
        h, w = mask.shape
        for r in range(0, h - p + 1, p):
            for c in range(0, w - p + 1, p):
                m = mask[r:r + p, c:c + p]
                share = float(m.mean())
                if share >= min_crack_share:
                    label = 1
                else:
                    around = mask[max(0, r - margin):r + p + margin,
                                  max(0, c - margin):c + p + margin]
                    if around.any():
                        continue
                    label = 0
                imgs.append(rgb[r:r + p, c:c + p])
                masks.append(m)
                labels.append(label)
                origin.append({"dataset": dataset, "path": str(img_path), "row": r, "col": c,
                               "crack_share": share})
    if not imgs:
        return PatchSet(torch.empty(0, 3, p, p, dtype=torch.uint8), np.zeros((0, p, p), bool),
                        torch.empty(0, dtype=torch.int64),
                        pd.DataFrame(columns=["dataset", "path", "row", "col", "crack_share"]))
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()
    return PatchSet(x, np.stack(masks), torch.tensor(labels, dtype=torch.int64),
                    pd.DataFrame(origin))


def balance_patches(ps: PatchSet, max_per_class: int, seed: int = 0) -> PatchSet:
    """As many crack as intact patches, at most ``max_per_class`` each, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    y = ps.labels.numpy()
    n = min(int((y == 0).sum()), int((y == 1).sum()), int(max_per_class))
    idx = np.concatenate([np.sort(rng.permutation(np.flatnonzero(y == k))[:n]) for k in (0, 1)])
    return ps.subset(idx)


def segmentation_pairs(root: str | os.PathLike) -> tuple[str, list[tuple[str, str]]]:
    """(layout, [(image, mask), ...]) of a DeepCrack-style set (its test split) or of CFD (its
    labelled images), through :func:`roadlite.data.crack_mask_set` (Chapter 10_crack_classifier)."""
    layout, df = crack_mask_set(root)
    return layout, list(zip(df["path"], df["mask_path"], strict=True))


def crack_patches(root: str | os.PathLike, dataset: str, patch_size: int, img_size: int,
                  max_per_class: int, seed: int = 0, max_images: int | None = None
                  ) -> PatchSet:
    """Balanced crack / no-crack patches of a segmentation set, resized to ``img_size``
    (bilinear; masks nearest) for the classifier (Chapter 10_crack_classifier). With
    ``max_images``, only that many of the set's images (drawn from ``seed``) are cut. A set
    that gives no crack or no intact patch at ``patch_size`` is a :class:`DataError` naming
    ``patch_size``."""
    _, pairs = segmentation_pairs(root)
    if max_images is not None and len(pairs) > max_images:
        keep = np.sort(np.random.default_rng(seed).permutation(len(pairs))[:max_images])
        pairs = [pairs[i] for i in keep]
    cut = cut_patches(pairs, patch_size, dataset=dataset)
    ps = balance_patches(cut, max_per_class, seed)
    if not len(ps):  # an empty set would end in scikit-learn's "Found empty input array"
        n_crack = int(cut.labels.sum())
        raise DataError(
            f"{dataset or root}: no crack / no-crack patch pair at patch_size = {patch_size}: "
            f"its {len(pairs)} image(s) gave {n_crack} crack and {len(cut) - n_crack} intact "
            f"{patch_size} x {patch_size} tiles, and a patch set needs both. Lower patch_size "
            f"or leave {dataset or root} out of patch_datasets (chapter 10_crack_classifier).")
    if patch_size != img_size:
        imgs = [np.asarray(Image.fromarray(im).resize((img_size, img_size), Image.BILINEAR))
                for im in ps.images.permute(0, 2, 3, 1).numpy()]
        ps = PatchSet(torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous(),
                      np.stack([_resize_mask(m, img_size) for m in ps.masks]), ps.labels,
                      ps.origin)
    return ps


def load_patch_sets(names: Sequence[str], patch_size: int, img_size: int, max_per_class: int,
                    seed: int = 0, max_images: int | None = None
                    ) -> tuple[dict[str, PatchSet], dict[str, str]]:
    """Crack / no-crack patches of each segmentation set in ``names`` (folders or registered
    names such as ``deepcrack``, ``cfd``), and why a set was skipped (not found) (Chapter
    10_crack_classifier). A set that is found but broken raises."""
    sets, skipped = {}, {}
    for name in names:
        try:
            root = resolve_data_root(name)
        except DataNotFoundError as e:
            skipped[name] = str(e)
            continue
        label = Path(name).name
        sets[label] = crack_patches(root, label, patch_size, img_size, max_per_class, seed,
                                    max_images)
    return sets, skipped
