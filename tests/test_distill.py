"""Tests of roadlite.distill (Chapter 05_distillation): the sparse KD loss against values worked
out by hand, the fit() criterion and the histogram helpers (the classroom checker:
tests/test_exercises_distillation.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from roadlite.distill import (
    KDCriterion,
    KDLossParts,
    bn_scales,
    conv_weights,
    l1_norm,
    make_kd_criterion,
    sparse_kd_loss,
    train_kd_students,
)

# The hand-worked case: 2 samples, 3 classes.
S = [[1.0, 2.0, 0.0], [0.5, -1.0, 1.0]]  # student logits z_s
TT = [[2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]  # teacher logits z_t
Y = [1, 2]


def softmax(row, T=1.0):
    e = [math.exp(v / T) for v in row]
    total = sum(e)
    return [v / total for v in e]


def kl_by_hand(T):
    """KL(softmax(z_t/T) || softmax(z_s/T)), summed over classes, averaged over the 2 samples."""
    total = 0.0
    for zs, zt in zip(S, TT, strict=True):
        p_t, p_s = softmax(zt, T), softmax(zs, T)
        total += sum(pt * (math.log(pt) - math.log(ps)) for pt, ps in zip(p_t, p_s, strict=True))
    return total / len(S)


def ce_by_hand():
    return -sum(math.log(softmax(zs)[y]) for zs, y in zip(S, Y, strict=True)) / len(S)


def tensors():
    return torch.tensor(S), torch.tensor(TT), torch.tensor(Y)


def test_hand_values_of_the_pieces():
    # Sample 1 written out fully: softmax([1, 2, 0]) = e^[1, 2, 0] / (e + e^2 + 1).
    z = math.e + math.e**2 + 1.0
    p1 = [math.e / z, math.e**2 / z, 1.0 / z]
    assert softmax(S[0]) == pytest.approx(p1)
    ce1 = -math.log(math.e**2 / z)
    assert ce1 == pytest.approx(math.log(z) - 2.0)
    # The teacher's softmax([2, 1, 0]) has the same denominator z, so at T = 1
    # KL_1 = e^2/z * (2 - 1) + e/z * (1 - 2) + 1/z * (0 - 0) = (e^2 - e) / z.
    kl1 = (math.e**2 - math.e) / z
    s, t, y = tensors()
    assert sparse_kd_loss(s[:1], t[:1], y[:1], T=1.0, alpha=1.0, lam=0.0).item() == \
        pytest.approx(kl1, rel=1e-6)
    assert sparse_kd_loss(s[:1], t[:1], y[:1], T=1.0, alpha=0.0, lam=0.0).item() == \
        pytest.approx(ce1, rel=1e-6)
    # The hand values are positive and of a sensible size.
    assert 0 < kl_by_hand(1.0) < 1 and 0 < kl_by_hand(4.0) < kl_by_hand(1.0)
    assert ce_by_hand() == pytest.approx(F.cross_entropy(*tensors()[::2]).item())


@pytest.mark.parametrize("T, alpha", [(4.0, 0.5), (1.0, 0.5), (2.0, 0.3), (4.0, 0.9)])
def test_loss_matches_hand_computation(T, alpha):
    s, t, y = tensors()
    expected = alpha * T**2 * kl_by_hand(T) + (1 - alpha) * ce_by_hand()
    got = sparse_kd_loss(s, t, y, T=T, alpha=alpha, lam=0.0)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_parts_add_up_and_carry_the_t_squared_factor():
    s, t, y = tensors()
    parts = sparse_kd_loss(s, t, y, T=4.0, alpha=0.5, lam=0.0, return_parts=True)
    assert isinstance(parts, KDLossParts)
    assert parts.kl.item() == pytest.approx(kl_by_hand(4.0), rel=1e-6)
    assert parts.ce.item() == pytest.approx(ce_by_hand(), rel=1e-6)
    assert parts.kd_term.item() == pytest.approx(0.5 * 16 * kl_by_hand(4.0), rel=1e-6)
    assert parts.ce_term.item() == pytest.approx(0.5 * ce_by_hand(), rel=1e-6)
    assert parts.l1_term.item() == 0.0 and parts.l1_norm.item() == 0.0
    assert parts.total.item() == pytest.approx(
        parts.kd_term.item() + parts.ce_term.item() + parts.l1_term.item(), rel=1e-6)
    floats = parts.as_floats()
    assert set(floats) == {"total", "kl", "ce", "l1_norm", "kd_term", "ce_term", "l1_term"}


def test_t_squared_scaling_between_t1_and_t4():
    """Pure KD (alpha = 1): L(T=4) / L(T=1) = 16 * KL_4 / KL_1, computed by hand."""
    s, t, y = tensors()
    l1 = sparse_kd_loss(s, t, y, T=1.0, alpha=1.0, lam=0.0).item()
    l4 = sparse_kd_loss(s, t, y, T=4.0, alpha=1.0, lam=0.0).item()
    assert l1 == pytest.approx(kl_by_hand(1.0), rel=1e-6)
    assert l4 == pytest.approx(16.0 * kl_by_hand(4.0), rel=1e-6)
    assert l4 / l1 == pytest.approx(16.0 * kl_by_hand(4.0) / kl_by_hand(1.0), rel=1e-5)
    # The softened KL itself is ~T^2 times smaller: the factor T^2 restores its size.
    assert 0.5 < (16.0 * kl_by_hand(4.0)) / kl_by_hand(1.0) < 2.0


def test_alpha_zero_is_pure_ce_and_alpha_one_is_pure_kd():
    s, t, y = tensors()
    ce = sparse_kd_loss(s, t, y, T=4.0, alpha=0.0, lam=0.0)
    assert ce.item() == pytest.approx(ce_by_hand(), rel=1e-6)
    assert ce.item() == pytest.approx(F.cross_entropy(s, y).item(), rel=1e-6)
    kd = sparse_kd_loss(s, t, y, T=4.0, alpha=1.0, lam=0.0)
    assert kd.item() == pytest.approx(16.0 * kl_by_hand(4.0), rel=1e-6)
    # Student == teacher: no soft loss at all.
    assert sparse_kd_loss(t, t, y, alpha=1.0, lam=0.0).item() == pytest.approx(0.0, abs=1e-7)


def test_l1_term_is_lambda_times_sum_of_abs():
    s, t, y = tensors()
    theta = [torch.tensor([[1.0, -2.0], [0.5, 0.0]]), torch.tensor([-3.0])]
    assert l1_norm(theta).item() == pytest.approx(6.5)
    assert l1_norm([]).item() == 0.0
    base = sparse_kd_loss(s, t, y, lam=0.0).item()
    with_l1 = sparse_kd_loss(s, t, y, lam=0.1, params=theta, return_parts=True)
    assert with_l1.total.item() - base == pytest.approx(0.1 * 6.5, rel=1e-5)
    assert with_l1.l1_norm.item() == pytest.approx(6.5)
    assert with_l1.l1_term.item() == pytest.approx(0.65)
    # A generator of parameters works (model.parameters()), lam = 0 or params = None: no term.
    assert sparse_kd_loss(s, t, y, lam=0.1, params=iter(theta)).item() == pytest.approx(
        base + 0.65, rel=1e-5)
    assert sparse_kd_loss(s, t, y, lam=0.0, params=theta).item() == pytest.approx(base)
    assert sparse_kd_loss(s, t, y, lam=0.1, params=None).item() == pytest.approx(base)


def test_l1_over_all_student_parameters():
    torch.manual_seed(0)
    student = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(3))
    student(torch.zeros(1, 3, 5, 5))
    s, t, y = tensors()
    expected = sum(float(p.detach().abs().sum()) for p in student.parameters())
    parts = sparse_kd_loss(s, t, y, lam=1e-5, params=student.parameters(), return_parts=True)
    assert parts.l1_norm.item() == pytest.approx(expected, rel=1e-6)


def test_gradients_reach_the_student_but_not_the_teacher():
    torch.manual_seed(0)
    student, teacher = nn.Linear(5, 3), nn.Linear(5, 3)
    x, y = torch.randn(4, 5), torch.tensor([0, 1, 2, 1])
    loss = sparse_kd_loss(student(x), teacher(x), y, params=student.parameters())
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    assert all(p.grad is None for p in teacher.parameters())


def test_bad_hyperparameters_name_the_parameter():
    s, t, y = tensors()
    for kw, word in [({"T": 0.0}, "T"), ({"T": -1.0}, "T"), ({"T": float("nan")}, "T"),
                     ({"alpha": -0.1}, "alpha"), ({"alpha": 1.5}, "alpha"),
                     ({"lam": -1e-5}, "lam")]:
        with pytest.raises(ValueError, match=word):
            sparse_kd_loss(s, t, y, **kw)
        with pytest.raises(ValueError, match=word):
            make_kd_criterion(nn.Identity(), nn.Identity(), **{"T": 4.0, "alpha": 0.5,
                                                               "lam": 0.0, **kw})
    with pytest.raises(ValueError, match="shape"):
        sparse_kd_loss(s, t[:, :2], y)
    # numpy scalars are fine
    assert sparse_kd_loss(s, t, y, T=np.float32(4.0), alpha=np.float64(0.5), lam=0).item() == \
        pytest.approx(sparse_kd_loss(s, t, y, lam=0.0).item(), rel=1e-6)


def test_criterion_runs_the_teacher_in_eval_mode_without_grad():
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).train()
    student = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                            nn.Linear(4, 3))
    bn_before = teacher[1].running_mean.clone()
    crit = make_kd_criterion(teacher, student, T=4.0, alpha=0.5, lam=1e-5)
    assert isinstance(crit, KDCriterion) and crit.config == {"T": 4.0, "alpha": 0.5, "lam": 1e-5}
    x, y = torch.randn(6, 3, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    logits = student(x)
    loss = crit(logits, y, x)
    assert not teacher.training
    assert torch.equal(teacher[1].running_mean, bn_before)  # eval mode: no statistics update
    with torch.no_grad():
        z_t = teacher(x)
    expected = sparse_kd_loss(logits, z_t, y, 4.0, 0.5, 1e-5, student.parameters())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert all(p.grad is not None for p in student.parameters())
    assert len(crit.history) == 1 and crit.history[0]["n"] == 6
    assert crit.history[0]["total"] == pytest.approx(loss.item())
    crit.reset_history()
    assert crit.history == []


def test_criterion_trains_with_fit(tmp_path):
    from roadlite.training import TrainConfig, fit

    g = torch.Generator().manual_seed(0)
    y = torch.arange(32) % 2
    x = torch.randint(0, 120, (32, 3, 16, 16), generator=g, dtype=torch.uint8)
    x[y == 1, 0] += 100

    def net(seed):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))

    teacher, student = net(1), net(2)
    crit = make_kd_criterion(teacher, student, T=4.0, alpha=0.5, lam=1e-5)
    cfg = TrainConfig(epochs=2, batch_size=8, lr=0.05, channels_last=True, extra=crit.config)
    result = fit(student, (x, y), (x, y), cfg, tmp_path, criterion=crit,
                 log=lambda s: None)
    assert len(result.history) == 2
    assert len(crit.history) == 2 * 4  # one record per training batch
    assert all(math.isfinite(r["total"]) and r["l1_term"] > 0 for r in crit.history)


def test_histogram_helpers():
    from roadlite.models import build_model

    model = build_model("refined_mobilenet_v2")
    scales = bn_scales(model)
    n_bn = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert scales.shape == (n_bn,) and scales.dtype == np.float32
    assert np.all(scales >= 0) and np.allclose(scales, 1.0)  # BN init: gamma = 1
    with torch.no_grad():
        next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d)).weight[0] = -0.25
    assert bn_scales(model).min() == pytest.approx(0.25)
    weights = conv_weights(model)
    n_conv = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d))
    assert weights.shape == (n_conv,) and weights.dtype == np.float32
    assert bn_scales(nn.Linear(2, 2)).shape == (0,) and conv_weights(nn.Linear(2, 2)).shape == (0,)


# --------------------------------------------------------------------------- training the students


def test_train_kd_students_matches_the_loop_it_replaces(tmp_path, tiny_net):
    from roadlite.training import TrainConfig, fit

    def _tiny_net(width: int = 4) -> nn.Module:  # drawn from the caller's random state
        return tiny_net(width, stride=1, batchnorm=True, seed=None).train()

    g = torch.Generator().manual_seed(0)
    data = (torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=g),
            torch.arange(8) % 4)
    torch.manual_seed(1)
    teacher = _tiny_net(6).eval()
    cfg = TrainConfig(epochs=1, batch_size=4, lr=0.01)
    lambdas = {"kd": 1e-3, "kd_no_l1": 0.0}
    students, results, criteria = train_kd_students(
        teacher, lambdas, _tiny_net, data, data, cfg, tmp_path / "a", T=2.0, alpha=0.3, seed=7)
    assert list(students) == list(results) == list(criteria) == ["kd", "kd_no_l1"]
    assert cfg.extra == {}  # the caller's configuration is left alone
    for key, lam in lambdas.items():
        crit = criteria[key]
        assert isinstance(crit, KDCriterion) and crit.student is students[key]
        assert crit.config == {"T": 2.0, "alpha": 0.3, "lam": lam}
        assert len(crit.history) == 2  # two batches of four
        assert (tmp_path / "a" / key / "last.pt").is_file()
    # by hand: the same seed, the KD criterion and its hyper-parameters in the configuration
    torch.manual_seed(7)
    by_hand = _tiny_net()
    crit = make_kd_criterion(teacher, by_hand, T=2.0, alpha=0.3, lam=1e-3)
    res = fit(by_hand, data, data, TrainConfig(epochs=1, batch_size=4, lr=0.01, extra=crit.config),
              tmp_path / "b", criterion=crit)
    assert res.history[0]["loss"] == results["kd"].history[0]["loss"]
    for p, q in zip(by_hand.parameters(), students["kd"].parameters(), strict=True):
        assert torch.equal(p, q)
    # the students start from the same weights but differ by their lambda
    assert results["kd"].history[0]["loss"] != results["kd_no_l1"].history[0]["loss"]


def test_the_teacher_cache_gives_the_teachers_logits_on_every_flipped_batch():
    from roadlite.distill import TeacherCache, make_kd_criterion
    from roadlite.training import iterate_batches

    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).eval()
    student = nn.Sequential(nn.Flatten(), nn.Linear(3 * 12 * 12, 3))
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (20, 3, 12, 12), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 3, (20,), generator=g)
    cache = TeacherCache(teacher, x, flips=True, batch_size=7)
    assert len(cache) == 80  # four forms of each image
    cached = make_kd_criterion(teacher, student, cache=cache)
    plain = make_kd_criterion(teacher, student)
    for xb, yb in iterate_batches(x, y, 6, shuffle=True, generator=g, augment=True,
                                  channels_last=True):
        with torch.no_grad():
            torch.testing.assert_close(cache(xb), teacher(xb), rtol=1e-5, atol=1e-6)
            s = student(xb)
        torch.testing.assert_close(cached(s, yb, xb), plain(s, yb, xb), rtol=1e-5, atol=1e-6)
    assert cache.misses == 0 and cache.hits == 2 * 20  # two lookups of every image
    other = torch.randn(2, 3, 12, 12)  # not a training image: run through the teacher
    with torch.no_grad():
        torch.testing.assert_close(cache(other), teacher(other))
    assert cache.misses == 2 and len(cache) == 82
    with pytest.raises(ValueError, match="uint8"):
        TeacherCache(teacher, x.float())
