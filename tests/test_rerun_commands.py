"""Every documented way to rerun a chapter, run for real on the smoke profile.

Each test executes a command of the README's "Rerunning one chapter" and "Using a real dataset"
sections (``make nb``, ``make CHAPTER``, ``roadlite run``, plain papermill with ``-p`` and
``-f``, ``DATA_ROOT=`` on each real layout) and checks that the value reached ``run.json``, plus
the failure cases: a locked chapter, a bad value, a failed or killed run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roadlite.artifacts import acquire_chapter_lock, staging_dir
from roadlite.paths import shared_data_dir

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def sh(args, cwd=ROOT, check=True, env=None, timeout=600):
    e = {**os.environ, **(env or {})}
    e.pop("ROADLITE_LOCK_TOKEN", None)
    e.pop("MAKEFLAGS", None)
    e.pop("MAKELEVEL", None)
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=e, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"{args} exited {out.returncode}:\n{out.stdout[-3000:]}\n"
                             f"{out.stderr[-3000:]}")
    return out


def run_json(artifacts: Path, chapter: str, profile: str = "smoke") -> dict:
    return json.loads((artifacts / profile / chapter / "run.json").read_text())


def roadlite(*args, check=True):
    return sh([str(VENV_BIN / "roadlite"), *args], check=check)


@pytest.fixture(scope="module")
def chapter01(tmp_path_factory):
    """One finished smoke chapter 01 under a path with an apostrophe (the Makefile quotes)."""
    art = tmp_path_factory.mktemp("rerun") / "it's here"
    out = sh(["make", "--no-print-directory", "nb", "NB=01_dataset", "PROFILE=smoke",
              f"ARTIFACTS={art}", "BASELINE_BINS=4"])
    assert "01_dataset [smoke] done" in out.stdout
    return art


def test_make_nb_override_reaches_run_json(chapter01):
    assert run_json(chapter01, "01_dataset")["parameters"]["baseline_bins"] == 4
    assert (chapter01 / "smoke" / "01_dataset" / "01_dataset.ipynb").exists()
    assert not staging_dir(chapter01 / "smoke" / "01_dataset").exists()


def test_make_nb_of_the_issue_trains_chapter_03_and_a_rerun_reuses_its_checkpoints(chapter01):
    args = ["make", "--no-print-directory", "nb", "NB=03_eca", "EPOCHS=1", "PROFILE=smoke",
            f"ARTIFACTS={chapter01}"]
    sh(args)
    assert run_json(chapter01, "03_eca")["parameters"]["epochs"] == 1
    again = sh(args)  # the resume messages reach the console
    assert "starting from the last good result" in again.stdout
    assert "resuming from" in again.stdout


def test_make_chapter_target_with_profile_and_an_override_for_other_chapters(tmp_path):
    out = sh(["make", "--no-print-directory", "01_dataset", "PROFILE=smoke",
              f"ARTIFACTS={tmp_path}", "LR=0.5", "N_TEST_PER_CLASS=3"])
    assert "not used here: 'lr' belongs to" in out.stdout
    assert run_json(tmp_path, "01_dataset")["parameters"]["n_test_per_class"] == 3
    again = sh(["make", "--no-print-directory", "01_dataset", "PROFILE=smoke",
                f"ARTIFACTS={tmp_path}", "LR=0.5", "N_TEST_PER_CLASS=3"])
    assert "roadlite.pipeline run" not in again.stdout  # up to date: nothing reran


def test_make_nb_rejects_an_override_the_chapter_lacks(tmp_path):
    out = sh(["make", "--no-print-directory", "nb", "NB=01_dataset", "PROFILE=smoke",
              f"ARTIFACTS={tmp_path}", "LR=0.5"], check=False)
    assert out.returncode != 0
    assert "01_dataset has no parameter(s) ['lr']" in out.stderr
    assert not (tmp_path / "smoke" / "01_dataset").exists()


@pytest.mark.parametrize("order", ["help", "overrides_first"])
def test_roadlite_run_in_either_order(tmp_path, order):
    words = ["--profile", "smoke", "--artifacts", str(tmp_path)]
    args = (["run", "01_dataset", *words, "baseline_bins=5"] if order == "help"
            else ["run", "01_dataset", "BASELINE_BINS=5", *words])
    roadlite(*args)
    assert run_json(tmp_path, "01_dataset")["parameters"]["baseline_bins"] == 5


def test_papermill_p_upper_case_name_is_applied(tmp_path):
    sh([str(VENV_BIN / "papermill"), "notebooks/01_dataset.ipynb", str(tmp_path / "o.ipynb"),
        "-p", "profile", "smoke", "-p", "artifacts_root", str(tmp_path),
        "-p", "n_train_per_class", "3", "-p", "n_val_per_class", "2",
        "-p", "n_test_per_class", "2", "-p", "BASELINE_BINS", "4"],
       env={"ROADLITE_ROOT": str(ROOT)})
    assert run_json(tmp_path, "01_dataset")["parameters"]["baseline_bins"] == 4


def test_papermill_p_unknown_upper_case_name_is_an_error(tmp_path):
    out = sh([str(VENV_BIN / "papermill"), "notebooks/01_dataset.ipynb",
              str(tmp_path / "o.ipynb"), "-p", "profile", "smoke",
              "-p", "artifacts_root", str(tmp_path), "-p", "BASELINE_BIN", "4"], check=False)
    assert out.returncode != 0
    assert "unknown parameter 'BASELINE_BIN'. Did you mean 'baseline_bins'?" in (
        out.stdout + out.stderr)
    assert not (tmp_path / "smoke" / "01_dataset" / "metrics.json").exists()


def test_papermill_f_with_the_file_roadlite_params_writes(tmp_path):
    yml = roadlite("params", "01_dataset", "--profile", "smoke", "--artifacts", str(tmp_path),
                   "baseline_bins=6").stdout
    (tmp_path / "p.yaml").write_text(yml)
    sh([str(VENV_BIN / "papermill"), "notebooks/01_dataset.ipynb", str(tmp_path / "o.ipynb"),
        "-f", str(tmp_path / "p.yaml")], env={"ROADLITE_ROOT": str(ROOT)})
    rec = run_json(tmp_path, "01_dataset")["parameters"]
    assert rec["baseline_bins"] == 6 and rec["profile"] == "smoke"


def test_nan_is_rejected_before_anything_is_touched(chapter01):
    d = chapter01 / "smoke" / "01_dataset"
    before = (d / "metrics.json").read_bytes(), (d / "01_dataset.ipynb").read_bytes()
    for args in (["make", "--no-print-directory", "nb", "NB=03_eca", "LR=nan", "PROFILE=smoke",
                  f"ARTIFACTS={chapter01}"],
                 [str(VENV_BIN / "roadlite"), "run", "03_eca", "--profile", "smoke",
                  "--artifacts", str(chapter01), "momentum=NaN"],
                 [str(VENV_BIN / "papermill"), "notebooks/03_eca.ipynb", str(d / "x.ipynb"),
                  "-p", "profile", "smoke", "-p", "artifacts_root", str(chapter01),
                  "-p", "weight_decay", "nan"]):
        out = sh(args, check=False)
        assert out.returncode != 0
        assert "must be a finite number" in out.stdout + out.stderr
    assert ((d / "metrics.json").read_bytes(), (d / "01_dataset.ipynb").read_bytes()) == before
    (d / "x.ipynb").unlink(missing_ok=True)


def test_the_unfilled_student_edition_stops_at_its_first_exercise(chapter01, tmp_path):
    """exercises/03_eca.ipynb as a student gets it, run for real on the smoke profile: it stops
    at the first exercise with the checker's message, before any training."""
    metrics = chapter01 / "smoke" / "03_eca" / "metrics.json"  # an earlier test may have run 03
    before = metrics.read_bytes() if metrics.exists() else None
    out = sh([str(VENV_BIN / "papermill"), "exercises/03_eca.ipynb", str(tmp_path / "o.ipynb"),
              "-p", "profile", "smoke", "-p", "artifacts_root", str(chapter01)], check=False)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "eca_kernel_size" in text and "not implemented yet" in text
    executed = json.loads((tmp_path / "o.ipynb").read_text())
    ran = [c for c in executed["cells"] if c["cell_type"] == "code"
           and c.get("execution_count") is not None]
    assert not any("fit(" in "".join(c["source"]) for c in ran)  # stopped before training
    assert (metrics.read_bytes() if metrics.exists() else None) == before  # nothing finished


