"""Tests of the manifest format and of validate_manifest, on small hand-made data sets."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from roadlite.data import (
    COLUMNS,
    DataError,
    read_manifest,
    scan_imagefolder,
    sha256_file,
    validate_manifest,
    write_manifest,
)


def _png(path: Path, seed: int, size=(24, 24)) -> Path:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return path


def _mask(path: Path, size=(24, 24)) -> Path:
    m = np.zeros((size[1], size[0]), np.uint8)
    m[5:9, :] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(m).save(path)
    return path


def _tree(root: Path, per_class: int = 3) -> Path:
    """ImageFolder tree with classes a, b in train / val / test, all images distinct."""
    seed = 0
    for split in ("train", "val", "test"):
        for cls in ("a", "b"):
            for i in range(per_class):
                seed += 1
                _png(root / split / cls / f"{split}_{i}.png", seed)
    return root


def _manifest(root: Path) -> pd.DataFrame:
    return scan_imagefolder(root, class_map={})


def test_clean_tree_passes(tmp_path):
    df = _manifest(_tree(tmp_path / "d"))
    out = validate_manifest(df)
    assert len(out) == 18 and out.attrs["n_dropped"] == 0
    assert (out["sha256"] == [sha256_file(p) for p in out["path"]]).all()


def test_truncated_png_is_named(tmp_path):
    root = _tree(tmp_path / "d")
    bad = root / "train" / "a" / "train_1.png"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    df = _manifest(root)
    with pytest.raises(DataError, match="train_1.png") as e:
        validate_manifest(df)
    assert "cannot decode" in str(e.value)
    report = tmp_path / "report.csv"
    out = validate_manifest(df, on_error="skip", report_path=report)
    assert len(out) == 17 and str(bad) not in set(out["path"])
    assert out.attrs["n_dropped"] == 1
    rep = pd.read_csv(report)
    assert rep.loc[0, "file"] == str(bad.resolve()) and rep.loc[0, "action"] == "dropped"
    assert list(rep.columns) == ["file", "split", "class", "problem", "severity", "action"]


def test_mask_of_other_size_is_named(tmp_path):
    root = _tree(tmp_path / "d")
    df = _manifest(root)
    df["mask_path"] = [str(_mask(tmp_path / "m" / f"{i}.png")) for i in range(len(df))]
    odd = _mask(tmp_path / "m" / "odd.png", size=(20, 24))
    df.loc[4, "mask_path"] = str(odd)
    with pytest.raises(DataError, match="odd.png") as e:
        validate_manifest(df)
    assert "20x24" in str(e.value) and "24x24" in str(e.value)
    assert len(validate_manifest(df, check_masks=False)) == 18
    df.loc[5, "mask_path"] = str(tmp_path / "m" / "missing.png")
    with pytest.raises(DataError, match="missing.png"):
        validate_manifest(df)


def test_empty_class_folder_is_named(tmp_path):
    root = _tree(tmp_path / "d")
    (root / "test" / "c").mkdir()
    with pytest.raises(DataError, match=r"test/c") as e:
        scan_imagefolder(root, class_map={})
    assert "'c'" in str(e.value)
    df = scan_imagefolder(root, class_map={}, on_empty="warn")
    assert len(df) == 18


def test_class_missing_from_a_split_is_named(tmp_path):
    root = _tree(tmp_path / "d")
    for p in (root / "val" / "b").glob("*.png"):
        p.unlink()
    (root / "val" / "b").rmdir()
    df = _manifest(root)
    with pytest.raises(DataError, match=r"split 'val' has no images of class 'b'"):
        validate_manifest(df)
    with pytest.raises(DataError, match="class 'b'"):
        validate_manifest(df, on_error="skip", report_path=tmp_path / "r.csv")
    assert "class 'b'" in (tmp_path / "r.csv").read_text()


def test_cross_split_duplicate_names_both_files(tmp_path):
    root = _tree(tmp_path / "d")
    src = root / "train" / "b" / "train_2.png"
    dup = root / "test" / "b" / "test_0.png"
    dup.write_bytes(src.read_bytes())
    df = _manifest(root)
    with pytest.raises(DataError) as e:
        validate_manifest(df)
    msg = str(e.value)
    assert str(src.resolve()) in msg and str(dup.resolve()) in msg
    assert "train" in msg and "test" in msg
    out = validate_manifest(df, on_error="skip", report_path=tmp_path / "r.json")
    assert len(out) == 17
    assert str(dup.resolve()) not in set(out["path"]) and str(src.resolve()) in set(out["path"])
    rep = json.loads((tmp_path / "r.json").read_text())
    assert [r["file"] for r in rep if r["severity"] == "error"] == [str(dup.resolve())]


def test_duplicate_within_split_is_a_warning(tmp_path):
    root = _tree(tmp_path / "d")
    src = root / "train" / "a" / "train_0.png"
    (root / "train" / "a" / "copy.png").write_bytes(src.read_bytes())
    df = _manifest(root)
    out = validate_manifest(df, report_path=tmp_path / "r.csv")
    assert len(out) == 19 and out.attrs["n_warnings"] == 1
    rep = pd.read_csv(tmp_path / "r.csv")
    assert rep.loc[0, "severity"] == "warning" and rep.loc[0, "action"] == "kept"
    line = rep.loc[0, "file"] + " " + rep.loc[0, "problem"]
    assert "copy.png" in line and "train_0.png" in line and "within split train" in line


def test_same_bytes_under_two_classes_is_an_error(tmp_path):
    root = _tree(tmp_path / "d")
    src = root / "train" / "a" / "train_0.png"
    (root / "train" / "b" / "extra.png").write_bytes(src.read_bytes())
    with pytest.raises(DataError, match="different classes"):
        validate_manifest(_manifest(root))


def test_near_duplicate_across_splits(tmp_path):
    root = _tree(tmp_path / "d")
    src = root / "train" / "a" / "train_1.png"
    a = np.asarray(Image.open(src)).astype(np.int16)
    near = np.clip(a + 2, 0, 255).astype(np.uint8)  # re-encoded, slightly brighter
    Image.fromarray(near).save(root / "test" / "a" / "again.png")
    df = _manifest(root)
    with pytest.raises(DataError, match="near-duplicate") as e:
        validate_manifest(df)
    assert "again.png" in str(e.value) and "train_1.png" in str(e.value)
    assert len(validate_manifest(df, near_duplicates=False)) == 19


def test_sha256_mismatch(tmp_path):
    df = _manifest(_tree(tmp_path / "d"))
    df.loc[0, "sha256"] = "0" * 64
    with pytest.raises(DataError, match="differs from the manifest"):
        validate_manifest(df)


def test_skip_needs_a_report_path(tmp_path):
    df = _manifest(_tree(tmp_path / "d"))
    with pytest.raises(ValueError, match="report_path"):
        validate_manifest(df, on_error="skip")
    with pytest.raises(ValueError, match="on_error"):
        validate_manifest(df, on_error="ignore")


def test_missing_image_file(tmp_path):
    df = _manifest(_tree(tmp_path / "d"))
    df.loc[3, "path"] = str(tmp_path / "gone.png")
    with pytest.raises(DataError, match="gone.png"):
        validate_manifest(df)


def test_manifest_roundtrip_relative_and_absolute(tmp_path):
    root = _tree(tmp_path / "d")
    df = _manifest(root)
    outside = _png(tmp_path / "elsewhere" / "x.png", 99)
    df.loc[0, "path"] = str(outside)
    path = write_manifest(df, root / "manifest.csv")
    text = path.read_text().splitlines()
    assert text[0] == ",".join(COLUMNS)
    assert str(outside.resolve()) in text[1]  # outside the folder: absolute
    assert text[2].split(",")[0] == "test/a/test_1.png"  # inside: relative
    assert not list(root.glob(".manifest.csv*")), "temporary file left behind"
    back = read_manifest(path)
    assert back["path"].tolist() == df["path"].tolist()
    assert (back["mask_path"] == "").all() and (back["condition"] == "").all()


def test_read_manifest_names_file_and_missing_column(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("path,class,split\na.png,x,train\n")
    with pytest.raises(DataError, match=r"m\.csv.*mask_path.*condition.*sha256"):
        read_manifest(p)
    with pytest.raises(DataError, match="nope.csv"):
        read_manifest(tmp_path / "nope.csv")


def test_png_bytes_helper_is_valid():
    buf = io.BytesIO()
    Image.new("RGB", (3, 3)).save(buf, "PNG")
    assert buf.getvalue().startswith(b"\x89PNG")
