"""A faster way from a picture to an answer (Chapter 08_benchmark).

Chapter 08's first benchmark feeds every model the way a quick script would: decode the whole
PNG/JPEG with PIL, resize with PIL, normalise in float32, transpose to NCHW. For a model that
takes a millisecond, that costs as much as the model. This module is the deployment path:

* **pixels in** -- the model itself normalises (:class:`roadlite.export.PixelInput`, exported
  by chapter 07): it takes [1, H, W, 3] pixels. A full-integer model's int8 input has scale 1
  and zero point -128, so a uint8 pixel p is fed as p - 128, one XOR with 0x80
  (:class:`PixelRunner`); a float32 model gets the pixels cast to float32;
* **decode at reduced scale** -- a JPEG is decoded by PIL with ``Image.draft``, which lets
  libjpeg scale the DCT by 1/2, 1/4 or 1/8 while decoding, to the smallest of those sizes that
  is still at least the model's input size (:func:`decode_jpeg`);
* **a SIMD resize** -- OpenCV's ``cv2.resize`` (``INTER_AREA`` when shrinking, ``INTER_LINEAR``
  when enlarging) on the centre square of the frame (:func:`resize_square`).

:func:`time_input_path` times the stages decode / resize / inference / postprocess per image
for two sources: (a) a decoded camera frame (an RGB uint8 array, e.g. 640x480: no decode) and
(b) a JPEG photo (bytes, e.g. 512x512). :func:`stage_table` lays the results out; the runs
cycle through the images, and each stage's mean over all runs stands beside its median (the
paper averages the end-to-end time over ten test images).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from roadlite.export import TFLiteModel
from roadlite.measure import LatencyStats, gc_paused, postprocess

__all__ = ["INPUT_STAGES", "PixelRunner", "benchmark_input_paths", "camera_frames", "decode_jpeg",
           "jpeg_photos", "ratios", "resize_square", "stage_table", "time_input_path"]

INPUT_STAGES = ("decode", "resize", "inference", "postprocess", "end_to_end")
SOURCES = ("frame", "jpeg")


def _hwc_uint8(images: Any) -> list[np.ndarray]:
    """uint8 images [N, 3, H, W] (tensor or array) or a list of [H, W, 3] arrays -> list of
    contiguous [H, W, 3] uint8 arrays."""
    if isinstance(images, Sequence) and not isinstance(images, np.ndarray):
        arrays = [np.asarray(a) for a in images]
    else:
        a = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
        if a.ndim != 4 or a.shape[1] != 3:
            raise ValueError(f"expected images [N, 3, H, W], got shape {a.shape}")
        arrays = list(a.transpose(0, 2, 3, 1))
    out = []
    for a in arrays:
        if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
            raise ValueError(f"expected uint8 [H, W, 3] images, got {a.dtype} {a.shape}")
        out.append(np.ascontiguousarray(a))
    return out


def camera_frames(images: Any, width: int = 640, height: int = 480) -> list[np.ndarray]:
    """Stand-ins for decoded camera frames (Chapter 08_benchmark): each image enlarged to
    ``height`` x ``width`` RGB uint8 (OpenCV, bilinear)."""
    import cv2

    return [cv2.resize(a, (width, height), interpolation=cv2.INTER_LINEAR)
            for a in _hwc_uint8(images)]


def jpeg_photos(images: Any, size: int = 512, quality: int = 90) -> list[bytes]:
    """Stand-ins for photos (Chapter 08_benchmark): each image enlarged to ``size`` x ``size``
    and encoded as a baseline JPEG of ``quality``."""
    import cv2
    from PIL import Image

    out = []
    for a in _hwc_uint8(images):
        big = cv2.resize(a, (size, size), interpolation=cv2.INTER_LINEAR)
        buf = io.BytesIO()
        Image.fromarray(big).save(buf, "JPEG", quality=quality)
        out.append(buf.getvalue())
    return out


def decode_jpeg(data: bytes, min_size: int | None = None) -> np.ndarray:
    """JPEG (or any PIL format) bytes -> RGB uint8 [H, W, 3] (Chapter 08_benchmark).

    With ``min_size``, a JPEG is decoded at reduced scale (``Image.draft``): libjpeg scales by
    1/2, 1/4 or 1/8 during decoding, picking the smallest result whose sides are still at least
    ``min_size``. Other formats decode at full size.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            if min_size is not None and img.format == "JPEG":
                img.draft("RGB", (min_size, min_size))
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot decode image bytes ({len(data)} bytes): {exc}") from exc


