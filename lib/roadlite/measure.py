"""Measuring time: the timer and the one-image pipeline that several chapters use.

MobiLiteNet reports the time a phone needs per image from the photo to the answer. This module
measures the same pipeline on the host CPU, split in three timed stages:

1. **preprocess** -- decode a PNG/JPEG file held in memory (bytes, as a camera or a file read
   delivers it), resize it to the model's input size (bilinear), scale to [0, 1], normalise
   with the ImageNet mean/std and lay it out as a float32 batch of one, NCHW;
2. **inference** -- the LiteRT interpreter (:func:`benchmark_tflite`, XNNPACK on the CPU) or
   PyTorch eager (:func:`benchmark_torch`);
3. **postprocess** -- softmax, argmax and the label lookup.

``end_to_end`` is the time of the three together, measured per run (so its median is not the sum
of the stage medians). Every figure is a :class:`LatencyStats`: after untimed warm-up runs, at
least ``runs`` timed runs with :func:`time.perf_counter_ns`, summarised by median, quartiles,
IQR, minimum and mean. The garbage collector is paused while timing (as :mod:`timeit` does), so
a collection does not land in one stage by chance. :func:`time_callable` times any call the same
way.

Chapter 08_benchmark teaches it (:mod:`roadlite.latency` builds its benchmark matrix on it);
chapters 10_crack_classifier and 11_crack_segmentation time their own models with it.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from roadlite.data.loading import IMAGENET_MEAN, IMAGENET_STD
from roadlite.export import TFLiteModel, TFLiteModelError
from roadlite.imaging import image_hw, png_bytes

__all__ = [
    "STAGES",
    "LatencyStats",
    "TFLiteFileNotFoundError",
    "benchmark_tflite",
    "benchmark_torch",
    "decode_image",
    "gc_paused",
    "input_layout",
    "load_tflite",
    "postprocess",
    "preprocess",
    "random_images",
    "time_callable",
]

STAGES = ("preprocess", "inference", "postprocess", "end_to_end")

_MEAN = np.asarray(IMAGENET_MEAN, dtype=np.float32) * 255.0
_INV_STD = 1.0 / (np.asarray(IMAGENET_STD, dtype=np.float32) * 255.0)


class TFLiteFileNotFoundError(TFLiteModelError, FileNotFoundError):
    """The ``.tflite`` file does not exist (Chapter 08_benchmark).

    A :class:`~roadlite.export.TFLiteModelError` *and* a :class:`FileNotFoundError`, so either
    ``except`` clause catches it.
    """


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class LatencyStats:
    """Summary of the timed runs of one stage, in milliseconds (Chapter 08_benchmark).

    ``q1_ms`` / ``q3_ms`` are the 25th / 75th percentiles (linear interpolation),
    ``iqr_ms = q3_ms - q1_ms`` the spread that ignores outliers; ``n_runs`` timed runs came after
    ``warmup`` untimed ones.
    """

    median_ms: float
    q1_ms: float
    q3_ms: float
    iqr_ms: float
    min_ms: float
    mean_ms: float
    n_runs: int
    warmup: int

    @classmethod
    def from_samples(cls, samples_ns: Sequence[int] | np.ndarray, warmup: int = 0
                     ) -> LatencyStats:
        """Statistics of per-run durations given in nanoseconds."""
        ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
        if ms.size == 0:
            raise ValueError("no timed runs: LatencyStats needs at least one sample")
        q1, median, q3 = (float(v) for v in np.percentile(ms, [25, 50, 75]))
        return cls(median_ms=median, q1_ms=q1, q3_ms=q3, iqr_ms=q3 - q1,
                   min_ms=float(ms.min()), mean_ms=float(ms.mean()), n_runs=int(ms.size),
                   warmup=int(warmup))

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"{self.median_ms:.3f} ms (IQR {self.q1_ms:.3f}-{self.q3_ms:.3f}, "
                f"min {self.min_ms:.3f}, n={self.n_runs})")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The garbage collector paused for the duration of the block (as :mod:`timeit` does)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_counts(warmup: int, runs: int) -> None:
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")


def time_callable(fn: Callable[[], Any], warmup: int = 10, runs: int = 50,
                  min_seconds: float = 0.0) -> LatencyStats:
    """Time ``fn()`` (Chapter 08_benchmark): ``warmup`` untimed calls, then at least ``runs``
    timed calls, continuing until the timed calls add up to ``min_seconds``.

    Each call is timed on its own with :func:`time.perf_counter_ns`; the garbage collector is
    paused meanwhile.
    """
    _check_counts(warmup, runs)
    for _ in range(warmup):
        fn()
    samples: list[int] = []
    total = 0
    clock = time.perf_counter_ns
    with gc_paused():
        while len(samples) < runs or total < min_seconds * 1e9:
            t0 = clock()
            fn()
            dt = clock() - t0
            samples.append(dt)
            total += dt
    return LatencyStats.from_samples(samples, warmup)


# --------------------------------------------------------------------------- the pipeline


def decode_image(data: bytes) -> Any:
    """PNG/JPEG bytes -> an RGB :class:`PIL.Image.Image` (Chapter 08_benchmark)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot decode image bytes ({len(data)} bytes) as PNG/JPEG: {exc}"
                         ) from exc