def test_a_second_run_stops_naming_the_holder_and_changes_nothing(chapter01):
    d = chapter01 / "smoke" / "01_dataset"
    before = (d / "metrics.json").read_bytes()
    with acquire_chapter_lock(d):
        out = roadlite("run", "01_dataset", "--profile", "smoke", "--artifacts", str(chapter01),
                       check=False)
    assert out.returncode == 2
    assert f"process {os.getpid()}" in out.stderr and "is in use by another run" in out.stderr
    assert (d / "metrics.json").read_bytes() == before


def test_a_failed_run_keeps_the_last_good_result(chapter01, tmp_path):
    d = chapter01 / "smoke" / "01_dataset"
    before = (d / "metrics.json").read_bytes(), (d / "01_dataset.ipynb").read_bytes()
    (tmp_path / "nothing_here").mkdir()
    out = roadlite("run", "01_dataset", "--profile", "smoke", "--artifacts", str(chapter01),
                   f"data_root={tmp_path / 'nothing_here'}", check=False)
    assert out.returncode != 0
    assert ((d / "metrics.json").read_bytes(), (d / "01_dataset.ipynb").read_bytes()) == before
    assert (chapter01 / "smoke" / "01_dataset.failed.ipynb").exists()


def test_missing_upstream_hint_names_the_artifacts_folder(tmp_path):
    out = roadlite("run", "04_refinement", "--profile", "smoke", "--artifacts", str(tmp_path),
                   check=False)
    assert out.returncode == 2
    assert f"make 01_dataset PROFILE=smoke ARTIFACTS={tmp_path}" in out.stderr
    assert not any(tmp_path.iterdir())


