"""The pipeline: overrides from make, parameter errors before any work, staging, results page."""

import json
import subprocess
from pathlib import Path

import pytest

from roadlite.params import CHAPTERS, ParameterError
from roadlite.pipeline import run_chapter, stage_book
from roadlite.results import MISSING, render_results_page

ROOT = Path(__file__).resolve().parents[1]


def test_make_turns_command_line_variables_into_overrides(tmp_path):
    out = subprocess.run(
        ["make", "-n", "nb", "NB=03_eca", "EPOCHS=5", "LR=0.01", "PROFILE=smoke",
         f"ARTIFACTS={tmp_path}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if "roadlite.pipeline run 03_eca" in ln)
    assert "EPOCHS=5" in line and "LR=0.01" in line
    assert "NB=" not in line and "PROFILE=" not in line.split("--profile")[0]
    assert f"--artifacts {tmp_path}" in line


def test_make_has_one_target_per_chapter(tmp_path):
    out = subprocess.run(["make", "-n", "chapters", "PROFILE=smoke", f"ARTIFACTS={tmp_path}"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    runs = [ln.split("run ")[1].split()[0] for ln in out.splitlines()
            if "roadlite.pipeline run" in ln]
    assert runs == list(CHAPTERS)  # in dependency order


def test_bad_parameter_stops_before_any_work(tmp_path):
    with pytest.raises(ParameterError, match="'epochs' = 0 must be >= 1"):
        run_chapter("03_eca", "smoke", {"epochs": 0}, artifacts_root=str(tmp_path))
    assert not any(tmp_path.iterdir())


def fake_chapter(root, chapter, metrics):
    d = root / "t" / chapter
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps(metrics))
    (d / "run.json").write_text(json.dumps({"git_commit": "abc123", "machine": {"cores": 2}}))
    return d


def test_results_page_reads_only_metrics_and_marks_missing(tmp_path):
    fake_chapter(tmp_path, "03_eca", {"models": {"mobilenet_v2": {"accuracy": 0.8125,
                                                                  "params": 2228996}}})
    page = render_results_page("t", str(tmp_path))
    row = next(ln for ln in page.splitlines() if ln.startswith("| MobileNetV2 (baseline)"))
    assert "81.25" in row and "2,228,996" in row and "`03_eca`" in row
    row5 = next(ln for ln in page.splitlines() if ln.startswith("| Model 5"))
    assert MISSING in row5 and "0.00" not in row5
    assert f"| `01_dataset` | {MISSING}" in page


def test_stage_book_copies_executed_notebooks_and_marks_the_rest(tmp_path):
    d = fake_chapter(tmp_path, "01_dataset", {"source": "generated"})
    cells = [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "a = 1"},
             {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": "a = 2"}]
    (d / "01_dataset.ipynb").write_text(json.dumps({"cells": cells}))
    stage = stage_book("t", str(tmp_path), stage=tmp_path / "stage")
    staged = json.loads((stage / "01_dataset.ipynb").read_text())["cells"]
    assert staged[0]["metadata"]["tags"] == ["parameters", "hide-input"]
    assert staged[1]["metadata"]["tags"] == ["injected-parameters"]
    assert "has not been run" in (stage / "03_eca.md").read_text()
    assert (stage / "results.md").exists()
