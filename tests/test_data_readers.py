"""The book's one image and mask reader, and the input checks every chapter gets (issue 19).

Each test goes through the functions the chapters call (chapter 01's validation and scanners,
the loaders of chapters 01-09, 10 and 11), so that it fails where one chapter reads a file
differently from another, or lets a bad file through in silence.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from roadlite.data import DataError, load_split, scan_dataset, validate_manifest, write_manifest

# The tests below call the chapters' own loaders; the reader's own functions (new with issue
# 19) are imported where used, so that every other test runs, and fails, on the code before.


def _seg_loader():
    """Chapter 11's loader (its data half may live in ``segmentation.data``)."""
    try:
        from roadlite.segmentation.data import load_segmentation_split
    except ImportError:
        from roadlite.segmentation.train import load_segmentation_split
    return load_segmentation_split


def _img(path: Path, size=(32, 32), seed=0, mode="RGB") -> Path:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).convert(mode).save(path)
    return path


def _bar_mask(size=(32, 32)) -> np.ndarray:
    m = np.zeros((size[1], size[0]), bool)
    m[10:14, 2:30] = True
    return m


def _save_mask(path: Path, mask: np.ndarray, style: str) -> Path:
    """One crack mask drawn in several ways a user's data set may hold."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = mask.shape
    if style == "white":
        Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    elif style == "red":
        a = np.zeros((h, w, 3), np.uint8)
        a[mask] = (255, 0, 0)
        Image.fromarray(a).save(path)
    elif style == "labels01":
        Image.fromarray(mask.astype(np.uint8)).save(path)
    elif style == "palette":
        a = np.zeros((h, w, 3), np.uint8)
        a[mask] = (200, 30, 255)
        Image.fromarray(a).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(path)
    elif style == "rgba":  # white everywhere, only the crack opaque
        a = np.full((h, w, 4), 255, np.uint8)
        a[..., 3] = mask.astype(np.uint8) * 255
        Image.fromarray(a, "RGBA").save(path)
    elif style == "16bit":
        Image.fromarray(mask.astype(np.uint16) * 65535).save(path)
    else:
        raise ValueError(style)
    return path


def _row(img: Path, mask: Path | None, cls="crack", split="train") -> dict:
    return {"path": str(img), "mask_path": str(mask) if mask else "", "class": cls,
            "condition": "", "split": split, "sha256": ""}


# ---- one mask rule in every chapter ------------------------------------------------------

MASK_STYLES = ["white", "red", "labels01", "palette", "rgba", "16bit"]


@pytest.mark.parametrize("style", MASK_STYLES)
def test_every_chapter_reads_a_mask_the_same_way(tmp_path, style):
    from roadlite.crack_classifier import read_mask_checked

    truth = _bar_mask()
    img = _img(tmp_path / "a.png")
    mask = _save_mask(tmp_path / "a_mask.png", truth, style)
    df = pd.DataFrame([_row(img, mask)])
    _, _, m01 = load_split(df, "train", 32, ["crack"], with_masks=True, progress=False)
    assert np.array_equal(m01[0, 0].numpy().astype(bool), truth), "chapters 01-09"
    assert np.array_equal(read_mask_checked(img, mask), truth), "chapter 10"
    seg = _seg_loader()(df, "train", 32)
    assert np.array_equal(seg.mask[0, 0].numpy().astype(bool), truth), "chapter 11"
    from roadlite.imaging import read_mask

    assert np.array_equal(read_mask(mask).astype(bool), truth)


def test_a_grey_ramp_mask_is_refused_by_chapter_01_and_every_loader(tmp_path):
    img = _img(tmp_path / "a.png", size=(256, 32))
    ramp = np.tile(np.arange(256, dtype=np.uint8), (32, 1))
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    df = pd.DataFrame([_row(img, tmp_path / "ramp.png")])
    with pytest.raises(DataError, match=r"ramp\.png.*not binary"):
        validate_manifest(df, near_duplicates=False)
    with pytest.raises(DataError, match=r"ramp\.png.*not binary"):
        load_split(df, "train", 32, ["crack"], with_masks=True, progress=False)
    from roadlite.crack_classifier import read_mask_checked

    with pytest.raises(DataError, match=r"ramp\.png.*not binary"):
        read_mask_checked(img, tmp_path / "ramp.png")


def test_a_mask_with_no_clear_crack_value_is_refused(tmp_path):
    m = np.zeros((32, 32), np.uint8)
    m[3, 3:20] = 100  # thin: too few grey pixels for the share rule, but no crack value
    from roadlite.imaging import read_mask

    Image.fromarray(m).save(tmp_path / "dim.png")
    with pytest.raises(DataError, match=r"dim\.png has no clear crack value"):
        read_mask(tmp_path / "dim.png")


def test_a_mask_of_another_size_is_refused_by_the_classification_loader(tmp_path):
    img = _img(tmp_path / "a.png", size=(40, 32))
    mask = _save_mask(tmp_path / "a_mask.png", _bar_mask((32, 32)), "white")
    df = pd.DataFrame([_row(img, mask)])
    with pytest.raises(DataError, match=r"a_mask\.png is 32x32.*a\.png is 40x32"):
        load_split(df, "train", 32, ["crack"], with_masks=True, progress=False)


# ---- images: bit depth, alpha, minimum size ------------------------------------------------

def test_a_16_bit_png_is_scaled_not_clipped(tmp_path):
    v = (np.arange(32 * 32, dtype=np.uint32).reshape(32, 32) * 64).astype(np.uint16)
    Image.fromarray(v).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    df = pd.DataFrame([_row(tmp_path / "g16.png", None, cls="a")])
    x, _ = load_split(df, "train", 32, ["a"], progress=False)
    want = np.round(v.astype(np.float64) * 255 / 65535)
    assert np.abs(x[0, 0].numpy().astype(float) - want).max() <= 1
    assert x[0].numpy().std() > 50  # today: all 255 but the darkest row


def test_alpha_is_composited_on_black_and_opaque_images_are_unchanged(tmp_path):
    def load(name: str) -> np.ndarray:
        df = pd.DataFrame([_row(tmp_path / name, None, cls="a")])
        return load_split(df, "train", 20, ["a"], progress=False)[0][0].permute(1, 2, 0).numpy()

    a = np.random.default_rng(1).integers(0, 256, (20, 20, 4), dtype=np.uint8)
    a[..., 3] = 255
    Image.fromarray(a, "RGBA").save(tmp_path / "opaque.png")
    assert np.array_equal(load("opaque.png"), a[..., :3])
    a[:10, :, 3] = 0  # the top half transparent: no picture there
    Image.fromarray(a, "RGBA").save(tmp_path / "half.png")
    out = load("half.png")
    assert not out[:10].any() and np.array_equal(out[10:], a[10:, :, :3])


def test_an_image_below_the_minimum_size_is_refused_naming_it(tmp_path):
    small = _img(tmp_path / "icon.png", size=(8, 8))
    df = pd.DataFrame([_row(small, None, cls="a")])
    with pytest.raises(DataError, match=r"icon\.png: image is 8x8 pixels"):
        load_split(df, "train", 32, ["a"], progress=False)
    with pytest.raises(DataError, match=r"icon\.png.*8x8 pixels, below"):
        validate_manifest(df, near_duplicates=False)
    from roadlite.imaging import MIN_IMAGE_SIDE, read_image

    ok = _img(tmp_path / "ok.png", size=(MIN_IMAGE_SIDE, MIN_IMAGE_SIDE))
    assert read_image(ok, 32).shape == (32, 32, 3)


# ---- chapter 10's data_root: chapter 01's validation --------------------------------------

def _ozgenel(root: Path, n=6) -> Path:
    for k, cls in enumerate(("Positive", "Negative")):
        for i in range(n):
            _img(root / cls / f"{i:05d}.jpg", size=(40, 40), seed=100 * k + i)
    return root


@pytest.mark.parametrize("bad", ["truncated", "text"])
def test_chapter_10_data_root_bad_jpeg_is_named(tmp_path, bad):
    from roadlite.crack_classifier import load_task

    root = _ozgenel(tmp_path / "oz")
    target = root / "Positive" / "00003.jpg"
    if bad == "truncated":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    else:
        target.write_text("this is not a picture\n")
    with pytest.raises(DataError, match=r"00003\.jpg.*cannot decode image"):
        load_task(None, str(root), 32, seed=0, val_frac=0.2, test_frac=0.2)


# ---- chapter 10's patch sets: red masks ---------------------------------------------------

def test_a_patch_set_with_red_masks_gives_crack_patches(tmp_path):
    from roadlite.crack_classifier import crack_patches

    root = tmp_path / "redset"
    for i in range(2):
        img = _img(root / "test_img" / f"{i}.png", size=(64, 64), seed=i)
        m = np.zeros((64, 64), bool)
        m[5:9, 0:30] = True  # a crack in the top-left 32 x 32 tile, the others intact
        _save_mask(root / "test_lab" / f"{i}.png", m, "red")
        assert img.exists()
    ps = crack_patches(root, "redset", patch_size=32, img_size=32, max_per_class=4, seed=0)
    assert len(ps) == 4 and ps.labels.tolist().count(1) == 2


def test_a_patch_set_without_any_crack_patch_is_a_clear_error(tmp_path):
    from roadlite.crack_classifier import crack_patches

    root = tmp_path / "blank"
    _img(root / "test_img" / "0.png", size=(64, 64))
    _save_mask(root / "test_lab" / "0.png", np.zeros((64, 64), bool), "white")
    with pytest.raises(DataError, match=r"blank.*patch_size = 32.*0 crack and 4 intact"):
        crack_patches(root, "blank", patch_size=32, img_size=32, max_per_class=4)


# ---- chapter 01: one class, manifest paths -------------------------------------------------

def test_a_one_class_folder_is_refused_unless_it_has_masks(tmp_path):
    root = tmp_path / "only_positive"
    for i in range(6):
        _img(root / "Positive" / f"{i}.png", seed=i)
    with pytest.raises(DataError, match=r"only_positive.*only one class, 'positive'.*Negative/"):
        scan_dataset(root)
    seg = tmp_path / "seg"  # a segmentation set: one class, every image with a mask
    for split in ("train", "test"):
        for i in range(3):
            _img(seg / f"{split}_img" / f"{i}.png", seed=10 + i)
            _save_mask(seg / f"{split}_lab" / f"{i}.png", _bar_mask(), "white")
    assert set(scan_dataset(seg)["class"]) == {"crack"}


@pytest.mark.parametrize("entry", ["../../../etc/passwd", "/etc/passwd", "a/../../x.png"])
def test_a_data_folders_manifest_stays_inside_it(tmp_path, entry):
    root = tmp_path / "data"
    rows = []
    pairs = [(c, s) for c in ("a", "b") for s in ("train", "val", "test")]
    for k, (cls, split) in enumerate(pairs):
        p = _img(root / split / cls / "x.png", seed=k)
        rows.append(_row(p, None, cls=cls, split=split))
    write_manifest(pd.DataFrame(rows), root / "manifest.csv")
    assert len(scan_dataset(root)) == 6  # a good one reads as before
    text = (root / "manifest.csv").read_text().splitlines()
    text[1] = text[1].replace(text[1].split(",")[0], entry, 1)
    (root / "manifest.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=rf"manifest\.csv: line 2, path '{entry}' points outside"):
        scan_dataset(root)


def test_png_bytes_and_read_image_round_trip():
    from roadlite.imaging import png_bytes, read_image

    a = np.random.default_rng(3).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    buf = io.BytesIO(png_bytes(a))
    assert np.array_equal(read_image(buf), a)