def test_a_killed_run_leaves_no_hidden_temporary_and_the_rerun_continues(chapter01):
    d = chapter01 / "smoke" / "03_eca"
    if not (d / "metrics.json").exists():  # the make-nb test made it, unless run alone
        sh(["make", "--no-print-directory", "nb", "NB=03_eca", "EPOCHS=1", "PROFILE=smoke",
            f"ARTIFACTS={chapter01}"])
    before = (d / "metrics.json").read_bytes()
    e = {**os.environ}
    e.pop("ROADLITE_LOCK_TOKEN", None)
    p = subprocess.Popen([str(VENV_BIN / "roadlite"), "run", "03_eca", "--profile", "smoke",
                          "--artifacts", str(chapter01), "epochs=2", "export_tflite=false"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=e)
    stage = staging_dir(d)
    t0 = time.time()
    while not (stage / "checkpoints").exists() and time.time() - t0 < 120:
        time.sleep(0.2)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode != 0, err
    assert (d / "metrics.json").read_bytes() == before
    hidden = [f for f in (d.parent.glob(".*.ipynb"))] + list(d.glob(".*tmp*"))
    assert hidden == [], hidden
    again = roadlite("run", "03_eca", "--profile", "smoke", "--artifacts", str(chapter01),
                     "epochs=2", "export_tflite=false")
    assert "resuming an interrupted run of 03_eca" in again.stdout
    assert run_json(chapter01, "03_eca")["parameters"]["epochs"] == 2


# ---- real data through DATA_ROOT, one folder of each layout --------------------------------

def _subset(src: Path, dest: Path, pattern_pairs: list[tuple[str, str, int]]) -> Path:
    """Copy the first n files of each (folder, glob) of a real data set, keeping its layout."""
    for folder, pattern, n in pattern_pairs:
        for f in sorted((src / folder).glob(pattern))[:n]:
            target = dest / folder / f.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
    return dest


def _with_masks(src: Path, dest: Path, img: str, lab: str, n: int) -> Path:
    for f in sorted((src / img).glob("*.jpg"))[:n]:
        (dest / img).mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest / img / f.name)
        for m in (src / lab).glob(f"{f.stem}.*"):
            (dest / lab).mkdir(parents=True, exist_ok=True)
            shutil.copy2(m, dest / lab / m.name)
    return dest


LAYOUTS = {
    "imagefolder": lambda s, d: _subset(s / "mobilitenet_4class_demo", d, [
        (f"{sp}/{c}", "*.png", 3) for sp in ("train", "val", "test")
        for c in ("Alligator", "Breakmarking", "Longitudinal", "Transverse")]),
    "ozgenel": lambda s, d: _subset(s / "concrete_crack_ozgenel_subset", d, [
        ("Positive", "*.jpg", 12), ("Negative", "*.jpg", 12)]),
    "deepcrack": lambda s, d: _with_masks(s / "deepcrack", _with_masks(
        s / "deepcrack", d, "train_img", "train_lab", 8), "test_img", "test_lab", 4),
    "cfd": lambda s, d: _with_masks(s / "crackforest_cfd", d, "image", "masks_png", 12),
}


@pytest.mark.realdata
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_data_root_on_each_real_layout(layout, tmp_path):
    shared = shared_data_dir()
    if not shared.is_dir():
        pytest.skip("../shared/data is absent (a user's clone): no real data to read")
    data = LAYOUTS[layout](shared, tmp_path / f"{layout} data")
    art = tmp_path / "art"
    sh(["make", "--no-print-directory", "nb", "NB=01_dataset", "PROFILE=smoke",
        f"ARTIFACTS={art}", f"DATA_ROOT={data}"])
    rec = run_json(art, "01_dataset")
    assert rec["parameters"]["data_root"] == str(data)
    metrics = json.loads((art / "smoke" / "01_dataset" / "metrics.json").read_text())
    assert metrics["n_images"] > 0 and metrics["source"] == str(data)
    if layout in ("deepcrack", "cfd"):  # one class: no baseline, and no crash
        assert metrics["baseline_accuracy"] is None
    else:
        assert 0.0 <= metrics["baseline_accuracy"] <= 1.0


def test_a_chapter_run_from_the_notebooks_folder_as_in_jupyterlab(tmp_path):
    """make lab starts JupyterLab with ROADLITE_ROOT set; a kernel then runs in notebooks/. The
    chapter must find the repository and write artifacts/<profile>/<chapter>/ under its root."""
    sh([str(VENV_BIN / "papermill"), "01_dataset.ipynb", str(tmp_path / "o.ipynb"),
        "--cwd", str(ROOT / "notebooks"), "-p", "artifacts_root", str(tmp_path),
        "-p", "n_train_per_class", "3", "-p", "n_val_per_class", "2", "-p", "n_test_per_class", "2"],
       cwd=ROOT / "notebooks", env={"ROADLITE_ROOT": str(ROOT)})
    rec = run_json(tmp_path, "01_dataset", profile="default")
    assert rec["parameters"]["profile"] == "default"
    assert (tmp_path / "default" / "01_dataset" / "manifest.csv").exists()
