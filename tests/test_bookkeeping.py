"""roadlite.bookkeeping: the outputs a run wrote and the NaN-guarded glue."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import numpy as np
import pytest

from roadlite import bookkeeping
from roadlite.bookkeeping import glue_number, outputs_written


@pytest.fixture()
def run_dir(tmp_path):
    for rel in ["metrics.json", "figures/a.png", "models/m.pt", "checkpoints/m/last.pt",
                "synthetic/alligator/1.png"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "empty").mkdir()
    return tmp_path


def test_outputs_written_lists_files_below_the_folder(run_dir):
    assert outputs_written(run_dir) == ["checkpoints/m/last.pt", "figures/a.png",
                                        "metrics.json", "models/m.pt",
                                        "synthetic/alligator/1.png"]
    assert outputs_written(run_dir, skip=("checkpoints", "synthetic")) == [
        "figures/a.png", "metrics.json", "models/m.pt"]
    assert outputs_written(run_dir, skip="checkpoints")[0] == "figures/a.png"


def test_outputs_written_takes_a_run_and_lists_the_top_level(run_dir):
    run = SimpleNamespace(dir=run_dir)
    assert outputs_written(run, top_level=True) == ["checkpoints", "empty", "figures",
                                                    "metrics.json", "models", "synthetic"]
    assert outputs_written(run, skip=["models"], top_level=True)[-1] == "synthetic"


def test_outputs_written_skips_folders_not_files_of_that_name(tmp_path):
    (tmp_path / "checkpoints").write_text("a file, not the folder")
    assert outputs_written(tmp_path, skip=("checkpoints",)) == ["checkpoints"]


def test_outputs_written_errors_name_the_argument(tmp_path):
    with pytest.raises(FileNotFoundError, match="run_dir .*missing"):
        outputs_written(tmp_path / "missing")
    with pytest.raises(TypeError, match="run_dir must be"):
        outputs_written(3)


@pytest.fixture()
def glued(monkeypatch):
    calls = []
    import myst_nb
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True:
                        calls.append((name, value, display)))
    return calls


def test_glue_number_scales_formats_and_glues_without_display(glued):
    assert glue_number("acc", 0.8125, scale=100) == 81.25
    assert glue_number("acc_text", 0.8125, scale=100, fmt=".1f") == "81.2"
    assert glue_number("fd", np.float32(2.5)) == 2.5
    assert glued == [("acc", 81.25, False), ("acc_text", "81.2", False), ("fd", 2.5, False)]
    assert isinstance(glued[0][1], float) and isinstance(glued[2][1], float)


@pytest.mark.parametrize("value", [None, float("nan"), math.inf, np.float64("nan")])
def test_glue_number_glues_n_a_for_a_missing_number(glued, value):
    assert glue_number("acc", value, scale=100, fmt=".1f") == "n/a"
    assert glue_number("acc2", value, missing="—") == "—"
    assert glued == [("acc", "n/a", False), ("acc2", "—", False)]


def test_glue_number_rejects_what_is_not_a_number(glued):
    with pytest.raises(TypeError, match="'acc'.*str"):
        glue_number("acc", "0.5")
    assert glued == []


def test_the_module_names_the_chapter_that_teaches_each_helper():
    for name in bookkeeping.__all__:
        assert re.search(r"chapter \d\d_[a-z_]+", getattr(bookkeeping, name).__doc__), name