def preprocess(data: bytes, height: int, width: int, layout: str = "NCHW") -> np.ndarray:
    """Stage 1 (Chapter 08_benchmark): encoded image bytes -> float32 batch of one.

    Decode, resize to ``height`` x ``width`` (bilinear), normalise with the ImageNet mean/std of
    :mod:`roadlite.training` (on 0-255 values: (x - 255 mean) / (255 std)), and return
    [1, 3, H, W] (``layout="NCHW"``, what the book's models take) or [1, H, W, 3] (``"NHWC"``).
    """
    from PIL import Image

    img = decode_image(data)
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    x = (np.asarray(img, dtype=np.float32) - _MEAN) * _INV_STD  # H, W, 3
    if layout == "NCHW":
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])
    if layout == "NHWC":
        return x[None]
    raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")


def postprocess(logits: np.ndarray, labels: Sequence[str]) -> tuple[str, float]:
    """Stage 3 (Chapter 08_benchmark): logits [1, K] -> (label, probability) of the top class
    (softmax, argmax, label lookup)."""
    z = np.asarray(logits, dtype=np.float32).reshape(-1)
    e = np.exp(z - z.max())
    probs = e / e.sum()
    k = int(probs.argmax())
    return labels[k], float(probs[k])


def random_images(height: int, width: int, n: int = 4, seed: int = 0) -> list[bytes]:
    """``n`` PNG files (bytes) of uniform random RGB noise (Chapter 08_benchmark): stand-ins when
    no real images are given. Noise does not compress, so decoding them is a little slower than
    decoding a photo of the same size."""
    rng = np.random.default_rng(seed)
    return [png_bytes(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
            for _ in range(n)]


def input_layout(shape: tuple[int, ...]) -> tuple[str, int, int]:
    """(layout, H, W) of an image input shape (1, 3, H, W) or (1, H, W, 3)."""
    if len(shape) == 4 and shape[1] == 3:
        return "NCHW", shape[2], shape[3]
    if len(shape) == 4 and shape[3] == 3:
        return "NHWC", shape[1], shape[2]
    raise ValueError(f"not an RGB image input: {shape}")


def load_tflite(path: str | os.PathLike, num_threads: int = 1,
                img_size: int | Sequence[int] | None = None) -> TFLiteModel:
    """Open a ``.tflite`` image classifier for benchmarking, with clear errors (Chapter 08_benchmark).

    Raises :class:`TFLiteFileNotFoundError` for a missing file,
    :class:`~roadlite.export.TFLiteModelError` for a file the interpreter cannot load, for an
    input that is not one RGB image (1, 3, H, W) / (1, H, W, 3), and, when ``img_size`` is given,
    for an input of another size; the messages name the file and both shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise TFLiteFileNotFoundError(f"TFLite model file not found: {path}")
    try:
        model = TFLiteModel(path, num_threads=num_threads)
    except FileNotFoundError as exc:  # vanished in between
        raise TFLiteFileNotFoundError(f"TFLite model file not found: {path}") from exc
    shape = model.input_shape
    try:
        layout, h, w = input_layout(shape)
        if shape[0] != 1:
            raise ValueError("batch is not 1")
    except ValueError as exc:
        raise TFLiteModelError(
            f"TFLite model {path} has input shape {shape}; the latency benchmark needs one RGB "
            f"image, (1, 3, H, W) or (1, H, W, 3)"
        ) from exc
    if img_size is not None:
        rh, rw = image_hw(img_size)
        if (h, w) != (rh, rw):
            wanted = (1, 3, rh, rw) if layout == "NCHW" else (1, rh, rw, 3)
            raise TFLiteModelError(
                f"TFLite model {path} has input shape {shape}, but image size {rh}x{rw} was "
                f"requested, i.e. input shape {wanted}: export the model at this image size "
                f"or benchmark it at {h}x{w}"
            )
    return model


def _check_images(image_bytes: Sequence[bytes]) -> list[bytes]:
    images = list(image_bytes)
    if not images:
        raise ValueError("image_bytes is empty: give at least one encoded PNG/JPEG image")
    for i, data in enumerate(images):
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"image_bytes[{i}] is {type(data).__name__}, expected bytes")
    return images


def _run_pipeline(pre: Callable[[bytes], Any], infer: Callable[[Any], Any],
                  post: Callable[[Any], Any], images: list[bytes], warmup: int, runs: int,
                  min_seconds: float) -> dict[str, LatencyStats]:
    """Run the three stages on ``images`` in turn; time each stage and the whole per run."""
    _check_counts(warmup, runs)
    for i in range(warmup):
        post(infer(pre(images[i % len(images)])))
    clock = time.perf_counter_ns
    t = {s: [] for s in STAGES}
    total = 0
    with gc_paused():
        i = 0
        while i < runs or total < min_seconds * 1e9:
            data = images[i % len(images)]
            t0 = clock()
            x = pre(data)
            t1 = clock()
            y = infer(x)
            t2 = clock()
            post(y)
            t3 = clock()
            t["preprocess"].append(t1 - t0)
            t["inference"].append(t2 - t1)
            t["postprocess"].append(t3 - t2)
            t["end_to_end"].append(t3 - t0)
            total += t3 - t0
            i += 1
    return {s: LatencyStats.from_samples(t[s], warmup) for s in STAGES}


def _labels(labels: Sequence[str] | None, k: int) -> list[str]:
    if labels is None:
        return [f"class_{i}" for i in range(k)]
    labels = list(labels)
    if len(labels) != k:
        raise ValueError(f"{len(labels)} labels given for a model with {k} outputs")
    return labels


def benchmark_tflite(path: str | os.PathLike, image_bytes: Sequence[bytes], num_threads: int = 1,
                     warmup: int = 10, runs: int = 50, *,
                     img_size: int | Sequence[int] | None = None,
                     labels: Sequence[str] | None = None,
                     min_seconds: float = 0.0) -> dict[str, Any]:
    """End-to-end latency of a ``.tflite`` classifier in the LiteRT interpreter (Chapter 08_benchmark).

    ``image_bytes``: encoded PNG/JPEG files, used in turn (run i takes image i mod n). Each run
    times preprocessing (to the model's own input size and layout), ``interpreter.invoke`` with
    the input/output copies (and the int8 (de)quantization of a full-integer model), and the
    postprocessing; see the module docstring. ``img_size`` (optional) must match the model's
    input (see :func:`load_tflite`); ``labels`` default to ``class_0 ...``.

    Returns ``{"preprocess", "inference", "postprocess", "end_to_end"}`` -> :class:`LatencyStats`,
    plus ``runtime``, ``path``, ``num_threads``, ``input_shape``, ``input_dtype``,
    ``size_bytes``, ``n_images`` and ``prediction`` (label and probability for the first image).
    :func:`roadlite.artifacts.jsonable` turns it into plain JSON types.
    """
    images = _check_images(image_bytes)
    model = load_tflite(path, num_threads=num_threads, img_size=img_size)
    layout, h, w = input_layout(model.input_shape)
    n_out = int(np.prod(model.output_details["shape"]))
    names = _labels(labels, n_out)

    def pre(data: bytes) -> np.ndarray:
        return preprocess(data, h, w, layout)

    def post(logits: np.ndarray) -> tuple[str, float]:
        return postprocess(logits, names)

    result: dict[str, Any] = _run_pipeline(pre, model.predict, post, images, warmup, runs,
                                           min_seconds)
    result.update(
        runtime="litert", path=str(model.path), num_threads=num_threads,
        input_shape=list(model.input_shape), input_dtype=str(model.input_dtype),
        size_bytes=model.size_bytes, n_images=len(images),
        prediction=post(model.predict(pre(images[0]))),
    )
    return result


def benchmark_torch(model: Any, img_size: int | Sequence[int], image_bytes: Sequence[bytes],
                    num_threads: int = 1, warmup: int = 10, runs: int = 50, *,
                    labels: Sequence[str] | None = None,
                    min_seconds: float = 0.0) -> dict[str, Any]:
    """End-to-end latency of a PyTorch model in eager mode, batch 1 (Chapter 08_benchmark).

    The same pipeline as :func:`benchmark_tflite`, with ``model(x)`` under ``torch.no_grad()`` in
    eval mode as the inference stage (on the model's device; the preprocessed array becomes a
    tensor without a copy inside that stage). ``torch.set_num_threads(num_threads)`` holds during
    the runs; torch's previous thread count and the model's training flag are restored
    afterwards. Returns the same dict (``runtime="torch"``, ``img_size``, ``params``).
    """
    import torch

    images = _check_images(image_bytes)
    h, w = image_hw(img_size)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    previous_threads = torch.get_num_threads()
    was_training = model.training
    try:
        torch.set_num_threads(num_threads)
        model.eval()
        with torch.no_grad():
            n_out = int(model(torch.zeros(1, 3, h, w, device=device)).numel())
        names = _labels(labels, n_out)

        def pre(data: bytes) -> np.ndarray:
            return preprocess(data, h, w, "NCHW")

        def infer(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                y = model(torch.from_numpy(x).to(device))
            sync()
            return y.float().cpu().numpy()

        def post(logits: np.ndarray) -> tuple[str, float]:
            return postprocess(logits, names)

        result: dict[str, Any] = _run_pipeline(pre, infer, post, images, warmup, runs,
                                               min_seconds)
        result.update(
            runtime="torch", num_threads=num_threads, img_size=[h, w],
            input_shape=[1, 3, h, w], input_dtype="float32", n_images=len(images),
            params=sum(p.numel() for p in model.parameters()),
            prediction=post(infer(pre(images[0]))),
        )
    finally:
        torch.set_num_threads(previous_threads)
        model.train(was_training)
    return result
