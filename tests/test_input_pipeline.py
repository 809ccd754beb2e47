"""The faster input path of chapter 08: pixel-input exports, reduced-scale decoding, OpenCV
resizing, the stage timings (Chapter 08_benchmark)."""

from __future__ import annotations

import copy
import io

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from roadlite.data.loading import IMAGENET_MEAN, IMAGENET_STD
from roadlite.export import (
    DecomposedHardswish,
    PixelInput,
    TFLiteModel,
    export_pixel_model,
    fold_normalisation,
    int8_friendly_hardswish,
    pixel_batches,
)
from roadlite.input_pipeline import (
    INPUT_STAGES,
    PixelRunner,
    benchmark_input_paths,
    camera_frames,
    decode_jpeg,
    inference_speedup,
    jpeg_photos,
    ratios,
    resize_square,
    stage_table,
    time_input_path,
)
from roadlite.training import normalize

IMG = 32
LABELS = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def make_net(tiny_net):
    """The tiny classifier with a batch norm and Hardswish, its running means not zero."""
    def build() -> nn.Module:
        net = tiny_net(batchnorm=True, act=nn.Hardswish)
        with torch.no_grad():
            net[1].running_mean.uniform_(-1, 1)
        return net.eval()
    return build


def _images(n=6, size=IMG, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)


