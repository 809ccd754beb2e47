"""Parameters checked together and against their data before anything runs, and profile names
that stay plain names (issue 19: crop vs img_size, patch_size, deepcrack_val, profile=..)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from roadlite import pipeline
from roadlite.data.validate import DataError
from roadlite.params import (
    ParameterError,
    check_value,
    load_profile,
    resolve_params,
    validate_params,
)

ROOT = Path(__file__).resolve().parents[1]


def values(chapter, **changes):
    """A chapter's smoke parameters with ``changes`` (a notebook's namespace)."""
    p = resolve_params(chapter, "smoke")
    p.update(changes)
    return p


def deepcrack(root: Path, n_train: int, size=(64, 48), n_test: int = 2, crack=True) -> Path:
    """A DeepCrack-layout folder: ``n_train`` and ``n_test`` image / mask pairs of ``size``
    (width, height), each mask with a horizontal crack (or none)."""
    w, h = size
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        (root / f"{split}_img").mkdir(parents=True)
        (root / f"{split}_lab").mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
                root / f"{split}_img" / f"{i:03d}.jpg")
            mask = np.zeros((h, w), np.uint8)
            if crack:
                mask[h // 2:h // 2 + 2, :] = 255
            Image.fromarray(mask).save(root / f"{split}_lab" / f"{i:03d}.png")
    return root


# ---- chapter 11: crop <= img_size ----------------------------------------------------------------

def test_crop_larger_than_img_size_is_refused_naming_both():
    """Today crop=128 with img_size=64 runs, and run.json records a crop training never used."""
    with pytest.raises(ParameterError, match=r"11_crack_segmentation: parameter 'crop' = 128 is "
                                             r"larger than 'img_size' = 64"):
        resolve_params("11_crack_segmentation", "smoke", {"crop": 128})
    with pytest.raises(ParameterError, match=r"'crop' = 128 is larger than 'img_size' = 64"):
        validate_params("11_crack_segmentation", values("11_crack_segmentation", crop=128),
                        check_upstream=False)
    assert resolve_params("11_crack_segmentation", "smoke", {"crop": 64})["crop"] == 64


def test_roadlite_run_refuses_the_crop_before_it_writes_anything(tmp_path, capsys):
    art = tmp_path / "art"
    rc = pipeline.main(["run", "11_crack_segmentation", "--profile", "smoke", "--artifacts",
                        str(art), "crop=128"])
    assert rc == 2
    assert "'crop' = 128 is larger than 'img_size' = 64" in capsys.readouterr().err
    assert not art.exists()


# ---- chapter 10: patch_size ----------------------------------------------------------------------

def test_a_patch_size_no_image_can_hold_is_refused_before_training(tmp_path):
    """Today PATCH_SIZE=1024 trains, then ends in scikit-learn's "Found empty input array"."""
    dc = deepcrack(tmp_path / "dc", 2, size=(64, 48))
    ns = values("10_crack_classifier", patch_datasets=[str(dc)], patch_size=64)
    with pytest.raises(ParameterError, match=r"10_crack_classifier: parameter 'patch_size' = 64: "
                                             r"no 64 x 64 patch can be cut from patch data set "
                                             r".*dc.*is 48 x 48. Set patch_size to at most 48"):
        validate_params("10_crack_classifier", ns, check_upstream=False)
    with pytest.raises(ParameterError, match="'patch_size' = 1024"):
        resolve_params("10_crack_classifier", "smoke",
                       {"patch_datasets": [str(dc)], "patch_size": 1024})
    ns["patch_size"] = 48
    assert validate_params("10_crack_classifier", ns, check_upstream=False).patch_size == 48


def test_a_patch_set_that_is_not_found_is_left_to_the_chapter(tmp_path, monkeypatch):
    """A registered set that is not downloaded is skipped by the chapter (with the reason), so
    the check passes it."""
    ns = values("10_crack_classifier", patch_datasets=["deepcrack"], patch_size=1024)
    monkeypatch.setenv("ROADLITE_ROOT", str(tmp_path))  # no data/, no ../shared/data
    assert validate_params("10_crack_classifier", ns, check_upstream=False).patch_size == 1024


