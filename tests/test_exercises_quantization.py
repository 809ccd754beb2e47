"""Chapter 07's checkers (roadlite.checkers.quantization): scale and zero point, fake
quantization, the INT32 bias.

Each checker passes the reference, the reference agrees with a maintained library, and the
checker fails, with the right message, on wrong answers written the way a student would
write them (the `rejects` fixture: tests/conftest.py)."""

import math

import pytest
import torch

from roadlite.checkers.quantization import (
    SZP_CASES,
    check_fake_quantize,
    check_quantized_bias,
    check_scale_zero_point,
    fake_quantize_reference,
    quantized_bias_reference,
    scale_zero_point_reference,
)


@pytest.mark.parametrize("lo, hi", SZP_CASES)
def test_scale_zero_point_reference_equals_torch_observers(lo, hi):
    from torch.ao.quantization.observer import MinMaxObserver

    for symmetric in (False, True):
        obs = MinMaxObserver(dtype=torch.qint8, quant_min=-127 if symmetric else -128,
                             quant_max=127, qscheme=torch.per_tensor_symmetric if symmetric
                             else torch.per_tensor_affine)
        obs(torch.tensor([lo, hi]))
        scale, zp = obs.calculate_qparams()
        want = scale_zero_point_reference(lo, hi, symmetric)
        assert math.isclose(float(scale), want[0], rel_tol=1e-6)
        assert int(zp) == want[1]


def test_quantization_checkers_accept_the_references():
    assert check_scale_zero_point(scale_zero_point_reference, verbose=False) == 14
    assert check_fake_quantize(fake_quantize_reference, verbose=False) == 4
    assert check_quantized_bias(quantized_bias_reference, verbose=False) == 3


def _student_szp(asym_for_sym=False, sym_for_asym=False, sign=-1, levels=255, rounder=round,
                 widen=True, sym_div=127, qmin=-128):
    def szp(x_min, x_max, symmetric):
        lo, hi = (min(x_min, 0.0), max(x_max, 0.0)) if widen else (x_min, x_max)
        if (symmetric and not asym_for_sym) or (not symmetric and sym_for_asym):
            return max(max(abs(lo), abs(hi)) / sym_div, 1.1920928955078125e-07), 0
        scale = max((hi - lo) / levels, 1.1920928955078125e-07)
        return scale, int(qmin + sign * rounder(lo / scale))
    return szp


@pytest.mark.parametrize("fn, fragments", [
    (_student_szp(sym_for_asym=True), ["asymmetric INT8", "symmetric quantization where"]),
    (_student_szp(asym_for_sym=True), ["symmetric INT8", "symmetric quantization where"]),
    (_student_szp(sign=1), ["zero_point", "wrong sign"]),
    (_student_szp(levels=256), ["scale", "256 steps"]),
    (_student_szp(rounder=math.floor), ["zero_point", "floor instead of round"]),
    (_student_szp(widen=False), ["[0.2, 3.0]", "widened to include 0"]),
    (_student_szp(sym_div=128), ["symmetric INT8", "max|x| / 128"]),
    (_student_szp(sym_div=127.5), ["max|x| / 127.5"]),
    (_student_szp(qmin=0), ["zero_point", "UINT8"]),
    (lambda lo, hi, s: (scale_zero_point_reference(lo, hi, s)[0],
                        float(scale_zero_point_reference(lo, hi, s)[1])), ["must be an integer"]),
])
def test_scale_zero_point_checker_rejects(fn, fragments, rejects):
    rejects(check_scale_zero_point, fn, "scale_zero_point", *fragments)


def test_fake_quantize_reference_equals_torch():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(200, generator=g) * 3
    for scale, zp in ((0.02, 0), (0.013, 20), (0.05, -77)):
        torch.testing.assert_close(fake_quantize_reference(x, scale, zp),
                                   torch.fake_quantize_per_tensor_affine(x, scale, zp, -128, 127))


def _student_fq(rounding="round", clamp=True, clamp_first=False, sub_zp=True, dequant=True,
                wrap=False):
    def fq(x, s, z, qmin=-128, qmax=127):
        r = {"round": torch.round, "floor": torch.floor, "int": lambda v: v.int().float()}[
            rounding](x / s)
        if clamp_first:
            q = torch.clamp(r, qmin, qmax) + z
        elif wrap:
            q = (r + z).to(torch.int8).float()
        else:
            q = torch.clamp(r + z, qmin, qmax) if clamp else r + z
        if not dequant:
            return q
        return ((q - z) if sub_zp else q) * s
    return fq


@pytest.mark.parametrize("fn, fragments", [
    (_student_fq(rounding="int"), ["truncation"]),
    (_student_fq(rounding="floor"), ["floor instead of round"]),
    (_student_fq(clamp=False), ["saturate", "no clamping"]),
    (_student_fq(clamp_first=True), ["zero point -77", "clamped before adding the zero point"]),
    (_student_fq(sub_zp=False), ["zero point is not subtracted"]),
    (_student_fq(dequant=False), ["integers q"]),
    (_student_fq(wrap=True), ["wrap around"]),
    (lambda x, s, z, lo, hi: fake_quantize_reference(x, s, z).double(), ["dtype differs"]),
])
def test_fake_quantize_checker_rejects(fn, fragments, rejects):
    rejects(check_fake_quantize, fn, "fake_quantize", *fragments)


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
def test_quantized_bias_reference_equals_torch_qint32():
    b = torch.tensor([0.1, -0.361, 0.0, 2.5, -0.00137, 3.0, -7.1])
    q = torch.quantize_per_tensor(b, 0.05 * 0.004, 0, torch.qint32).int_repr()
    torch.testing.assert_close(quantized_bias_reference(b, 0.05, 0.004), q)
    bc = torch.tensor([0.8, -0.2, 0.05])
    sw = torch.tensor([0.002, 0.0051, 0.013], dtype=torch.float64)
    q = torch.quantize_per_channel(bc, sw * 0.021, torch.zeros(3, dtype=torch.long), 0,
                                   torch.qint32).int_repr()
    torch.testing.assert_close(quantized_bias_reference(bc, 0.021, sw), q)


def _student_bias(scale="product", rounding="round", dtype=torch.int32, clamp8=False):
    def qb(b, s_in, s_w):
        sc = {"product": s_in * s_w, "w": s_w, "in": s_in, "sum": s_in + s_w}[scale]
        v = b / sc
        v = torch.round(v) if rounding == "round" else torch.trunc(v)
        if clamp8:
            v = torch.clamp(v, -128, 127)
        return v.to(dtype)
    return qb


@pytest.mark.parametrize("fn, fragments", [
    (_student_bias(scale="w"), ["s_in * s_w: you divided by s_w only"]),
    (_student_bias(scale="in"), ["divided by s_in only"]),
    (_student_bias(scale="sum"), ["not s_in + s_w"]),
    (_student_bias(rounding="trunc"), ["truncated"]),
    (_student_bias(clamp8=True), ["INT8 range"]),
    (_student_bias(dtype=torch.int64), ["dtype differs: expected torch.int32, got torch.int64"]),
    (_student_bias(dtype=torch.int8), ["dtype differs"]),
])
def test_quantized_bias_checker_rejects(fn, fragments, rejects):
    rejects(check_quantized_bias, fn, "quantized_bias", *fragments)
