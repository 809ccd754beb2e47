"""The crack / no-crack task's data (Chapter 10_crack_classifier): the binary task from chapter
01's manifest (:func:`binary_manifest`), Özgenel's ``Positive/`` / ``Negative/`` folders with a
split that keeps duplicate pairs together (:func:`ozgenel_manifest`), masks, and the task in
memory (:func:`load_task`).

Label 1 is ``crack``, the positive class; label 0 is ``intact`` (no crack).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from roadlite.data import (
    CRACK_TYPES,
    DataError,
    load_split,
    pixel_key,
    read_manifest,
    resolve_data_root,
    scan_ozgenel,
    validate_manifest,
)
from roadlite.imaging import image_size, read_mask

CLASSES: tuple[str, str] = ("intact", "crack")  # label 1 = crack, the positive class


def binary_manifest(df: pd.DataFrame, seed: int = 0,
                    crack_classes: Sequence[str] = CRACK_TYPES + ("crack",)) -> pd.DataFrame:
    """Chapter 01's manifest as the crack / no-crack task (Chapter 10_crack_classifier).

    ``intact`` -> intact; the classes in ``crack_classes`` (the generator's longitudinal,
    transverse and alligator cracks, or a real set's ``crack``) -> crack; other classes (the
    broken markings, which are distress but not cracks) are left out. Each split is balanced,
    as Özgenel's set is: the larger class is subsampled (drawn from ``seed``, spread evenly over
    its source classes) to the size of the smaller one. The source class stays in
    ``source_class``.
    """
    if "class" not in df or "split" not in df:
        raise DataError("the manifest has no 'class' / 'split' columns")
    df = df.copy()
    df["source_class"] = df["class"]
    keep = df["class"].isin(("intact", *crack_classes))
    df = df[keep].copy()
    df["class"] = np.where(df["source_class"] == "intact", "intact", "crack")
    rng = np.random.default_rng(seed)
    parts = []
    for split in ("train", "val", "test"):
        part = df[df["split"] == split]
        counts = part["class"].value_counts()
        missing = [c for c in CLASSES if counts.get(c, 0) == 0]
        if missing:
            raise DataError(
                f"split {split!r} of the manifest has no {' and no '.join(missing)} image; the "
                f"crack / no-crack task needs both (chapter 01 with include_intact=true, or a "
                f"data_root with Positive/ and Negative/)")
        n = int(counts.min())
        for cls in CLASSES:
            rows = part[part["class"] == cls]
            parts.append(_spread_sample(rows, n, rng))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["split", "class", "path"], kind="stable").reset_index(drop=True)


def _spread_sample(rows: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """n rows, taken round-robin over ``source_class`` (each in a seeded random order)."""
    if len(rows) <= n:
        return rows
    groups = [g.iloc[rng.permutation(len(g))] for _, g in rows.groupby("source_class", sort=True)]
    picked, i = [], 0
    while len(picked) < n:
        for g in groups:
            if i < len(g) and len(picked) < n:
                picked.append(g.iloc[i])
        i += 1
    return pd.DataFrame(picked)


@dataclass
class OzgenelData:
    """Özgenel's set as a manifest, and the groups of identical images it holds."""

    manifest: pd.DataFrame
    duplicate_groups: list[list[str]] = field(default_factory=list)


def ozgenel_manifest(root: str | os.PathLike, seed: int = 0, val_frac: float = 0.1,
                     test_frac: float = 0.1) -> OzgenelData:
    """Özgenel's ``Positive/`` (crack) and ``Negative/`` (no crack) folders as the binary task
    (Chapter 10_crack_classifier).

    A folder without the two class folders, or with one of them holding no image, is a
    :class:`DataError` that names what was expected. The split (the paper's 80/10/10 by
    default) is drawn from ``seed``, stratified by class, and keeps every group of identical
    images (same decoded pixels: the set has byte-identical consecutive pairs) in one split, so
    no test image has its copy in training. Returns the manifest and those groups.
    """
    root = Path(root)
    expected = (f"expected {root}/Positive/ (crack images) and {root}/Negative/ (no-crack "
                f"images), each with png/jpg images: Özgenel's layout")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; {expected}")
    names = {d.name.lower(): d for d in root.iterdir() if d.is_dir()}
    for name in ("positive", "negative"):
        if name not in names:
            raise DataError(f"{root} has no {name.capitalize()}/ folder; {expected}")
    try:
        df = scan_ozgenel(root, seed=seed, val_frac=val_frac, test_frac=test_frac)
    except DataError as e:
        raise DataError(f"{e}\n{expected}") from e
    for cls in CLASSES:
        if not (df["class"] == cls).any():
            raise DataError(f"{root}: no {cls} image found; {expected}")
    keys = pd.Series([pixel_key(p) for p in df["path"]], index=df.index)
    groups = []
    for _, idx in keys.groupby(keys).groups.items():
        if len(idx) > 1:
            if df.loc[idx, "split"].nunique() != 1:  # the split must never separate copies
                raise DataError(f"identical images in two splits: {list(df.loc[idx, 'path'])}")
            groups.append(sorted(df.loc[idx, "path"]))
    df = df.copy()
    df["source_class"] = df["class"]
    return OzgenelData(df.reset_index(drop=True), sorted(groups))


