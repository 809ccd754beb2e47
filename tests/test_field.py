"""Chapter 12_field_test: tiling and stitching, the inspector's measurements, the pipeline on a
fake model set, the HTML report and the errors of `roadlite inspect`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from roadlite import field
from roadlite.field import measure, pipeline, tiling
from roadlite.field.data import Photo, PhotoError, generate_photo, user_photos
from roadlite.imaging import png_bytes

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------- tiling

@pytest.mark.parametrize("h,w,tile,overlap", [(384, 544, 96, 16), (50, 70, 64, 8),
                                              (96, 96, 96, 0), (200, 130, 64, 63),
                                              (97, 301, 32, 5)])
def test_tiles_stitch_back_exactly_with_the_identity_model(h, w, tile, overlap):
    rng = np.random.default_rng(h * w)
    mask = (rng.random((h, w)) < 0.3).astype(np.float32)
    grid = tiling.tile_grid(h, w, tile, overlap)
    tiles = tiling.cut_tiles(mask, grid)
    assert tiles.shape == (len(grid), tile, tile)
    assert np.array_equal(tiling.stitch(tiles, grid), mask)
    # every pixel is covered, neighbours share at least `overlap` pixels, no tile leaves
    assert tiling.coverage(grid, range(len(grid))).all()
    ys = sorted({y for y, _ in grid.positions})
    if len(ys) > 1:
        assert max(np.diff(ys)) <= tile - overlap
    assert all(y + tile <= max(h, tile) and x + tile <= max(w, tile) for y, x in grid.positions)


def test_stitch_averages_overlaps_and_leaves_unsegmented_pixels_at_zero():
    grid = tiling.tile_grid(10, 16, 10, 4)  # two tiles: x = 0 and x = 6
    assert grid.positions == ((0, 0), (0, 6))
    two = tiling.stitch(np.stack([np.ones((10, 10)), np.zeros((10, 10))]), grid)
    assert np.allclose(two[:, :6], 1) and np.allclose(two[:, 6:10], 0.5)
    assert np.allclose(two[:, 10:], 0)
    only_second = tiling.stitch(np.ones((1, 10, 10)), grid, which=[1])
    assert np.allclose(only_second[:, :6], 0) and np.allclose(only_second[:, 6:], 1)


def test_tile_grid_rejects_an_overlap_as_large_as_the_tile():
    with pytest.raises(ValueError, match="overlap"):
        tiling.tile_grid(100, 100, 32, 32)


# ------------------------------------------------------------------------- measurements

@pytest.mark.parametrize("width", [1, 3, 5, 9])
@pytest.mark.parametrize("vertical", [False, True])
def test_straight_crack_of_known_length_and_width(width, vertical):
    m = np.zeros((120, 320), np.uint8)
    m[40:40 + width, 50:250] = 1  # length 200
    if vertical:
        m = np.ascontiguousarray(m.T)
    r = measure.measure_mask(m, mm_per_pixel=0.5)
    assert abs(r["length_px"] - 200) <= 1.5, r
    assert r["mean_width_px"] == pytest.approx(width) and r["max_width_px"] == width
    assert r["n_cracks"] == 1 and r["crack_pixels"] == 200 * width
    assert r["length_mm"] == pytest.approx(0.5 * r["length_px"])
    assert r["mean_width_mm"] == pytest.approx(0.5 * width)


def test_diagonal_hairline_is_measured_in_diagonal_steps():
    m = np.zeros((100, 100), np.uint8)
    idx = np.arange(10, 90)
    m[idx, idx] = 1
    r = measure.measure_mask(m)
    assert r["length_px"] == pytest.approx(79 * np.sqrt(2) + 1, abs=0.5)
    assert r["mean_width_px"] == 1.0


def test_half_circle_arc_of_known_length_and_width():
    yy, xx = np.mgrid[:300, :300]
    rad = np.hypot(yy - 150, xx - 150)
    m = ((rad >= 97.5) & (rad <= 102.5) & (xx > 150)).astype(np.uint8)  # width 5, radius 100
    r = measure.measure_mask(m)
    # chain-code lengths overestimate off-axis directions by up to 8 % (module docstring)
    assert np.pi * 100 <= r["length_px"] <= 1.08 * np.pi * 100
    assert abs(r["mean_width_px"] - 5) <= 1 and r["max_width_px"] <= 5


def test_separate_cracks_specks_and_an_empty_mask():
    m = np.zeros((100, 200), np.uint8)
    m[10:13, 10:110] = 1
    m[60:63, 20:180] = 1
    m[90, 190] = 1  # a speck
    assert measure.measure_mask(m)["n_cracks"] == 3
    r = measure.measure_mask(m, min_pixels=5)
    assert r["n_cracks"] == 2 and r["crack_pixels"] == 3 * 100 + 3 * 160
    assert abs(r["length_px"] - 260) <= 3
    empty = measure.measure_mask(np.zeros((20, 20)), mm_per_pixel=1.0)
    assert empty["length_px"] == 0 and empty["n_cracks"] == 0 and empty["length_mm"] == 0


def test_skeleton_is_one_pixel_thin_and_keeps_the_crack_connected():
    from scipy import ndimage

    rng = np.random.default_rng(0)
    m = np.zeros((80, 80), bool)
    for _ in range(6):
        y, x = rng.integers(5, 70, 2)
        m[y:y + 6, x:x + rng.integers(5, 30)] = True
    m = ndimage.binary_dilation(m, iterations=1)
    sk = measure.thin_corners(measure.skeletonize(m))
    assert not (sk[:-1, :-1] & sk[1:, 1:] & sk[:-1, 1:] & sk[1:, :-1]).any()  # no 2x2 block
    eight = np.ones((3, 3))
    assert ndimage.label(sk, eight)[1] == ndimage.label(m, eight)[1]
    assert (sk <= m).all()


# ------------------------------------------------------------------------ generated photos

def test_generated_photo_is_reproducible_and_its_mask_marks_its_cracks():
    a, ma, da = generate_photo(192, 128, seed=3, n_distresses=4)
    b, mb, db = generate_photo(192, 128, seed=3, n_distresses=4)
    assert np.array_equal(a, b) and np.array_equal(ma, mb) and da == db
    assert a.shape == (128, 192, 3) and ma.shape == (128, 192) and set(np.unique(ma)) <= {0, 1}
    cracks = [d for d in da if d["kind"] != "broken_marking"]
    assert ma.any() == bool(cracks)
    for d in da:
        x0, y0, x1, y1 = d["box"]
        assert 0 <= x0 < x1 <= 192 and 0 <= y0 < y1 <= 128
    # crack pixels are darker than the road around them (a 9 x 9 median), other pixels not
    from scipy import ndimage

    grey = a.mean(axis=2)
    darker = ndimage.median_filter(grey, 9) - grey
    assert not cracks or darker[ma > 0].mean() > 5 + darker[ma == 0].mean()


def test_generated_photos_reject_more_minimum_than_maximum_distresses():
    with pytest.raises(ValueError, match="min_distresses = 4"):
        field.generated_photos(1, 64, 64, distresses=(4, 2))


# ------------------------------------------------------------- the pipeline, fake models

def _fake_models(size: int = 32, with_type: bool = True) -> pipeline.Models:
    """A model set that reads the answer off the photo: the segmenter returns the red channel
    / 255, the classifier flags tiles with any red pixel, the typer says 'transverse'."""
    seg = pipeline.TileModel("seg", "fake", size, lambda t: t[..., 0] / 255.0)
    cls = pipeline.TileModel("cls", "fake", size,
                             lambda t: (t[..., 0] > 127).any(axis=(1, 2)).astype(float))
    typer = pipeline.TileModel("type", "fake", size,
                               lambda t: np.tile([0.1, 0.9], (len(t), 1)),
                               classes=("longitudinal", "transverse")) if with_type else None
    return pipeline.Models(cls, seg, typer)


def _answer_photo(name: str = "p") -> Photo:
    mask = np.zeros((70, 150), np.uint8)
    mask[20:23, 10:110] = 1  # one crack, length 100, width 3, in the left part only
    img = np.repeat(mask[:, :, None] * 255, 3, axis=2).astype(np.uint8)
    return Photo(name, png_bytes(img), mask, [{"kind": "transverse", "box": [10, 20, 110, 23]}])


def test_inspector_on_a_fake_model_set_finds_the_crack_exactly():
    r = pipeline.inspect_photo(_answer_photo(), _fake_models(), overlap=8, compare_all=True,
                               mm_per_pixel=2.0)
    assert r.prob.shape == (70, 150)
    assert r.truth["f1"] == 1.0 and r.truth["iou"] == 1.0 and r.truth["f1_all"] == 1.0
    assert r.truth["missed_by_gate"] == 0 and r.truth["gt_outside_flagged"] == 0
    assert 0 < len(r.flagged) < len(r.grid)  # tiles without crack are not segmented
    assert abs(r.truth["length_error_px"]) < 1e-9 and r.truth["mean_width_error_px"] == 0
    assert r.measures["length_mm"] == pytest.approx(2 * r.measures["length_px"])
    assert r.types == [{"true": "transverse", "predicted": "transverse", "confidence": 0.9}]
    assert set(pipeline.GATED_STAGES) <= set(r.seconds) and "segment_all" in r.seconds
    s = pipeline.summarize([r, pipeline.inspect_photo(_answer_photo("q"), _fake_models(),
                                                      overlap=8)])
    assert s["pooled"]["f1"] == 1.0 and s["ods_ois"]["ods_f1"] == 1.0
    assert s["gate"]["missed_share_of_found"] == 0 and s["type_accuracy"] == 1.0
    # the fake classifier says 0 or 1: every threshold in (0, 1) flags the same tiles
    assert len(s["gate_curve"]) == len(pipeline.GATE_SWEEP)
    assert {c["missed_share_of_found"] for c in s["gate_curve"]} == {0.0}
    skipped = 1 - len(r.flagged) / len(r.grid)
    assert all(c["tiles_skipped_share"] == pytest.approx(skipped) for c in s["gate_curve"])
    assert s["photos_per_second"] > 0
    h = pipeline.headline_numbers(s)
    assert h["f1"] == h["iou"] == h["f1_all"] == 100 and h["missed"] == 0
    assert h["type_acc"] == 100 and h["len_err"] == 0


def test_max_side_scales_photo_mask_and_pixel_size_together():
    photo = _answer_photo()  # 150 x 70, crack length 100 px
    r = pipeline.inspect_photo(photo, _fake_models(), overlap=8, max_side=75, mm_per_pixel=1.0)
    assert r.image.shape[:2] == r.mask.shape == (35, 75)
    assert r.truth["f1"] > 0.5  # the crack's edge rows are resampled differently
    # length in the scaled photo's pixels, in mm of the original: about 100 mm either way
    assert r.measures["length_mm"] == pytest.approx(2 * r.measures["length_px"])
    assert abs(r.measures["length_mm"] - 100) <= 4


def test_a_gate_that_flags_nothing_costs_every_crack_pixel():
    models = _fake_models()
    models.classifier = pipeline.TileModel("cls", "fake", 32, lambda t: np.zeros(len(t)))
    r = pipeline.inspect_photo(_answer_photo(), models, overlap=8)
    assert len(r.flagged) == 0 and not r.prob.any()
    assert r.truth["f1"] == 0 and r.truth["f1_all"] == 1.0
    assert r.truth["missed_by_gate"] == r.truth["gt_crack_pixels"] == 300


def test_gate_curve_equals_a_gated_run_at_each_threshold():
    """The trade curve, computed from the all-tile run, is what a gated run at that threshold
    gives: a classifier whose probability grows from left to right flags fewer tiles (and
    misses more crack pixels) as the threshold rises."""
    models = _fake_models()
    models.classifier = pipeline.TileModel(
        "cls", "fake", 32, lambda t: np.linspace(0, 1, len(t)))  # grid order: row by row
    photo = _answer_photo()
    full = pipeline.inspect_photo(photo, models, overlap=8, compare_all=True)
    for row in full.gate_curve:
        gated = pipeline.inspect_photo(photo, models, overlap=8, compare_all=False,
                                       gate_threshold=row["gate_threshold"])
        assert row["flagged"] == len(gated.flagged)
        assert row["missed"] == int(((photo.mask > 0) & (gated.prob < 0.5)).sum())
    flagged = [row["flagged"] for row in full.gate_curve]
    assert flagged == sorted(flagged, reverse=True) and flagged[0] > flagged[-1]
    assert full.gate_curve[0]["missed"] < full.gate_curve[-1]["missed"]


def test_report_is_written_with_each_photo_overlaid(tmp_path):
    results = [pipeline.inspect_photo(_answer_photo(n), _fake_models(), overlap=8)
               for n in ("first", "second")]
    html_path, csv_path = field.write_report(results, tmp_path / "out", {"seg": "fake"}, 0.5)
    text = html_path.read_text()
    assert text.count('<img src="data:image/png;base64,') == 2
    assert "first" in text and "second" in text and "segment_gated" in text
    import pandas as pd

    table = pd.read_csv(csv_path)
    assert list(table["photo"]) == ["first", "second"]
    assert {"length_px", "mean_width_px", "n_cracks", "f1", "length_mm",
            "inspection_ms"} <= set(table.columns)
    assert (table["f1"] == 1.0).all()
    over = field.report.overlay(results[0])
    assert over[21, 50].tolist() == [255, 126, 126]  # crack pixel: white photo, red overlay
    assert over[50, 140].tolist() == [0, 0, 0]  # no crack, no flagged tile there


def test_inspect_command_writes_the_report_with_a_fake_model_set(tmp_path, monkeypatch, capsys):
    from roadlite.field import command

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(np.asarray(Image.open(__import__("io").BytesIO(
            _answer_photo().data)))).save(photos / f"road_{i}.png")
    (photos / "notes.txt").write_text("not a photo, ignored in a folder")
    monkeypatch.setattr(command, "load_models", lambda up, with_type=True: _fake_models())
    assert command.main([str(photos), "--out", str(tmp_path / "rep"), "--overlap", "4"]) == 0
    out = capsys.readouterr().out
    assert "[1/2] road_0" in out and "[2/2] road_1" in out
    assert (tmp_path / "rep" / "report.html").is_file()
    assert len((tmp_path / "rep" / "measurements.csv").read_text().splitlines()) == 3


# ------------------------------------------------------------------ the command's errors

def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib")}
    return subprocess.run([sys.executable, "-m", "roadlite.cli", "inspect", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.slow  # three subprocesses, each importing torch
def test_inspect_errors_name_the_problem_in_one_line(tmp_path):
    bad = tmp_path / "photo.jpg"
    bad.write_text("this is text, not a JPEG")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("no photos here")
    good = tmp_path / "road.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(good)
    cases = [((str(bad), "--out", str(tmp_path / "o")), f"{bad} is not an image"),
             ((str(empty), "--out", str(tmp_path / "o")), f"{empty} holds no images"),
             ((str(good), "--out", str(tmp_path / "o"), "--artifacts",
               str(tmp_path / "no_run"), "--profile", "smoke"),
              "run `make 07_quantization 10_crack_classifier 11_crack_segmentation "
              "PROFILE=smoke ARTIFACTS=")]
    for args, message in cases:
        r = _cli(*args, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("roadlite inspect: error: "), r.stderr
        assert message in lines[0], lines[0]
    assert not (tmp_path / "o").exists()


def test_field_photos_use_the_books_one_mask_and_image_reader(tmp_path):
    """Chapter 12 reads a mask file as chapters 01, 10 and 11 do (issue 19): a red mask marks
    the same cracks as a white one, a grey-level mask is refused naming the file; a 16-bit grey
    photo is scaled to 8 bits, not clipped to white."""
    from roadlite.data import DataError
    from roadlite.field.data import decode, folder_photos

    (tmp_path / "image").mkdir()
    (tmp_path / "masks_png").mkdir()
    Image.fromarray(np.full((40, 48, 3), 90, np.uint8)).save(tmp_path / "image" / "001.jpg")
    crack = np.zeros((40, 48), bool)
    crack[10:13, 5:40] = True
    red = np.zeros((40, 48, 3), np.uint8)
    red[crack] = (255, 0, 0)
    Image.fromarray(red).save(tmp_path / "masks_png" / "001.png")
    (photo,) = folder_photos(tmp_path)
    assert np.array_equal(photo.mask.astype(bool), crack)
    ramp = np.tile(np.linspace(0, 255, 48).astype(np.uint8), (40, 1))
    Image.fromarray(ramp).save(tmp_path / "masks_png" / "001.png")
    with pytest.raises(DataError, match="001.png"):
        folder_photos(tmp_path)
    buf = io.BytesIO()
    Image.fromarray(np.full((20, 20), 4000, np.uint16)).save(buf, format="PNG")
    assert decode(buf.getvalue()).max() == 16  # 4000 / 65535 of the range, not 255


def test_user_photos_lists_a_folders_images_sorted(tmp_path):
    for name in ("b.png", "a.jpg", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in user_photos(tmp_path)] == ["a.jpg", "b.png"]
    with pytest.raises(PhotoError, match="does not exist"):
        user_photos(tmp_path / "missing")


# ------------------------------------------------------------------------------ real data

@pytest.mark.realdata
def test_deepcrack_full_size_test_photos_through_the_inspector():
    """Two of DeepCrack's test photos at native size (../shared/data), with the fake model set:
    masks fit the photos, and the stitched answer is exact."""
    from roadlite.paths import shared_data_dir

    root = shared_data_dir() / "deepcrack"
    if not root.is_dir():
        pytest.skip("../shared/data/deepcrack is absent (a user's clone)")
    photos = field.folder_photos(root, limit=2)
    assert len(photos) == 2
    for p in photos:
        image = field.data.decode(p.data)
        assert image.shape[:2] == p.mask.shape == (384, 544) and p.mask.any()
        answer = Photo(p.name, png_bytes(np.repeat(p.mask[:, :, None] * 255, 3, 2)), p.mask)
        r = pipeline.inspect_photo(answer, _fake_models(96, with_type=False), overlap=16)
        assert r.truth["f1"] == 1.0 and abs(r.truth["length_error_px"]) < 1e-9


def test_results_page_section_reads_the_chapters_metrics():
    from roadlite.results import MISSING, field_test_section

    assert MISSING in field_test_section({})[-1]
    summary = pipeline.summarize([pipeline.inspect_photo(_answer_photo(), _fake_models(),
                                                         overlap=8)])
    text = "\n".join(field_test_section({"12_field_test": {"metrics": {
        "summary": summary, "photos": 1, "source": "generated", "tile": 32, "overlap": 8}}}))
    assert "100.0 / 100.0" in text and "87 (classification app" in text
    assert "150x70 px" in text


@pytest.mark.slow  # two small LiteRT exports
def test_tflite_runners_agree_with_the_pytorch_runners(tmp_path):
    """The .tflite wrappers read the files as the chapters export them: normalised NCHW input,
    one logit per pixel (segmenter), two logits with crack second (classifier)."""
    import torch

    from roadlite.export import export_tflite

    torch.manual_seed(0)
    seg = torch.nn.Conv2d(3, 1, 3, padding=1).eval()
    cls = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten()).eval()
    tiles = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    for name, net, kind in (("seg", seg, "segmenter"), ("cls", cls, "classifier")):
        path = export_tflite(net, tmp_path / f"{name}.tflite", 32)
        lite = pipeline.tflite_model(name, path, kind).run(tiles)
        ref = pipeline.torch_model(name, net, 32, kind).run(tiles)
        assert lite.shape == ref.shape == ((3, 32, 32) if kind == "segmenter" else (3,))
        assert np.abs(lite - ref).max() < 1e-4


@pytest.mark.realdata
def test_mobilitenet_demo_photos_carry_their_type():
    """MobiLiteNet's demo photos (../shared/data): the test split's 20 photos, each one whole
    distress of the book's class names; a typer that answers 'transverse' is right on 5."""
    from roadlite.paths import shared_data_dir

    root = shared_data_dir() / "mobilitenet_4class_demo"
    if not root.is_dir():
        pytest.skip("../shared/data/mobilitenet_4class_demo is absent (a user's clone)")
    photos = field.type_photos(root)
    assert len(photos) == 20
    assert {p.distresses[0]["kind"] for p in photos} == {"alligator", "broken_marking",
                                                         "longitudinal", "transverse"}
    rows = field.classify_types(photos, _fake_models().typer)
    assert sum(r["true"] == r["predicted"] for r in rows) == 5


