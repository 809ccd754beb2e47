"""Atomic writes and run records."""

import json

import pytest

from roadlite.artifacts import atomic_path, atomic_write_json, start_run
from roadlite.params import Params


def test_atomic_write_json_roundtrip(tmp_path):
    import numpy as np

    p = atomic_write_json(tmp_path / "a" / "m.json", {"x": np.float32(0.5), "n": float("nan")})
    assert json.loads(p.read_text()) == {"n": None, "x": 0.5}
    assert [f.name for f in p.parent.iterdir()] == ["m.json"]


def test_interrupted_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["metrics.json"]


def test_run_records(tmp_path):
    P = Params(profile="t", artifacts_root=str(tmp_path), seed=3, num_threads=0, device="cpu")
    P.chapter = "03_eca"
    (tmp_path / "t" / "03_eca").mkdir(parents=True)
    (tmp_path / "t" / "03_eca" / "metrics.json").write_text("{stale}")
    run = start_run(P)
    assert not (run.dir / "metrics.json").exists()  # a stale marker is gone at the start
    run.finish({"accuracy": 0.5})
    info = json.loads((run.dir / "run.json").read_text())
    for key in ("parameters", "roadlite_version", "git_commit", "torch_version", "device", "seed",
                "wall_time_s", "machine", "load_average"):
        assert key in info
    assert info["load_average"] is None or len(info["load_average"]) == 3
    assert info["parameters"]["seed"] == 3
    assert json.loads((run.dir / "metrics.json").read_text())["accuracy"] == 0.5
