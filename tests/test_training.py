"""The training core: determinism, checkpoints, resume, schedules."""

import pytest
import torch
from torch import nn

from roadlite.training import (
    TrainConfig,
    _Schedule,
    fit,
    iterate_batches,
    normalize,
    predict_logits,
)


def tiny_data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randint(0, 120, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
    x[y == 1, 0] += 100  # class 1 is redder: learnable
    return x, y


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(8, 2))


CFG = dict(epochs=3, batch_size=8, lr=0.05, channels_last=False, augment=True)


def test_normalize_and_batches():
    x, y = tiny_data(10)
    xb, yb = next(iterate_batches(x, y, 4, shuffle=False))
    assert xb.dtype == torch.float32 and xb.shape == (4, 3, 16, 16)
    assert torch.allclose(xb, normalize(x[:4]))
    sizes = [len(b[1]) for b in iterate_batches(x, y, 4, shuffle=True,
                                                generator=torch.Generator().manual_seed(0))]
    assert sizes == [4, 4, 2]


def test_fit_learns_and_is_deterministic(tmp_path):
    data = tiny_data()
    m1, m2 = tiny_model(), tiny_model()
    r1 = fit(m1, data, data, TrainConfig(**CFG), tmp_path / "a", log=lambda s: 0)
    r2 = fit(m2, data, data, TrainConfig(**CFG), tmp_path / "b", log=lambda s: 0)
    assert r1.best_val_accuracy > 0.8
    for p1, p2 in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(p1, p2)
    assert [h["loss"] for h in r1.history] == [h["loss"] for h in r2.history]
    assert (tmp_path / "a" / "best.pt").exists() and (tmp_path / "a" / "last.pt").exists()


def test_resume_after_interruption_gives_the_same_result(tmp_path):
    data = tiny_data()
    ref = tiny_model()
    fit(ref, data, data, TrainConfig(**CFG), tmp_path / "ref", log=lambda s: 0)

    calls = {"n": 0}

    def crashing(logits, y, x):
        calls["n"] += 1
        if calls["n"] == 8:  # the second epoch (6 steps per epoch)
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(logits, y)

    m = tiny_model()
    with pytest.raises(KeyboardInterrupt):
        fit(m, data, data, TrainConfig(**CFG), tmp_path / "run", criterion=crashing,
            log=lambda s: 0)
    logs = []
    m = tiny_model(seed=123)  # different init: the checkpoint must overwrite it
    res = fit(m, data, data, TrainConfig(**CFG), tmp_path / "run",
              log=logs.append)
    assert res.resumed_from_epoch == 1
    assert any("resuming" in s for s in logs)
    for a, b in zip(ref.state_dict().values(), m.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # A finished run resumes to the end at once and trains nothing more.
    res2 = fit(tiny_model(), data, data, TrainConfig(**CFG), tmp_path / "run",
               log=lambda s: 0)
    assert res2.resumed_from_epoch == 3 and len(res2.history) == 3


def test_changed_configuration_starts_afresh(tmp_path):
    data = tiny_data()
    fit(tiny_model(), data, data, TrainConfig(**CFG), tmp_path, log=lambda s: 0)
    logs = []
    res = fit(tiny_model(), data, data, TrainConfig(**{**CFG, "lr": 0.01}), tmp_path,
              log=logs.append)
    assert res.resumed_from_epoch == 0 and any("another configuration" in s for s in logs)


def test_nan_loss_stops_with_a_message(tmp_path):
    data = tiny_data()
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(tiny_model(), data, data, TrainConfig(**{**CFG, "lr": 1e6, "augment": False}),
            tmp_path, log=lambda s: 0,
            criterion=lambda lg, y, x: lg.sum() * float("nan"))


@pytest.mark.parametrize("opt, cls", [("sgd", torch.optim.SGD), ("rmsprop", torch.optim.RMSprop),
                                      ("adam", torch.optim.Adam)])
def test_optimizers(tmp_path, opt, cls):
    from roadlite.training import make_optimizer

    data = tiny_data()
    cfg = TrainConfig(**{**CFG, "epochs": 1, "optimizer": opt, "lr": 0.01})
    model = tiny_model()
    assert type(make_optimizer(model, cfg)) is cls
    before = [p.detach().clone() for p in model.parameters()]
    result = fit(model, data, data, cfg, tmp_path, log=lambda s: 0)
    assert len(result.history) == 1
    moved = [not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)]
    assert all(moved), moved  # the optimizer stepped every tensor


def test_schedules():
    s = _Schedule(TrainConfig(epochs=10, lr=1.0, scheduler="cosine", warmup_epochs=1), 4)
    assert s.lr_at(0, 0) == pytest.approx(0.25) and s.lr_at(0, 3) == pytest.approx(1.0)
    assert s.lr_at(1, 0) == pytest.approx(1.0) and s.lr_at(10, 0) == pytest.approx(0.0)
    p = _Schedule(TrainConfig(lr=1.0, scheduler="plateau", plateau_patience=1), 4)
    for acc in (0.5, 0.5, 0.5):
        p.end_epoch(5, acc)
    assert p.lr_at(6, 0) == pytest.approx(0.1)


def test_predict_logits_shape():
    x, _ = tiny_data(10)
    assert predict_logits(tiny_model(), x, batch_size=4).shape == (10, 2)


def test_device_and_progress_are_configuration_but_not_fingerprint(tmp_path, capsys):
    """Chapter parameters ``device`` and ``progress`` reach fit through TrainConfig; neither
    changes the fingerprint, so a run resumes whether or not a bar was shown."""
    params = {**CFG, "device": "cpu", "progress": False, "img_size": 32}
    cfg = TrainConfig.from_params(params)
    assert (cfg.device, cfg.progress) == ("cpu", False)
    assert cfg.fingerprint() == TrainConfig(**CFG).fingerprint()
    assert cfg.fingerprint() != TrainConfig(**{**CFG, "lr": 0.01}).fingerprint()
    data = tiny_data()
    fit(tiny_model(), data, data, TrainConfig(**{**CFG, "epochs": 1, "progress": True}),
        tmp_path / "bar", log=lambda s: 0)
    assert "batch" in capsys.readouterr().err  # the bar (unit: batch)
    fit(tiny_model(), data, data, TrainConfig(**{**CFG, "epochs": 1, "progress": False}),
        tmp_path / "quiet", log=lambda s: 0)
    assert capsys.readouterr().err == ""
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="device='cuda'"):
            fit(tiny_model(), data, data, TrainConfig(**{**CFG, "device": "cuda"}),
                tmp_path / "gpu", log=lambda s: 0)
