"""Tests of the procedural generator, generated data sets, loading and the colour baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from roadlite.colour_baseline import color_histogram_features, fit_color_histogram_baseline
from roadlite.data import (
    CLASSES_4,
    CLASSES_5,
    CONDITIONS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    DataError,
    denormalize,
    generate_dataset,
    generate_sample,
    load_split,
    normalize,
    read_manifest,
    sample_seed,
    sha256_file,
)

CRACKS = ("alligator", "longitudinal", "transverse")


def test_same_seed_gives_identical_bytes():
    for cls in CLASSES_5:
        a = generate_sample(cls, "rain", 64, seed=123)
        b = generate_sample(cls, "rain", 64, seed=123)
        assert a.image.tobytes() == b.image.tobytes()
        assert a.mask.tobytes() == b.mask.tobytes()
        assert a.meta == b.meta


def test_different_seed_differs():
    for cls in CLASSES_5:
        a = generate_sample(cls, "parallel", 64, seed=1)
        b = generate_sample(cls, "parallel", 64, seed=2)
        assert not np.array_equal(a.image, b.image)


@pytest.mark.parametrize("size", [32, 64, 96, 128, 512])
def test_shapes_and_dtypes(size):
    conds = CONDITIONS if size <= 128 else ("oblique",)
    for cond in conds:
        for cls in ("alligator", "broken_marking", "intact"):
            s = generate_sample(cls, cond, size, seed=size)
            assert s.image.shape == (size, size, 3) and s.image.dtype == np.uint8
            assert s.mask.shape == (size, size) and s.mask.dtype == np.uint8
            assert set(np.unique(s.mask)) <= {0, 1}
            assert s.meta["class"] == cls and s.meta["condition"] == cond


def test_intact_masks_are_empty():
    for cond in CONDITIONS:
        for seed in range(4):
            assert generate_sample("intact", cond, 64, seed).mask.sum() == 0


def test_distress_masks_are_not_empty():
    for cls in CRACKS + ("broken_marking", "crack"):
        for cond in CONDITIONS:
            for seed in range(3):
                s = generate_sample(cls, cond, 64, seed)
                assert s.mask.sum() > 0, (cls, cond, seed)
                assert 0 < s.meta["mask_fraction"] < 0.9


def test_cracks_are_darker_than_their_surroundings():
    darker = 0
    for seed in range(10):
        s = generate_sample("longitudinal", "parallel", 96, seed)
        lum = s.image.astype(float).mean(axis=2)
        m = s.mask.astype(bool)
        darker += lum[m].mean() < lum[~m].mean()
    assert darker >= 9


def test_orientation_of_linear_cracks():
    """Longitudinal masks extend along the image vertical, transverse ones across."""

    def spread(mask):
        ys, xs = np.nonzero(mask)
        return ys.std(), xs.std()

    votes = 0
    for seed in range(8):
        lv, lh = spread(generate_sample("longitudinal", "parallel", 96, seed).mask)
        tv, th = spread(generate_sample("transverse", "parallel", 96, seed).mask)
        votes += int(lv > lh) + int(th > tv)
    assert votes >= 14


def test_oblique_differs_from_parallel():
    for cls in ("longitudinal", "broken_marking"):
        p = generate_sample(cls, "parallel", 64, seed=5)
        o = generate_sample(cls, "oblique", 64, seed=5)
        assert o.meta["view"] == "oblique" and p.meta["view"] == "top-down"
        assert not np.array_equal(p.image, o.image)


def test_night_is_darker_than_parallel():
    night = np.mean([generate_sample("intact", "night", 48, s).image.mean() for s in range(6)])
    day = np.mean([generate_sample("intact", "parallel", 48, s).image.mean() for s in range(6)])
    assert night < day


def test_crack_class_picks_a_crack_type():
    kinds = {generate_sample("crack", "parallel", 32, s).meta["crack_type"] for s in range(12)}
    assert kinds <= set(CRACKS) and len(kinds) >= 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown class"):
        generate_sample("pothole", "parallel", 32, 0)
    with pytest.raises(ValueError, match="unknown condition"):
        generate_sample("intact", "fog", 32, 0)


def test_sample_seed_is_deterministic_and_distinct():
    assert sample_seed(0, "train", "alligator", 3) == sample_seed(0, "train", "alligator", 3)
    seeds = {
        sample_seed(0, sp, c, i) for sp in ("train", "test") for c in CLASSES_4 for i in range(5)
    }
    assert len(seeds) == 2 * 4 * 5
    assert sample_seed(1, "train", "alligator", 3) != sample_seed(0, "train", "alligator", 3)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    counts = {"train": 8, "val": 4, "test": 4}
    df = generate_dataset(out, CLASSES_4, CONDITIONS, counts, size=32, seed=7, progress=False)
    return out, df, counts


def test_generate_dataset_layout_and_manifest(generated):
    out, df, counts = generated
    assert len(df) == 4 * sum(counts.values())
    assert (out / "manifest.csv").is_file()
    for split, n in counts.items():
        for cls in CLASSES_4:
            files = sorted((out / split / cls).glob("*.png"))
            masks = sorted((out / "masks" / split / cls).glob("*.png"))
            assert len(files) == n and len(masks) == n
            sub = df[(df["split"] == split) & (df["class"] == cls)]
            # conditions balanced within class and split
            assert (
                sub["condition"].value_counts().max() - sub["condition"].value_counts().min() <= 1
            )
    assert not list(out.rglob("*.tmp")), "temporary files left behind"
    for row in df.itertuples():
        assert sha256_file(row.path) == row.sha256
    m = read_manifest(out / "manifest.csv")
    assert m["path"].tolist() == df["path"].tolist()
    assert m["mask_path"].tolist() == df["mask_path"].tolist()
    raw = (out / "manifest.csv").read_text().splitlines()
    assert raw[1].startswith("train/"), "paths inside the folder are stored relative"


def test_one_sample_can_be_regenerated_alone(generated):
    out, df, _ = generated
    row = df[(df["split"] == "val") & (df["class"] == "transverse")].iloc[2]
    s = generate_sample("transverse", row["condition"], 32, sample_seed(7, "val", "transverse", 2))
    assert np.array_equal(np.asarray(Image.open(row["path"])), s.image)
    mask = np.asarray(Image.open(row["mask_path"]))
    assert set(np.unique(mask)) <= {0, 255}
    assert np.array_equal(mask > 127, s.mask > 0)


def test_load_split_and_masks(generated):
    _, df, counts = generated
    x, y = load_split(df, "train", 24, CLASSES_4, progress=False)
    assert x.shape == (4 * counts["train"], 3, 24, 24) and x.dtype == torch.uint8
    assert y.dtype == torch.int64 and set(y.tolist()) == {0, 1, 2, 3}
    x, y, m = load_split(df, "val", (16, 20), CLASSES_4, with_masks=True, progress=False)
    assert x.shape[2:] == (16, 20) and m.shape == (len(x), 1, 16, 20) and m.dtype == torch.uint8
    assert set(torch.unique(m).tolist()) <= {0, 1}


def test_load_split_errors(generated):
    _, df, _ = generated
    with pytest.raises(DataError, match="broken_marking"):
        load_split(df, "train", 16, ("alligator", "longitudinal", "transverse"), progress=False)
    with pytest.raises(DataError, match="holdout"):
        load_split(df, "holdout", 16, CLASSES_4, progress=False)


def test_normalize_roundtrip():
    x = torch.randint(0, 256, (2, 3, 5, 5), dtype=torch.uint8)
    z = normalize(x)
    assert z.dtype == torch.float32
    expect = (x[:, 1].float() / 255 - IMAGENET_MEAN[1]) / IMAGENET_STD[1]
    assert torch.allclose(z[:, 1], expect, atol=1e-5)
    assert torch.equal(denormalize(z), x)
    with pytest.raises(TypeError):
        normalize(x.float())


def test_color_histogram_features():
    x = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8)
    f = color_histogram_features(x, bins=16)
    assert f.shape == (3, 48) and f.dtype == np.float32
    assert np.allclose(f.reshape(3, 3, 16).sum(-1), 1.0)
    white = torch.full((1, 3, 4, 4), 255, dtype=torch.uint8)
    f = color_histogram_features(white, bins=8)
    assert f[0, 7] == 1.0 and f[0, 15] == 1.0 and f[0, 23] == 1.0


def test_color_histogram_baseline_learns_colour():
    rng = np.random.default_rng(0)

    def make(n):
        y = rng.integers(0, 2, n)
        base = np.where(y[:, None, None, None] == 1, 170, 80)
        x = np.clip(base + rng.normal(0, 20, (n, 3, 8, 8)), 0, 255).astype(np.uint8)
        return x, y

    xtr, ytr = make(60)
    xte, yte = make(30)
    r = fit_color_histogram_baseline(xtr, ytr, xte, yte, seed=0)
    assert r["accuracy"] > 0.95 and r["predictions"].shape == (30,)
