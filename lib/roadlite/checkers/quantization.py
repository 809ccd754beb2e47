"""Checkers for the exercises of Chapter 07_quantization: the scale and zero point of INT8,
fake quantization of a tensor, and the int32 bias of a quantized convolution.

Conventions (LiteRT / TFLite's, which the chapter deploys; PyTorch's observers give the same
numbers with these ranges):

- asymmetric (affine) INT8, q in [-128, 127]: the range [x_min, x_max] is first widened to hold
  0 (so that 0 is exactly representable), then scale = (x_max - x_min) / 255 and
  zero_point = -128 - round(x_min / scale);
- symmetric INT8, q in [-127, 127]: scale = max(|x_min|, |x_max|) / 127, zero_point = 0;
- a zero range gives the smallest float32 step (``torch.finfo(torch.float32).eps``) as scale;
- quantize q = clamp(round(x / scale) + zero_point, qmin, qmax) (round half to even), and
  dequantize x_hat = (q - zero_point) * scale; fake quantization is the two in a row;
- a convolution y = W * x + b with input scale s_in and weight scale s_w accumulates
  q_w * q_x in int32 with scale s_in * s_w, so its bias is stored as the int32
  round(b / (s_in * s_w)) (per output channel when s_w is per channel).

The references are plain arithmetic; the unit tests compare them with PyTorch's
``MinMaxObserver``, ``torch.fake_quantize_per_tensor_affine`` and ``torch.quantize_per_tensor``
/ ``torch.quantize_per_channel`` with ``qint32``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch

from .compare import Mistake, call, compare, outputs, passed

__all__ = ["EPS", "check_fake_quantize", "check_quantized_bias", "check_scale_zero_point",
           "fake_quantize_reference", "quantized_bias_reference", "scale_zero_point_reference"]

EPS = float(torch.finfo(torch.float32).eps)


def scale_zero_point_reference(x_min: float, x_max: float, symmetric: bool
                               ) -> tuple[float, int]:
    """(scale, zero_point) of INT8 for values in [x_min, x_max] (Chapter 07_quantization)."""
    lo, hi = min(float(x_min), 0.0), max(float(x_max), 0.0)
    if symmetric:
        return max(max(-lo, hi) / 127.0, EPS), 0
    scale = max((hi - lo) / 255.0, EPS)
    return scale, int(min(127, max(-128, -128 - round(lo / scale))))


def _asym(lo: float, hi: float, levels: float = 255.0, sign: int = -1,
          rounder: Callable[[float], float] = round, widen: bool = True,
          qmin: int = -128) -> tuple[float, int]:
    if widen:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max((hi - lo) / levels, EPS)
    return scale, int(qmin + sign * rounder(lo / scale))


def _sym(lo: float, hi: float, div: float = 127.0) -> tuple[float, int]:
    return max(max(-min(lo, 0.0), max(hi, 0.0)) / div, EPS), 0


SZP_MISTAKES: list[tuple[str, Callable[[float, float, bool], tuple[float, int]]]] = [
    ("symmetric quantization where the asymmetric one was asked (and vice versa)",
     lambda lo, hi, s: _asym(lo, hi) if s else _sym(lo, hi)),
    ("the zero point has the wrong sign: zero_point = qmin - round(x_min / scale)",
     lambda lo, hi, s: _sym(lo, hi) if s else _asym(lo, hi, sign=1)),
    ("256 steps instead of 255: INT8 has 256 levels but 255 steps between -128 and 127",
     lambda lo, hi, s: _sym(lo, hi) if s else _asym(lo, hi, levels=256.0)),
    ("floor instead of round for the zero point",
     lambda lo, hi, s: _sym(lo, hi) if s else _asym(lo, hi, rounder=math.floor)),
    ("the range was not widened to include 0 (0 must be exactly representable)",
     lambda lo, hi, s: (max(max(abs(lo), abs(hi)) / 127.0, EPS), 0) if s
     else _asym(lo, hi, widen=False)),
    ("symmetric scale max|x| / 128 (the symmetric range is [-127, 127]: divide by 127)",
     lambda lo, hi, s: _sym(lo, hi, 128.0) if s else _asym(lo, hi)),
    ("symmetric scale max|x| / 127.5 (PyTorch's default for [-128, 127]; LiteRT uses "
     "[-127, 127] and 127)", lambda lo, hi, s: _sym(lo, hi, 127.5) if s else _asym(lo, hi)),
    ("the zero point of UINT8 (range [0, 255]) instead of INT8 ([-128, 127])",
     lambda lo, hi, s: _sym(lo, hi) if s else _asym(lo, hi, qmin=0)),
]

SZP_CASES = (
    (-1.0, 1.2), (-0.5, 2.0), (0.2, 3.0), (-4.0, -1.0), (-2.5, 7.5), (-0.013, 0.047),
    (0.0, 0.0),
)


def check_scale_zero_point(fn: Callable[[float, float, bool], Any], verbose: bool = True
                           ) -> int:
    """Test a reader's ``scale_zero_point(x_min, x_max, symmetric) -> (scale, zero_point)``.

    Seven ranges (symmetric around 0, skewed, all positive, all negative, tiny, empty), each
    both symmetric and asymmetric. ``scale`` must be within 1e-6 (relative) of the reference and
    ``zero_point`` an equal integer. Returns the number of cases passed.
    """
    ex = "scale_zero_point"
    n = 0
    for lo, hi in SZP_CASES:
        for symmetric in (False, True):
            kind = "symmetric" if symmetric else "asymmetric"
            case = f"{kind} INT8 of [{lo}, {hi}]"
            got = call(ex, case, fn, lo, hi, symmetric)
            if not isinstance(got, tuple | list) or len(got) != 2:
                raise AssertionError(f"{ex}, {case}: expected a pair (scale, zero_point), got "
                                     f"{got!r}.")
            scale, zp = got
            if torch.is_tensor(zp) and zp.numel() == 1 and not zp.is_floating_point():
                zp = int(zp)
            if isinstance(zp, bool) or not isinstance(zp, numbers.Integral):
                raise AssertionError(f"{ex}, {case}: the zero point must be an integer, got "
                                     f"{type(zp).__name__} {zp!r} (round it).")
            want = scale_zero_point_reference(lo, hi, symmetric)
            scale = float(scale) if not torch.is_tensor(scale) else float(scale.item())
            for part, name, value in ((0, "scale", scale), (1, "zero_point", int(zp))):
                mistakes = [(d, lambda a, b, s, f=f, p=part: f(a, b, s)[p])
                            for d, f in SZP_MISTAKES]
                compare(ex, case, value, want[part], atol=0.0, rtol=1e-6, name=name,
                        mistakes=mistakes, inputs=(lo, hi, symmetric),
                        others=lambda p=part: outputs(
                            fn, [(a, b, s) for a, b in SZP_CASES for s in (False, True)],
                            lambda v, p=p: float(v[p]) if p == 0 else int(v[p])))
            n += 1
    return passed(ex, n, verbose)


def fake_quantize_reference(x: torch.Tensor, scale: float, zero_point: int, qmin: int = -128,
                            qmax: int = 127) -> torch.Tensor:
    """Quantize then dequantize ``x``: (clamp(round(x / s) + z, qmin, qmax) - z) * s."""
    q = torch.clamp(torch.round(x / scale) + zero_point, qmin, qmax)
    return ((q - zero_point) * scale).to(x.dtype)


FQ_MISTAKES: list[Mistake] = [
    ("truncation (floor / int cast) instead of rounding to the nearest integer",
     lambda x, s, z, lo, hi: (torch.clamp(torch.trunc(x / s) + z, lo, hi) - z) * s),
    ("floor instead of round", lambda x, s, z, lo, hi: (torch.clamp(torch.floor(x / s) + z, lo,
                                                                    hi) - z) * s),
    ("no clamping to [qmin, qmax]: values outside the range must saturate",
     lambda x, s, z, lo, hi: (torch.round(x / s) + z - z) * s),
    ("clamped before adding the zero point",
     lambda x, s, z, lo, hi: torch.clamp(torch.round(x / s), lo, hi) * s),
    ("the zero point is not subtracted when dequantizing",
     lambda x, s, z, lo, hi: torch.clamp(torch.round(x / s) + z, lo, hi) * s),
    ("returned the integers q instead of the dequantized values",
     lambda x, s, z, lo, hi: torch.clamp(torch.round(x / s) + z, lo, hi)),
    ("cast to int8 without clamping: out-of-range values wrap around",
     lambda x, s, z, lo, hi: ((torch.round(x / s) + z).to(torch.int64).to(torch.int8).float() - z)
     * s),
]


def _fq_cases() -> list[tuple[str, torch.Tensor, float, int]]:
    g = torch.Generator().manual_seed(7)
    x1 = torch.randn(4, 5, generator=g)
    x2 = torch.rand(3, 2, 2, generator=g) * 6 - 1
    return [
        ("symmetric, scale 0.02, values within range", x1, 0.02, 0),
        ("asymmetric, scale 0.0196, zero point -77", x2, 6.0 / 255.0 * 0.8333, -77),
        ("values beyond the range saturate", torch.tensor([-10.0, -1.0, 0.0, 0.31, 1.27, 5.0]),
         0.01, 0),
        ("asymmetric with zero point 20, negative overflow", torch.tensor([-3.0, -0.26, 0.74,
                                                                           2.0]), 0.013, 20),
    ]


def check_fake_quantize(fn: Callable[..., Any], verbose: bool = True) -> int:
    """Test a reader's ``fake_quantize(x, scale, zero_point, qmin=-128, qmax=127)``.

    The result must be a float32 tensor of ``x``'s shape within 1e-6 of the reference (the
    arguments are passed positionally). Returns the number of cases passed.
    """
    ex = "fake_quantize"
    cases = _fq_cases()
    for case, x, s, z in cases:
        got = call(ex, case, fn, x.clone(), s, z, -128, 127)
        compare(ex, case, got, fake_quantize_reference(x, s, z), atol=1e-6, rtol=1e-5,
                dtype=torch.float32, name="x_hat", mistakes=FQ_MISTAKES,
                inputs=(x, s, z, -128, 127),
                others=lambda: outputs(fn, [(c[1], c[2], c[3], -128, 127) for c in cases]))
    return passed(ex, len(cases), verbose)


def quantized_bias_reference(bias: torch.Tensor, s_in: float, s_w: float | torch.Tensor
                             ) -> torch.Tensor:
    """The int32 bias of a quantized convolution: round(b / (s_in * s_w)) (s_w scalar or per
    output channel)."""
    scale = torch.as_tensor(s_w, dtype=torch.float64) * float(s_in)
    return torch.round(bias.double() / scale).to(torch.int32)


def _div(bias: torch.Tensor, scale: Any) -> torch.Tensor:
    return bias.double() / torch.as_tensor(scale, dtype=torch.float64)


BIAS_MISTAKES: list[Mistake] = [
    ("the bias scale must be s_in * s_w: you divided by s_w only",
     lambda b, si, sw: torch.round(_div(b, sw))),
    ("the bias scale must be s_in * s_w: you divided by s_in only",
     lambda b, si, sw: torch.round(_div(b, si))),
    ("the bias scale must be s_in * s_w, not s_in + s_w",
     lambda b, si, sw: torch.round(_div(b, torch.as_tensor(sw, dtype=torch.float64) + si))),
    ("multiplied by the scale instead of dividing",
     lambda b, si, sw: torch.round(b.double() * torch.as_tensor(sw, dtype=torch.float64) * si)),
    ("truncated instead of rounded", lambda b, si, sw: torch.trunc(
        _div(b, torch.as_tensor(sw, dtype=torch.float64) * si))),
    ("clamped to the INT8 range: the bias is int32, it needs the wide range",
     lambda b, si, sw: torch.clamp(torch.round(
         _div(b, torch.as_tensor(sw, dtype=torch.float64) * si)), -128, 127)),
]


def check_quantized_bias(fn: Callable[..., Any], verbose: bool = True) -> int:
    """Test a reader's ``quantized_bias(bias, s_in, s_w) -> int32 tensor`` on a per-tensor and a
    per-channel weight scale (s_w a float or a tensor [C_out]). Returns the cases passed."""
    ex = "quantized_bias"
    cases = [
        ("per-tensor scales s_in=0.05, s_w=0.004", torch.tensor([0.1, -0.361, 0.0, 2.5, -0.00137]),
         0.05, 0.004),
        ("per-channel weight scales", torch.tensor([0.8, -0.2, 0.05]), 0.021,
         torch.tensor([0.002, 0.0051, 0.013])),
        ("a large bias (beyond INT8)", torch.tensor([3.0, -7.1]), 0.1, 0.01),
    ]
    for case, b, si, sw in cases:
        got = call(ex, case, fn, b.clone(), si, sw.clone() if torch.is_tensor(sw) else sw)
        compare(ex, case, got, quantized_bias_reference(b, si, sw), dtype=torch.int32,
                name="the int32 bias", mistakes=BIAS_MISTAKES, inputs=(b, si, sw),
                others=lambda: outputs(fn, [c[1:] for c in cases]))
    return passed(ex, len(cases), verbose)