def resize_square(frame: np.ndarray, size: int) -> np.ndarray:
    """The centre square of an [H, W, 3] frame resized to ``size`` x ``size`` with OpenCV
    (Chapter 08_benchmark). The crop is a view; a frame that is already ``size`` square is
    returned as it is.

    Shrinking halves the square with ``INTER_AREA`` (a 2 x 2 average: OpenCV's fast path) while
    it stays at least ``size``, then goes the rest of the way (less than 2x) with
    ``INTER_LINEAR``: an image pyramid. One ``INTER_AREA`` call at a factor such as 480 / 224
    averages the same pixels but takes OpenCV's general path, about ten times slower (chapter
    08's stage table had it cost as much as Model 5); ``INTER_LINEAR`` alone would skip pixels
    and alias. Enlarging uses ``INTER_LINEAR``.
    """
    import cv2

    h, w = frame.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = frame[top:top + s, left:left + s]
    while s // 2 >= size:
        s //= 2
        square = cv2.resize(square, (s, s), interpolation=cv2.INTER_AREA)
    if s == size:
        return square
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_LINEAR)


class PixelRunner:
    """A pixel-input ``.tflite`` classifier (:class:`roadlite.export.PixelInput`, input
    [1, H, W, 3]) fed uint8 pixels (Chapter 08_benchmark).

    ``logits(pixels)`` takes an [H, W, 3] uint8 array of the model's size. A float32 input gets
    the pixels cast to float32; an int8 input with scale 1 and zero point -128 (to 0.1 %) gets
    p - 128 as one XOR with 0x80 viewed as int8 (``fast_int8``; the 0.1 % scale difference
    moves an input by at most 0.26 of one grey level); any other quantized input is quantized
    with its scale and zero point.
    """

    def __init__(self, path: str | os.PathLike, num_threads: int = 1):
        self.model = TFLiteModel(path, num_threads=num_threads)
        shape = self.model.input_shape
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
            raise ValueError(f"{path}: input shape {shape} is not [1, H, W, 3] pixels")
        self.size = int(shape[1])
        d = self.model.input_details
        self.dtype = np.dtype(d["dtype"])
        scale, zero = d["quantization"]
        self.scale, self.zero = float(scale), int(zero)
        self.fast_int8 = (self.dtype == np.int8 and abs(self.scale - 1.0) < 1e-3
                          and self.zero == -128)
        self._interp = self.model.interpreter
        self._in, self._out = d["index"], self.model.output_details["index"]
        self._out_q = self.model.output_details["quantization"]

    def feed(self, pixels: np.ndarray) -> np.ndarray:
        """The input tensor's values for uint8 ``pixels`` [H, W, 3]."""
        if pixels.shape != (self.size, self.size, 3) or pixels.dtype != np.uint8:
            raise ValueError(f"expected uint8 pixels ({self.size}, {self.size}, 3), got "
                             f"{pixels.dtype} {pixels.shape}")
        if self.fast_int8:
            return np.bitwise_xor(pixels, np.uint8(0x80)).view(np.int8)[None]
        if np.issubdtype(self.dtype, np.integer):
            info = np.iinfo(self.dtype)
            q = np.round(pixels.astype(np.float32) / self.scale) + self.zero
            return np.clip(q, info.min, info.max).astype(self.dtype)[None]
        return pixels.astype(self.dtype)[None]

    def logits(self, pixels: np.ndarray) -> np.ndarray:
        """Run the model on uint8 ``pixels`` [H, W, 3]; float32 logits [1, K]."""
        self._interp.set_tensor(self._in, self.feed(pixels))
        self._interp.invoke()
        y = self._interp.get_tensor(self._out)
        if np.issubdtype(y.dtype, np.integer):
            scale, zero = self._out_q
            return (y.astype(np.float32) - zero) * scale
        return y.astype(np.float32, copy=False)


