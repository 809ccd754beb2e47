"""Tests of roadlite.measure (the timer and the one-image pipeline) and roadlite.latency (the
benchmark matrix, the machine, the command line) (Chapter 08_benchmark).

One tiny conv model is exported once per module at 32 px (a few seconds); every benchmark runs
only a handful of times. Nothing here asserts on speed: the speed figures belong to the
benchmark chapter.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from roadlite import latency
from roadlite.artifacts import jsonable
from roadlite.export import TFLiteModelError, export_tflite
from roadlite.latency import environment_info, peak_matmul_gflops
from roadlite.measure import (
    STAGES,
    LatencyStats,
    TFLiteFileNotFoundError,
    benchmark_tflite,
    benchmark_torch,
    load_tflite,
    preprocess,
    time_callable,
)
from roadlite.training import normalize

IMG = 32
LABELS = ["MA", "BR", "LO", "TR"]


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory, tiny_net):
    model = tiny_net()
    path = export_tflite(model, tmp_path_factory.mktemp("latency") / "tiny.tflite", IMG)
    return model, path


def _png(h: int, w: int, seed: int = 0, fmt: str = "PNG") -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


# --------------------------------------------------------------------------- statistics


def test_stats_from_known_samples():
    s = LatencyStats.from_samples([1_000_000 * v for v in (4, 1, 3, 2, 5)], warmup=2)
    assert (s.median_ms, s.q1_ms, s.q3_ms, s.iqr_ms) == (3.0, 2.0, 4.0, 2.0)
    assert (s.min_ms, s.mean_ms, s.n_runs, s.warmup) == (1.0, 3.0, 5, 2)
    assert set(s.as_dict()) == {"median_ms", "q1_ms", "q3_ms", "iqr_ms", "min_ms", "mean_ms",
                                "n_runs", "warmup"}
    with pytest.raises(ValueError):
        LatencyStats.from_samples([])


def test_time_callable_with_a_fake_clock(monkeypatch):
    """Each call of fn advances a fake perf_counter_ns by a known duration."""
    durations = iter(range(1, 1000))
    now = [0]
    calls = []

    def fn():
        calls.append(1)
        now[0] += next(durations) * 1_000_000  # 1 ms, 2 ms, 3 ms ...

    monkeypatch.setattr(latency.time, "perf_counter_ns", lambda: now[0])
    s = time_callable(fn, warmup=3, runs=5)
    assert len(calls) == 8
    # timed calls take 4, 5, 6, 7, 8 ms
    assert (s.min_ms, s.q1_ms, s.median_ms, s.q3_ms, s.mean_ms) == (4.0, 5.0, 6.0, 7.0, 6.0)
    assert s.n_runs == 5 and s.warmup == 3


def test_time_callable_defaults_and_min_seconds():
    s = time_callable(lambda: sum(range(10)))
    assert s.n_runs == 50 and s.warmup == 10
    assert 0 <= s.min_ms <= s.q1_ms <= s.median_ms <= s.q3_ms
    assert s.iqr_ms == pytest.approx(s.q3_ms - s.q1_ms)
    s = time_callable(lambda: None, warmup=0, runs=2, min_seconds=0.002)
    assert s.n_runs > 2  # ran on until 2 ms were timed
    with pytest.raises(ValueError):
        time_callable(lambda: None, runs=0)


# --------------------------------------------------------------------------- pipeline


def test_preprocess_matches_training_normalisation():
    data = _png(20, 24, seed=3)
    x = preprocess(data, 20, 24)
    assert x.shape == (1, 3, 20, 24) and x.dtype == np.float32 and x.flags.c_contiguous
    raw = torch.from_numpy(np.array(Image.open(io.BytesIO(data)))).permute(2, 0, 1)[None]
    np.testing.assert_allclose(x, normalize(raw).numpy(), atol=1e-5)
    assert preprocess(data, 8, 8, layout="NHWC").shape == (1, 8, 8, 3)  # resized
    assert preprocess(_png(10, 10, fmt="JPEG"), 16, 16).shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="cannot decode"):
        preprocess(b"not an image", 8, 8)


def test_benchmark_tflite_structure(tiny_tflite):
    model, path = tiny_tflite
    images = [_png(48, 40, seed=i) for i in range(3)]  # resized to 32x32 in preprocessing
    res = benchmark_tflite(path, images, num_threads=1, warmup=2, runs=5, img_size=IMG,
                           labels=LABELS)
    for stage in STAGES:
        s = res[stage]
        assert isinstance(s, LatencyStats)
        assert s.n_runs == 5 and s.warmup == 2
        assert 0 < s.min_ms <= s.q1_ms <= s.median_ms <= s.q3_ms
    assert res["end_to_end"].min_ms >= res["inference"].min_ms
    assert res["runtime"] == "litert" and res["input_shape"] == [1, 3, IMG, IMG]
    assert res["n_images"] == 3 and res["size_bytes"] == path.stat().st_size
    label, prob = res["prediction"]
    with torch.no_grad():
        ref = torch.softmax(model(torch.from_numpy(preprocess(images[0], IMG, IMG))), 1)[0]
    assert label == LABELS[int(ref.argmax())] and prob == pytest.approx(float(ref.max()), 1e-4)
    json.dumps(jsonable(res, strict=True))  # JSON-ready
    assert "end_to_end" in latency.format_table(res)


def test_benchmark_torch_restores_threads_and_mode(tiny_net):
    model = tiny_net().train()
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    res = benchmark_torch(model, IMG, [_png(IMG, IMG)], num_threads=target, warmup=1, runs=5)
    assert torch.get_num_threads() == before
    assert model.training
    assert res["runtime"] == "torch" and res["num_threads"] == target
    assert all(res[s].n_runs == 5 for s in STAGES)
    assert res["prediction"][0].startswith("class_")
    assert res["params"] == sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- input checks


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.tflite"
    for exc in (TFLiteModelError, FileNotFoundError, TFLiteFileNotFoundError):
        with pytest.raises(exc, match="nope.tflite"):
            benchmark_tflite(missing, [_png(8, 8)], runs=1, warmup=0)


@pytest.mark.parametrize("content", [b"", b"\x00" * 64 + b"garbage", "truncated"])
def test_corrupt_file(tmp_path, tiny_tflite, content):
    if content == "truncated":
        content = tiny_tflite[1].read_bytes()[:500]
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(content)
    with pytest.raises(TFLiteModelError, match="bad.tflite"):
        benchmark_tflite(bad, [_png(8, 8)], runs=1, warmup=0)


def test_wrong_image_size(tiny_tflite):
    _, path = tiny_tflite
    with pytest.raises(TFLiteModelError) as info:
        benchmark_tflite(path, [_png(8, 8)], runs=1, warmup=0, img_size=64)
    msg = str(info.value)
    assert str(path) in msg and "(1, 3, 32, 32)" in msg and "(1, 3, 64, 64)" in msg
    assert load_tflite(path, img_size=(IMG, IMG)).input_shape == (1, 3, IMG, IMG)


def test_bad_arguments(tiny_tflite):
    _, path = tiny_tflite
    with pytest.raises(ValueError, match="empty"):
        benchmark_tflite(path, [], runs=1)
    with pytest.raises(ValueError, match="labels"):
        benchmark_tflite(path, [_png(8, 8)], runs=1, labels=["a", "b"])
    with pytest.raises(ValueError, match="cannot decode"):
        benchmark_tflite(path, [b"nope"], runs=1, warmup=0)


# --------------------------------------------------------------------------- machine


def test_peak_matmul_and_environment():
    before = torch.get_num_threads()
    assert peak_matmul_gflops(1, n=64, runs=2) > 0
    assert torch.get_num_threads() == before
    env = environment_info()
    for key in ("cpu", "cores", "isa", "torch", "torch_num_threads", "ai_edge_litert",
                "litert_torch", "numpy"):
        assert key in env
    assert {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile"} <= set(env["isa"])
    json.dumps(env)


# --------------------------------------------------------------------------- command line


def test_cli_json(tiny_tflite, tmp_path, capsys):
    _, path = tiny_tflite
    out = tmp_path / "res.json"
    assert latency.main([str(path), "--runs", "5", "--warmup", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "end_to_end" in printed and "inference" in printed
    data = json.loads(out.read_text())
    assert data["result"]["end_to_end"]["n_runs"] == 5
    assert data["result"]["input_shape"] == [1, 3, IMG, IMG]
    assert data["images"] == "random:4" and "isa" in data["environment"]
    img = tmp_path / "a.png"
    img.write_bytes(_png(50, 50))
    assert latency.main([str(path), "--runs", "3", "--warmup", "0", "--image", str(img)]) == 0
    assert latency.main([str(tmp_path / "missing.tflite")]) == 1
    assert "missing.tflite" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_as_module(tiny_tflite, tmp_path):
    _, path = tiny_tflite
    out = tmp_path / "m.json"
    proc = subprocess.run([sys.executable, "-m", "roadlite.latency", str(path), "--runs", "3",
                           "--warmup", "1", "--threads", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["result"]["num_threads"] == 1


@pytest.mark.parametrize("flag,value,message", [("--threads", "-3", "must be >= 1, got -3"),
                                                ("--runs", "0", "must be >= 1, got 0"),
                                                ("--warmup", "x", "expected a whole number")])
def test_cli_blames_the_bad_option_not_the_file(tmp_path, capsys, flag, value, message):
    from roadlite.latency import main

    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "model.tflite"), flag, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: {message}" in err and "not found" not in err


# --------------------------------------------------------------------------- the benchmark matrix


def test_benchmark_matrix_and_its_table(tiny_tflite):
    model, path = tiny_tflite
    images = [_png(IMG, IMG, seed=i) for i in range(2)]
    rows = latency.benchmark_matrix({"a": path}, {"b": model}, images, [1, 2], warmup=1, runs=3,
                                    img_size=IMG, labels=LABELS)
    assert [(r["model"], r["runtime"], r["threads"]) for r in rows] == [
        ("a", "LiteRT", 1), ("a", "LiteRT", 2), ("b", "PyTorch", 1), ("b", "PyTorch", 2)]
    assert rows[0]["result"]["runtime"] == "litert" and rows[2]["result"]["runtime"] == "torch"
    assert all(r["result"]["end_to_end"].n_runs == 3 for r in rows)
    table = latency.matrix_table(rows)
    assert list(table.columns) == ["model", "runtime", "threads"] + [
        c for c, _, _ in latency.MATRIX_COLUMNS]
    for r, (_, t) in zip(rows, table.iterrows(), strict=True):
        assert t["end-to-end median (ms)"] == r["result"]["end_to_end"].median_ms
        assert t["inference IQR (ms)"] == r["result"]["inference"].iqr_ms
        assert t["preprocess median (ms)"] == r["result"]["preprocess"].median_ms
    assert latency.median_ms(table, "b", "PyTorch", 2, "inference") == \
        rows[3]["result"]["inference"].median_ms


def _table(times: dict[tuple[str, str, int], tuple[float, float]]):
    """A matrix_table-like table from {(model, runtime, threads): (end-to-end, inference)}."""
    import pandas as pd

    return pd.DataFrame([{"model": m, "runtime": r, "threads": t, "end-to-end median (ms)": e,
                          "inference median (ms)": i, "preprocess median (ms)": e - i}
                         for (m, r, t), (e, i) in times.items()])


def test_median_ms_and_reductions_on_known_times():
    table = _table({("model5_int8", "LiteRT", 1): (20.0, 15.0),
                    ("mobilenet_v2", "LiteRT", 1): (80.0, 70.0),
                    ("resnet18", "LiteRT", 1): (200.0, 190.0),
                    ("model5_int8", "LiteRT", 4): (10.0, 6.0),
                    ("mobilenet_v2", "LiteRT", 4): (40.0, 30.0),
                    ("resnet18", "LiteRT", 4): (50.0, 45.0),
                    ("model5_int8", "PyTorch", 1): (999.0, 998.0)})
    assert latency.median_ms(table, "model5_int8", "LiteRT", 4) == 10.0
    assert latency.median_ms(table, "model5_int8", "LiteRT", 1, stage="inference") == 15.0
    assert latency.median_ms(table, "model5_int8", "LiteRT", 1, stage="preprocess") == 5.0
    with pytest.raises(KeyError, match="resnet18"):
        latency.median_ms(table, "resnet18", "PyTorch", 1)
    red = latency.time_reductions(table, [1, 4])
    assert list(red) == ["LiteRT, 1 thread(s)", "LiteRT, 4 thread(s)"]  # the paper's rows:
    # roadlite.paper_vs_run.time_reductions_vs_paper (tests/test_paper_vs_run.py)
    assert red["LiteRT, 1 thread(s)"] == {"vs MobileNetV2 (%)": 75.0, "vs ResNet (%)": 90.0}
    assert red["LiteRT, 4 thread(s)"] == {"vs MobileNetV2 (%)": 75.0, "vs ResNet (%)": 80.0}
    only = latency.time_reductions(table, [1], references={"base": "mobilenet_v2"})
    assert only["LiteRT, 1 thread(s)"] == {"vs base (%)": 75.0}


def test_cost_table_bound_and_share_of_peak():
    table = _table({("a", "LiteRT", 1): (12.0, 10.0), ("b", "LiteRT", 1): (5.0, 4.0),
                    ("a", "LiteRT", 2): (7.0, 6.0), ("a", "PyTorch", 1): (50.0, 40.0)})
    # 100 GFLOP/s: 1e9 MACs = 2e9 FLOPs take 20 ms at best
    cost = latency.cost_table(table, {"a": 1e9, "b": 1e8}, {"a": 4.0, "b": 1.0}, 100.0)
    assert list(cost.index) == ["a", "b"]
    assert cost.loc["a", "macs"] == 1e9 and cost.loc["b", "size_mb"] == 1.0
    assert cost.loc["a", "bound (ms)"] == pytest.approx(20.0)
    assert cost.loc["b", "bound (ms)"] == pytest.approx(2.0)
    assert cost.loc["a", "share of peak (%)"] == pytest.approx(200.0)  # 20 ms bound / 10 ms
    assert cost.loc["b", "share of peak (%)"] == pytest.approx(50.0)
    assert latency.peak_bound_ms(5e8, 50.0) == pytest.approx(20.0)
    two = latency.cost_table(table, {"a": 1e9}, {"a": 4.0}, 100.0, threads=2)
    assert list(two.index) == ["a"] and two.loc["a", "inference median (ms)"] == 6.0


def test_latency_vs_cost_figure():
    import matplotlib.pyplot as plt

    from roadlite.plotting import latency_vs_cost

    table = _table({("a", "LiteRT", 1): (12.0, 10.0), ("b", "LiteRT", 1): (5.0, 4.0)})
    cost = latency.cost_table(table, {"a": 1e9, "b": 1e8}, {"a": 4.0, "b": 1.0}, 100.0)
    fig = latency_vs_cost(cost, 100.0)
    left, right = fig.axes
    assert left.get_xscale() == "log" and right.get_yscale() == "log"
    assert left.get_xlabel() == "MACs per image" and right.get_xlabel() == "file size (MB)"
    assert sorted(t.get_text() for t in left.texts) == ["a", "b"]
    bound = left.get_lines()[0]
    np.testing.assert_allclose(bound.get_xdata(), [1e8, 1e9])
    np.testing.assert_allclose(bound.get_ydata(), [2.0, 20.0])
    assert "100 GFLOP/s" in left.get_legend().get_texts()[0].get_text()
    plt.close(fig)


def test_latency_hands_on_the_measuring_names():
    """Chapter 08's module names the pipeline it teaches; the one implementation is measure's."""
    from roadlite import measure

    for name in measure.__all__:
        if name in latency.__all__:
            assert getattr(latency, name) is getattr(measure, name), name
    assert {"time_callable", "benchmark_tflite", "benchmark_torch", "LatencyStats"} <= set(
        latency.__all__)