def test_load_models_falls_back_to_checkpoints_and_names_what_is_missing(tmp_path):
    """Without the chapters' .tflite files the inspector runs their PyTorch checkpoints (and
    says so); without Model 5's file the error names chapter 07's make command."""
    import json

    from roadlite.crack_classifier import PolatClassifier, save_classifier
    from roadlite.segmentation.networks import LRCrackNet
    from roadlite.segmentation.train import save_network
    from roadlite.upstream import Upstream

    up = Upstream.at(tmp_path, "tiny")
    for chapter, metrics in (("10_crack_classifier", {"img_size": 32}),
                             ("11_crack_segmentation", {"img_size": 32, "width": 4}),
                             ("07_quantization", {"classes": ["a", "b"],
                                                  "models": {"model5_int8": {
                                                      "tflite_file": "tflite/none.tflite"}}})):
        up.dir(chapter).mkdir(parents=True)
        (up.dir(chapter) / "metrics.json").write_text(json.dumps(metrics))
    save_classifier(PolatClassifier(), up.dir("10_crack_classifier") / "models" /
                    "crack_classifier.pt")
    (up.dir("11_crack_segmentation") / "models").mkdir()
    save_network(LRCrackNet(4), up.dir("11_crack_segmentation") / "models" / "student.pt")
    models = pipeline.load_models(up, with_type=False)
    assert set(models.labels().values()) == {"PyTorch checkpoint (no .tflite)"}
    tiles = np.zeros((2, 32, 32, 3), np.uint8)
    assert models.classifier.run(tiles).shape == (2,)
    assert models.segmenter.run(tiles).shape == (2, 32, 32)
    with pytest.raises(pipeline.MissingModelError, match="make 07_quantization PROFILE=tiny"):
        pipeline.load_models(up, with_type=True)