def read_mask_checked(image_path: str | os.PathLike, mask_path: str | os.PathLike,
                      threshold: int | None = None) -> np.ndarray:
    """The crack mask of an image as bool [H, W], read by the book's one mask reader
    (:func:`roadlite.imaging.read_mask`, :data:`~roadlite.imaging.MASK_RULE`; ``threshold``
    replaces the rule); a mask whose size differs from its image's, or that is not binary, is
    a :class:`DataError` naming the files (Chapter 10_crack_classifier)."""
    return read_mask(mask_path, image_size=image_size(image_path), image_path=image_path,
                     threshold=threshold).astype(bool)


def _resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    if mask.shape == (size, size):
        return mask
    im = Image.fromarray(mask.astype(np.uint8) * 255).resize((size, size), Image.NEAREST)
    return np.asarray(im) > 127


def load_masks(df: pd.DataFrame, split: str, img_size: int) -> np.ndarray:
    """Masks bool [N, img_size, img_size] of a split's rows, in :func:`load_split`'s order
    (rows without a mask: all False). Sizes are checked against the images."""
    rows = df[df["split"] == split]
    out = np.zeros((len(rows), img_size, img_size), dtype=bool)
    for i, (path, mpath) in enumerate(zip(rows["path"], rows["mask_path"], strict=True)):
        if isinstance(mpath, str) and mpath:
            out[i] = _resize_mask(read_mask_checked(path, mpath), img_size)
    return out


def load_binary_split(df: pd.DataFrame, split: str, img_size: int, progress: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images [N, 3, H, W] (grayscale and RGBA converted to RGB) and labels (1 = crack)."""
    return load_split(df, split, img_size, list(CLASSES), progress=progress)


@dataclass
class BinaryTask:
    """The crack / no-crack task in memory: uint8 images and labels (1 = crack) per split, the
    test masks where the data has them, and the duplicate groups the split kept together."""

    source: str
    manifest: pd.DataFrame
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    test_masks: np.ndarray | None = None
    duplicate_groups: list[list[str]] = field(default_factory=list)

    def sizes(self) -> pd.DataFrame:
        """Images per split and class."""
        return pd.DataFrame({s: {c: int((getattr(self, s)[1] == i).sum())
                                 for i, c in enumerate(CLASSES)}
                             for s in ("train", "val", "test")}).T


def load_task(manifest_path: str | os.PathLike | None, data_root: str | None, img_size: int,
              seed: int = 0, val_frac: float = 0.1, test_frac: float = 0.1,
              progress: bool = False) -> BinaryTask:
    """The chapter's data (Chapter 10_crack_classifier): with ``data_root`` None, chapter 01's
    manifest (``manifest_path``) as :func:`binary_manifest` makes it; otherwise Özgenel's
    folders at ``data_root`` (a folder or a registered data set's name) as
    :func:`ozgenel_manifest` splits them."""
    groups: list[list[str]] = []
    if data_root is None:
        df = binary_manifest(read_manifest(manifest_path), seed=seed)
        source = f"chapter 01's manifest ({Path(manifest_path).parent.name})"
    else:
        root = resolve_data_root(data_root)
        oz = ozgenel_manifest(root, seed=seed, val_frac=val_frac, test_frac=test_frac)
        df, groups = validate_manifest(oz.manifest), oz.duplicate_groups  # chapter 01's checks
        source = f"Özgenel layout at {root}"
    splits = {s: load_binary_split(df, s, img_size, progress) for s in ("train", "val", "test")}
    test_rows = df[df["split"] == "test"]
    has_masks = bool(test_rows["mask_path"].fillna("").astype(str).str.len().gt(0).any())
    masks = load_masks(df, "test", img_size) if has_masks else None
    return BinaryTask(source, df, splits["train"], splits["val"], splits["test"], masks, groups)
