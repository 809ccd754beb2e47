"""Checks of parameters together, before anything runs.

:func:`check_together` compares parameters with each other (chapter 11's ``crop`` and
``img_size``); :func:`check_data` compares them with the data folders they name (chapter 10's
``patch_size`` with the images of ``patch_datasets``, chapter 11's ``deepcrack_val`` with the
DeepCrack training set). Each raises a :class:`~roadlite.params.schema.ParameterError` that
names the parameters. A data folder that is missing or broken is left to the chapter, which
says what is wrong with it when it reads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .schema import ParameterError

__all__ = ["check_data", "check_together", "deepcrack_training_images", "largest_patch"]


def check_together(chapter: str, values: Mapping[str, Any]) -> None:
    """Parameters that are valid alone but not together (checked after each one alone)."""
    if chapter == "11_crack_segmentation" and values["crop"] > values["img_size"]:
        raise ParameterError(
            f"{chapter}: parameter 'crop' = {values['crop']} is larger than 'img_size' = "
            f"{values['img_size']}: the training crops are cut from the images resized to "
            f"img_size, so crop must be <= img_size (lower crop or raise img_size).")


def check_data(chapter: str, values: Mapping[str, Any]) -> None:
    """Parameters against the data folders they name (only those that are found)."""
    if chapter == "10_crack_classifier":
        _check_patch_size(chapter, values)
    elif chapter == "11_crack_segmentation":
        _check_deepcrack_val(chapter, values)


def _found(name: Any) -> Path | None:
    from roadlite.data.locate import resolve_data_root
    from roadlite.data.validate import DataError

    try:
        return resolve_data_root(name)
    except DataError:
        return None


def _masked_images(root: Path) -> Iterator[str]:
    """The images with a mask of a segmentation folder (DeepCrack or CFD layout), every split;
    nothing for another layout or a folder its scanner refuses."""
    from roadlite.data.real import detect_layout, scan_dataset
    from roadlite.data.validate import DataError

    try:
        if detect_layout(root) not in ("deepcrack", "cfd"):
            return
        df = scan_dataset(root)
    except DataError:
        return
    if "mask_path" in df:
        yield from df.loc[df["mask_path"] != "", "path"]


def largest_patch(root: Path, patch_size: int) -> tuple[int, int] | None:
    """(0, n) when a ``patch_size`` square fits in some image with a mask under ``root``;
    else (the largest square side that fits in one of them, n) with n the images read. None
    when there is no such image."""
    from PIL import Image, UnidentifiedImageError

    best, n = 0, 0
    for path in _masked_images(root):
        try:
            with Image.open(path) as im:
                w, h = im.size
        except (OSError, UnidentifiedImageError):
            continue  # the chapter names an unreadable file when it reads it
        n += 1
        if min(w, h) >= patch_size:
            return 0, n
        best = max(best, min(w, h))
    return (best, n) if n else None


def _check_patch_size(chapter: str, values: Mapping[str, Any]) -> None:
    p = values["patch_size"]
    for name in values["patch_datasets"]:
        root = _found(name)
        fit = largest_patch(root, p) if root is not None else None
        if fit is None or fit[0] == 0:
            continue
        best, n = fit
        raise ParameterError(
            f"{chapter}: parameter 'patch_size' = {p}: no {p} x {p} patch can be cut from "
            f"patch data set {name!r} ({root}): the largest square that fits in its {n} "
            f"image(s) is {best} x {best}. Set patch_size to at most {best} (or leave "
            f"{name!r} out of patch_datasets).")


def deepcrack_training_images(root: Path, seed: int = 0) -> int | None:
    """How many training images (its ``train`` and ``val`` splits, the pool chapter 11's
    ``deepcrack_val`` draws from) a DeepCrack-layout folder holds; None for another layout or
    a folder its scanner refuses."""
    from roadlite.data.real import detect_layout, scan_dataset
    from roadlite.data.validate import DataError

    try:
        if detect_layout(root) != "deepcrack":
            return None
        df = scan_dataset(root, seed=seed)
    except DataError:
        return None
    return int(df["split"].isin(("train", "val")).sum())


def _check_deepcrack_val(chapter: str, values: Mapping[str, Any]) -> None:
    if values["data_root"] is None:
        return
    root = _found(values["data_root"])
    n = deepcrack_training_images(root, values["seed"]) if root is not None else None
    if n is None or values["deepcrack_val"] < n:
        return
    v = values["deepcrack_val"]
    raise ParameterError(
        f"{chapter}: parameter 'deepcrack_val' = {v} must be below the number of DeepCrack "
        f"training images in data_root {values['data_root']!r} ({root}: {n}): it moves that "
        f"many of them to validation and training needs the rest"
        + (f". Set deepcrack_val to at most {n - 1}." if n > 1 else
           "; this folder has too few training images (train_img/) to split."))
