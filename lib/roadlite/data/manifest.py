"""The manifest: the interface between chapter 01 and every later chapter.

Chapter 01_dataset teaches this module. A manifest is a CSV file with one row per image and the
columns ``path, mask_path, class, condition, split, sha256``:

- ``path``: the image; written relative to the manifest's folder when the image lies inside
  it, else absolute. :func:`read_manifest` always returns absolute paths.
- ``mask_path``: the pixel mask (bright = distress: > 127 of 255 in 8 bits; the one rule is
  :data:`roadlite.imaging.MASK_RULE`), same rules; empty when none.
- ``class``: the label name; ``condition``: the imaging condition (empty for real data);
  ``split``: ``train`` / ``val`` / ``test``; ``sha256``: of the image file's bytes.

Further columns are kept after these six.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

from roadlite.artifacts import atomic_path

from .errors import DataError

COLUMNS = ("path", "mask_path", "class", "condition", "split", "sha256")
PATH_COLUMNS = ("path", "mask_path")


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes (Chapter 01_dataset)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_size):
            h.update(block)
    return h.hexdigest()


def check_columns(df: pd.DataFrame, where: str) -> None:
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{where}: manifest lacks column(s) {', '.join(missing)} "
            f"(a manifest needs {', '.join(COLUMNS)})"
        )


def _relativize(value: str, base: Path) -> str:
    if not value:
        return ""
    p = Path(value)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(base).as_posix()
    except ValueError:
        return str(p.resolve())


def write_manifest(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` as a manifest CSV, atomically (Chapter 01_dataset).

    Paths inside the manifest's folder are stored relative to it, others absolute; relative
    paths in ``df`` are taken as already relative to that folder. Returns the path written.
    """
    path = Path(path)
    check_columns(df, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.parent.resolve()
    out = df.copy()
    for col in PATH_COLUMNS:
        out[col] = [_relativize("" if pd.isna(v) else str(v), base) for v in out[col]]
    for col in COLUMNS:
        out[col] = out[col].fillna("").astype(str)
    cols = list(COLUMNS) + [c for c in out.columns if c not in COLUMNS]
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        out[cols].to_csv(f, index=False, lineterminator="\n")
    return path


def read_manifest(path: str | os.PathLike, *, inside: bool = False) -> pd.DataFrame:
    """Read a manifest CSV; check its columns and make its paths absolute (Chapter 01_dataset).

    Raises :class:`DataError` naming the file when it is missing or lacks a column. With
    ``inside`` (a data folder's own ``manifest.csv``, read as a data set), every ``path`` and
    ``mask_path`` must be a relative path that stays inside the manifest's folder: an absolute
    path or one that climbs out with ``..`` is a :class:`DataError` naming the entry, before
    any file is opened.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such manifest file")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    check_columns(df, str(path))
    base = path.parent.resolve()

    def resolve(v: str, row: int, col: str) -> str:
        if not v:
            return ""
        p = Path(v)
        if inside:
            parts = Path(os.path.normpath(v)).parts
            if p.is_absolute() or Path(v).drive or (parts and parts[0] == ".."):
                raise DataError(
                    f"{path}: line {row + 2}, {col} {v!r} points outside the data folder "
                    f"{base}; a data folder's manifest may only name files inside it "
                    f"(relative paths without ..)")
        return str(p if p.is_absolute() else (base / p))

    for col in PATH_COLUMNS:
        df[col] = [resolve(v, i, col) for i, v in enumerate(df[col])]
    return df


def empty_manifest() -> pd.DataFrame:
    """An empty manifest DataFrame with the standard columns (Chapter 01_dataset)."""
    return pd.DataFrame({c: pd.Series(dtype=str) for c in COLUMNS})
