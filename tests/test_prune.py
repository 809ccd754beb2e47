"""Tests of roadlite.prune (Chapter 06_pruning): real channel pruning with torch-pruning, ECA
after pruning, iterative steps, the sensitivity scan and safe saving / loading of pruned nets.

All pruning is traced at 64 px (the channel counts do not depend on the image size)."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
from torch import nn

from roadlite.models import (
    ECA,
    CheckpointError,
    build_model,
    collect_eca_gates,
    count_macs,
    count_params,
    load_model,
    save_model,
)
from roadlite.paper_numbers import MOBILITENET
from roadlite.prune import (
    IMPORTANCES,
    channel_table,
    expected_param_fraction,
    layer_groups,
    prune_and_finetune,
    prune_channels,
    pruning_plan,
    sensitivity_scan,
    split_accuracy,
)
from roadlite.training import normalize

IMG = 64


def refined(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model("refined_mobilenet_v2").eval()


@pytest.fixture(scope="module")
def pruned_pair():
    original = refined()
    pruned = prune_channels(copy.deepcopy(original), IMG, ratio=0.3)
    return original, pruned


def _x(n=2, seed=1):
    return torch.rand(n, 3, IMG, IMG, generator=torch.Generator().manual_seed(seed))


def test_refined_model_shrinks_to_about_half(pruned_pair):
    original, pruned = pruned_pair
    p0, p1 = count_params(original), count_params(pruned)
    assert p0 == MOBILITENET["model2_refined"]["params"]
    frac = p1 / p0
    paper4, paper2 = MOBILITENET["model4_pruned"]["params"], MOBILITENET["model2_refined"]["params"]
    print(f"\nparams {p0:,} -> {p1:,} ({frac:.1%}); paper {paper4:,} "
          f"({paper4 / paper2:.1%}); (1-0.3)^2 = "
          f"{expected_param_fraction(0.3):.0%}")
    assert 0.40 < frac < 0.60
    assert abs(frac - expected_param_fraction(0.3)) < 0.03
    m0, m1 = count_macs(original, 224), count_macs(pruned, 224)
    print(f"MACs at 224 px {m0:,} -> {m1:,} ({m1 / m0:.1%})")
    assert m1 < 0.6 * m0
    record = pruned.roadlite_pruning[-1]
    assert record["params_before"] == p0 and record["params_after"] == p1
    assert record["ratio"] == 0.3 and record["steps"] == 1


def test_pruned_network_is_dense_and_works(pruned_pair):
    original, pruned = pruned_pair
    out = pruned(_x())
    assert out.shape == (2, 4) and torch.isfinite(out).all()
    assert pruned.classifier[1].out_features == 4
    assert pruned.classifier[1].in_features < original.classifier[1].in_features
    table = channel_table(original, pruned)
    convs = table[table["type"] != "linear"]
    assert (convs["out_after"] < convs["out_before"]).all()  # every conv lost channels
    assert ((convs["out_after"] / convs["out_before"]).between(0.6, 0.75)).all()
    assert (table["params_after"] <= table["params_before"]).all()
    # no masks: the weight tensors themselves are smaller
    for (name, w0), (_, w1) in zip(original.state_dict().items(), pruned.state_dict().items(),
                                   strict=True):
        assert w1.numel() <= w0.numel(), name
    # descriptive attributes follow the layers
    assert pruned.last_channels == pruned.features[-1][0].out_channels < 640
    block = pruned.features[5]
    assert block.oup == block.conv[-2].out_channels and block.use_res_connect


def test_pruning_is_in_place_and_keeps_bn_statistics():
    model = refined().train()
    assert prune_channels(model, IMG, 0.3) is model
    assert model.training  # training flag restored
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert int(m.num_batches_tracked) == 0  # the tracing pass ran in eval mode


def test_eca_survives_pruning(pruned_pair):
    original, pruned = pruned_pair
    eca0 = [m for m in original.modules() if isinstance(m, ECA)]
    eca1 = [m for m in pruned.modules() if isinstance(m, ECA)]
    assert len(eca1) == len(eca0) == 4
    for a, b in zip(eca0, eca1, strict=True):
        assert b.conv.weight.shape == a.conv.weight.shape  # Conv1d(1, 1, k) not pruned
        assert torch.equal(b.conv.weight, a.conv.weight) and b.k_size == a.k_size
        assert b.channels < a.channels
    for name, block in pruned.named_modules():
        if getattr(block, "eca", None) is not None:
            c = block.conv[-2].out_channels
            assert block.eca.channels == c, name
            y = block.eca(torch.randn(3, c, 5, 5))  # works on the new channel count
            assert y.shape == (3, c, 5, 5)
    gates = collect_eca_gates(pruned, _x())
    assert sorted(len(v) for v in gates.values()) == sorted(e.channels for e in eca1)


def test_other_models_prune():
    x = _x()
    for name in ("mobilenet_v2", "resnet18"):
        torch.manual_seed(0)
        model = build_model(name).eval()
        p0 = count_params(model)
        prune_channels(model, IMG, 0.3)
        assert 0.4 < count_params(model) / p0 < 0.6
        assert model(x).shape == (2, 4)


def test_iterative_steps_call_finetune_each_step():
    model = refined()
    calls, sizes = [], []

    def finetune(m, step):
        assert m is model
        calls.append(step)
        sizes.append(count_params(m))
        m.train()  # one real SGD step, as a fine-tune would do
        opt = torch.optim.SGD(m.parameters(), lr=0.01)
        loss = nn.functional.cross_entropy(m(_x(4)), torch.tensor([0, 1, 2, 3]))
        opt.zero_grad()
        loss.backward()
        opt.step()

    prune_channels(model, IMG, ratio=0.3, steps=3, finetune=finetune)
    assert calls == [1, 2, 3]
    assert sizes[0] > sizes[1] > sizes[2]
    one_shot = prune_channels(refined(), IMG, ratio=0.3)
    assert sizes[2] == count_params(model) == count_params(one_shot)
    assert model.eval()(_x()).shape == (2, 4)


def test_ignored_layers_round_to_and_importances():
    model = refined()
    head = model.features[-1][0]
    prune_channels(model, IMG, 0.3, ignored_layers=[head])
    assert head.out_channels == 640
    model = refined()
    prune_channels(model, IMG, 0.3, round_to=8)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.out_channels % 8 == 0 for c in convs)
    for importance in IMPORTANCES:
        model = prune_channels(refined(), IMG, 0.3, importance=importance)
        assert model(_x()).shape == (2, 4)


def test_l1_importance_removes_the_smallest_filters():
    model = refined()
    head = model.features[-1][0]
    with torch.no_grad():
        head.weight[:10] *= 1e-3  # ten filters with a tiny L1 norm
    kept = head.weight.abs().sum((1, 2, 3)).clone()
    prune_channels(model, IMG, 0.3)
    assert head.out_channels == 448
    # the ten tiny filters are gone; all kept filters come from the original set
    assert (head.weight.abs().sum((1, 2, 3)) > kept[:10].max()).all()


@pytest.mark.parametrize("kw, word", [
    ({"ratio": 0.0}, "ratio"), ({"ratio": 1.0}, "ratio"), ({"ratio": -0.1}, "ratio"),
    ({"ratio": 1.5}, "ratio"), ({"steps": 0}, "steps"), ({"steps": 1.5}, "steps"),
    ({"importance": "l3"}, "importance"), ({"round_to": 0}, "round_to"),
])
def test_bad_arguments_raise_before_any_work(kw, word):
    model = refined()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=word):
        prune_channels(model, IMG, **kw)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_other_bad_arguments():
    model = refined()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="ratio"):
        expected_param_fraction(1.0)
    for img_size in (0, (64,), 64.0):
        with pytest.raises(ValueError, match="img_size"):
            prune_channels(model, img_size)
    with pytest.raises(ValueError, match="only"):
        prune_channels(model, IMG, only=[])
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_numpy_numbers_are_accepted():
    model = prune_channels(refined(), np.int64(IMG), np.float32(0.3), steps=np.int64(1))
    assert 0.4 < count_params(model) / MOBILITENET["model2_refined"]["params"] < 0.6
    assert expected_param_fraction(np.float32(0.3)) == pytest.approx(0.49)


def test_layer_groups():
    model = refined()
    groups = layer_groups(model)
    assert list(groups) == ["stem"] + [f"stage{i}" for i in range(1, 8)] + ["head"]
    assert len(groups["stage4"]) == 2 and sum(len(v) for v in groups.values()) == 10
    assert list(layer_groups(build_model("resnet18"))) == ["conv1", "layer1", "layer2",
                                                           "layer3", "layer4"]


def test_sensitivity_scan():
    model = refined()
    p0 = count_params(model)
    seen = []

    def evaluate(m):
        seen.append(count_params(m))
        return 0.9 if count_params(m) == p0 else 0.5

    groups = layer_groups(model)
    df = sensitivity_scan(model, IMG, groups, (0.3, 0.5), evaluate)
    assert len(df) == len(groups) * 2 and len(seen) == 1 + len(df)
    assert list(df.columns) == ["group", "ratio", "accuracy", "accuracy_drop", "params", "macs",
                                "params_frac", "macs_frac"]
    assert df.attrs["baseline"]["params"] == p0 and df.attrs["baseline"]["accuracy"] == 0.9
    assert (df["params"] < p0).all() and (df["params_frac"] < 1).all()
    assert df["accuracy_drop"].tolist() == pytest.approx([0.4] * len(df))
    assert count_params(model) == p0  # the original is untouched
    by = df.set_index(["group", "ratio"])["params"]
    assert (by.xs(0.5, level="ratio") < by.xs(0.3, level="ratio")).all()
    assert by[("stage7", 0.3)] < by[("stage1", 0.3)]  # stage 7 holds most parameters
    # custom groups, sizes only
    df2 = sensitivity_scan(model, IMG, {"last": [model.features[8]]}, [0.3])
    assert len(df2) == 1 and df2["accuracy"].isna().all()
    with pytest.raises(ValueError, match="not part of the model"):
        sensitivity_scan(model, IMG, {"alien": [nn.Conv2d(3, 3, 1)]}, [0.3])
    with pytest.raises(ValueError, match="ratio"):
        sensitivity_scan(model, IMG, groups, [0.3, 1.2])


def test_save_load_round_trip(pruned_pair, tmp_path):
    _, pruned = pruned_pair
    path = tmp_path / "pruned.pt"
    assert save_model(pruned, path, "refined_mobilenet_v2", {"acc": torch.tensor(0.5)}) == path
    assert not [p for p in os.listdir(tmp_path) if p != "pruned.pt"]  # no temp file left
    payload = torch.load(path, weights_only=True)  # no pickled code inside
    assert payload["pruning_plan"] == pruning_plan(pruned)
    loaded = load_model(path, arch="refined_mobilenet_v2")
    assert not loaded.training
    assert count_params(loaded) == count_params(pruned)
    with torch.no_grad():
        assert torch.equal(loaded(_x()), pruned.eval()(_x()))
    assert loaded.roadlite_meta == {"acc": 0.5}
    assert loaded.roadlite_pruning[-1]["params_after"] == count_params(pruned)
    assert [m.channels for m in loaded.modules() if isinstance(m, ECA)] == \
        [m.channels for m in pruned.modules() if isinstance(m, ECA)]
    assert repr(loaded) == repr(pruned)


def test_save_load_other_archs_and_unpruned(tmp_path):
    torch.manual_seed(0)
    model = build_model("resnet18", num_classes=3).eval()
    prune_channels(model, IMG, 0.2)
    save_model(model, tmp_path / "r.pt", "resnet18")
    loaded = load_model(tmp_path / "r.pt")
    assert loaded.fc.out_features == 3
    with torch.no_grad():
        assert torch.equal(loaded(_x()), model(_x()))
    plain = refined()  # an unpruned network is a pruned one with ratio 0
    save_model(plain, tmp_path / "plain.pt", "refined_mobilenet_v2")
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "plain.pt")(_x()), plain(_x()))


def test_load_errors_name_the_file_and_the_model(pruned_pair, tmp_path):
    _, pruned = pruned_pair
    path = tmp_path / "pruned.pt"
    save_model(pruned, path, "refined_mobilenet_v2")
    with pytest.raises(CheckpointError, match=r"pruned\.pt.*'refined_mobilenet_v2'.*"
                                              r"expected 'mobilenet_v2'"):
        load_model(path, arch="mobilenet_v2")
    with pytest.raises(CheckpointError, match="not found.*missing.pt"):
        load_model(tmp_path / "missing.pt")
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt.pt"):
        load_model(bad)
    plain = tmp_path / "plain.pt"  # an unpruned network: the same writer, no layer plan
    save_model(refined(), plain, "refined_mobilenet_v2")
    assert "pruning_plan" not in torch.load(plain, weights_only=True)
    # a plan that does not fit its weights
    payload = torch.load(path, weights_only=True)
    payload["pruning_plan"]["features.9.0"]["out_channels"] += 1
    torch.save(payload, tmp_path / "tampered.pt")
    with pytest.raises(CheckpointError, match="tampered.pt.*refined_mobilenet_v2"):
        load_model(tmp_path / "tampered.pt")


def test_save_errors_and_atomicity(pruned_pair, tmp_path, monkeypatch):
    _, pruned = pruned_pair
    with pytest.raises(ValueError, match="unknown architecture"):
        save_model(pruned, tmp_path / "x.pt", "no_such_net")
    with pytest.raises(ValueError, match="not a \\(pruned\\) 'mobilenet_v2'"):
        save_model(pruned, tmp_path / "x.pt", "mobilenet_v2")
    path = tmp_path / "keep.pt"
    save_model(pruned, path, "refined_mobilenet_v2")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_model(pruned, path, "refined_mobilenet_v2")
    assert path.read_bytes() == before  # the old file is intact
    assert sorted(os.listdir(tmp_path)) == ["keep.pt"]


def _calibrated_refined() -> nn.Module:
    """Untrained Model 2 with BN statistics estimated on random images (logits of order 1)."""
    model = refined()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    model.train()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, 3, IMG, IMG, generator=g))
    nn.init.normal_(model.classifier[1].weight, 0.0, 0.1)
    return model.eval()


@pytest.mark.slow
def test_pruned_refined_model_exports_to_tflite(tmp_path):
    from roadlite.export import TFLiteModel, export_tflite, max_abs_diff

    model = prune_channels(_calibrated_refined(), IMG, 0.3)
    assert any(isinstance(m, ECA) for m in model.modules())
    path = export_tflite(model, tmp_path / "pruned.tflite", IMG)
    tflite = TFLiteModel(path, num_threads=2)
    x = _x(3)
    diff = max_abs_diff(model, tflite, x)
    print(f"\npruned refined_mobilenet_v2: {tflite.size_bytes / 1e6:.2f} MB tflite, "
          f"max |diff| {diff:.2e}, max |logit| {model(x).abs().max():.2f}")
    assert diff <= 1e-4


def test_iterative_pruning_with_kd_finetune_through_fit(tmp_path):
    """The chapter's loop: prune a step, fine-tune with fit() and the KD criterion (lambda 0)."""
    from roadlite.distill import make_kd_criterion
    from roadlite.training import TrainConfig, fit

    g = torch.Generator().manual_seed(0)
    y = torch.arange(16) % 4
    x = torch.randint(0, 255, (16, 3, 32, 32), generator=g, dtype=torch.uint8)
    teacher, student = refined(1), refined(2)
    histories = []

    def finetune(model, step):
        crit = make_kd_criterion(teacher, model, T=4.0, alpha=0.5, lam=0.0)
        cfg = TrainConfig(epochs=1, batch_size=8, lr=0.01, channels_last=True)
        res = fit(model, (x, y), (x, y), cfg, tmp_path / f"step{step}", criterion=crit,
                  log=lambda s: None)
        histories.append(res.history)

    prune_channels(student, 32, ratio=0.3, steps=2, finetune=finetune)
    assert len(histories) == 2
    assert 0.4 < count_params(student) / MOBILITENET["model2_refined"]["params"] < 0.6
    assert student.eval()(x[:2].float()).shape == (2, 4)


