"""Tests of the real-data scanners on the shared fixtures in ../shared/data (skipped if absent)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from roadlite.data import (
    CLASSES_4,
    COLUMNS,
    KNOWN_LAYOUTS,
    DataError,
    detect_layout,
    load_split,
    scan_cfd,
    scan_dataset,
    scan_deepcrack,
    scan_imagefolder,
    scan_ozgenel,
    validate_manifest,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

pytestmark = pytest.mark.realdata


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"../shared/data/{name} not present")
    return path


# Özgenel's byte-identical pairs, from its PROVENANCE.md
OZGENEL_PAIRS = [("Positive", "00006", "00007")] + [
    ("Negative", f"{a:05d}", f"{a + 1:05d}")
    for a in (39, 177, 208, 229, 239, 242, 301, 330, 342, 344)
]


def test_mobilitenet_demo_imagefolder():
    root = shared("mobilitenet_4class_demo")
    df = scan_imagefolder(root)
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 120
    assert df["split"].value_counts().to_dict() == {"train": 80, "val": 20, "test": 20}
    assert sorted(set(df["class"])) == list(CLASSES_4)
    assert (df["mask_path"] == "").all()
    assert df.equals(scan_dataset(root))
    out = validate_manifest(df)
    assert len(out) == 120 and out.attrs["n_warnings"] == 0
    x, y = load_split(df, "val", 48, CLASSES_4, progress=False)
    assert x.shape == (20, 3, 48, 48) and x.dtype == torch.uint8
    assert torch.bincount(y).tolist() == [5, 5, 5, 5]
    # MobiLiteNet's ImageFolder order (Alligator, Breakmarking, Longitudinal, Transverse)
    first = df[df["split"] == "val"].iloc[0]
    assert "Alligator" in first["path"] and first["class"] == "alligator"


def test_imagefolder_without_split_folders_is_split_by_seed(tmp_path):
    root = shared("mobilitenet_4class_demo")
    flat = tmp_path / "flat"
    for src in (root / "train").iterdir():
        (flat / src.name).mkdir(parents=True)
        for p in sorted(src.glob("*.png"))[:10]:
            (flat / src.name / p.name).symlink_to(p)
    a = scan_imagefolder(flat, seed=0)
    b = scan_imagefolder(flat, seed=0)
    c = scan_imagefolder(flat, seed=1)
    assert a.equals(b)
    assert dict(zip(a.path, a.split, strict=True)) != dict(zip(c.path, c.split, strict=True))
    counts = a.groupby(["class", "split"]).size().unstack()
    assert (counts["train"] == 6).all() and (counts["val"] == 2).all()
    assert (counts["test"] == 2).all()


def test_ozgenel_duplicates_stay_in_one_split_and_are_reported(tmp_path):
    root = shared("concrete_crack_ozgenel_subset")
    df = scan_ozgenel(root, seed=0)
    assert len(df) == 700
    assert df["class"].value_counts().to_dict() == {"crack": 350, "intact": 350}
    assert set(df["split"]) == {"train", "val", "test"}
    split_of = {
        Path(p).parent.name + "/" + Path(p).stem: s for p, s in zip(df.path, df.split, strict=True)
    }
    for folder, a, b in OZGENEL_PAIRS:
        assert split_of[f"{folder}/{a}"] == split_of[f"{folder}/{b}"]
    assert detect_layout(root) == "ozgenel"
    report = tmp_path / "ozgenel_report.csv"
    out = validate_manifest(df, on_error="skip", report_path=report)
    rep = pd.read_csv(report)
    listed = {Path(f).parent.name + "/" + Path(f).stem for f in rep["file"]}
    text = " ".join(rep["problem"])
    for folder, a, b in OZGENEL_PAIRS:
        assert f"{folder}/{b}" in listed or f"{folder}/{a}" in listed
        assert f"{folder}/{a}" in text or f"{folder}/{b}" in text
    assert len(out) == 700 - out.attrs["n_dropped"]
    assert (rep["severity"] == "warning").sum() >= 11


def test_deepcrack_pairs_and_leak_report(tmp_path):
    root = shared("deepcrack")
    df = scan_deepcrack(root, seed=0)
    assert len(df) == 537
    assert (df["split"] == "test").sum() == 237
    assert (df["split"] != "test").sum() == 300 and (df["split"] == "val").sum() == 60
    assert (df["class"] == "crack").all()
    assert all(Path(m).stem == Path(p).stem for p, m in zip(df.path, df.mask_path, strict=True))
    assert detect_layout(root) == "deepcrack"
    with pytest.raises(DataError, match="11216.jpg") as e:
        validate_manifest(df)
    assert "11158.jpg" in str(e.value)
    report = tmp_path / "deepcrack_report.csv"
    out = validate_manifest(df, on_error="skip", report_path=report)
    rep = pd.read_csv(report)
    dropped = rep[rep["action"] == "dropped"]
    assert [Path(f).name for f in dropped["file"]] == ["11216.jpg"]
    assert len(out) == 536 and out.attrs["n_dropped"] == 1
    # the 10 file names that train and test share (different crops of photo 11289)
    shared_names = rep[rep["problem"].str.contains("same file name")]
    assert len(shared_names) == 10
    assert all(Path(f).name.startswith("11289-") for f in shared_names["file"])
    few = out[out["split"] == "test"].head(6)
    x, y, m = load_split(few, "test", 64, ("crack",), with_masks=True, progress=False)
    assert m.shape == (6, 1, 64, 64) and 0 < m.float().mean() < 0.5


def test_cfd_labelled_pairs():
    root = shared("crackforest_cfd")
    df = scan_cfd(root, seed=0)
    assert len(df) == 118
    assert df["split"].value_counts().to_dict() == {"train": 59, "test": 47, "val": 12}
    assert df.equals(scan_dataset(root))
    out = validate_manifest(df)
    assert len(out) == 118
    few = df[df["split"] == "train"].head(4)
    x, y, m = load_split(few, "train", (32, 48), ("crack",), with_masks=True, progress=False)
    assert x.shape == (len(x), 3, 32, 48) and m.dtype == torch.uint8


def test_cfd_truncated_unlabelled_image_is_caught():
    """CFD's unlabelled 329.jpg is truncated: validation must name it."""
    root = shared("crackforest_cfd")
    bad = root / "image" / "329.jpg"
    if not bad.is_file():
        pytest.skip("../shared/data/crackforest_cfd/image/329.jpg not present")
    df = scan_cfd(root, seed=0)
    extra = df.iloc[[0]].copy()
    extra["path"], extra["mask_path"], extra["sha256"] = str(bad), "", ""
    with pytest.raises(DataError, match="329.jpg"):
        validate_manifest(pd.concat([df, extra], ignore_index=True), near_duplicates=False)


def test_scan_dataset_rejects_unknown_layout(tmp_path):
    (tmp_path / "weird").mkdir()
    (tmp_path / "weird" / "notes.txt").write_text("hello")
    with pytest.raises(DataError) as e:
        scan_dataset(tmp_path)
    msg = str(e.value)
    assert str(tmp_path) in msg
    for layout in KNOWN_LAYOUTS:
        assert layout in msg
