"""Tests of roadlite.export: PyTorch -> LiteRT conversion and the interpreter wrapper.

Every conversion happens once per module (module-scoped fixtures) at 64 px to stay fast; each
takes about 7-13 s on 2 CPU cores.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch import nn

from roadlite.export import (
    TFLiteModel,
    TFLiteModelError,
    compare_with_torch,
    export_tflite,
    max_abs_diff,
)
from roadlite.models import build_model

IMG = 64
CONVERSION_SECONDS: dict[str, float] = {}


def _calibrated(name: str, seed: int = 0) -> nn.Module:
    """An untrained model whose BN statistics were estimated on random images, so that the
    logits are O(0.1-1) instead of ~1e-9 and a numerical comparison means something."""
    torch.manual_seed(seed)
    model = build_model(name)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average
    model.train()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, 3, IMG, IMG, generator=g))
    nn.init.normal_(model.classifier[1].weight, 0.0, 0.1)  # logits of order 1
    return model.eval()


def _export(tmp_path_factory, name: str, quantization=None, calibration=None, messy=False):
    """Convert once; with ``messy`` the caller's model is in train mode and channels_last, which
    export_tflite must neither mind (it converts an eval-mode copy) nor change."""
    model = _calibrated(name)
    if messy:
        model.train().to(memory_format=torch.channels_last)
    path = tmp_path_factory.mktemp("tflite") / f"{name}_{quantization or 'fp32'}.tflite"
    start = time.perf_counter()
    assert export_tflite(model, path, IMG, quantization, calibration) == path
    CONVERSION_SECONDS[path.stem] = time.perf_counter() - start
    print(f"\nconversion of {path.stem} at {IMG} px: {CONVERSION_SECONDS[path.stem]:.1f} s")
    if messy:
        assert model.training
        assert model.features[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    return model.eval(), path


@pytest.fixture(scope="module")
def baseline_fp32(tmp_path_factory):
    return _export(tmp_path_factory, "mobilenet_v2", messy=True)


@pytest.fixture(scope="module")
def eca_fp32(tmp_path_factory):
    return _export(tmp_path_factory, "eca_mobilenet_v2")


def _inputs(n: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, IMG, IMG, generator=torch.Generator().manual_seed(seed))


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["baseline_fp32", "eca_fp32"])
def test_fp32_export_matches_pytorch(fixture, request):
    model, path = request.getfixturevalue(fixture)
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # atomic: no temp file left
    tflite = TFLiteModel(path)
    assert tflite.input_shape == (1, 3, IMG, IMG)
    assert tflite.input_dtype == np.float32
    x = _inputs()
    logits = tflite.predict(x.numpy())  # batch 3 on a batch-1 model: looped
    assert logits.shape == (3, 4) and logits.dtype == np.float32
    with torch.no_grad():
        ref = model(x).numpy()
    assert np.abs(ref).max() > 0.05  # the comparison is not between near-zero numbers
    diff = max_abs_diff(model, tflite, x)
    assert diff == pytest.approx(np.abs(ref - logits).max())
    assert diff <= 1e-4
    # fp32 weights: the file is about 4 bytes per parameter
    n_params = sum(p.numel() for p in model.parameters())
    assert 0.9 < tflite.size_bytes / (4 * n_params) < 1.2
    assert max_abs_diff(model, str(path), x[:1]) <= 1e-4  # a path works too


@pytest.mark.slow
def test_tflite_input_shape_mismatch(baseline_fp32):
    _, path = baseline_fp32
    tflite = TFLiteModel(path, num_threads=2)
    with pytest.raises(TFLiteModelError) as info:
        tflite.predict(np.zeros((1, 3, 96, 96), np.float32))
    message = str(info.value)
    assert str(path) in message and "(1, 3, 96, 96)" in message and "(1, 3, 64, 64)" in message
    with pytest.raises(TFLiteModelError):
        tflite.predict(np.zeros((3, 64, 64), np.float32))
    assert tflite.predict(torch.zeros(2, 3, IMG, IMG)).shape == (2, 4)  # torch input works
    assert "num_threads=2" in repr(tflite)


def test_tflite_missing_and_corrupt_file(tmp_path):
    missing = tmp_path / "missing.tflite"
    with pytest.raises(FileNotFoundError, match="missing.tflite"):
        TFLiteModel(missing)
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"\x00" * 64 + b"not a flatbuffer")
    with pytest.raises(TFLiteModelError, match="corrupt.tflite"):
        TFLiteModel(corrupt)


def test_export_rejects_bad_quantization_arguments(tmp_path):
    model = build_model("refined_mobilenet_v2")
    with pytest.raises(ValueError, match="quantization"):
        export_tflite(model, tmp_path / "m.tflite", IMG, quantization="int4")
    with pytest.raises(ValueError, match="calibration"):
        export_tflite(model, tmp_path / "m.tflite", IMG, quantization="static")
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- INT8


@pytest.fixture(scope="module")
def refined_dynamic(tmp_path_factory):
    return _export(tmp_path_factory, "refined_mobilenet_v2", "dynamic")


@pytest.fixture(scope="module")
def refined_static(tmp_path_factory):
    g = torch.Generator().manual_seed(2)
    batches = [(torch.rand(8, 3, IMG, IMG, generator=g), torch.zeros(8)) for _ in range(4)]
    return _export(tmp_path_factory, "refined_mobilenet_v2", "static", calibration=batches)


def _check_int8_agreement(model, tflite) -> None:
    """With random weights the INT8 error is only a sanity check (TOOLCHAIN §1.3): on this
    untrained 64 px model the logits move by 20-30 % of their range, but they must stay strongly
    correlated with the float logits."""
    x = _inputs(8)
    with torch.no_grad():
        ref = model(x).numpy()
    got = tflite.predict(x.numpy())
    assert max_abs_diff(model, tflite, x) < 0.5 * np.abs(ref).max()
    assert np.corrcoef(ref.ravel(), got.ravel())[0, 1] > 0.9


@pytest.mark.slow
def test_dynamic_range_int8(refined_dynamic):
    """Dynamic-range INT8 (the authors' code): int8 weights, float32 input and output."""
    model, path = refined_dynamic
    tflite = TFLiteModel(path)
    assert tflite.input_dtype == np.float32
    assert tflite.output_details["dtype"] == np.float32
    n_params = sum(p.numel() for p in model.parameters())
    assert tflite.size_bytes < 0.4 * 4 * n_params  # ~1 byte per weight instead of 4
    _check_int8_agreement(model, tflite)


@pytest.mark.slow
def test_static_full_integer_int8(refined_static):
    """Full-integer INT8 (the book's Model 5; the paper says only 'weights to INT8'): int8 input/output with scale and zero point."""
    model, path = refined_static
    tflite = TFLiteModel(path)
    assert tflite.input_dtype == np.int8
    scale, zero_point = tflite.input_details["quantization"]
    assert scale == pytest.approx(1 / 255, rel=0.01) and zero_point == -128  # inputs in [0, 1]
    n_params = sum(p.numel() for p in model.parameters())
    assert tflite.size_bytes < 0.4 * 4 * n_params
    logits = tflite.predict(_inputs().numpy())
    assert logits.dtype == np.float32 and logits.shape == (3, 4)
    _check_int8_agreement(model, tflite)


# ----------------------------------------------------------------------------- compare_with_torch

TINY = 32


@pytest.fixture(scope="module")
def tiny_fp32(tmp_path_factory, tiny_net):
    """A tiny float32 classifier (4 classes at 32 px) and its .tflite file: a few seconds."""
    model = tiny_net()
    path = export_tflite(model, tmp_path_factory.mktemp("compare") / "tiny.tflite", TINY)
    x = torch.rand(6, 3, TINY, TINY, generator=torch.Generator().manual_seed(3)).numpy()
    return model, path, x


@pytest.mark.slow
def test_compare_with_torch_on_a_model(tiny_fp32):
    model, path, x = tiny_fp32
    model.train()
    row = compare_with_torch(model, path, x, num_threads=1)
    assert model.training  # the training flag is restored
    assert list(row) == ["file", "size_bytes", "max_abs_diff", "top1_agreement"]
    assert row["file"] == "tiny.tflite" and row["size_bytes"] == path.stat().st_size
    assert row["max_abs_diff"] == pytest.approx(max_abs_diff(model.eval(), path, x))
    assert row["max_abs_diff"] <= 1e-4
    assert row["top1_agreement"] == 1.0


@pytest.mark.slow
def test_compare_with_torch_on_logits_labels_and_returned_logits(tiny_fp32):
    model, path, x = tiny_fp32
    out = TFLiteModel(path).predict(x)
    # Reference logits that differ from the file's by a known amount, and flip one image's class.
    ref = out.copy()
    ref[2, 1] += 0.5
    ref[4] = 0.0
    ref[4, (out[4].argmax() + 1) % 4] = 10.0
    y = out.argmax(1)
    y[:3] = (y[:3] + 1) % 4  # three of six labels wrong
    row, logits = compare_with_torch(ref, path, x, num_threads=2, y_true=y, return_logits=True)
    assert list(row) == ["file", "size_bytes", "accuracy", "max_abs_diff", "top1_agreement"]
    np.testing.assert_array_equal(logits, out)
    assert row["accuracy"] == pytest.approx(3 / 6)
    assert row["max_abs_diff"] == pytest.approx(float(np.abs(out - ref).max()))
    assert row["max_abs_diff"] >= 10.0 - float(out[4].max())
    assert row["top1_agreement"] == pytest.approx(5 / 6)
    # torch tensors work as well, and the logits must match the file's output shape
    row_t = compare_with_torch(torch.from_numpy(ref), path, torch.from_numpy(x),
                               y_true=torch.from_numpy(y))
    assert row_t == row
    with pytest.raises(ValueError, match="shape"):
        compare_with_torch(ref[:3], path, x)


def test_export_check_compares_with_the_architectures_logits_and_saves_predictions(
        tmp_path, monkeypatch):
    """Chapter 07's check: an INT8 key is compared with its architecture's PyTorch logits, a
    key with logits of its own with those; the interpreter's logits land in <key>.npz."""
    from roadlite import export

    calls = []

    def fake_compare(ref, path, x, num_threads, y_true, return_logits):
        calls.append((ref, path, num_threads))
        assert return_logits and x is xs
        return {"file": str(path), "accuracy": 0.5}, ref + 1

    monkeypatch.setattr(export, "compare_with_torch", fake_compare)
    xs, y = np.zeros((2, 3, 8, 8), np.float32), np.array([0, 1])
    logits = {"model4_pruned": np.eye(2), "mobilenet_v2": np.zeros((2, 2))}
    check = export.ExportCheck(xs, y, ["a", "b"], logits, tmp_path / "predictions", 3)
    assert check("model5_int8", "m5.tflite") == {"file": "m5.tflite", "accuracy": 0.5}
    check("mobilenet_v2", "mnv2.tflite")
    assert [c[0] is logits[k] for c, k in zip(calls, ("model4_pruned", "mobilenet_v2"),
                                              strict=True)] == [True, True]
    assert calls[0][2] == 3
    saved = np.load(tmp_path / "predictions" / "model5_int8.npz")
    assert saved["logits"].tolist() == (np.eye(2) + 1).tolist()
    assert saved["y_true"].tolist() == [0, 1] and saved["classes"].tolist() == ["a", "b"]
    with pytest.raises(KeyError, match="resnet18"):
        check("resnet18", "r.tflite")


def test_exports_record_is_chapter_07s_models_entry():
    from roadlite.export import exports_record
    from roadlite.models.summary import count_params

    def row(name, acc):
        return {"file": name, "size_bytes": 10, "accuracy": acc, "max_abs_diff": 0.1,
                "top1_agreement": 0.9}

    rows = {"model4_pruned": row("m4.tflite", 0.8), "model5_int8": row("m5.tflite", 0.7),
            "model5_int8_dynamic": row("m5d.tflite", 0.75)}
    net = nn.Sequential(nn.Linear(3, 2))
    rec = exports_record(rows, {"model4_pruned": net}, ["model5_int8_dynamic", "model5_int8"])
    assert list(rec) == list(rows)
    assert rec["model4_pruned"] == {"tflite_size_bytes": 10, "tflite_accuracy": 0.8,
                                    "tflite_max_abs_diff": 0.1, "tflite_top1_agreement": 0.9,
                                    "tflite_file": "tflite/m4.tflite"}
    assert rec["model5_int8"]["architecture"] == "model4_pruned + int8"
    assert rec["model5_int8_dynamic"]["architecture"] == "model4_pruned + int8_dynamic"
    assert rec["model5_int8"]["params"] == count_params(net) == 8
    assert rec["model5_int8"]["accuracy"] == 0.7
    with pytest.raises(KeyError, match="model5_fast_int8"):
        exports_record(rows, {"model4_pruned": net}, ["model5_fast_int8"])
