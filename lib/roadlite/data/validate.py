"""Checks that a manifest's data can be trusted before anything trains on it.

Chapter 01_dataset teaches this module. :func:`validate_manifest` checks:

- every image exists, opens and fully decodes (a truncated file, or a text file named ``.jpg``,
  is an error naming it), is at least :data:`~roadlite.imaging.MIN_IMAGE_SIDE` pixels a side,
  and its bytes match the manifest's ``sha256`` when one is given;
- every mask exists, decodes, has the image's size and is binary by the book's one rule
  (:data:`~roadlite.imaging.MASK_RULE`: a grey-level ramp is an error) (``check_masks``); one
  non-empty mask shared by two different images is a warning (an annotation mix-up);
- a manifest of one class is a classification set that cannot be learned, unless it is a
  segmentation set (every image has a mask): :func:`check_class_count`;
- the same image bytes in two splits (train/test leakage) is an error naming both files; the
  same bytes twice within one split is a warning (kept); the same bytes under two different
  classes is an error (the label is ambiguous);
- near-duplicates across splits (the same picture re-encoded: a tiny grey thumbnail, normalised
  for brightness and contrast, almost equal) are errors too, since a byte hash misses them;
- the same file name under the same class in two splits, with different content, is a warning
  (often crops of one photo);
- every split that has images has every class (an empty class is an error naming it).

With ``on_error="raise"`` the first check that fails raises :class:`DataError` listing the
problems. With ``on_error="skip"`` the rows with errors are dropped (for a cross-split duplicate:
the copy outside the earliest split of train, val, test), a report with one line per problem
(file, split, class, problem, severity, action) is written to ``report_path``, and the count is
logged and stored in ``df.attrs``: nothing is dropped silently. A class left empty is always an
error, since dropping rows cannot repair it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from roadlite.artifacts import atomic_path
from roadlite.imaging import MIN_IMAGE_SIDE, as_8bit, read_mask

from .errors import DataError
from .manifest import check_columns

logger = logging.getLogger("roadlite.data")

SPLIT_ORDER = ("train", "val", "test")
REPORT_COLUMNS = ("file", "split", "class", "problem", "severity", "action")


def _split_rank(split: str) -> tuple[int, str]:
    return (SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER), split)


def _thumbnail(im: Any, side: int = 16) -> np.ndarray:
    """Grey thumbnail, standardised: robust to re-encoding, brightness and contrast changes."""
    from PIL import Image

    g = as_8bit(im).convert("L")
    k = min(g.size) // (4 * side)
    if k >= 2:
        g = g.reduce(k)
    t = np.asarray(g.resize((side, side), Image.BOX), dtype=np.float32).ravel()
    t = t - t.mean()
    return t / max(float(t.std()), 1.0)


def _near_pairs(a: np.ndarray, b: np.ndarray, threshold: float, block: int = 512):
    """Index pairs (i, j, distance) with RMS distance between rows a[i], b[j] below threshold."""
    out = []
    if len(a) == 0 or len(b) == 0:
        return out
    d = a.shape[1]
    sb = (b * b).sum(1)
    for s in range(0, len(a), block):
        ab = a[s : s + block]
        sa = (ab * ab).sum(1)
        d2 = (sa[:, None] + sb[None, :] - 2.0 * (ab @ b.T)) / d
        ii, jj = np.nonzero(d2 < threshold * threshold)
        for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
            out.append((s + i, j, float(np.sqrt(max(d2[i, j], 0.0)))))
    return out


def write_report(problems: list[dict[str, Any]], report_path: str | os.PathLike) -> Path:
    """Write validation problems as CSV (or JSON when the name ends in .json). Chapter 01."""
    import pandas as pd

    path = Path(report_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{k: p.get(k, "") for k in REPORT_COLUMNS} for p in problems]
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".json":
            tmp.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        else:
            pd.DataFrame(rows, columns=list(REPORT_COLUMNS)).to_csv(tmp, index=False)
    return path


def check_class_count(df, where: str) -> None:
    """A manifest needs two classes or more, unless it is a segmentation set (Chapter 01).

    One class without masks (e.g. a folder holding only ``Positive/``) gives a classifier
    nothing to tell apart; it is a :class:`DataError` naming ``where`` and the class. A
    segmentation set (every row has a mask: DeepCrack, CFD) may have one class."""
    classes = sorted(set(df["class"]))
    if len(classes) >= 2 or len(df) == 0:
        return
    masks = df["mask_path"].fillna("").astype(str)
    if masks.str.len().gt(0).all():
        return
    hint = ""
    if classes and classes[0] in ("positive", "negative", "crack", "intact"):
        hint = (" (Özgenel's crack / no-crack layout needs both Positive/ and Negative/ "
                "folders)")
    raise DataError(f"{where}: only one class, {classes[0]!r}, and no masks: a classification "
                    f"set needs at least two classes{hint}; a one-class set is read only as a "
                    f"segmentation set (every image with a mask)")


def _format(problems: list[dict[str, Any]], limit: int = 20) -> str:
    lines = [f"  - {p['file']}: {p['problem']}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more")
    return "\n".join(lines)


def validate_manifest(
    df,
    check_masks: bool = True,
    on_error: str = "raise",
    report_path: str | os.PathLike | None = None,
    *,
    near_duplicates: bool = True,
    near_duplicate_threshold: float = 0.1,
    progress: bool = False,
):
    """Check every file of a manifest; return the (cleaned) manifest (Chapter 01_dataset).

    ``on_error``: ``"raise"`` (default) raises :class:`DataError` naming the bad files;
    ``"skip"`` drops the bad rows and writes a report to ``report_path`` (required then).
    The returned DataFrame has its ``sha256`` column filled in, a fresh index, and
    ``attrs["n_dropped"]``, ``attrs["n_warnings"]`` and ``attrs["report_path"]``.
    """
    from PIL import Image
    from tqdm import tqdm

    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if on_error == "skip" and report_path is None:
        raise ValueError("on_error='skip' needs report_path: dropped rows must be reported")
    check_columns(df, "validate_manifest")
    df = df.reset_index(drop=True).copy()
    n = len(df)
    problems: list[dict[str, Any]] = []
    bad = np.zeros(n, dtype=bool)

    def problem(i: int, file: str, text: str, severity: str = "error") -> None:
        problems.append(
            {
                "file": file,
                "split": df.at[i, "split"],
                "class": df.at[i, "class"],
                "problem": text,
                "severity": severity,
                "row": i,
            }
        )
        if severity == "error":
            bad[i] = True

    hashes = [""] * n
    mask_groups: dict[str, list[int]] = defaultdict(list)
    thumbs = np.zeros((n, 256), dtype=np.float32)
    rows = zip(df["path"].tolist(), df["mask_path"].tolist(), df["sha256"].tolist(), strict=True)
    for i, (path, mask_path, sha) in enumerate(
        tqdm(rows, total=n, desc="validating", disable=not progress)
    ):
        path = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            problem(i, path, f"cannot read image ({e.strerror or e})")
            continue
        digest = hashlib.sha256(data).hexdigest()
        hashes[i] = digest
        if isinstance(sha, str) and sha and sha != digest:
            problem(i, path, f"sha256 {digest[:12]}... differs from the manifest's {sha[:12]}...")
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                size = im.size
                thumbs[i] = _thumbnail(im)
        except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, ...
            problem(i, path, f"cannot decode image ({type(e).__name__}: {e})")
            continue
        if min(size) < MIN_IMAGE_SIDE:
            problem(i, path, f"image is {size[0]}x{size[1]} pixels, below the book's minimum "
                             f"of {MIN_IMAGE_SIDE} pixels a side")
            continue
        if check_masks and isinstance(mask_path, str) and mask_path:
            try:
                with Image.open(mask_path) as m:
                    m.load()
                    msize = m.size
                    if m.getbbox() is not None:  # non-empty: remember its pixels
                        mh = hashlib.sha256(f"{m.mode}|{m.size}|".encode())
                        mh.update(m.tobytes())
                        mask_groups[mh.hexdigest()].append(i)
            except FileNotFoundError:
                problem(i, mask_path, f"mask file missing (image {path})")
                continue
            except Exception as e:
                problem(i, mask_path, f"cannot decode mask ({type(e).__name__}: {e})")
                continue
            if msize != size:
                problem(
                    i,
                    mask_path,
                    f"mask size {msize[0]}x{msize[1]} differs from image size "
                    f"{size[0]}x{size[1]} (image {path})",
                )
                continue
            try:
                read_mask(mask_path)
            except DataError as e:  # not binary: its message names the file and the rule
                problem(i, mask_path, f"{e} (image {path})")
    df["sha256"] = [h or s for h, s in zip(hashes, df["sha256"].tolist(), strict=True)]

    splits = df["split"].tolist()
    classes = df["class"].tolist()
    paths = df["path"].tolist()

    # one non-empty mask for two different images: most likely an annotation mix-up
    for members in mask_groups.values():
        for i in members[1:]:
            if hashes[i] != hashes[members[0]] and not bad[i]:
                problem(
                    i,
                    str(df.at[i, "mask_path"]),
                    f"mask has the same pixels as {df.at[members[0], 'mask_path']}, the mask of "
                    f"a different image ({paths[members[0]]}); check the annotation",
                    "warning",
                )

    # exact duplicates
    groups: dict[str, list[int]] = defaultdict(list)
    for i, h in enumerate(hashes):
        if h and not bad[i]:
            groups[h].append(i)
    exact_pairs: set[tuple[int, int]] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        members = sorted(members, key=lambda i: (_split_rank(splits[i]), paths[i]))
        exact_pairs.update((a, b) for a in members for b in members if a != b)
        labels = {classes[i] for i in members}
        if len(labels) > 1:
            listing = ", ".join(f"{paths[i]} ({classes[i]}, {splits[i]})" for i in members)
            for i in members:
                problem(i, paths[i], f"same image bytes under different classes: {listing}")
            continue
        keeper = members[0]
        for i in members[1:]:
            if splits[i] != splits[keeper]:
                problem(
                    i,
                    paths[i],
                    f"same image as {paths[keeper]} (split {splits[keeper]}): "
                    f"duplicate across splits {splits[keeper]} and {splits[i]}",
                )
            else:
                problem(
                    i,
                    paths[i],
                    f"duplicate of {paths[keeper]} within split {splits[i]} (kept)",
                    "warning",
                )

    # near-duplicates (the same picture re-encoded): across splits an error, within a warning
    present = sorted({s for i, s in enumerate(splits) if not bad[i]}, key=_split_rank)
    if near_duplicates:
        idx = {s: [i for i in range(n) if splits[i] == s and not bad[i]] for s in present}
        flagged: set[int] = set()
        for ai, sa in enumerate(present):
            for sb in present[ai:]:
                ia, ib = idx[sa], idx[sb]
                for p, q, dist in _near_pairs(thumbs[ia], thumbs[ib], near_duplicate_threshold):
                    i, j = ia[p], ib[q]
                    if sa == sb and not p < q:
                        continue
                    if (i, j) in exact_pairs or bad[j] or j in flagged:
                        continue
                    flagged.add(j)
                    if sa == sb:
                        problem(
                            j,
                            paths[j],
                            f"near-duplicate of {paths[i]} within split {sa} (thumbnail "
                            f"distance {dist:.3f}; kept)",
                            "warning",
                        )
                        continue
                    problem(
                        j,
                        paths[j],
                        f"near-duplicate of {paths[i]} (split {sa}; thumbnail distance "
                        f"{dist:.3f}): the same picture in splits {sa} and {sb}",
                    )

    # same file name, same class, different splits, different content: a warning
    by_name: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in range(n):
        if not bad[i]:
            by_name[(classes[i], Path(paths[i]).name)].append(i)
    for members in by_name.values():
        if len({splits[i] for i in members}) < 2:
            continue
        members = sorted(members, key=lambda i: _split_rank(splits[i]))
        first = members[0]
        for i in members[1:]:
            if splits[i] != splits[first] and hashes[i] != hashes[first]:
                problem(
                    i,
                    paths[i],
                    f"same file name as {paths[first]} (split {splits[first]}) but different "
                    "content: check that they are not crops of one photo",
                    "warning",
                )

    errors = [p for p in problems if p["severity"] == "error"]
    warnings_ = [p for p in problems if p["severity"] == "warning"]
    for p in problems:
        if p["severity"] == "warning":
            p["action"] = "kept"
        else:
            p["action"] = "dropped" if on_error == "skip" else "raised"

    if errors and on_error == "raise":
        if report_path is not None:
            write_report(problems, report_path)
        raise DataError(
            f"{len(errors)} problem(s) in the data:\n{_format(errors)}\n"
            "(validate_manifest(..., on_error='skip', report_path=...) drops them with a report)"
        )

    kept = df[~bad].reset_index(drop=True)
    # every split that has images must have every class
    all_classes = sorted(set(kept["class"]))
    empty: list[dict[str, Any]] = []
    for split in sorted(set(kept["split"]), key=_split_rank):
        have = set(kept.loc[kept["split"] == split, "class"])
        for c in all_classes:
            if c not in have:
                empty.append(
                    {
                        "file": f"<split {split}>/{c}",
                        "split": split,
                        "class": c,
                        "problem": f"split {split!r} has no images of class {c!r}",
                        "severity": "error",
                        "action": "raised",
                    }
                )
    if report_path is not None:
        write_report(problems + empty, report_path)
    if empty:
        raise DataError(
            "empty class(es) in a split:\n" + "\n".join(f"  - {p['problem']}" for p in empty)
        )
    if errors or warnings_:
        logger.warning(
            "validate_manifest: dropped %d of %d rows with errors, %d warning(s)%s",
            int(bad.sum()),
            n,
            len(warnings_),
            f"; report: {report_path}" if report_path is not None else "",
        )
    kept.attrs["n_dropped"] = int(bad.sum())
    kept.attrs["n_warnings"] = len(warnings_)
    kept.attrs["report_path"] = str(report_path) if report_path is not None else ""
    return kept