def test_prune_and_finetune_steps_seeds_criterion_and_checkpoints(tmp_path):
    from roadlite.training import FitResult, TrainConfig

    g = torch.Generator().manual_seed(0)
    y = torch.arange(16) % 4
    x = torch.randint(0, 255, (16, 3, 32, 32), generator=g, dtype=torch.uint8)
    student = refined(2)
    before = count_params(student)
    seen, lines = [], []

    def criterion(m):
        assert m is student
        seen.append(torch.initial_seed())  # the seed set just before this step's training
        return None  # cross-entropy

    cfg = TrainConfig(epochs=1, batch_size=8, lr=0.01)
    results = prune_and_finetune(student, 32, 0.3, 2, (x, y), (x, y), cfg, tmp_path,
                                 criterion=criterion, seed=10, log=lines.append)
    assert seen == [11, 12]
    assert len(results) == 2 and all(isinstance(r, FitResult) for r in results)
    assert all(len(r.history) == 1 for r in results)
    assert (tmp_path / "step1" / "last.pt").is_file() and (tmp_path / "step2" / "last.pt").is_file()
    after = count_params(student)
    assert after < before
    assert lines[0].startswith("step 1: ") and lines[1] == (
        f"step 2: {after:,} parameters, best validation accuracy "
        f"{results[1].best_val_accuracy:.3f}")


def test_split_accuracy_is_the_accuracy_of_the_models_predictions(tiny_net):
    net = tiny_net(num_classes=3).train()
    x = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)
    predicted = net.eval()(normalize(x)).argmax(1)
    y = predicted.clone()
    y[:4] = (y[:4] + 1) % 3  # four labels the model gets wrong
    net.train()
    evaluate = split_accuracy((x, y))
    assert evaluate(net) == pytest.approx(0.6)
    assert not net.training  # predict_logits puts the model in eval mode, as fit's validation
    assert split_accuracy((x, predicted))(net) == 1.0


def test_split_accuracy_rejects_a_bad_split():
    x = torch.zeros(3, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        split_accuracy((x, torch.zeros(2, dtype=torch.long)))
    with pytest.raises(ValueError, match="split must be a pair"):
        split_accuracy((x,))
