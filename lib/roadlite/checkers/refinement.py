"""Checker for the exercise of Chapter 04_refinement: the parameters and multiply-accumulates
(MACs) of one inverted residual block, counted by hand.

The block (MobileNetV2, no ECA): [1x1 expansion conv inp -> hidden + BN, only when t != 1] ->
3x3 depthwise conv with stride s, padding 1 (groups = hidden) + BN -> 1x1 projection
hidden -> oup + BN, with hidden = round(inp * t). Convolutions have no bias; a batch norm has 2
parameters per channel (gamma, beta; its running mean and variance are buffers, not
parameters). MACs follow the MobileNet papers: out_elements x in_channels / groups x kernel area
per convolution, for one image of h x w pixels.

The reference below is arithmetic; the unit tests compare it with the block built by
:mod:`roadlite.models` and with ``torch.utils.flop_counter`` (which counts 2 FLOPs per MAC).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from .compare import Mistake, call, compare, outputs, passed

__all__ = ["BLOCK_CASES", "check_inverted_residual_cost", "inverted_residual_cost_reference"]

# (inp, oup, stride, t, h, w): blocks of Model 2 and the baseline at 224 px, odd sizes, t = 1.
BLOCK_CASES = (
    (32, 16, 1, 1, 112, 112),
    (16, 24, 2, 6, 112, 112),
    (24, 24, 1, 6, 56, 56),
    (64, 96, 1, 6, 14, 14),
    (96, 160, 2, 6, 14, 14),
    (24, 32, 2, 6, 15, 15),
    (8, 8, 2, 3, 7, 9),
)


def _out(n: int, stride: int) -> int:
    return (n + 2 - 3) // stride + 1  # 3x3 kernel, padding 1


def _cost(inp: int, oup: int, stride: int, t: float, h: int, w: int, *, dw_groups: bool = True,
          bn_per_channel: int = 2, expand_always: bool = False, expand_at_out: bool = False,
          ignore_stride: bool = False, floor_out: bool = False, flops: bool = False
          ) -> tuple[int, int]:
    hidden = int(round(inp * t))
    if ignore_stride:
        ho, wo = h, w
    elif floor_out:
        ho, wo = h // stride, w // stride
    else:
        ho, wo = _out(h, stride), _out(w, stride)
    params = macs = 0
    if t != 1 or expand_always:
        params += inp * hidden + bn_per_channel * hidden
        macs += (ho * wo if expand_at_out else h * w) * inp * hidden
    dw_in = 1 if dw_groups else hidden
    params += hidden * dw_in * 9 + bn_per_channel * hidden
    macs += ho * wo * hidden * dw_in * 9
    params += hidden * oup + bn_per_channel * oup
    macs += ho * wo * hidden * oup
    return params, (2 * macs if flops else macs)


def inverted_residual_cost_reference(inp: int, oup: int, stride: int, t: float, h: int, w: int
                                     ) -> tuple[int, int]:
    """(parameters, MACs) of one inverted residual block on an h x w input (Chapter 04)."""
    return _cost(inp, oup, stride, t, h, w)


MISTAKES: list[tuple[str, dict]] = [
    ("the depthwise convolution counted like a full 3x3 convolution (forgot groups = hidden: "
     "each filter sees one channel, not all of them)", {"dw_groups": False}),
    ("the batch-norm parameters are missing (2 per channel: gamma and beta)",
     {"bn_per_channel": 0}),
    ("the batch-norm running mean and variance counted as parameters (they are buffers)",
     {"bn_per_channel": 4}),
    ("FLOPs (2 per multiply-accumulate) instead of MACs", {"flops": True}),
    ("an expansion layer counted for t = 1 (the block has none then)", {"expand_always": True}),
    ("the expansion conv counted at the output resolution (the stride is in the depthwise "
     "conv, after the expansion)", {"expand_at_out": True}),
    ("the stride ignored: depthwise and projection run on the strided, smaller map",
     {"ignore_stride": True}),
    ("output size h // stride; with padding 1 a 3x3 stride-2 conv gives (h + 1) // 2",
     {"floor_out": True}),
]


def _mistakes(part: int) -> list[Mistake]:
    return [(d, lambda *a, kw=kw: _cost(*a, **kw)[part]) for d, kw in MISTAKES]


def check_inverted_residual_cost(fn: Callable[..., Any], verbose: bool = True) -> int:
    """Test a reader's ``inverted_residual_cost(inp, oup, stride, t, h, w) -> (params, macs)``.

    Seven blocks (t = 1 and 6, strides 1 and 2, odd map sizes); both numbers must be integers
    equal to the reference. The first difference raises one ``AssertionError`` naming the block,
    which number differs, by how much and, when recognised, the likely mistake. Returns the
    number of cases passed.
    """
    ex = "inverted_residual_cost"
    for args in BLOCK_CASES:
        inp, oup, stride, t, h, w = args
        case = f"block inp={inp}, oup={oup}, stride={stride}, t={t} on {h}x{w}"
        got = call(ex, case, fn, *args)
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise AssertionError(f"{ex}, {case}: expected a pair (params, macs), got {got!r}.")
        expected = inverted_residual_cost_reference(*args)
        for part, name in enumerate(("params", "macs")):
            value = got[part]
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise AssertionError(f"{ex}, {case}: {name} must be an int, got "
                                     f"{type(value).__name__} {value!r}.")
            compare(ex, case, int(value), expected[part], name=name, mistakes=_mistakes(part),
                    inputs=args, others=lambda p=part: outputs(fn, BLOCK_CASES,
                                                               lambda v, p=p: v[p]))
    return passed(ex, len(BLOCK_CASES), verbose)
