"""Scanners for real data sets: each turns a folder into a manifest DataFrame.

Chapter 01_dataset teaches this module. Every scanner returns the manifest columns
``path, mask_path, class, condition, split, sha256`` (absolute paths, ``condition`` empty), in a
deterministic order. Where a data set has no official split (or no validation split), the split
is drawn from ``seed``: stratified by class, and grouped by file hash so that byte-identical
copies always land in the same split. Folders of a class that hold no image are reported
(``on_empty="raise"`` raises :class:`DataError` naming them, ``"warn"`` logs them).

Known layouts (:func:`scan_dataset` tells them apart):

- ``manifest.csv`` in the root: read as it is (e.g. a generated data set); its paths must stay
  inside the folder;
- paired segmentation, DeepCrack style: ``{train,val,test}_img/*`` + ``{train,val,test}_lab/*.png``;
- CFD: ``image/*.jpg`` + ``masks_png/*.png`` (build the PNGs with :func:`prepare_cfd_masks`);
- Özgenel crack / no crack: ``Positive/`` and ``Negative/``;
- ImageFolder: ``{train,val,test}/<Class>/*`` or ``<Class>/*`` (MobiLiteNet's layout).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from roadlite.artifacts import atomic_write_bytes
from roadlite.imaging import png_bytes

from .manifest import COLUMNS, read_manifest, sha256_file
from .validate import DataError, check_class_count

logger = logging.getLogger("roadlite.data")

MOBILITENET_CLASS_MAP = {
    "Alligator": "alligator",
    "Breakmarking": "broken_marking",
    "Longitudinal": "longitudinal",
    "Transverse": "transverse",
}
OZGENEL_CLASS_MAP = {"Positive": "crack", "Negative": "intact"}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}

KNOWN_LAYOUTS = (
    "manifest.csv in the folder (a manifest written by roadlite)",
    "paired segmentation (DeepCrack): {train,val,test}_img/*.jpg + {train,val,test}_lab/*.png",
    "CFD: image/*.jpg + masks_png/*.png (or groundTruth/*.mat: run prepare_cfd_masks first)",
    "Özgenel crack / no crack: Positive/*.jpg + Negative/*.jpg",
    "ImageFolder: {train,val,test}/<Class>/*.{png,jpg,jpeg} or <Class>/*.{png,jpg,jpeg}",
)


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files (png, jpg, jpeg; any case) directly in ``folder``, sorted (Chapter 01)."""
    folder = Path(folder)
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


def _row(path: Path, cls: str, split: str, mask: Path | None = None) -> dict[str, str]:
    return {
        "path": str(path.resolve()),
        "mask_path": str(mask.resolve()) if mask is not None else "",
        "class": cls,
        "condition": "",
        "split": split,
        "sha256": sha256_file(path),
    }


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """The manifest columns, rows in a stable (split, class, path) order."""
    return df[list(COLUMNS)].sort_values(["split", "class", "path"], kind="stable").reset_index(
        drop=True)


def _frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    return _sorted(pd.DataFrame.from_records(rows, columns=list(COLUMNS)))


def _report_empty(empty: list[str], on_empty: str) -> None:
    if not empty:
        return
    text = "empty class folder(s), no png/jpg/jpeg image in:\n" + "\n".join(
        f"  - {e}" for e in empty
    )
    if on_empty == "raise":
        raise DataError(text)
    if on_empty != "warn":
        raise ValueError(f"on_empty must be 'raise' or 'warn', got {on_empty!r}")
    logger.warning(text)