def test_pixel_input_computing_the_normalisation_is_exact(make_net):
    net, x = make_net(), _images()
    with torch.no_grad():
        ref = net(normalize(x))
        nhwc = PixelInput(net, fold=False)(x.permute(0, 2, 3, 1).float())
        nchw = PixelInput(net, layout="NCHW", fold=False)(x.float())
    torch.testing.assert_close(nhwc, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(nchw, ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="layout"):
        PixelInput(net, layout="HWC")


def _normalise_float(p: torch.Tensor) -> torch.Tensor:
    m = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    s = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (p / 255.0 - m) / s


def test_folding_the_normalisation_into_the_first_convolution(make_net):
    net, x = make_net(), _images()
    folded, pad, fill = fold_normalisation(net)
    assert pad == (1, 1) and fill == pytest.approx(255 * np.mean(IMAGENET_MEAN))
    assert net[0].padding == (1, 1) and net[0].bias is not None  # the original is untouched
    with torch.no_grad():
        # exact: the folded net on the image padded with the pixel `fill` is the original net,
        # without its padding, on the normalised padded image
        padded = nn.functional.pad(x.float(), (1, 1, 1, 1), value=fill)
        unpadded = copy.deepcopy(net)
        unpadded[0].padding = (0, 0)
        torch.testing.assert_close(folded(padded), unpadded(_normalise_float(padded)),
                                   rtol=1e-4, atol=1e-4)
        got = PixelInput(net)(x.permute(0, 2, 3, 1).float())
        torch.testing.assert_close(got, folded(padded), rtol=1e-5, atol=1e-5)
        # against the original with its zero padding: only the border differs, a little
        ref = net(normalize(x))
        assert (got - ref).abs().max() < 0.05 * ref.abs().max()
    no_pad = make_net()
    no_pad[0].padding = (0, 0)
    with torch.no_grad():
        torch.testing.assert_close(PixelInput(no_pad)(x.permute(0, 2, 3, 1).float()),
                                   no_pad(normalize(x)), rtol=1e-4, atol=1e-4)


def test_folding_refuses_a_network_whose_first_convolution_is_not_on_the_image():
    net = nn.Sequential(nn.Conv2d(3, 6, 3, groups=3), nn.Flatten())
    with pytest.raises(ValueError, match="does not take the RGB image directly"):
        fold_normalisation(net)
    with pytest.raises(ValueError, match="no Conv2d"):
        fold_normalisation(nn.Sequential(nn.Flatten(), nn.Linear(3 * 64 * 64, 2)))


@pytest.mark.parametrize("arch", ["refined_mobilenet_v2", "eca_mobilenet_v2", "mobilenet_v3_small",
                                  "shufflenet_v2_x0_5", "mnasnet0_5", "efficientnet_b0",
                                  "squeezenet1_1"])
def test_every_network_of_the_book_folds(arch):
    from roadlite.models import build_model

    torch.manual_seed(0)
    net = build_model(arch, num_classes=4).eval()
    x = _images(2, 64)
    with torch.no_grad():
        ref = PixelInput(net, fold=False)(x.permute(0, 2, 3, 1).float())
        got = PixelInput(net)(x.permute(0, 2, 3, 1).float())
    assert (got - ref).abs().max() < 0.1 * ref.abs().max() + 1e-3, arch


def test_int8_friendly_hardswish_is_the_same_function_on_a_copy(make_net):
    net = make_net()
    out = int8_friendly_hardswish(net)
    assert isinstance(net[2], nn.Hardswish) and isinstance(out[2], DecomposedHardswish)
    assert not any(isinstance(m, nn.Hardswish) for m in out.modules())
    x = torch.linspace(-6, 6, 241)
    torch.testing.assert_close(DecomposedHardswish()(x), nn.functional.hardswish(x))
    with torch.no_grad():
        torch.testing.assert_close(out(normalize(_images())), net(normalize(_images())))


def test_pixel_batches():
    x = _images(5, 16)
    batches = pixel_batches(x, 16, batch_size=2)
    assert [tuple(b.shape) for b in batches] == [(2, 16, 16, 3), (2, 16, 16, 3), (1, 16, 16, 3)]
    np.testing.assert_array_equal(torch.cat(batches).numpy(),
                                  x.permute(0, 2, 3, 1).float().numpy())
    big = pixel_batches(x, 32, full_range=True)
    assert big[0].shape == (5, 32, 32, 3)
    assert big[0][0, 0, 0, 0] == 0 and big[0][0, 0, 1, 0] == 255
    assert float(big[0].min()) >= 0 and float(big[0].max()) <= 255
    with pytest.raises(ValueError, match="N, 3, H, W"):
        pixel_batches(torch.zeros(2, 16, 16, 3), 16)


@pytest.fixture(scope="module")
def pixel_files(tmp_path_factory, make_net):
    d = tmp_path_factory.mktemp("pixels")
    net = make_net()
    return net, {"fp32": export_pixel_model(net, d / "fp32.tflite", IMG),
                 "int8": export_pixel_model(net, d / "int8.tflite", IMG, quantization="static",
                                            calibration_images=_images(16, 48, seed=3))}


@pytest.mark.slow
def test_pixel_exports_take_pixels_and_agree_with_pytorch(pixel_files):
    net, files = pixel_files
    x = _images(8, seed=5)
    with torch.no_grad():
        ref = PixelInput(net)(x.permute(0, 2, 3, 1).float()).numpy()  # the folded network
    fp32, int8 = TFLiteModel(files["fp32"]), TFLiteModel(files["int8"])
    assert fp32.input_shape == (1, IMG, IMG, 3) and fp32.input_dtype == np.float32
    assert int8.input_dtype == np.int8
    scale, zero = int8.input_details["quantization"]
    assert zero == -128 and scale == pytest.approx(1.0, abs=1e-3)
    pix = x.permute(0, 2, 3, 1).float().numpy()
    np.testing.assert_allclose(fp32.predict(pix), ref, atol=1e-4)
    assert np.abs(int8.predict(pix) - ref).max() < 0.1 * np.abs(ref).max() + 0.05
    for name in ("fp32", "int8"):
        runner = PixelRunner(files[name])
        assert runner.size == IMG and runner.fast_int8 == (name == "int8")
        got = np.concatenate([runner.logits(np.ascontiguousarray(p)) for p in
                              x.permute(0, 2, 3, 1).numpy()])
        np.testing.assert_allclose(got, TFLiteModel(files[name]).predict(pix), atol=0.05)


@pytest.mark.slow
def test_fast_int8_feed_is_pixel_minus_128(pixel_files):
    _, files = pixel_files
    runner = PixelRunner(files["int8"])
    p = np.arange(256, dtype=np.uint8).repeat(IMG * IMG * 3)[:IMG * IMG * 3].reshape(IMG, IMG, 3)
    fed = runner.feed(p)
    assert fed.dtype == np.int8 and fed.shape == (1, IMG, IMG, 3)
    np.testing.assert_array_equal(fed[0].astype(int), p.astype(int) - 128)
    runner.fast_int8 = False  # the general path: round(p / scale) + zero point
    general = runner.feed(p)
    assert np.abs(general.astype(int) - fed.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="uint8 pixels"):
        runner.feed(p[:-1])


def _jpeg(size: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
                    ).save(buf, "JPEG")
    return buf.getvalue()


def test_decode_jpeg_at_reduced_scale():
    data = _jpeg(512)
    assert decode_jpeg(data).shape == (512, 512, 3)
    assert decode_jpeg(data, min_size=224).shape == (256, 256, 3)  # 1/2
    assert decode_jpeg(data, min_size=96).shape == (128, 128, 3)  # 1/4
    assert decode_jpeg(data, min_size=64).shape == (64, 64, 3)  # 1/8
    buf = io.BytesIO()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(buf, "PNG")
    assert decode_jpeg(buf.getvalue(), min_size=8).shape == (40, 40, 3)  # PNG: full size
    with pytest.raises(ValueError, match="cannot decode"):
        decode_jpeg(b"nope")


def test_resize_square_takes_the_centre():
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, 8:56] = 200  # the centre 48 x 48 square is bright, the side bands dark
    out = resize_square(frame, 24)
    assert out.shape == (24, 24, 3) and out.min() == 200
    up = resize_square(frame, 96)
    assert up.shape == (96, 96, 3) and up.min() == 200
    same = resize_square(frame[:, 8:56], 48)
    assert same.shape == (48, 48, 3)


