"""Parameters, MACs and frames per second at 320x320, batch 1 (Chapter 11_crack_segmentation).

The paper times its networks on an RTX 3090 (Table II) and a Jetson AGX Orin (Table VI) and
gives parameters (Table VI) but no MACs: the MACs are the book's count. The book
times them on the CPU in PyTorch (eager, ``torch.no_grad``) and in LiteRT (the ``.tflite`` file,
XNNPACK), inference only (no decoding, no pre-processing), with
:func:`roadlite.measure.time_callable`. Speed does not depend on the weights, so the models timed
at paper size need not be trained: the student at width 30 (the book's fit to the paper's
3.856 M parameters; the paper gives no widths) and the U-Net at 32 base channels (the paper's
"base channels reduced from 64 to 32").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from roadlite.export import TFLiteModel, export_tflite
from roadlite.measure import time_callable
from roadlite.models.summary import count_macs


def torch_fps(model: nn.Module, size: int = 320, threads: int = 1, warmup: int = 3,
              runs: int = 10) -> float:
    """Frames per second of ``model`` (eval, CPU, batch 1) in PyTorch."""
    before = torch.get_num_threads()
    model = model.cpu().eval()
    x = torch.randn(1, 3, size, size)
    try:
        torch.set_num_threads(threads)
        with torch.no_grad():
            stats = time_callable(lambda: model(x), warmup=warmup, runs=runs)
    finally:
        torch.set_num_threads(before)
    return 1e3 / stats.median_ms


def litert_fps(path: str | Path, threads: int = 1, warmup: int = 3, runs: int = 10) -> float:
    """Frames per second of a ``.tflite`` file (batch 1) in the LiteRT interpreter."""
    m = TFLiteModel(path, num_threads=threads)
    x = np.random.default_rng(0).standard_normal(m.input_shape).astype(np.float32)
    stats = time_callable(lambda: m._run(x), warmup=warmup, runs=runs)
    return 1e3 / stats.median_ms


def speed_row(model: nn.Module, out_dir: str | Path, name: str, size: int = 320,
              threads: int = 1, runs: int = 10, litert: bool = True) -> dict:
    """Parameters, GMACs, PyTorch FPS and (``litert``) LiteRT fp32 FPS of one image-only model
    at ``size`` x ``size``; the ``.tflite`` file goes to ``out_dir/<name>_<size>.tflite``."""
    row = {"params": sum(p.numel() for p in model.parameters()),
           "gmacs": count_macs(model, size) / 1e9,
           "fps_torch": torch_fps(model, size, threads, runs=runs)}
    if litert:
        path = export_tflite(model, Path(out_dir) / f"{name}_{size}.tflite", size)
        row["fps_litert"] = litert_fps(path, threads, runs=runs)
        row["tflite_mb"] = path.stat().st_size / 1e6
    return row
