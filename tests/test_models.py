"""Tests of roadlite.models: architectures, exact sizes, ECA, MACs, block table, checkpoints."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from roadlite.models import (
    ECA,
    MODEL_REGISTRY,
    CheckpointError,
    InvertedResidual,
    block_table,
    build_model,
    collect_eca_gates,
    count_macs,
    count_params,
    eca_kernel_size,
    eca_mobilenet_v2,
    load_model,
    mobilenet_v2,
    read_checkpoint,
    refined_mobilenet_v2,
    resnet18_teacher,
    save_model,
)

MOBILENETS = ["mobilenet_v2", "eca_mobilenet_v2", "eca_mobilenet_v2_authors",
              "refined_mobilenet_v2"]


def _randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give BN layers non-trivial statistics so outputs are O(1) and comparisons meaningful."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
            m.weight.data.copy_(0.5 + 0.5 * torch.rand(m.num_features, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(m.num_features, generator=g))
    return model.eval()


# ----------------------------------------------------------------------------- ECA


@pytest.mark.parametrize(
    "channels, k", [(16, 3), (24, 3), (32, 3), (64, 3), (96, 3), (160, 5), (320, 5)]
)
def test_eca_kernel_size(channels, k):
    assert eca_kernel_size(channels) == k
    assert ECA(channels).k_size == k


def test_eca_kernel_size_rule_is_odd_and_rejects_zero():
    assert all(eca_kernel_size(c) % 2 == 1 for c in range(1, 2049))
    with pytest.raises(ValueError):
        eca_kernel_size(0)


def test_eca_module_shapes_params_and_gate():
    eca = ECA(64)
    assert count_params(eca) == eca.k_size + 1 == 4  # 1-D conv with bias: k + 1
    x = torch.randn(2, 64, 5, 7)
    y = eca(x)
    assert y.shape == x.shape
    gate = y / x
    assert torch.all(gate > 0) and torch.all(gate < 1)
    # the gate is constant over H, W: one weight per (image, channel)
    assert torch.allclose(gate, gate[:, :, :1, :1].expand_as(gate), atol=1e-5)


def _call_targets(module: nn.Module, x: torch.Tensor) -> list[str]:
    ep = torch.export.export(module.eval(), (x,))
    return [str(n.target) for n in ep.graph.nodes if n.op == "call_function"]


def test_eca_has_no_expand_in_exported_graph():
    """expand_as / expand / broadcast_to break the TFLite conversion (TOOLCHAIN §1.4)."""
    block = InvertedResidual(16, 16, 1, 6, eca=True)
    targets = _call_targets(block, torch.rand(1, 16, 8, 8))
    assert "aten.mul.Tensor" in targets
    assert not [t for t in targets if "expand" in t or "broadcast" in t], targets

    class ExpandECA(ECA):  # negative control: the check does see an expand_as
        def forward(self, x):
            y = self.sigmoid(self.conv(x.mean(dim=(2, 3)).unsqueeze(1)))
            return x * y.view(x.shape[0], x.shape[1], 1, 1).expand_as(x)

    bad = _call_targets(ExpandECA(16), torch.rand(1, 16, 8, 8))
    assert any("expand" in t for t in bad)


def test_collect_eca_gates():
    model = refined_mobilenet_v2().train()
    _randomize_bn(model).train()
    gates = collect_eca_gates(model, torch.rand(3, 3, 64, 64))
    assert model.training  # restored
    stride1 = {f"features.{i}": m.oup for i, m in enumerate(model.features)
               if isinstance(m, InvertedResidual) and m.stride == 1}
    assert {k: v.shape[0] for k, v in gates.items()} == stride1
    for v in gates.values():
        assert isinstance(v, np.ndarray) and v.dtype == np.float32
        assert np.all((v > 0) & (v < 1)) and np.std(v) >= 0
    assert collect_eca_gates(mobilenet_v2(), torch.rand(1, 3, 64, 64)) == {}


# ----------------------------------------------------------------------------- sizes

BASELINE = 2_228_996


@pytest.mark.parametrize(
    "name, params",
    [
        ("mobilenet_v2", BASELINE),
        ("eca_mobilenet_v2", BASELINE + 58),
        ("eca_mobilenet_v2_authors", 2_019_966),
        ("refined_mobilenet_v2", 996_310),
        ("resnet18", 11_178_564),
    ],
)
def test_exact_parameter_counts(name, params):
    assert count_params(build_model(name)) == params


def test_baseline_is_torchvision_mobilenet_v2():
    ours = mobilenet_v2()
    tv = torchvision.models.mobilenet_v2(num_classes=4)
    assert count_params(ours) == count_params(tv) == BASELINE
    # same layer layout: torchvision's weights load into our module and give the same logits
    ours_sd, tv_sd = ours.state_dict(), tv.state_dict()
    assert {k: v.shape for k, v in ours_sd.items()} == {k: v.shape for k, v in tv_sd.items()}
    _randomize_bn(tv)
    ours.load_state_dict(tv.state_dict())
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), tv.eval()(x), rtol=1e-4, atol=1e-5)


def test_eca_paper_variant_adds_sum_k_plus_1():
    """Model 1 (paper) = baseline + one ECA per stride-1 block, each costing k + 1 parameters:
    13 stride-1 blocks; 10 of them have C <= 96 (k = 3 -> 4 parameters), 2 have C = 160 and
    1 has C = 320 (k = 5 -> 6 parameters): 10 * 4 + 3 * 6 = 58."""
    model = eca_mobilenet_v2(variant="paper")
    ecas = [m for m in model.modules() if isinstance(m, ECA)]
    stride1 = [m for m in model.features if isinstance(m, InvertedResidual) and m.stride == 1]
    assert len(ecas) == len(stride1) == 13
    extra = sum(e.k_size + 1 for e in ecas)
    assert extra == 10 * 4 + 3 * 6 == 58
    assert count_params(model) == BASELINE + extra == 2_229_054
    with pytest.raises(ValueError, match="variant"):
        eca_mobilenet_v2(variant="nope")


def test_refined_block_breakdown_matches_design_table():
    table = block_table(refined_mobilenet_v2(), 224)
    expected = [696, 684, 5_136, 10_000, 21_056, 54_276, 66_628, 155_264, 473_926, 206_080,
                2_564, 996_310]
    assert table["params"].tolist() == expected
    assert table["part"].iloc[0] == "stem" and table["part"].iloc[-3:].tolist() == [
        "head", "classifier", "total"]
    blocks = table[table["part"].str.startswith("block")]
    assert [(r.in_ch, r.out_ch) for r in blocks.itertuples()] == [
        (24, 16), (16, 24), (24, 32), (32, 64), (64, 64), (64, 96), (96, 160), (160, 320)]
    assert blocks["stride"].tolist() == [1, 2, 2, 2, 1, 1, 2, 1]
    assert blocks["eca_k"].fillna(0).tolist() == [3, 0, 0, 0, 3, 3, 0, 5]
    assert blocks["residual"].tolist() == [False] * 4 + [True] + [False] * 3
    # the stage-7 block and the head hold about 68 % of all parameters
    assert (473_926 + 206_080) / 996_310 == pytest.approx(0.68, abs=0.01)


def test_block_table_sums_match_totals():
    model = mobilenet_v2()
    table = block_table(model, 128)
    assert len(table) == 1 + 17 + 1 + 1 + 1
    assert table["params"].iloc[-1] == count_params(model)
    assert table["macs"].iloc[-1] == count_macs(model, 128)
    assert table["params"].iloc[:-1].sum() == count_params(model)
    generic = block_table(resnet18_teacher(), 64)  # any model: one row per top-level child
    assert generic["params"].iloc[-1] == 11_178_564


@pytest.mark.parametrize(
    "name, mmacs",
    [("mobilenet_v2", 299.5), ("eca_mobilenet_v2", 299.5), ("eca_mobilenet_v2_authors", 284.2),
     ("refined_mobilenet_v2", 139.6)],
)
def test_macs_at_224_within_2_percent(name, mmacs):
    assert count_macs(build_model(name), 224) / 1e6 == pytest.approx(mmacs, rel=0.02)


def test_macs_formula_on_a_tiny_net():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.Conv2d(8, 8, 3, padding=1,
                        groups=8), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    # 8*4*4 outputs * 3*9  +  8*4*4 outputs * 1*9  +  10 * 128
    assert count_macs(net, 8) == 128 * 27 + 128 * 9 + 1280


# ----------------------------------------------------------------------------- forward


@pytest.mark.parametrize("name", MOBILENETS)
def test_forward_shapes(name):
    model = build_model(name, num_classes=5).eval()
    with torch.no_grad():
        for size in (64, 96, 128):
            assert model(torch.rand(2, 3, size, size)).shape == (2, 5)
        assert model(torch.rand(1, 3, 96, 64)).shape == (1, 5)
    assert isinstance(model.classifier[1], nn.Linear)
    assert model.classifier[1].out_features == 5
    assert isinstance(model.features[-1][0], nn.Conv2d)  # the Grad-CAM target block


def test_resnet18_forward():
    model = build_model("resnet18").eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 4)


@pytest.mark.parametrize("name", ["mobilenet_v2", "refined_mobilenet_v2"])
def test_channels_last(name):
    model = _randomize_bn(build_model(name))
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        out = model_cl(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    model_cl.train()  # a training step works too
    loss = model_cl(x.to(memory_format=torch.channels_last)).logsumexp(1).mean()
    loss.backward()
    assert model_cl.features[0][0].weight.grad is not None


def test_init_follows_mobilenet_v2():
    model = refined_mobilenet_v2()
    fc = model.classifier[1]
    assert fc.bias.abs().max() == 0 and 0.005 < fc.weight.std() < 0.02
    bn = model.features[0][1]
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))
    assert isinstance(model.classifier[0], nn.Dropout) and model.classifier[0].p == 0.2


def test_registry_and_unknown_name():
    from roadlite.models.peers import PEERS

    assert set(MODEL_REGISTRY) == {"mobilenet_v2", "eca_mobilenet_v2", "eca_mobilenet_v2_authors",
                                   "refined_mobilenet_v2", "resnet18", *PEERS}
    with pytest.raises(ValueError) as info:
        build_model("mobilenet_v3")
    for name in MODEL_REGISTRY:
        assert name in str(info.value)
    assert build_model("mobilenet_v2", dropout=0.5).classifier[0].p == 0.5


def test_resnet18_pretrained_without_internet_gives_clear_error(monkeypatch):
    from torchvision.models._api import WeightsEnum

    def no_network(self, *args, **kwargs):
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setattr(WeightsEnum, "get_state_dict", no_network)
    with pytest.raises(RuntimeError, match="internet") as info:
        resnet18_teacher(pretrained=True)
    assert "pretrained=False" in str(info.value)


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path):
    model = _randomize_bn(refined_mobilenet_v2())
    path = tmp_path / "sub" / "model2.pt"
    meta = {"epoch": 3, "accuracy": np.float32(0.5), "img_size": (96, 96), "seed": np.int64(1)}
    assert save_model(model, path, "refined_mobilenet_v2", meta) == path
    assert [p.name for p in path.parent.iterdir()] == ["model2.pt"]  # no temp file left
    payload = read_checkpoint(path)
    assert set(payload) == {"arch", "state_dict", "meta", "roadlite_version"}
    loaded = load_model(path)
    assert not loaded.training
    assert loaded.roadlite_meta == {"epoch": 3, "accuracy": 0.5, "img_size": [96, 96], "seed": 1}
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert count_params(load_model(path, arch="refined_mobilenet_v2")) == 996_310


def test_checkpoint_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found") as info:
        load_model(tmp_path / "nope.pt")
    assert "nope.pt" in str(info.value)


@pytest.mark.parametrize("content", [b"this is not a checkpoint", b"PK\x03\x04" + b"\0" * 50])
def test_checkpoint_corrupted_file(tmp_path, content):
    path = tmp_path / "broken.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="corrupted") as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_checkpoint_truncated_file(tmp_path):
    path = tmp_path / "m.pt"
    save_model(mobilenet_v2(), path, "mobilenet_v2")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=str(path)):
        load_model(path)


def test_checkpoint_of_another_architecture(tmp_path):
    path = tmp_path / "baseline.pt"
    save_model(mobilenet_v2(), path, "mobilenet_v2", {"note": "baseline"})
    with pytest.raises(CheckpointError) as info:
        load_model(path, arch="refined_mobilenet_v2")
    message = str(info.value)
    assert str(path) in message and "'mobilenet_v2'" in message
    assert "'refined_mobilenet_v2'" in message


def test_checkpoint_not_roadlite_and_bad_arch(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save(mobilenet_v2().state_dict(), path)
    with pytest.raises(CheckpointError, match="not a RoadLite checkpoint"):
        load_model(path)
    with pytest.raises(ValueError, match="unknown architecture"):
        save_model(mobilenet_v2(), tmp_path / "x.pt", "mobilenetv2")
    path = tmp_path / "classes.pt"
    save_model(mobilenet_v2(num_classes=2), path, "mobilenet_v2")
    with pytest.raises(CheckpointError, match="num_classes=4"):
        load_model(path)
    assert load_model(path, num_classes=2).classifier[1].out_features == 2
