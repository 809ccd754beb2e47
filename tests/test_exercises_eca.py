"""Chapter 03's checkers (roadlite.checkers.eca): ECA's adaptive kernel size and its gate.

Each checker passes the reference, the reference agrees with a maintained library, and the
checker fails, with the right message, on wrong answers written the way a student would
write them (the `rejects` fixture: tests/conftest.py)."""

import math

import pytest
import torch
import torch.nn.functional as F

from roadlite.checkers.eca import (
    KERNEL_CASES,
    check_eca_gate,
    check_eca_kernel_size,
    eca_gate_reference,
    eca_kernel_size_reference,
)


def not_implemented(*args):
    raise NotImplementedError()


def test_kernel_reference_equals_the_model_and_eca_net_table():
    from roadlite.models.eca import eca_kernel_size

    for c in KERNEL_CASES:
        assert eca_kernel_size_reference(c) == eca_kernel_size(c)
    # ECA-Net / STUDY: k = 3 up to 96 channels, 5 for 160 and 320 channels.
    assert [eca_kernel_size_reference(c) for c in (16, 24, 32, 64, 96, 160, 320)] == \
        [3, 3, 3, 3, 3, 5, 5]


def test_kernel_checker_accepts_the_reference(capsys):
    assert check_eca_kernel_size(eca_kernel_size_reference) == len(KERNEL_CASES)
    assert "all 17 checks passed" in capsys.readouterr().out


def _t(c):
    return int(abs(math.log2(c) + 1) / 2)


@pytest.mark.parametrize("fn, fragments", [
    (lambda c: _t(c) + 1, ["off by one"]),                             # always t + 1
    (lambda c: _t(c), ["without making it odd"]),                      # even kernel allowed
    (lambda c: _t(c) if _t(c) % 2 else _t(c) - 1, ["rounded down to t - 1"]),
    (lambda c: round(abs(math.log2(c) + 1) / 2) | 1, ["rounded to the nearest"]),
    (lambda c: int(abs(math.log(c) + 1) / 2) | 1, ["natural logarithm"]),
    (lambda c: float(_t(c) | 1), ["must be an int"]),
    (not_implemented, ["not implemented yet"]),
])
def test_kernel_checker_rejects(fn, fragments, rejects):
    rejects(check_eca_kernel_size, fn, "eca_kernel_size", *fragments)


# ------------------------------------------------------------------------------- 03: ECA gate

def _module_gate(x, w, b):
    from roadlite.models.eca import ECA

    eca = ECA(x.shape[1], k_size=w.numel())
    with torch.no_grad():
        eca.conv.weight.copy_(w.view(1, 1, -1))
        eca.conv.bias.copy_(b.view(1))
    gates = []
    eca.sigmoid.register_forward_hook(lambda m, i, o: gates.append(o))
    eca(x)
    return gates[0].view(x.shape[0], x.shape[1])


def test_gate_reference_equals_the_eca_module():
    g = torch.Generator().manual_seed(0)
    for c, k in ((6, 3), (16, 5), (5, 1), (32, 3)):
        x = torch.randn(2, c, 3, 4, generator=g)
        w, b = torch.randn(k, generator=g), torch.randn((), generator=g)
        torch.testing.assert_close(eca_gate_reference(x, w, b), _module_gate(x, w, b))


def test_gate_checker_accepts_the_reference_and_the_module():
    assert check_eca_gate(eca_gate_reference, verbose=False) == 4
    assert check_eca_gate(_module_gate, verbose=False) == 4


def _student_gate(pool="mean", pad=True, sigmoid=True, bias=True, flip=False, gated=False,
                  softmax=False):
    def gate(x, w, b):
        y = x.amax(dim=(2, 3)) if pool == "max" else x.mean(dim=(2, 3))
        ker = w.flip(0) if flip else w
        z = F.conv1d(y.unsqueeze(1), ker.view(1, 1, -1), b.view(1) if bias else None,
                     padding=w.numel() // 2 if pad else 0).squeeze(1)
        out = torch.softmax(z, dim=1) if softmax else torch.sigmoid(z) if sigmoid else z
        return x * out[:, :, None, None] if gated else out
    return gate


@pytest.mark.parametrize("fn, fragments", [
    (lambda x, w, b: x.mean(dim=1), ["shape differs", "channel axis"]),   # wrong reduction axis
    (_student_gate(pool="max"), ["max pooling"]),
    (_student_gate(pad=False), ["shape differs", "no padding"]),
    (_student_gate(sigmoid=False), ["sigmoid is missing"]),
    (_student_gate(bias=False), ["bias of the 1-D convolution is missing"]),
    (_student_gate(flip=True), ["flipped"]),
    (_student_gate(softmax=True), ["softmax"]),
    (_student_gate(gated=True), ["shape differs", "gated feature map"]),
    (lambda x, w, b: _student_gate()(x, w, b).double(), ["dtype differs"]),
])
def test_gate_checker_rejects(fn, fragments, rejects):
    rejects(check_eca_gate, fn, "eca_gate", *fragments)
