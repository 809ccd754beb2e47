"""The data of LR-CrackNet's chapter (Chapter 11_crack_segmentation).

Image / mask pairs from a manifest (chapter 01's generated set, whose crack classes have crack
masks, or a DeepCrack / CFD folder), decoded once, resized to ``img_size`` (bilinear for images,
nearest for masks) and held in memory with their DMIA boundary maps (:class:`SegData`,
:func:`load_segmentation_split`); the chapter's manifest and the paper's DeepCrack split
(:func:`segmentation_manifest`, :func:`deepcrack_split`). :mod:`.train` trains on them.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from roadlite.data.errors import DataError
from roadlite.data.locate import resolve_data_root
from roadlite.data.manifest import read_manifest
from roadlite.data.real import detect_layout, scan_dataset
from roadlite.data.validate import validate_manifest
from roadlite.imaging import image_hw, image_size, read_image, read_mask

from .dmia import dmia_boundary

# chapter 01's classes whose masks mark crack pixels (+ intact: empty masks, negatives)
CRACK_CLASSES = ("alligator", "longitudinal", "transverse", "crack")


@dataclass
class SegData:
    """One split in memory: images uint8 [N,3,H,W], masks and DMIA boundaries uint8 [N,1,H,W]."""

    x: torch.Tensor
    mask: torch.Tensor
    boundary: torch.Tensor
    paths: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.x)


def crack_rows(df: pd.DataFrame, include_intact: bool = True) -> pd.DataFrame:
    """The rows of a manifest whose masks are crack masks (and intact images, if asked)."""
    keep = CRACK_CLASSES + (("intact",) if include_intact else ())
    return df[df["class"].isin(keep)].reset_index(drop=True)


def _read_pair(path: str, mask_path: str, hw: tuple[int, int], grey_tolerance: float
               ) -> tuple[np.ndarray, np.ndarray]:
    if not mask_path:
        raise DataError(f"{path}: image without a mask (empty mask_path)")
    if not Path(mask_path).is_file():
        raise DataError(f"{path}: its mask {mask_path} does not exist")
    mask = read_mask(mask_path, hw, image_size=image_size(path), image_path=path,
                     grey_tolerance=grey_tolerance)
    return read_image(path, hw, reduce_jpeg=False), mask


def load_segmentation_split(df: pd.DataFrame, split: str, img_size: int | Sequence[int],
                            dmia_factor: float = 1.0, limit: int | None = None,
                            grey_tolerance: float = 0.02, progress: bool = False,
                            seed: int = 0) -> SegData:
    """Decode split ``split`` of a manifest with ``path`` / ``mask_path`` columns.

    Images and masks are read by the book's one reader (:func:`roadlite.imaging.read_image`,
    :func:`~roadlite.imaging.read_mask`, :data:`~roadlite.imaging.MASK_RULE`). Errors
    (:class:`DataError`) name the file: an image without a mask, a mask of another size than its
    image, a mask that is not binary (more than ``grey_tolerance`` of its pixels between 10 %
    and 90 % of its range), an image below the minimum size; an empty split names the split.
    ``limit`` keeps a random subset of that many rows (drawn from ``seed``, kept in manifest
    order), so that a manifest sorted by class still gives every class.
    """
    from tqdm import tqdm

    rows = df[df["split"] == split]
    if rows.empty:
        raise DataError(f"split {split!r} is empty (splits present: {sorted(set(df['split']))})")
    if limit is not None and limit < len(rows):
        rows = rows.sample(n=limit, random_state=seed).sort_index()
    hw = image_hw(img_size)
    xs, ms = [], []
    for p, mp in tqdm(zip(rows["path"], rows["mask_path"], strict=True), total=len(rows),
                      desc=f"loading {split}", disable=not progress):
        x, m = _read_pair(p, mp, hw, grey_tolerance)
        xs.append(x)
        ms.append(m)
    masks = np.stack(ms)[:, None]
    bounds = np.stack([dmia_boundary(m[0], dmia_factor) for m in masks])[:, None]
    return SegData(torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous(),
                   torch.from_numpy(masks), torch.from_numpy(bounds), list(rows["path"]))


def deepcrack_split(df: pd.DataFrame, seed: int = 0, n_val: int = 90) -> tuple[pd.DataFrame, list]:
    """The paper's DeepCrack split: ``n_val`` of the official training images to val (seeded),
    the rest train, test untouched. Then the data layer's duplicate check
    (:func:`roadlite.data.validate.validate_manifest`: exact and near duplicates across splits)
    finds the images train / val share with test -- DeepCrack's 10 shared pictures -- and the
    train / val copies leave training (the test split keeps its 237 images). Returns the manifest
    and the removed (train / val path, test twin) pairs."""
    df = df.copy().reset_index(drop=True)
    pool = df.index[df["split"].isin(("train", "val"))].tolist()
    rng = np.random.default_rng(seed)
    val_idx = set(rng.choice(sorted(pool), size=min(n_val, len(pool)), replace=False).tolist())
    df.loc[pool, "split"] = ["val" if i in val_idx else "train" for i in pool]
    with tempfile.TemporaryDirectory() as tmp:
        checked = validate_manifest(df, check_masks=False, on_error="skip",
                                    report_path=Path(tmp) / "report.csv")
        report = pd.read_csv(checked.attrs["report_path"], dtype=str, keep_default_na=False)
    split_of = dict(zip(df["path"], df["split"], strict=True))
    removed = []
    pattern = re.compile(r"(?:near-duplicate of|same image as|same file name as) (.+?) \(split")
    for file, text in zip(report["file"], report["problem"], strict=True):
        hit = pattern.search(text)
        if hit is None:
            continue
        a, b = hit.group(1), file
        pair = (a, b) if split_of.get(b) == "test" else (b, a) if split_of.get(a) == "test" else None
        if pair is not None and split_of.get(pair[0]) in ("train", "val"):
            removed.append(pair)
    drop = {a for a, _ in removed}
    return df[~df["path"].isin(drop)].reset_index(drop=True), sorted(removed)


def segmentation_manifest(data_root: str | None, upstream_manifest: str | Path, seed: int = 0,
                          n_val: int = 90, include_intact: bool = True
                          ) -> tuple[pd.DataFrame, list, str]:
    """The chapter's manifest, the (image, test twin) pairs kept out of training and the source.

    ``data_root`` None: chapter 01's manifest (its crack classes and, if asked, intact images).
    A folder (DeepCrack's ``{train,test}_img`` + ``_lab`` or CFD's ``image/`` + ``masks_png/``,
    scanned by :func:`roadlite.data.real.scan_dataset`): the paper's split for DeepCrack
    (:func:`deepcrack_split`: ``n_val`` of the training images to validation); other layouts
    keep their scanner's seeded split.
    """
    if data_root is None:
        df = crack_rows(read_manifest(upstream_manifest), include_intact)
        if df.empty or "mask_path" not in df or not (df["mask_path"] != "").any():
            raise DataError(f"{upstream_manifest}: no crack images with masks")
        return df, [], "chapter 01 (generated)"
    root = resolve_data_root(data_root)
    df = scan_dataset(root, seed=seed)
    if df.empty:
        raise DataError(f"data_root {root}: no images found")
    if "mask_path" not in df or (df["mask_path"] == "").all():
        raise DataError(f"data_root {root}: a {detect_layout(root)} set has no masks; the "
                        "chapter needs image / mask pairs (DeepCrack or CFD layout)")
    if detect_layout(root) != "deepcrack":
        return df, [], str(root.name)  # e.g. CFD: the scanner's seeded split
    df, removed = deepcrack_split(df, seed=seed, n_val=n_val)
    return df, removed, str(root.name)
