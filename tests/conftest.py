"""Fixtures shared by the tests: the tiny classifier several modules build, and the checkers'
``rejects``."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def _tiny_net(width: int = 8, num_classes: int = 4, *, stride: int = 2, batchnorm: bool = False,
              act: type[nn.Module] = nn.ReLU, seed: int | None = 0) -> nn.Sequential:
    """``Conv2d(3, width, 3, stride, padding=1) [-> BatchNorm2d] -> act -> global average pool
    -> Linear(width, num_classes)``, its weights drawn after ``torch.manual_seed(seed)`` (no
    reseeding when None), in eval mode."""
    if seed is not None:
        torch.manual_seed(seed)
    layers = [nn.Conv2d(3, width, 3, stride=stride, padding=1)]
    layers += [nn.BatchNorm2d(width)] if batchnorm else []
    layers += [act(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)]
    return nn.Sequential(*layers).eval()


@pytest.fixture(scope="session")
def tiny_net():
    """The builder of the tiny classifier (see :func:`_tiny_net`): ``tiny_net(width=8,
    num_classes=4, stride=2, batchnorm=False, act=nn.ReLU, seed=0)``. Session-scoped, so that
    module-scoped fixtures can use it too."""
    return _tiny_net


@pytest.fixture(scope="session")
def rejects():
    """``rejects(checker, fn, *fragments)``: the checker raises one AssertionError whose
    message holds every fragment; returns the message."""
    def check(checker, fn, *fragments):
        with pytest.raises(AssertionError) as info:
            checker(fn, verbose=False)
        msg = str(info.value)
        for f in fragments:
            assert f in msg, f"{f!r} not in {msg!r}"
        return msg
    return check
