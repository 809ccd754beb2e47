"""The per-operator profile of a .tflite file (Chapter 08_benchmark)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from roadlite.export import export_tflite, int8_friendly_hardswish
from roadlite.op_profile import (
    compare_profiles,
    hardswish_finding,
    op_profile,
    op_summary,
    op_total,
    single_op_models,
)

IMG = 32


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.Hardswish(),
                         nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU6(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("opprof")
    net = _net()
    cal = [torch.rand(4, 3, IMG, IMG) for _ in range(2)]
    return {"fp32": export_tflite(net, d / "fp32.tflite", IMG),
            "int8": export_tflite(net, d / "int8.tflite", IMG, quantization="static",
                                  calibration=cal),
            "int8_written_out": export_tflite(int8_friendly_hardswish(net), d / "int8w.tflite",
                                              IMG, quantization="static", calibration=cal)}


def _ops(path):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=__import__(
                         "ai_edge_litert.interpreter", fromlist=["OpResolverType"]
                     ).OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it


@pytest.mark.slow
def test_each_single_op_model_computes_what_the_op_computes_in_the_whole(files):
    """Run the whole model keeping every tensor, then each single-op model on the op's real
    inputs: its output must equal the whole model's tensor (the cut keeps weights, options,
    quantization)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = files["int8"]
    whole = _ops(path)
    d = whole.get_input_details()[0]
    rng = np.random.default_rng(1)
    whole.set_tensor(d["index"], rng.integers(-128, 128, d["shape"], dtype=np.int8))
    whole.invoke()
    ops = single_op_models(path.read_bytes())
    assert len(ops) == len(whole._get_ops_details())
    assert [o.op for o in ops] == [o["op_name"] for o in whole._get_ops_details()]
    for op in ops:
        it = Interpreter(model_content=op.content,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        it.allocate_tensors()
        for detail, t in zip(it.get_input_details(), op.inputs, strict=True):
            it.set_tensor(detail["index"], whole.get_tensor(t))
        it.invoke()
        got = it.get_tensor(it.get_output_details()[0]["index"])
        np.testing.assert_array_equal(got, whole.get_tensor(op.outputs[0]), err_msg=op.op)
        assert got.shape == op.output_shape


@pytest.mark.slow
def test_profile_summary_and_comparison(files):
    prof = {k: op_profile(p, runs=3, warmup=1) for k, p in files.items()}
    fp32 = prof["fp32"]
    assert list(fp32.columns) == ["op", "output shape", "output dtype", "median (ms)",
                                  "share (%)"]
    assert len(fp32) == len(single_op_models(files["fp32"]))
    assert (fp32["median (ms)"] > 0).all()
    assert fp32["share (%)"].sum() == pytest.approx(100.0)
    assert fp32.attrs["whole_ms"] > 0
    assert fp32.attrs["sum_ms"] == pytest.approx(fp32["median (ms)"].sum())
    assert "HARD_SWISH" in set(prof["int8"]["op"])
    assert "HARD_SWISH" not in set(prof["int8_written_out"]["op"])
    assert set(prof["int8"]["output dtype"]) >= {"int8"}
    summary = op_summary(prof["int8"])
    assert summary["count"].sum() == len(prof["int8"])
    assert list(summary["total (ms)"]) == sorted(summary["total (ms)"], reverse=True)
    assert summary.loc["HARD_SWISH", "count"] == 1
    table = compare_profiles(prof)
    assert list(table.columns) == list(files)
    assert table.loc["HARD_SWISH", "int8_written_out"] == 0.0
    assert table.loc["whole model", "fp32"] == fp32.attrs["whole_ms"]
    assert table.loc["sum over operators", "int8"] == pytest.approx(prof["int8"].attrs["sum_ms"])


def _prof(rows, whole):
    t = pd.DataFrame(rows, columns=["op", "median (ms)"])
    t.attrs.update(whole_ms=whole, sum_ms=float(t["median (ms)"].sum()))
    return t


def test_op_total_and_the_hardswish_sentence():
    fp32 = _prof([("CONV_2D", 1.0), ("HARD_SWISH", 0.01), ("HARD_SWISH", 0.01)], 1.2)
    fused = _prof([("CONV_2D", 0.5), ("HARD_SWISH", 0.25), ("HARD_SWISH", 0.25)], 0.9)
    written = _prof([("CONV_2D", 0.5), ("ADD", 0.02), ("MUL", 0.03)], 0.45)
    assert op_total(fused, "HARD_SWISH") == (2, 0.5)
    assert op_total(written, "HARD_SWISH") == (0, 0.0)
    text = hardswish_finding(fp32, fused, written)
    assert "2 `HARD_SWISH` operators take 0.020 ms" in text
    assert "0.500 ms, 25 times as long and 50 %" in text
    assert "from 0.900 ms to 0.450 ms (float32: 1.200 ms)" in text
    with pytest.raises(ValueError, match="HARD_SWISH"):
        hardswish_finding(written, fused, written)
