"""Every mistake that a checker's table lists (the teacher's guide promises that each is
rejected and named) is tried on its checker. The checkers' own tests are in
tests/test_exercises_<module>.py, one file per module of roadlite.checkers."""

import copy

import pytest
import torch

from roadlite.checkers.dmia import check_dmia_boundary
from roadlite.checkers.eca import (
    check_eca_gate,
    check_eca_kernel_size,
)
from roadlite.checkers.mcnemar import check_mcnemar
from roadlite.checkers.pruning import (
    check_l1_channel_importance,
    check_prune_step,
    check_select_channels,
)
from roadlite.checkers.quantization import (
    check_fake_quantize,
    check_quantized_bias,
    check_scale_zero_point,
)
from roadlite.checkers.refinement import (
    check_inverted_residual_cost,
)


def _listed_mistakes():
    """(checker, description, wrong function) for every mistake a checker's table lists: the
    teacher's guide promises that each is rejected and named, so each is tried here."""
    from roadlite.checkers import dmia, eca, mcnemar, pruning, quantization, refinement

    table = [
        (check_eca_kernel_size, eca.KERNEL_MISTAKES),
        (check_eca_gate, eca.GATE_MISTAKES),
        (check_l1_channel_importance, pruning.IMPORTANCE_MISTAKES),
        (check_select_channels, pruning.SELECT_MISTAKES),
        (check_prune_step, pruning.STEP_MISTAKES),
        (check_scale_zero_point, quantization.SZP_MISTAKES),
        (check_fake_quantize, quantization.FQ_MISTAKES),
        (check_quantized_bias, quantization.BIAS_MISTAKES),
        (check_mcnemar, mcnemar.MISTAKES),
        (check_dmia_boundary, dmia.MISTAKES),
        (check_inverted_residual_cost,
         [(d, lambda *a, kw=kw: refinement._cost(*a, **kw)) for d, kw in refinement.MISTAKES]),
    ]
    return [pytest.param(checker, d, f, id=f"{checker.__name__}: {d[:40]}")
            for checker, mistakes in table for d, f in mistakes]


@pytest.mark.parametrize("checker, description, wrong", _listed_mistakes())
def test_every_listed_mistake_is_rejected_and_named(checker, description, wrong, rejects):
    # The tables compute in float64 (a value is matched whatever its dtype); a student returns
    # the dtype asked for, so the wrong answer is cast to it before the checker sees it.
    cast = {check_eca_gate: torch.float32, check_quantized_bias: torch.int32}.get(checker)
    if checker is check_prune_step:  # the student may prune in place: give each call a copy
        fn = lambda net, r: wrong(copy.deepcopy(net), r)  # noqa: E731
    elif cast is not None:
        fn = lambda *a: wrong(*a).to(cast)  # noqa: E731
    else:
        fn = wrong
    rejects(checker, fn, description)
