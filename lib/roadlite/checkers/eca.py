"""Checkers for the exercises of Chapter 03_eca: ECA's adaptive kernel size and its gate.

The references here are written independently of :mod:`roadlite.models.eca` (plain arithmetic
and an explicit loop over the channels); the unit tests compare them with the model's
``eca_kernel_size`` and ``ECA`` module, which the chapter trains.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .compare import Mistake, call, compare, outputs, passed

__all__ = ["check_eca_gate", "check_eca_kernel_size", "eca_gate_reference",
           "eca_kernel_size_reference"]

KERNEL_CASES = (1, 2, 3, 8, 16, 24, 32, 64, 96, 128, 160, 256, 320, 512, 1280, 2048, 8192)


def eca_kernel_size_reference(channels: int, gamma: int = 2, b: int = 1) -> int:
    """k = t if t is odd else t + 1, with t = int(|log2(C) + b| / gamma) (Chapter 03_eca)."""
    t = int(abs(math.log2(channels) + b) / gamma)
    return t if t % 2 else t + 1


def _t(c: int, log: Callable[[float], float] = math.log2) -> float:
    return abs(log(c) + 1) / 2


KERNEL_MISTAKES: list[Mistake] = [
    ("k = t + 1 for every t (off by one: only an even t moves up to the next odd number)",
     lambda c: int(_t(c)) + 1),
    ("k = t without making it odd (an even kernel has no centre channel)", lambda c: int(_t(c))),
    ("an even t rounded down to t - 1 instead of up to t + 1",
     lambda c: int(_t(c)) if int(_t(c)) % 2 else int(_t(c)) - 1),
    ("t rounded to the nearest integer instead of truncated by int()",
     lambda c: round(_t(c)) if round(_t(c)) % 2 else round(_t(c)) + 1),
    ("the natural logarithm instead of log2",
     lambda c: int(_t(c, math.log)) if int(_t(c, math.log)) % 2 else int(_t(c, math.log)) + 1),
    ("b added after the division: t = int(log2(C) / gamma + b)",
     lambda c: int(math.log2(c) / 2 + 1) if int(math.log2(c) / 2 + 1) % 2
     else int(math.log2(c) / 2 + 1) + 1),
]


def check_eca_kernel_size(fn: Callable[[int], Any], verbose: bool = True) -> int:
    """Test a reader's ``eca_kernel_size(C)`` (gamma = 2, b = 1) on C from 1 to 8192.

    The result must be a Python (or numpy) integer equal to the reference; the first
    difference raises one ``AssertionError`` naming C, the expected and the obtained k and, when
    recognised, the likely mistake. Returns the number of cases passed.
    """
    ex = "eca_kernel_size"
    for c in KERNEL_CASES:
        case = f"C={c} channels"
        got = call(ex, case, fn, c)
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            raise AssertionError(f"{ex}, {case}: k must be an int (nn.Conv1d needs an integer "
                                 f"kernel size), got {type(got).__name__} {got!r}.")
        compare(ex, case, int(got), eca_kernel_size_reference(c), name="k",
                mistakes=KERNEL_MISTAKES, inputs=(c,),
                others=lambda: outputs(fn, [(k,) for k in KERNEL_CASES]))
    return passed(ex, len(KERNEL_CASES), verbose)


def eca_gate_reference(x: torch.Tensor, weight: torch.Tensor, bias: float | torch.Tensor
                       ) -> torch.Tensor:
    """The ECA gate w in (0, 1)^[N, C] of a feature map x [N, C, H, W] (Chapter 03_eca).

    y_c = mean over H, W of x[:, c]; z_c = bias + sum_j weight[j] * y_{c + j - k // 2} (zero
    outside 0..C-1: PyTorch's cross-correlation with padding k // 2); w = sigmoid(z).
    """
    xs = x.detach().double().numpy()
    w = np.asarray(weight.detach().double().numpy() if torch.is_tensor(weight) else weight,
                   dtype=np.float64).reshape(-1)
    bb = float(bias)
    k, (n, c) = w.size, xs.shape[:2]
    y = xs.mean(axis=(2, 3))
    z = np.full((n, c), bb)
    for ch in range(c):
        for j in range(k):
            src = ch + j - k // 2
            if 0 <= src < c:
                z[:, ch] += w[j] * y[:, src]
    return torch.from_numpy(1.0 / (1.0 + np.exp(-z))).to(x.dtype)


def _conv_gate(y: np.ndarray, w: np.ndarray, b: float, flip: bool = False) -> np.ndarray:
    k = w.size
    ker = w if flip else w[::-1]  # np.convolve flips its kernel
    z = np.stack([np.convolve(row, ker, mode="full")[k // 2: k // 2 + row.size] for row in y])
    return z + b


def _sig(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().double().numpy()


GATE_MISTAKES: list[Mistake] = [
    ("the average was taken over the channel axis; ECA pools over the spatial axes (dim=(2, 3))",
     lambda x, w, b: torch.from_numpy(_np(x).mean(axis=1))),
    ("max pooling instead of global *average* pooling",
     lambda x, w, b: torch.from_numpy(_sig(_conv_gate(_np(x).max(axis=(2, 3)), _np(w), float(b))))),
    ("no padding: the 1-D convolution must keep C outputs (padding = k // 2)",
     lambda x, w, b: torch.from_numpy(_sig(np.stack([np.correlate(r, _np(w), mode="valid")
                                                     for r in _np(x).mean(axis=(2, 3))])
                                           + float(b)))),
    ("the sigmoid is missing", lambda x, w, b: torch.from_numpy(
        _conv_gate(_np(x).mean(axis=(2, 3)), _np(w), float(b)))),
    ("the bias of the 1-D convolution is missing", lambda x, w, b: torch.from_numpy(
        _sig(_conv_gate(_np(x).mean(axis=(2, 3)), _np(w), 0.0)))),
    ("the kernel is flipped (np.convolve is a true convolution; nn.Conv1d cross-correlates)",
     lambda x, w, b: torch.from_numpy(_sig(_conv_gate(_np(x).mean(axis=(2, 3)), _np(w),
                                                      float(b), flip=True)))),
    ("softmax across the channels instead of an independent sigmoid per channel",
     lambda x, w, b: torch.softmax(torch.from_numpy(
         _conv_gate(_np(x).mean(axis=(2, 3)), _np(w), float(b))), dim=1)),
    ("returned the gated feature map x * w instead of the gate w",
     lambda x, w, b: x.double() * eca_gate_reference(x, w, b).double()[:, :, None, None]),
]


def _gate_cases() -> list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(3)
    x1 = torch.randn(2, 6, 4, 5, generator=g)
    x2 = torch.rand(1, 16, 3, 3, generator=g) * 4 - 1
    x3 = torch.randn(3, 5, 1, 1, generator=g)
    return [
        ("N=2, C=6, H=4, W=5, k=3", x1, torch.tensor([0.5, -1.0, 2.0]), torch.tensor(0.25)),
        ("N=1, C=16, k=5 (asymmetric kernel)", x2, torch.tensor([1.0, 0.2, -0.7, 0.1, 0.9]),
         torch.tensor(-0.5)),
        ("N=3, C=5, 1x1 map, k=1", x3, torch.tensor([1.5]), torch.tensor(0.1)),
        ("C=6, zero kernel and bias (the gate is 0.5 everywhere)", x1, torch.zeros(3),
         torch.tensor(0.0)),
    ]


def check_eca_gate(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Any],
                   verbose: bool = True) -> int:
    """Test a reader's ``eca_gate(x, weight, bias) -> w``, the ECA gate [N, C] (Chapter 03_eca).

    ``x`` is a float32 feature map [N, C, H, W], ``weight`` the k taps of the 1-D convolution
    across channels and ``bias`` its bias (0-d tensor). The gate must be a float32 tensor [N, C]
    within 1e-5 of the reference. Returns the number of cases passed.
    """
    ex = "eca_gate"
    cases = _gate_cases()
    for case, x, w, b in cases:
        got = call(ex, case, fn, x.clone(), w.clone(), b.clone())
        compare(ex, case, got, eca_gate_reference(x, w, b), atol=1e-5, rtol=1e-4,
                dtype=torch.float32, name="the gate", mistakes=GATE_MISTAKES, inputs=(x, w, b),
                others=lambda: outputs(fn, [c[1:] for c in cases]))
    return passed(ex, len(cases), verbose)
