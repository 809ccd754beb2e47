"""What a chapter trains on: the classification task read from chapter 01's manifest.

Chapter 03_eca introduces it; every later classification chapter reads its data the same way, so
switching chapter 01 to a real dataset (``data_root``) switches the whole book.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from roadlite.artifacts import path_inside
from roadlite.data.loading import load_split
from roadlite.data.manifest import read_manifest
from roadlite.data.synthetic import CONDITIONS
from roadlite.data.validate import DataError
from roadlite.imaging import read_image, read_mask
from roadlite.models.checkpoint import load_model, save_model
from roadlite.models.summary import count_macs, count_params
from roadlite.training import accuracy, predict_logits

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
    if len(classes) < 2:
        raise DataError(
            f"{manifest_path}: the classification chapters need at least two classes, but this "
            f"manifest has {classes} (a segmentation data set, e.g. DeepCrack or CFD); run "
            f"chapter 01 with a classification data set (data_root) for them")
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
    present = {c for c in part["condition"].dropna().unique() if c}
    conditions = [c for c in CONDITIONS if c in present] + sorted(present - set(CONDITIONS))
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
            img = read_image(rec["path"])
            mask = None
            if isinstance(rec.get("mask_path"), str) and rec["mask_path"]:
                mask = read_mask(rec["mask_path"])
            row_i.append(img)
            row_m.append(mask)
        images.append(row_i)
        masks.append(row_m)
    return images, masks, cols


def evaluate_and_save(run, key: str, model, arch: str, task: ClassificationTask, img_size: int,
                      fit_result=None, channels_last: bool = True) -> dict:
    """Chapters 03-06: test a trained classifier and keep what later chapters read.

    Writes ``predictions/<key>.npz`` (true labels, logits, class names: chapter 09 builds its
    confusion matrices from them) and ``models/<key>.pt`` (a RoadLite checkpoint; a pruned
    network's holds its layer plan), and returns the model's entry of ``metrics["models"]``.
    """
    x_te, y_te = task.test
    logits = predict_logits(model, x_te, channels_last=channels_last)
    np.savez(run.path("predictions", f"{key}.npz"), y_true=y_te.numpy(), logits=logits.numpy(),
             classes=np.array(task.classes))
    model = model.cpu().to(memory_format=torch.contiguous_format)
    meta = {"classes": task.classes, "img_size": img_size, "chapter": run.chapter, "key": key}
    save_model(model, run.path("models", f"{key}.pt"), arch=arch, meta=meta)
    entry = {"architecture": arch, "accuracy": accuracy(logits, y_te),
             "params": count_params(model), "macs": count_macs(model, img_size),
             "checkpoint": f"models/{key}.pt"}
    if fit_result is not None:
        speeds = [h["train_images_per_s"] for h in fit_result.history]
        entry.update(best_epoch=fit_result.best_epoch,
                     best_val_accuracy=fit_result.best_val_accuracy,
                     train_seconds=fit_result.train_seconds,
                     train_images_per_s=float(np.median(speeds)) if speeds else None)
    return entry


def load_chapter_model(chapter_dir: str | Path, key: str, num_classes: int):
    """Chapters 06-09: load model ``key`` that chapter ``chapter_dir`` trained and saved.

    The architecture comes from the chapter's ``metrics.json``; a pruned network is rebuilt from
    the layer plan its checkpoint holds.
    """
    chapter_dir = Path(chapter_dir)
    entry = json.loads((chapter_dir / "metrics.json").read_text())["models"][key]
    path = path_inside(chapter_dir, entry.get("checkpoint", f"models/{key}.pt"),
                       f"{chapter_dir / 'metrics.json'}, models.{key}.checkpoint")
    return load_model(path, arch=entry["architecture"], num_classes=num_classes).eval()


def training_manifest(params) -> Path:
    """Chapters 03-06: the manifest to train on — chapter 01's, or with ``train_data = "gan"``
    chapter 02's augmented one (real + synthetic training and validation images, real test)."""
    if params.get("train_data") == "gan":
        return params.upstream_dir("02_gan") / "manifest_augmented.csv"
    return params.upstream_dir("01_dataset") / "manifest.csv"