def test_cutting_a_set_without_a_crack_no_crack_pair_names_patch_size(tmp_path):
    """Where the data decides (masks without cracks here), the patch cutter stops with a
    message naming patch_size instead of returning an empty set."""
    from roadlite.crack_classifier import crack_patches

    dc = deepcrack(tmp_path / "dc", 1, size=(64, 64), n_test=2, crack=False)
    with pytest.raises(DataError, match=r"dc: no crack / no-crack patch pair at patch_size = 32: "
                                        r"its 2 image\(s\) gave 0 crack and 8 intact"):
        crack_patches(dc, "dc", patch_size=32, img_size=32, max_per_class=4)


# ---- chapter 11: deepcrack_val ----------------------------------------------------------------

def test_deepcrack_val_must_leave_training_images(tmp_path):
    """Today deepcrack_val >= the training set ends in "split 'train' is empty", which names no
    parameter; the smoke profile's own 90 hits it on any set of 90 or fewer training images."""
    dc = deepcrack(tmp_path / "dc", 3)
    assert load_profile("smoke")["11_crack_segmentation"].get("deepcrack_val", 90) == 90
    with pytest.raises(ParameterError, match=r"'deepcrack_val' = 90 must be below the number of "
                                             r"DeepCrack training images in data_root .*: 3\).*"
                                             r"at most 2"):
        resolve_params("11_crack_segmentation", "smoke", {"data_root": str(dc)})
    ns = values("11_crack_segmentation", data_root=str(dc), deepcrack_val=3)
    with pytest.raises(ParameterError, match=r"'deepcrack_val' = 3 must be below"):
        validate_params("11_crack_segmentation", ns, check_upstream=False)
    ns["deepcrack_val"] = 2
    assert validate_params("11_crack_segmentation", ns, check_upstream=False).deepcrack_val == 2


def test_deepcrack_val_does_not_apply_to_other_layouts(tmp_path):
    cfd = tmp_path / "cfd"
    (cfd / "image").mkdir(parents=True)
    (cfd / "masks_png").mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(cfd / "image" / f"{i}.jpg")
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(cfd / "masks_png" / f"{i}.png")
    p = resolve_params("11_crack_segmentation", "smoke", {"data_root": str(cfd)})
    assert p["deepcrack_val"] == 90  # CFD keeps its scanner's split


# ---- profile names ---------------------------------------------------------------------------

BAD_NAMES = ["..", ".", "a/b", "../escape", "/tmp/x", ".hidden", "a b", ""]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_profile_is_a_plain_name(name):
    """Today `profile=..` passes the check (only '/' was refused) and a run writes
    <artifacts>/../<chapter>/, where publishing replaces a folder of that name."""
    with pytest.raises(ParameterError, match="must be a plain name"):
        check_value("01_dataset", "profile", name)
    with pytest.raises(ParameterError, match="must be a plain name"):
        resolve_params("01_dataset", "smoke", {"profile": name})  # roadlite run profile=..
    with pytest.raises(ParameterError, match="must be a plain name"):  # papermill -p profile ..
        validate_params("01_dataset", values("01_dataset", profile=name), check_upstream=False)


@pytest.mark.parametrize("name", ["..", "../params/smoke", "a/b"])
def test_a_profile_file_is_looked_up_by_a_plain_name_only(name):
    with pytest.raises(ParameterError, match=f"profile {name!r} must be a plain name"):
        load_profile(name)


@pytest.mark.parametrize("words", [["profile=.."], ["--profile", ".."],
                                   ["--profile", "../params/smoke"], ["profile=a/b"]])
def test_roadlite_run_and_params_refuse_a_profile_path(tmp_path, capsys, words):
    art = tmp_path / "inside" / "art"
    assert pipeline.main(["run", "01_dataset", "--artifacts", str(art), *words]) == 2
    assert "must be a plain name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written, inside the root or beside it
    assert pipeline.main(["params", "01_dataset", *words]) == 2
    out = capsys.readouterr()
    assert "must be a plain name" in out.err and out.out == ""


def test_plain_names_with_dots_and_dashes_are_fine():
    for name in ("smoke", "my-class.2026", "A_1"):
        assert check_value("01_dataset", "profile", name) == name