def test_resize_square_is_a_pyramid_close_to_opencvs_area_average():
    import cv2

    rng = np.random.default_rng(0)
    frame = cv2.resize(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), (320, 240),
                       interpolation=cv2.INTER_LINEAR)  # a smooth frame, like a photo
    square = frame[:, 40:280]
    # a power-of-two factor: two 2 x 2 averages are the 4 x 4 average (up to one rounding)
    four = cv2.resize(square, (60, 60), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(resize_square(frame, 60).astype(int) - four).max() <= 1
    for size in (112, 48):  # other factors: close to the one-call area average
        area = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA).astype(float)
        got = resize_square(frame, size)
        assert got.shape == (size, size, 3) and got.dtype == np.uint8
        assert np.abs(got - area).mean() < 4.0, size


def test_camera_frames_and_jpeg_photos():
    x = _images(3, 16)
    frames = camera_frames(x, 64, 48)
    assert len(frames) == 3 and frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    photos = jpeg_photos(x, size=64)
    assert Image.open(io.BytesIO(photos[0])).size == (64, 64)
    assert Image.open(io.BytesIO(photos[0])).format == "JPEG"
    with pytest.raises(ValueError, match="N, 3, H, W"):
        camera_frames(np.zeros((2, 16, 16)), 8, 8)


@pytest.mark.slow
def test_time_input_path_and_stage_table(pixel_files):
    _, files = pixel_files
    x = _images(4, 16)
    res = {("int8", "frame"): time_input_path(files["int8"], camera_frames(x, 64, 48), "frame",
                                              LABELS, warmup=1, runs=6),
           ("fp32", "jpeg"): time_input_path(files["fp32"], jpeg_photos(x, 256), "jpeg",
                                             LABELS, warmup=1, runs=5)}
    for r in res.values():
        assert all(r[s].n_runs == r["end_to_end"].n_runs for s in INPUT_STAGES)
        assert r["end_to_end"].mean_ms > 0 and r["inference"].median_ms > 0
    assert res[("int8", "frame")]["decoded_shape"] == (48, 64, 3)
    assert res[("fp32", "jpeg")]["decoded_shape"] == (32, 32, 3)  # 256 / 8 = 32
    assert res[("int8", "frame")]["decode"].median_ms < 0.05
    table = stage_table(res)
    assert list(table.index) == [("int8", "frame", IMG), ("fp32", "jpeg", IMG)]
    assert list(table.columns) == ["decoded", "decode (ms)", "resize (ms)", "inference (ms)",
                                   "postprocess (ms)", "end-to-end median (ms)",
                                   "end-to-end mean (ms)"]
    assert table.loc[("fp32", "jpeg", IMG), "end-to-end mean (ms)"] == \
        res[("fp32", "jpeg")]["end_to_end"].mean_ms
    with pytest.raises(ValueError, match="source"):
        time_input_path(files["fp32"], [b""], "png", LABELS)


@pytest.mark.slow
def test_benchmark_input_paths_and_ratios(pixel_files):
    _, files = pixel_files
    x = _images(3, 16)
    res = benchmark_input_paths({"m5": {str(IMG): files["int8"]}, "base": {IMG: files["fp32"]}},
                                {"frame": camera_frames(x, 64, 48), "jpeg": jpeg_photos(x, 128)},
                                LABELS, warmup=1, runs=4)
    assert list(res) == [("m5", "frame", IMG), ("m5", "jpeg", IMG), ("base", "frame", IMG),
                         ("base", "jpeg", IMG)]
    table = stage_table(res)
    r = ratios(table, "m5", "base")
    assert list(r.index) == [("frame", IMG), ("jpeg", IMG)]
    assert r.loc[("jpeg", IMG), "inference"] == pytest.approx(
        res[("m5", "jpeg", IMG)]["inference"].median_ms
        / res[("base", "jpeg", IMG)]["inference"].median_ms)
    assert r.loc[("frame", IMG), "end-to-end mean"] == pytest.approx(
        res[("m5", "frame", IMG)]["end_to_end"].mean_ms
        / res[("base", "frame", IMG)]["end_to_end"].mean_ms)
    with pytest.raises(KeyError, match="nobody"):
        ratios(table, "m5", "nobody")


def test_inference_speedup_divides_the_two_models_inference_per_size():
    idx = pd.MultiIndex.from_tuples([("a", "frame", 96), ("a", "frame", 224), ("b", "frame", 96),
                                     ("b", "frame", 224), ("a", "jpeg", 96)],
                                    names=["model", "source", "size (px)"])
    table = pd.DataFrame({"inference (ms)": [2.0, 6.0, 1.0, 4.0, 9.0]}, index=idx)
    assert inference_speedup(table, "a", "b") == {96: 2.0, 224: 1.5}
