"""Chapter 04's checker (roadlite.checkers.refinement): an inverted residual block's cost.

Each checker passes the reference, the reference agrees with a maintained library, and the
checker fails, with the right message, on wrong answers written the way a student would
write them (the `rejects` fixture: tests/conftest.py)."""


import pytest
import torch
from torch import nn

from roadlite.checkers.refinement import (
    BLOCK_CASES,
    check_inverted_residual_cost,
    inverted_residual_cost_reference,
)


def test_block_cost_reference_equals_the_model_and_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    from roadlite.models.mobilenet import InvertedResidual
    from roadlite.models.summary import count_params, macs_per_layer

    for inp, oup, s, t, h, w in BLOCK_CASES:
        block = InvertedResidual(inp, oup, s, t).eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            block(torch.zeros(1, inp, h, w))
        params, macs = inverted_residual_cost_reference(inp, oup, s, t, h, w)
        assert params == count_params(block)
        assert 2 * macs == counter.get_total_flops()  # torch counts 2 FLOPs per MAC
        wrapper = nn.Sequential(block)
        wrapper.features = block  # macs_per_layer only needs a forward pass
        assert macs == sum(macs_per_layer(nn.Sequential(block), (h, w), inp).values())


def test_block_cost_checker_accepts_the_reference():
    assert check_inverted_residual_cost(inverted_residual_cost_reference, verbose=False) == 7


def _student_cost(dw_groups=True, bn=True, flops=False, expand_t1=False, floor=False,
                  no_stride=False, expand_at_out=False):
    def cost(inp, oup, stride, t, h, w):
        hid = round(inp * t)
        ho, wo = (h // stride, w // stride) if floor else ((h - 1) // stride + 1,
                                                          (w - 1) // stride + 1)
        if no_stride:
            ho, wo = h, w
        p = m = 0
        if t != 1 or expand_t1:
            p += inp * hid + (2 * hid if bn else 0)
            m += (ho * wo if expand_at_out else h * w) * inp * hid
        p += hid * 9 * (hid if not dw_groups else 1) + (2 * hid if bn else 0)
        m += ho * wo * hid * 9 * (hid if not dw_groups else 1)
        p += hid * oup + (2 * oup if bn else 0)
        m += ho * wo * hid * oup
        return p, (2 * m if flops else m)
    return cost


@pytest.mark.parametrize("fn, fragments", [
    (_student_cost(dw_groups=False), ["params", "groups = hidden"]),
    (_student_cost(bn=False), ["params", "batch-norm parameters are missing"]),
    (_student_cost(flops=True), ["macs", "FLOPs"]),
    (_student_cost(expand_t1=True), ["t=1", "expansion layer counted for t = 1"]),
    (_student_cost(floor=True), ["15x15", "h // stride"]),
    (_student_cost(no_stride=True), ["macs", "stride ignored"]),
    (_student_cost(expand_at_out=True), ["macs", "expansion conv counted at the output"]),
    (lambda *a: (float(inverted_residual_cost_reference(*a)[0]), 0), ["params must be an int"]),
    (lambda *a: inverted_residual_cost_reference(*a)[1], ["expected a pair"]),
])
def test_block_cost_checker_rejects(fn, fragments, rejects):
    rejects(check_inverted_residual_cost, fn, "inverted_residual_cost", *fragments)


def test_block_cost_checker_names_the_depthwise_mistake_for_macs_too(rejects):
    def dw_macs_only(*a):  # parameters right, MACs without the group factor
        inp, oup, stride, t, h, w = a
        params, macs = inverted_residual_cost_reference(*a)
        hid = round(inp * t)
        ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
        return params, macs + ho * wo * hid * 9 * (hid - 1)
    rejects(check_inverted_residual_cost, dw_macs_only, "macs", "groups = hidden")
