"""What a chapter trains on: the classification task read from chapter 01's manifest.

Chapter 03_eca introduces it; every later classification chapter reads its data the same way, so
switching chapter 01 to a real dataset (``data_root``) switches the whole book.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from roadlite.data.loading import load_split
from roadlite.data.manifest import read_manifest

INTACT = "intact"


def distress_classes(df: pd.DataFrame) -> list[str]:
    """The classes of the distress task: every class in the manifest, sorted, without 'intact'
    when at least two distress classes remain (the MobiLiteNet task has four, no 'intact');
    a crack / intact dataset keeps both."""
    classes = sorted(df["class"].unique())
    rest = [c for c in classes if c != INTACT]
    return rest if len(rest) >= 2 else classes


@dataclass
class ClassificationTask:
    """In-memory uint8 images and int64 labels of the three splits."""

    classes: list[str]
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    manifest: pd.DataFrame

    def sizes(self) -> dict[str, int]:
        return {s: len(getattr(self, s)[1]) for s in ("train", "val", "test")}


def load_classification_task(manifest_path: str | Path, img_size: int,
                             classes: list[str] | None = None,
                             progress: bool = True) -> ClassificationTask:
    """Read chapter 01's ``manifest.csv`` and load the three splits at ``img_size`` pixels."""
    df = read_manifest(manifest_path)
    classes = classes or distress_classes(df)
    df = df[df["class"].isin(classes)].reset_index(drop=True)
    splits = {s: load_split(df, s, img_size, classes, progress=progress)
              for s in ("train", "val", "test")}
    return ClassificationTask(classes, splits["train"], splits["val"], splits["test"], df)


def grid_samples(df: pd.DataFrame, rows: list[str], n_cols: int = 4, split: str = "train"
                 ) -> tuple[list[list[np.ndarray]], list[list[np.ndarray | None]], list[str]]:
    """Chapter 01_dataset: one image (and mask) per class x condition for the sample grid.

    Columns are the conditions when the manifest has them (generated data), else the first
    ``n_cols`` images of each class (real data). Returns (images, masks, column labels).
    """
    part = df[df["split"] == split]
    conditions = [c for c in sorted(part["condition"].dropna().unique()) if c]
    use_conditions = 1 < len(conditions) <= 8
    cols = conditions if use_conditions else [f"#{i + 1}" for i in range(n_cols)]
    images, masks = [], []
    for cls in rows:
        of_cls = part[part["class"] == cls]
        row_i, row_m = [], []
        for j, col in enumerate(cols):
            pick = of_cls[of_cls["condition"] == col] if use_conditions else of_cls.iloc[j:j + 1]
            if len(pick) == 0:
                row_i.append(np.full((64, 64, 3), 255, np.uint8))
                row_m.append(None)
                continue
            rec = pick.iloc[0]
            img = np.asarray(Image.open(rec["path"]).convert("RGB"))
            mask = None
            if isinstance(rec.get("mask_path"), str) and rec["mask_path"]:
                m = np.asarray(Image.open(rec["mask_path"]).convert("L"))
                mask = (m > (127 if m.max() > 1 else 0)).astype(np.uint8)
            row_i.append(img)
            row_m.append(mask)
        images.append(row_i)
        masks.append(row_m)
    return images, masks, cols