def pixel_key(path: str | os.PathLike) -> str:
    """SHA-256 of an image's decoded pixels (mode, size, bytes); Chapter 01_dataset.

    Equal for byte-identical files and for re-saved copies with identical pixels (Özgenel's
    set has one such pair besides its byte-identical ones). Falls back to the file hash when
    the image does not decode (validation reports that file later).
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            h = hashlib.sha256(f"{im.mode}|{im.size}|".encode())
            h.update(im.tobytes())
            return "px:" + h.hexdigest()
    except Exception:
        return "file:" + sha256_file(path)


def split_by_seed(
    df: pd.DataFrame,
    seed: int = 0,
    val_frac: float = 0.2,
    test_frac: float = 0.2,
    stratify: bool = True,
    group_by: str = "pixels",
) -> pd.DataFrame:
    """Assign ``split`` (train / val / test) to every row, deterministically (Chapter 01).

    Stratified by class when ``stratify``. Copies of one image form a group that shares a
    split: ``group_by="pixels"`` (default) groups identical decoded pixels (see
    :func:`pixel_key`), ``"sha256"`` identical file bytes. Each class with at least 3 groups
    gets at least one val and one test group when the fractions are positive.
    """
    if val_frac < 0 or test_frac < 0 or val_frac + test_frac >= 1:
        raise ValueError(
            f"need 0 <= val_frac, test_frac and val_frac + test_frac < 1, "
            f"got {val_frac}, {test_frac}"
        )
    if group_by not in ("pixels", "sha256"):
        raise ValueError(f"group_by must be 'pixels' or 'sha256', got {group_by!r}")
    df = df.sort_values("path", kind="stable").reset_index(drop=True)
    if group_by == "pixels":
        keys = [pixel_key(p) for p in df["path"]]
    else:
        keys = [s if s else p for s, p in zip(df["sha256"], df["path"], strict=True)]
    rng = np.random.default_rng(seed)
    assigned: dict[str, str] = {}
    groups = sorted(set(df["class"])) if stratify else [None]
    for cls in groups:
        sel = range(len(df)) if cls is None else np.flatnonzero(df["class"].to_numpy() == cls)
        ks = list(dict.fromkeys(keys[i] for i in sel if keys[i] not in assigned))
        g = len(ks)
        if g == 0:
            continue
        n_test = int(round(test_frac * g))
        n_val = int(round(val_frac * g))
        if g >= 3:
            n_test = max(n_test, 1 if test_frac > 0 else 0)
            n_val = max(n_val, 1 if val_frac > 0 else 0)
        order = rng.permutation(g)
        for rank, k in enumerate(order.tolist()):
            split = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
            assigned[ks[k]] = split
    df["split"] = [assigned[k] for k in keys]
    return df


def _carve_val(df: pd.DataFrame, seed: int, val_frac: float, stratify: bool) -> pd.DataFrame:
    """Move val_frac of the train rows to val (grouped by hash, stratified)."""
    if val_frac <= 0:
        return df
    train = df[df["split"] == "train"]
    rest = df[df["split"] != "train"]
    if train.empty:
        return df
    carved = split_by_seed(train, seed=seed, val_frac=val_frac, test_frac=0.0, stratify=stratify)
    return pd.concat([carved, rest], ignore_index=True)


def scan_imagefolder(
    root: str | os.PathLike,
    class_map: dict[str, str] | None = None,
    seed: int = 0,
    val_frac: float = 0.2,
    test_frac: float = 0.2,
    on_empty: str = "raise",
) -> pd.DataFrame:
    """Scan an ImageFolder tree (Chapter 01_dataset).

    ``root/{train,val,test}/<Class>/*.{png,jpg,jpeg}``; folder names map through ``class_map``
    (default :data:`MOBILITENET_CLASS_MAP`), unknown ones are lower-cased. Without split folders
    (``root/<Class>/*``) the split is drawn from ``seed`` (``val_frac``, ``test_frac``); with
    train (and test) but no val folder, ``val_frac`` of train becomes val.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    cmap = MOBILITENET_CLASS_MAP if class_map is None else class_map
    subdirs = _visible_dirs(root)
    split_dirs = [
        (SPLIT_ALIASES[d.name.lower()], d) for d in subdirs if d.name.lower() in SPLIT_ALIASES
    ]
    rows: list[dict[str, str]] = []
    empty: list[str] = []

    def scan_classes(folder: Path, split: str) -> None:
        for cdir in _visible_dirs(folder):
            cls = cmap.get(cdir.name, cdir.name.lower())
            files = list_images(cdir)
            if not files:
                empty.append(f"{cdir} (class {cls!r}, split {split!r})")
            rows.extend(_row(p, cls, split) for p in files)

    if split_dirs:
        for split, d in split_dirs:
            scan_classes(d, split)
    else:
        scan_classes(root, "")
    _report_empty(empty, on_empty)
    if not rows:
        raise DataError(f"{root}: no class folder with png/jpg/jpeg images found")
    df = _frame(rows)
    if not split_dirs:
        df = split_by_seed(df, seed=seed, val_frac=val_frac, test_frac=test_frac)
    elif "val" not in {s for s, _ in split_dirs}:
        df = _carve_val(df, seed, val_frac, stratify=True)
    return _sorted(df)


def scan_ozgenel(
    root: str | os.PathLike,
    seed: int = 0,
    val_frac: float = 0.2,
    test_frac: float = 0.2,
    on_empty: str = "raise",
) -> pd.DataFrame:
    """Scan Özgenel's crack / no-crack set: ``Positive/`` -> crack, ``Negative/`` -> intact.

    Chapter 01_dataset. The split is drawn from ``seed``, stratified by class and grouped by
    file hash (the set has byte-identical pairs; each pair stays in one split).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    by_lower = {d.name.lower(): d for d in _visible_dirs(root)}
    rows: list[dict[str, str]] = []
    empty: list[str] = []
    for name, cls in OZGENEL_CLASS_MAP.items():
        d = by_lower.get(name.lower())
        if d is None:
            raise DataError(f"{root}: no {name}/ folder (expected Positive/ and Negative/)")
        files = list_images(d)
        if not files:
            empty.append(f"{d} (class {cls!r})")
        rows.extend(_row(p, cls, "") for p in files)
    _report_empty(empty, on_empty)
    return _frame(split_by_seed(_frame(rows), seed, val_frac, test_frac).to_dict("records"))


def _find_mask(lab_dir: Path, stem: str) -> Path | None:
    for ext in (".png", ".PNG", ".bmp", ".jpg"):
        p = lab_dir / f"{stem}{ext}"
        if p.is_file():
            return p
    return None


def scan_deepcrack(
    root: str | os.PathLike,
    seed: int = 0,
    val_frac: float = 0.2,
    cls: str = "crack",
) -> pd.DataFrame:
    """Scan a paired segmentation set, DeepCrack style (Chapter 01_dataset).

    ``{train,val,test}_img/*.jpg`` with ``{train,val,test}_lab/<same stem>.png`` (read by the
    book's one mask rule, :data:`roadlite.imaging.MASK_RULE`: bright = crack). Every image gets
    class ``cls``. Without ``val_img/``, ``val_frac`` of train becomes val (drawn from
    ``seed``). An image without its mask is a :class:`DataError` naming it.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    rows: list[dict[str, str]] = []
    missing: list[str] = []
    found = []
    for split in ("train", "val", "test"):
        img_dir, lab_dir = root / f"{split}_img", root / f"{split}_lab"
        if not img_dir.is_dir():
            continue
        if not lab_dir.is_dir():
            raise DataError(f"{img_dir} has no matching mask folder {lab_dir}")
        found.append(split)
        images = list_images(img_dir)
        if not images:
            raise DataError(f"empty image folder {img_dir} (split {split!r})")
        for p in images:
            m = _find_mask(lab_dir, p.stem)
            if m is None:
                missing.append(str(p))
            else:
                rows.append(_row(p, cls, split, m))
    if missing:
        raise DataError(
            f"{len(missing)} image(s) without a mask in *_lab/: " + ", ".join(missing[:10])
        )
    if not rows:
        raise DataError(f"{root}: no {{train,val,test}}_img/ folders")
    df = _frame(rows)
    if "val" not in found:
        df = _carve_val(df, seed, val_frac, stratify=False)
    return _sorted(df)


def scan_cfd(
    root: str | os.PathLike,
    seed: int = 0,
    val_frac: float = 0.1,
    test_frac: float = 0.4,
    cls: str = "crack",
) -> pd.DataFrame:
    """Scan CrackForest (CFD): ``image/*.jpg`` + ``masks_png/*.png`` (Chapter 01_dataset).

    Only images with a mask are kept (CFD has 118 labelled of 155). No official split exists;
    the default 50/10/40 keeps the common 60/40 train/test proportion, drawn from ``seed``.
    """
    root = Path(root)
    img_dir, mask_dir = root / "image", root / "masks_png"
    if not img_dir.is_dir():
        raise DataError(f"{root}: no image/ folder (CFD layout: image/ + masks_png/)")
    if not mask_dir.is_dir():
        hint = ""
        if (root / "groundTruth").is_dir():
            hint = " (it has groundTruth/*.mat: run roadlite.data.prepare_cfd_masks(root) first)"
        raise DataError(f"{root}: no masks_png/ folder{hint}")
    rows = []
    unlabelled = 0
    for p in list_images(img_dir):
        m = _find_mask(mask_dir, p.stem)
        if m is None:
            unlabelled += 1
            continue
        rows.append(_row(p, cls, "", m))
    if not rows:
        raise DataError(f"{root}: no image in image/ has a mask in masks_png/")
    if unlabelled:
        logger.info("scan_cfd: %d unlabelled image(s) in %s left out", unlabelled, img_dir)
    df = split_by_seed(_frame(rows), seed, val_frac, test_frac, stratify=False)
    return _sorted(df)


def prepare_cfd_masks(root: str | os.PathLike, overwrite: bool = False) -> int:
    """Write CFD's ``groundTruth/*.mat`` labels as ``masks_png/*.png`` (255 = crack).

    Chapter 01_dataset. ``Segmentation == 2`` is crack. Returns the number of masks written.
    """
    from scipy.io import loadmat

    root = Path(root)
    gt = root / "groundTruth"
    if not gt.is_dir():
        raise DataError(f"{root}: no groundTruth/ folder")
    out = root / "masks_png"
    out.mkdir(exist_ok=True)
    written = 0
    for mat in sorted(gt.glob("*.mat")):
        dest = out / f"{mat.stem}.png"
        if dest.exists() and not overwrite:
            continue
        seg = loadmat(mat)["groundTruth"][0, 0]["Segmentation"]
        mask = (np.asarray(seg) == 2).astype(np.uint8) * 255
        atomic_write_bytes(dest, png_bytes(mask), fsync=False)
        written += 1
    return written


def detect_layout(root: str | os.PathLike) -> str:
    """Name the layout of a data folder (Chapter 01_dataset).

    One of ``manifest``, ``deepcrack``, ``cfd``, ``ozgenel``, ``imagefolder``; raises
    :class:`DataError` describing the known layouts otherwise.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    if (root / "manifest.csv").is_file():
        return "manifest"
    names = {d.name.lower() for d in _visible_dirs(root)}
    if any(n.endswith("_img") for n in names) and any(n.endswith("_lab") for n in names):
        return "deepcrack"
    if "image" in names and ({"masks_png", "groundtruth"} & names):
        return "cfd"
    if {"positive", "negative"} <= names:
        return "ozgenel"
    subdirs = _visible_dirs(root)
    splits = [d for d in subdirs if d.name.lower() in SPLIT_ALIASES]
    class_dirs = [c for d in splits for c in _visible_dirs(d)] if splits else subdirs
    if any(list_images(c) for c in class_dirs):
        return "imagefolder"
    raise DataError(
        f"{root}: unrecognised data layout. Known layouts:\n"
        + "\n".join(f"  - {k}" for k in KNOWN_LAYOUTS)
    )


_SCANNERS = {
    "deepcrack": scan_deepcrack,
    "cfd": scan_cfd,
    "ozgenel": scan_ozgenel,
    "imagefolder": scan_imagefolder,
}


def crack_mask_set(root: str | os.PathLike) -> tuple[str, pd.DataFrame]:
    """(layout, manifest) of a segmentation set with crack masks: DeepCrack's test split (all its
    images when it has none) or CFD's labelled images, sorted by path (chapters 10_crack_classifier
    and 12_field_test cut patches and read whole photos from it). Another layout is a
    :class:`DataError` naming the two it takes."""
    layout = detect_layout(root)
    if layout == "deepcrack":
        df = scan_deepcrack(root)
        df = df[df["split"] == "test"] if (df["split"] == "test").any() else df
    elif layout == "cfd":
        df = scan_cfd(root)
    else:
        raise DataError(f"{root}: a {layout} layout has no crack masks; a crack-mask set is "
                        f"DeepCrack's ({{train,test}}_img/ + _lab/) or CFD's (image/ + "
                        f"masks_png/)")
    return layout, df.sort_values("path").reset_index(drop=True)


def scan_dataset(root: str | os.PathLike, **kw) -> pd.DataFrame:
    """Detect the layout of ``root`` and scan it into a manifest (Chapter 01_dataset).

    Keyword arguments go to the matching scanner (those it does not take, e.g. ``class_map``
    for a segmentation set, are ignored). See :data:`KNOWN_LAYOUTS`. A set of one class is
    refused unless it is a segmentation set (every image has a mask; see
    :func:`~roadlite.data.validate.check_class_count`): a folder holding only ``Positive/``
    is not a crack / no-crack set.
    """
    layout = detect_layout(root)
    if layout == "manifest":
        df = read_manifest(Path(root) / "manifest.csv", inside=True)
    else:
        fn = _SCANNERS[layout]
        accepted = inspect.signature(fn).parameters
        df = fn(root, **{k: v for k, v in kw.items() if k in accepted})
    check_class_count(df, f"{root} ({layout} layout)")
    return df
