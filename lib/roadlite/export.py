"""PyTorch -> LiteRT (TFLite) export, INT8 post-training quantization, and running the result.

Chapter 07_quantization teaches this module (chapter 03_eca already uses it for a first export check,
chapter 08_benchmark times the files). MobiLiteNet converts its models with AI Edge Torch, now
published as ``litert-torch``; the converted ``.tflite`` flatbuffer keeps PyTorch's NCHW input
layout and a static input shape (1, 3, H, W), so every image size needs its own file.

Quantization (post-training, PT2E flow of ``torch.export`` + ``litert_torch.quantize``):

* ``"dynamic"`` -- dynamic-range INT8, what the authors' code ships: weights are int8, activations
  are quantized on the fly at run time; input and output stay float32.
* ``"static"`` -- full-integer INT8 (the book's Model 5; the paper says only "weights to INT8"):
  weights per-channel symmetric int8,
  activations int8 with scales calibrated on sample images; the ``.tflite`` input and output
  tensors are int8, so :class:`TFLiteModel` quantizes the input with the tensor's scale s and
  zero point z (q = round(x / s) + z) and dequantizes the output (x = s (q - z)).

``litert_torch`` is imported lazily (it takes seconds and prints log lines), with
``HF_HUB_OFFLINE=1`` so that nothing tries to reach the Hugging Face hub.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from roadlite import book
from roadlite.artifacts import atomic_path
from roadlite.data.loading import IMAGENET_MEAN, IMAGENET_STD
from roadlite.imaging import image_hw
from roadlite.models.summary import count_params

__all__ = ["DecomposedHardswish", "ExportCheck", "PixelInput", "TFLiteModel", "TFLiteModelError",
           "compare_with_torch", "export_pixel_model", "export_tflite", "exports_record",
           "int8_friendly_hardswish", "max_abs_diff", "pixel_batches"]

QUANTIZATION_MODES = (None, "dynamic", "static")
_PROGRESS_ENV = "LITERT_TORCH_SHOW_PROGRESS"


class TFLiteModelError(ValueError):
    """A ``.tflite`` file cannot be loaded, or an input does not fit its input tensor.

    Chapter 07_quantization.
    """


def _import_litert_torch():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import litert_torch

    return litert_torch


def first_conv(model: nn.Module, img_size: int | Sequence[int] = 64) -> nn.Conv2d:
    """The convolution ``model`` applies first to its input (found by running a small zero
    image through it with hooks); a ValueError when that convolution does not see the image
    itself (3 input channels, ungrouped, zero padding)."""
    h, w = image_hw(img_size)
    seen: list[nn.Conv2d] = []
    hooks = [m.register_forward_pre_hook(lambda mod, _inp: seen.append(mod))
             for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        was = model.training  # left as it was
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, h, w))
        model.train(was)
    finally:
        for hk in hooks:
            hk.remove()
    if not seen:
        raise ValueError("the model has no Conv2d to fold the normalisation into")
    conv = seen[0]
    if conv.in_channels != 3 or conv.groups != 1 or conv.padding_mode != "zeros" or \
            isinstance(conv.padding, str):
        raise ValueError(f"the first convolution {conv} does not take the RGB image directly "
                         "(3 channels, groups=1, zero padding as numbers)")
    return conv


def fold_normalisation(model: nn.Module, mean: Sequence[float] = IMAGENET_MEAN,
                       std: Sequence[float] = IMAGENET_STD) -> tuple[nn.Module, tuple[int, int], float]:
    """A copy of ``model`` that takes 0-255 pixels: the normalisation (p / 255 − mean) / std
    folded into the first convolution's weights and bias (Chapter 08_benchmark's input path).

    A convolution of a per-channel affine map a·p + b is a convolution of p with the weights
    scaled by a, plus the constant Σ W·b in the bias, except where the kernel overlaps the zero
    padding: the original pads with the *normalised* 0, that is the pixel 255·mean. The copy's
    first convolution therefore pads nothing itself; returns ``(copy, (pad_h, pad_w), fill)``
    for the caller to pad with the pixel value ``fill`` = 255·(mean of the three means), one
    number for all channels (the converter's PAD takes one constant), within about 0.08 of the
    exact per-channel value in normalised units instead of the 2 a zero pixel would be.
    """
    net = copy.deepcopy(model)
    conv = first_conv(net)
    m = torch.tensor(mean, dtype=torch.float32)
    s = torch.tensor(std, dtype=torch.float32)
    a, b = 1.0 / (255.0 * s), -m / s
    with torch.no_grad():
        weight = conv.weight.detach().clone()
        shift = (weight * b.view(1, 3, 1, 1)).sum((1, 2, 3))
        conv.weight.copy_(weight * a.view(1, 3, 1, 1))
        bias = shift if conv.bias is None else conv.bias.detach() + shift
        conv.bias = nn.Parameter(bias)
    pad = (int(conv.padding[0]), int(conv.padding[1]))
    conv.padding = (0, 0)
    return net, pad, float(255.0 * m.mean())


class PixelInput(nn.Module):
    """A classifier that takes raw pixels: the normalisation folded into the model (Chapter
    08_benchmark's faster input path).

    The input is a float32 batch of 0-255 pixel values laid out [N, H, W, 3] (``layout="NHWC"``,
    as a camera frame or a decoded image comes) or [N, 3, H, W]; the module permutes it to NCHW.
    With ``fold=True`` (the default) the normalisation lives in the first convolution's weights
    (:func:`fold_normalisation`), and the input is only padded; with ``fold=False`` it is
    computed, x * (1 / (255 std)) - mean / std, before ``model``: two broadcast elementwise
    operators over the whole image, which chapter 08's profile shows cost as much as the
    network's first layers. A full-integer export has an int8 input whose scale is 1 and zero
    point -128 when the calibration images span 0-255, so a uint8 pixel p enters as the int8
    p - 128 (one XOR).
    """

    def __init__(self, model: nn.Module, layout: str = "NHWC",
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 fold: bool = True):
        super().__init__()
        if layout not in ("NHWC", "NCHW"):
            raise ValueError(f"layout must be 'NHWC' or 'NCHW', got {layout!r}")
        self.layout, self.fold = layout, fold
        if fold:
            self.model, (ph, pw), self.fill = fold_normalisation(model, mean, std)
            self.pad = (pw, pw, ph, ph)
        else:
            self.model = model
            m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
            s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
            self.register_buffer("scale", 1.0 / (255.0 * s))
            self.register_buffer("shift", -m / s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layout == "NHWC":
            x = x.permute(0, 3, 1, 2)
        if not self.fold:
            return self.model(x * self.scale + self.shift)
        if any(self.pad):
            x = nn.functional.pad(x, self.pad, value=self.fill)
        return self.model(x)


class DecomposedHardswish(nn.Module):
    """hardswish(x) = x * relu6(x + 3) / 6 written out as elementwise operations (Chapter
    08_benchmark).

    Numerically the same as :class:`torch.nn.Hardswish`. In a full-integer ``.tflite`` file the
    fused ``HARD_SWISH`` operator of MobileNetV3 runs far slower than in float32 on the book's
    LiteRT build (chapter 08's per-operator profile); written out, it becomes int8 ``ADD``,
    ``MUL`` and clamps, which run fast. The float32 converter fuses it back into
    ``HARD_SWISH``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.nn.functional.relu6(x + 3.0) * (1.0 / 6.0)


def int8_friendly_hardswish(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every :class:`torch.nn.Hardswish` replaced by
    :class:`DecomposedHardswish` (Chapter 08_benchmark; for the INT8 export of MobileNetV3).
    The outputs are unchanged; ``model`` itself is left as it is."""
    net = copy.deepcopy(model)
    for parent in net.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Hardswish):
                setattr(parent, name, DecomposedHardswish())
    return net


def _calibration_images(calibration: Iterable, shape: tuple[int, ...]) -> Iterable[torch.Tensor]:
    """Yield single images [1, C, H, W] from batches (tensors, arrays, or (x, y) tuples)."""
    for batch in calibration:
        if isinstance(batch, list | tuple):
            batch = batch[0]
        x = torch.as_tensor(np.asarray(batch) if not torch.is_tensor(batch) else batch)
        x = x.detach().to("cpu", torch.float32)
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if tuple(x.shape[1:]) != tuple(shape[1:]):
            raise ValueError(
                f"calibration batch of shape {tuple(x.shape)} does not fit the export input "
                f"shape {tuple(shape)}"
            )
        yield from x.split(1)


def _quantized_module(model: nn.Module, sample: torch.Tensor, quantization: str, calibration):
    """PT2E post-training quantization: export, insert observers, calibrate, convert."""
    _import_litert_torch()
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    dynamic = quantization == "dynamic"
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True, is_dynamic=dynamic)
    )
    graph = torch.export.export(model, (sample,)).module()
    graph = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        if dynamic:
            graph(sample)  # sets the per-channel weight observers
        else:
            n = 0
            for image in _calibration_images(calibration, tuple(sample.shape)):
                graph(image)
                n += 1
            if n == 0:
                raise ValueError("static quantization needs at least one calibration image")
    graph = convert_pt2e(graph, fold_quantize=False)
    return graph, QuantConfig(pt2e_quantizer=quantizer)


def export_tflite(
    model: nn.Module,
    path: str | os.PathLike,
    img_size: int | Sequence[int],
    quantization: str | None = None,
    calibration: Iterable | None = None,
    verbose: bool = False,
    example: torch.Tensor | None = None,
) -> Path:
    """Convert ``model`` to a LiteRT ``.tflite`` file with input shape (1, 3, H, W) (Chapter 07_quantization).

    ``quantization``: ``None`` (float32), ``"dynamic"`` (dynamic-range INT8: int8 weights,
    float activations, as in the authors' code) or ``"static"`` (full-integer INT8 with int8
    input/output, activation ranges calibrated on ``calibration``: an iterable of image batches
    [B, 3, H, W], e.g. a few training batches or a DataLoader yielding (x, y), preprocessed
    exactly like the inputs the model will see; the book's Model 5).
    The model is converted from an eval-mode CPU copy (the caller's model is left untouched); the
    file is written atomically (temporary file in the same folder, then ``os.replace``). Returns
    the path. ``verbose=True`` shows litert-torch's progress lines. ``example`` replaces the
    default example input (uniform random [1, 3, H, W] in [0, 1)): the converted file takes
    inputs of its shape and dtype (e.g. [1, H, W, 3] pixels for a :class:`PixelInput`), and the
    calibration images must have its shape.
    """
    if quantization not in QUANTIZATION_MODES:
        raise ValueError(f"quantization must be one of {QUANTIZATION_MODES}, got {quantization!r}")
    if quantization == "static" and calibration is None:
        raise ValueError("quantization='static' needs calibration batches (calibration=...)")
    litert_torch = _import_litert_torch()
    h, w = image_hw(img_size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    net = copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).float().eval()
    if example is None:
        generator = torch.Generator().manual_seed(0)
        sample = torch.rand(1, 3, h, w, generator=generator)
    else:
        sample = example.detach().to("cpu").contiguous()
    previous = os.environ.get(_PROGRESS_ENV)
    os.environ[_PROGRESS_ENV] = "y" if verbose else "n"
    try:
        if quantization is None:
            edge_model = litert_torch.convert(net, (sample,))
        else:
            graph, quant_config = _quantized_module(net, sample, quantization, calibration)
            edge_model = litert_torch.convert(graph, (sample,), quant_config=quant_config)
        with atomic_path(path) as tmp:
            edge_model.export(str(tmp))
    finally:
        if previous is None:
            os.environ.pop(_PROGRESS_ENV, None)
        else:
            os.environ[_PROGRESS_ENV] = previous
    return path


def pixel_batches(images: torch.Tensor, img_size: int | Sequence[int], batch_size: int = 16,
                  full_range: bool = False) -> list[torch.Tensor]:
    """uint8 images [N, 3, h, w] -> float32 pixel batches [B, H, W, 3] of 0-255 values at
    ``img_size`` (bilinear with antialiasing when the size changes), the input of a
    :class:`PixelInput` model (Chapters 07_quantization, 08_benchmark).

    ``full_range=True`` sets two pixels of the first image to 0 and 255, so that a static INT8
    calibration sees the whole pixel range and gives the input tensor scale 1, zero point -128.
    """
    h, w = image_hw(img_size)
    x = torch.as_tensor(images).float()
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected uint8 images [N, 3, H, W], got shape {tuple(x.shape)}")
    if tuple(x.shape[2:]) != (h, w):
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", antialias=True,
                                            align_corners=False).round().clamp(0, 255)
    x = x.permute(0, 2, 3, 1).contiguous()
    if full_range and len(x):
        x[0, 0, 0, 0], x[0, 0, 1, 0] = 0.0, 255.0
    return list(x.split(batch_size))


def export_pixel_model(model: nn.Module, path: str | os.PathLike, img_size: int | Sequence[int],
                       quantization: str | None = None,
                       calibration_images: torch.Tensor | None = None, fold: bool = True) -> Path:
    """Export ``model`` behind a :class:`PixelInput` (NHWC float pixels 0-255 in, normalisation
    folded into the first convolution unless ``fold=False``) to ``path`` (Chapters
    07_quantization, 08_benchmark).

    ``quantization="static"`` calibrates on ``calibration_images`` (uint8 [N, 3, h, w], e.g.
    training images; resized to ``img_size`` by :func:`pixel_batches`, full pixel range), so
    that the int8 input takes a uint8 pixel p as p - 128. Hard-swish activations are written
    out (:func:`int8_friendly_hardswish`) for INT8.
    """
    net = PixelInput(int8_friendly_hardswish(model) if quantization else copy.deepcopy(model),
                     fold=fold)
    h, w = image_hw(img_size)
    example = torch.rand(1, h, w, 3, generator=torch.Generator().manual_seed(0)) * 255.0
    calibration = None
    if quantization == "static":
        if calibration_images is None:
            raise ValueError("quantization='static' needs calibration_images")
        calibration = pixel_batches(calibration_images, (h, w), full_range=True)
    return export_tflite(net.eval(), path, (h, w), quantization=quantization,
                         calibration=calibration, example=example)


class TFLiteModel:
    """A ``.tflite`` classifier run by the LiteRT interpreter (Chapters 07_quantization, 08_benchmark).

    ``predict(x)`` takes a float32 NCHW batch (numpy array or torch tensor) and returns the
    float32 logits [N, num_classes]. A file with batch-1 input runs the batch image by image. An
    int8 input / output (full-integer quantization) is quantized / dequantized with the tensor's
    scale and zero point. ``num_threads`` is the interpreter's CPU thread count (XNNPACK).
    """

    def __init__(self, path: str | os.PathLike, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"TFLite model file not found: {self.path}")
        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except Exception as exc:
            raise TFLiteModelError(
                f"cannot load TFLite model {self.path}: not a valid .tflite flatbuffer "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        self.num_threads = num_threads
        self.input_details = self.interpreter.get_input_details()[0]
        self.output_details = self.interpreter.get_output_details()[0]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of the input tensor, e.g. (1, 3, 128, 128)."""
        return tuple(int(v) for v in self.input_details["shape"])

    @property
    def input_dtype(self) -> np.dtype:
        """dtype of the input tensor: float32, or int8 for a full-integer model."""
        return np.dtype(self.input_details["dtype"])

    @property
    def size_bytes(self) -> int:
        """Size of the ``.tflite`` file in bytes."""
        return self.path.stat().st_size

    def _run(self, x: np.ndarray) -> np.ndarray:
        inp, out = self.input_details, self.output_details
        if np.issubdtype(np.dtype(inp["dtype"]), np.integer):
            scale, zero = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale) + zero, info.min, info.max)
        self.interpreter.set_tensor(inp["index"], np.ascontiguousarray(x, dtype=inp["dtype"]))
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(out["index"])
        if np.issubdtype(y.dtype, np.integer):
            scale, zero = out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return np.array(y, dtype=np.float32)

    def predict(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Logits for a float32 NCHW batch ``x`` [N, 3, H, W] (Chapter 07_quantization)."""
        if torch.is_tensor(x):
            x = x.detach().cpu().numpy()
        x = np.asarray(x, dtype=np.float32)
        shape = self.input_shape
        if x.ndim != len(shape) or x.shape[1:] != shape[1:]:
            raise TFLiteModelError(
                f"input of shape {x.shape} does not fit TFLite model {self.path}, whose input "
                f"shape is {shape} (N, C, H, W): export the model for this image size"
            )
        if shape[0] == x.shape[0]:
            return self._run(x)
        if shape[0] != 1:
            raise TFLiteModelError(
                f"batch of {x.shape[0]} does not fit TFLite model {self.path} with fixed batch "
                f"{shape[0]} (input shape {shape})"
            )
        return np.concatenate([self._run(x[i : i + 1]) for i in range(x.shape[0])], axis=0)

    __call__ = predict

    def __repr__(self) -> str:
        return (
            f"TFLiteModel({str(self.path)!r}, input_shape={self.input_shape}, "
            f"input_dtype={self.input_dtype}, num_threads={self.num_threads})"
        )


def max_abs_diff(
    model: nn.Module, tflite_model: TFLiteModel | str | os.PathLike, x: np.ndarray | torch.Tensor
) -> float:
    """max |PyTorch logits - LiteRT logits| on the batch ``x`` (Chapter 07_quantization).

    ``model`` runs in eval mode under ``no_grad`` on its own device (its training flag is
    restored); ``tflite_model`` is a :class:`TFLiteModel` or a path to a ``.tflite`` file.
    """
    if not isinstance(tflite_model, TFLiteModel):
        tflite_model = TFLiteModel(tflite_model)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not torch.is_tensor(x) else x
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            ref = model(xt.to(device, torch.float32)).float().cpu().numpy()
    finally:
        model.train(was_training)
    got = tflite_model.predict(xt.detach().cpu().numpy())
    return float(np.max(np.abs(ref - got)))


def compare_with_torch(
    model_or_logits: nn.Module | np.ndarray | torch.Tensor,
    tflite_path: str | os.PathLike,
    x: np.ndarray | torch.Tensor,
    num_threads: int = 1,
    y_true: np.ndarray | torch.Tensor | None = None,
    return_logits: bool = False,
) -> dict | tuple[dict, np.ndarray]:
    """How a ``.tflite`` file agrees with PyTorch on the batch ``x`` (Chapters 03_eca, 07_quantization).

    ``model_or_logits`` is the PyTorch model (run in eval mode under ``no_grad`` on its own
    device; its training flag is restored) or its logits on ``x``, already computed. The file
    runs in the LiteRT interpreter with ``num_threads`` threads. Returns the row the chapters
    show: ``file`` (its name), ``size_bytes``, ``accuracy`` (only with the labels ``y_true``),
    ``max_abs_diff`` (max |LiteRT - PyTorch| over the logits) and ``top1_agreement`` (the share
    of images on which both pick the same class). With ``return_logits`` the interpreter's
    logits come back too, as ``(row, logits)``.
    """
    path = Path(tflite_path)
    x_np = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x, dtype=np.float32)
    if isinstance(model_or_logits, nn.Module):
        model = model_or_logits
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        was_training = model.training
        try:
            model.eval()
            with torch.no_grad():
                ref = model(torch.from_numpy(x_np).to(device)).float().cpu().numpy()
        finally:
            model.train(was_training)
    elif torch.is_tensor(model_or_logits):
        ref = model_or_logits.detach().cpu().numpy()
    else:
        ref = np.asarray(model_or_logits)
    out = TFLiteModel(path, num_threads=num_threads).predict(x_np)
    if ref.shape != out.shape:
        raise ValueError(f"PyTorch logits of shape {ref.shape} but {path.name} gives {out.shape}")
    row: dict = {"file": path.name, "size_bytes": path.stat().st_size}
    if y_true is not None:
        y = y_true.detach().cpu().numpy() if torch.is_tensor(y_true) else np.asarray(y_true)
        row["accuracy"] = float((out.argmax(1) == y).mean())
    row["max_abs_diff"] = float(np.abs(out - ref).max())
    row["top1_agreement"] = float((out.argmax(1) == ref.argmax(1)).mean())
    return (row, out) if return_logits else row


@dataclass
class ExportCheck:
    """Chapter 07_quantization's check of each exported file on the test set.

    Calling it with a model key and its ``.tflite`` file runs :func:`compare_with_torch` against
    the PyTorch logits of the key (or, for a key with no logits of its own, such as an INT8
    model, of its architecture in the book's table), saves the interpreter's predictions as
    ``<predictions_dir>/<key>.npz`` (``y_true``, ``logits``, ``classes``: chapter 09 reads them)
    and returns the comparison row.
    """

    x: np.ndarray
    y_true: np.ndarray
    classes: Sequence[str]
    torch_logits: Mapping[str, np.ndarray]
    predictions_dir: Path
    num_threads: int = 1

    def reference(self, key: str) -> np.ndarray:
        """The PyTorch logits a file of ``key`` is compared with."""
        arch = key if key in self.torch_logits else book.model(key).architecture
        if arch not in self.torch_logits:
            raise KeyError(f"ExportCheck: no PyTorch logits for {key!r} (architecture {arch!r})")
        return self.torch_logits[arch]

    def __call__(self, key: str, path: str | os.PathLike) -> dict:
        row, out = compare_with_torch(self.reference(key), path, self.x,
                                      num_threads=self.num_threads, y_true=self.y_true,
                                      return_logits=True)
        target = Path(self.predictions_dir) / f"{key}.npz"
        target.parent.mkdir(parents=True, exist_ok=True)
        np.savez(target, y_true=self.y_true, logits=out, classes=np.array(self.classes))
        return row


def exports_record(rows: Mapping[str, Mapping], models: Mapping[str, nn.Module],
                   quantized: Iterable[str]) -> dict[str, dict]:
    """Chapter 07_quantization's ``models`` entry of ``metrics.json``: each exported file's
    LiteRT measures (``tflite_size_bytes``, ``tflite_accuracy``, ``tflite_max_abs_diff``,
    ``tflite_top1_agreement``, ``tflite_file``) from its :class:`ExportCheck` row; the
    ``quantized`` keys (the INT8 models, which exist only as files) also get ``accuracy``,
    ``params`` (of their PyTorch architecture in ``models``) and ``architecture``
    (``"<architecture> + int8"``, ``"..._dynamic"`` for a key ending in "dynamic").
    """
    out: dict[str, dict] = {}
    for key, r in rows.items():
        out[key] = {"tflite_size_bytes": r["size_bytes"], "tflite_accuracy": r["accuracy"],
                    "tflite_max_abs_diff": r["max_abs_diff"],
                    "tflite_top1_agreement": r["top1_agreement"],
                    "tflite_file": f"tflite/{r['file']}"}
    for key in quantized:
        if key not in out:
            raise KeyError(f"exports_record: quantized model {key!r} has no export row")
        base = book.model(key).architecture
        out[key].update(accuracy=rows[key]["accuracy"], params=count_params(models[base]),
                        architecture=f"{base} + int8" + ("_dynamic" * key.endswith("dynamic")))
    return out