def time_input_path(path: str | os.PathLike, sources: Sequence[Any], source: str,
                    labels: Sequence[str], warmup: int = 10, runs: int = 50,
                    num_threads: int = 1) -> dict[str, Any]:
    """Time the faster input path per image, stage by stage (Chapter 08_benchmark).

    ``path``: a pixel-input ``.tflite`` file (:class:`PixelRunner`). ``sources``: decoded frames
    ([H, W, 3] uint8, ``source="frame"``: the decode stage is empty) or JPEG bytes
    (``source="jpeg"``: :func:`decode_jpeg` at reduced scale), used in turn. Each run: decode,
    :func:`resize_square` to the model's size, inference (feeding and ``invoke``), postprocess
    (softmax, argmax, label). Returns ``{stage: LatencyStats}`` for :data:`INPUT_STAGES` plus
    ``size``, ``source``, ``n_images`` and ``decoded_shape`` (of the first source).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if not sources:
        raise ValueError("no sources given")
    if runs < 1 or warmup < 0:
        raise ValueError(f"need runs >= 1 and warmup >= 0, got {runs} and {warmup}")
    runner = PixelRunner(path, num_threads=num_threads)
    size = runner.size

    def decode(item: Any) -> np.ndarray:
        return decode_jpeg(item, min_size=size) if source == "jpeg" else item

    def once(item: Any) -> tuple[int, ...]:
        clock = time.perf_counter_ns
        t0 = clock()
        frame = decode(item)
        t1 = clock()
        x = resize_square(frame, size)
        t2 = clock()
        y = runner.logits(x)
        t3 = clock()
        postprocess(y, labels)
        t4 = clock()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0

    for i in range(warmup):
        once(sources[i % len(sources)])
    samples = []
    with gc_paused():
        for i in range(runs):
            samples.append(once(sources[i % len(sources)]))
    times = np.asarray(samples)
    result: dict[str, Any] = {stage: LatencyStats.from_samples(times[:, j], warmup)
                              for j, stage in enumerate(INPUT_STAGES)}
    result.update(size=size, source=source, n_images=len(sources),
                  decoded_shape=tuple(decode(sources[0]).shape), path=str(Path(path)))
    return result


def benchmark_input_paths(files: Mapping[str, Mapping[Any, str | os.PathLike]],
                          sources: Mapping[str, Sequence[Any]], labels: Sequence[str],
                          warmup: int = 10, runs: int = 50, num_threads: int = 1
                          ) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every pixel-input model at every size from every source (Chapter 08_benchmark).

    ``files``: ``{model: {size: .tflite path}}`` (chapter 07's ``pixel_models``); ``sources``:
    ``{"frame": frames, "jpeg": JPEG bytes}``. Returns ``{(model, source, size): result of
    :func:`time_input_path`}``, models in the order given, then sources, then sizes.
    """
    out = {}
    for model, by_size in files.items():
        for source, items in sources.items():
            for size, path in sorted(by_size.items(), key=lambda kv: int(kv[0])):
                out[(model, source, int(size))] = time_input_path(
                    path, items, source, labels, warmup=warmup, runs=runs,
                    num_threads=num_threads)
    return out


def stage_table(results: Mapping[tuple, Mapping[str, Any]]) -> pd.DataFrame:
    """The stage table of the input path (Chapter 08_benchmark): one row per result of
    ``results`` (keys ``(model, source, ...)``, values :func:`time_input_path`'s dicts), the
    median of each stage and the end-to-end median and mean (over all runs, which cycle
    through the images), in ms."""
    rows = []
    for key, r in results.items():
        model, source = key[0], key[1]
        row: dict[str, Any] = {"model": model, "source": source, "size (px)": r["size"],
                               "decoded": "x".join(map(str, r["decoded_shape"][:2]))}
        for stage in INPUT_STAGES[:-1]:
            row[f"{stage} (ms)"] = r[stage].median_ms
        row["end-to-end median (ms)"] = r["end_to_end"].median_ms
        row["end-to-end mean (ms)"] = r["end_to_end"].mean_ms
        rows.append(row)
    return pd.DataFrame(rows).set_index(["model", "source", "size (px)"])


def ratios(table: pd.DataFrame, final: str, reference: str) -> pd.DataFrame:
    """``final``'s times over ``reference``'s in :func:`stage_table`'s table, per source and
    size (Chapter 08_benchmark): end to end (median and mean) and inference alone."""
    cols = {"end-to-end median": "end-to-end median (ms)", "end-to-end mean": "end-to-end mean (ms)",
            "inference": "inference (ms)"}
    missing = [m for m in (final, reference) if m not in table.index.get_level_values("model")]
    if missing:
        raise KeyError(f"no input-path measurement of {missing} in the table")
    a, b = table.xs(final, level="model"), table.xs(reference, level="model")
    common = a.index.intersection(b.index)
    if common.empty:
        raise KeyError(f"no (source, size) measured for both {final!r} and {reference!r}")
    return pd.DataFrame({name: a.loc[common, col] / b.loc[common, col]
                         for name, col in cols.items()})


def inference_speedup(table: pd.DataFrame, slow: str, fast: str, source: str = "frame"
                      ) -> dict[int, float]:
    """``slow``'s inference time over ``fast``'s in :func:`stage_table`'s table, per input size,
    from ``source`` (Chapter 08_benchmark: Model 5 with its normalisation computed over Model 5
    with it folded into the first convolution)."""
    infer = table["inference (ms)"].sort_index()
    return {int(z): float(t) for z, t in
            (infer.loc[slow, source] / infer.loc[fast, source]).items()}
