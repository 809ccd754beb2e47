"""Chapter 05's checker (roadlite.checkers.distillation): the sparse knowledge-distillation loss.

The checker passes the book's loss and fails, naming the likely mistake, on wrong losses written
the way a student would write them."""

import pytest
import torch.nn.functional as F

from roadlite.checkers.distillation import check_sparse_kd_loss
from roadlite.distill import sparse_kd_loss


def test_checker_accepts_the_reference(capsys):
    assert check_sparse_kd_loss(sparse_kd_loss) == 5
    assert "passed" in capsys.readouterr().out


def _without_t_squared(s, t, y, T, alpha, lam, params):
    kl = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")
    l1 = sum(p.abs().sum() for p in params) if params else 0.0
    return alpha * kl + (1 - alpha) * F.cross_entropy(s, y) + lam * l1


def _reversed_kl(s, t, y, T, alpha, lam, params):
    kl = F.kl_div(F.log_softmax(t / T, 1), F.softmax(s / T, 1), reduction="batchmean")
    l1 = sum(p.abs().sum() for p in params) if params else 0.0
    return alpha * T * T * kl + (1 - alpha) * F.cross_entropy(s, y) + lam * l1


def _no_l1(s, t, y, T, alpha, lam, params):
    return sparse_kd_loss(s, t, y, T, alpha, 0.0)


def _crashes(s, t, y, T, alpha, lam, params):
    raise NotImplementedError("TODO")


@pytest.mark.parametrize("fn, hint", [
    (_without_t_squared, "T^2"),
    (_reversed_kl, "wrong way"),
    (_no_l1, "L1 term"),
    (_crashes, "NotImplementedError"),
])
def test_checker_rejects_wrong_implementations(fn, hint):
    with pytest.raises(AssertionError, match="expected|raised") as info:
        check_sparse_kd_loss(fn, verbose=False)
    assert hint in str(info.value)
