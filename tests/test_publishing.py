"""Publishing (issue 19): a run publishes only what it wrote; a full disk or a read-only
artifacts folder ends in one line naming the folder, with the staging folder cleaned up and the
last good result intact; never a cut-short ``.failed.ipynb`` or an empty ``.executing.ipynb``
left behind without a ``!!`` line. Paths read from a ``metrics.json`` stay in its folder.

The notebook's execution is replaced by a stand-in that fails the way papermill does (the
kernel's exception as a ``PapermillExecutionError``, or papermill's own write of the executed
notebook running out of space), so these tests take no kernel.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from roadlite.artifacts import staging_dir, start_run
from roadlite.params import Params
from roadlite.pipeline import main, run_chapter

CHAPTER = "01_dataset"


def _last_good(root: Path) -> tuple[Path, dict[str, bytes]]:
    final = root / "smoke" / CHAPTER
    final.mkdir(parents=True)
    (final / "metrics.json").write_text('{"n_images": 10}\n')
    (final / f"{CHAPTER}.ipynb").write_text('{"cells": []}\n')
    return final, {f.name: f.read_bytes() for f in final.iterdir()}


def _unchanged(final: Path, before: dict[str, bytes]) -> bool:
    return {f.name: f.read_bytes() for f in final.iterdir()} == before


def _leftovers(root: Path) -> list[str]:
    profile = root / "smoke"
    return sorted(f.name for f in profile.iterdir() if f.name != CHAPTER
                  and not f.name.endswith(".lock"))


def _run(root: Path) -> int:
    return main(["run", CHAPTER, "--profile", "smoke", "--artifacts", str(root)])


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _kernel_wrote(final: Path) -> Path:
    """What the chapter had written to its staging folder when the disk filled."""
    stage = staging_dir(final)
    (stage / "figures").mkdir(parents=True, exist_ok=True)
    (stage / "figures" / "samples.png").write_bytes(b"\x89PNG" + b"x" * 4000)
    return stage


def test_disk_full_in_the_kernel_ends_in_one_line(tmp_path, monkeypatch, capsys):
    final, before = _last_good(tmp_path)

    def fake(src, out, **kw):
        stage = _kernel_wrote(final)
        Path(out).write_text('{"cells": [{"cell_type": "co')  # papermill's last save, cut short
        raise PapermillExecutionError(12, 12, "run.finish(metrics)", "OSError",
                                      f"[Errno 28] No space left on device: "
                                      f"'{stage / 'metrics.json'}'", [])

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    assert _run(tmp_path) == 1
    line = _one_line(capsys.readouterr().err)
    assert "No space left on device" in line and str(staging_dir(final)) in line
    assert not staging_dir(final).exists()  # the staging folder no longer fills the disk
    assert _unchanged(final, before)
    assert _leftovers(tmp_path) == []  # no cut-short .failed.ipynb, no .executing.ipynb


def test_disk_full_while_papermill_saves_the_notebook(tmp_path, monkeypatch, capsys):
    final, before = _last_good(tmp_path)

    def fake(src, out, **kw):
        _kernel_wrote(final)
        Path(out).write_text('{"cells": [')
        raise OSError(errno.ENOSPC, "No space left on device", str(out))

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    assert _run(tmp_path) == 1
    line = _one_line(capsys.readouterr().err)
    assert "No space left on device" in line and str(final.parent) in line
    assert not staging_dir(final).exists() and _unchanged(final, before)
    assert _leftovers(tmp_path) == []


def test_a_read_only_artifacts_folder_ends_in_one_line(tmp_path, monkeypatch, capsys):
    final, before = _last_good(tmp_path)
    profile = str(tmp_path / "smoke")
    real_open = os.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def read_only_open(path, flags, *args, **kw):
        if str(path).startswith(profile) and flags & writing:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kw)

    def never(*a, **kw):
        raise AssertionError("the notebook must not start in a read-only folder")

    monkeypatch.setattr(os, "open", read_only_open)
    monkeypatch.setattr(papermill, "execute_notebook", never)
    assert _run(tmp_path) == 1
    line = _one_line(capsys.readouterr().err)
    assert "Read-only file system" in line and profile in line
    assert _unchanged(final, before) and not staging_dir(final).exists()


@pytest.mark.parametrize("left", ["", '{"cells": [{"source": "trai'])
def test_an_empty_or_cut_short_notebook_is_never_left_without_a_line(tmp_path, monkeypatch,
                                                                     capsys, left):
    final, before = _last_good(tmp_path)

    def fake(src, out, **kw):
        Path(out).write_text(left)
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    with pytest.raises(RuntimeError, match="Kernel died"):
        run_chapter(CHAPTER, "smoke", artifacts_root=str(tmp_path), log_output=False)
    err = capsys.readouterr().err
    assert f"!! {CHAPTER} failed; no executed notebook could be saved" in err
    assert _leftovers(tmp_path) == [], "an empty .executing / cut-short .failed notebook"
    assert _unchanged(final, before)


def test_a_killed_kernel_ends_in_one_line_and_keeps_the_staging_folder(tmp_path, monkeypatch,
                                                                       capsys):
    from nbclient.exceptions import DeadKernelError

    final, before = _last_good(tmp_path)

    def fake(src, out, **kw):
        stage = _kernel_wrote(final)
        (stage / "checkpoints").mkdir()
        (stage / "checkpoints" / "last.pt").write_bytes(b"x")
        Path(out).write_text('{"cells": [], "metadata": {}, "nbformat": 4, '
                             '"nbformat_minor": 5}')
        raise DeadKernelError("Kernel died")

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    assert _run(tmp_path) == 1
    line = _one_line(capsys.readouterr().err)
    assert "kernel died" in line and "rerun continues" in line and str(final) in line
    assert (staging_dir(final) / "checkpoints" / "last.pt").exists()  # a rerun resumes
    assert _unchanged(final, before)


def test_a_failed_run_keeps_its_complete_notebook(tmp_path, monkeypatch, capsys):
    final, _ = _last_good(tmp_path)

    def fake(src, out, **kw):
        Path(out).write_text(json.dumps({"cells": [], "metadata": {}}))
        raise RuntimeError("boom")

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    with pytest.raises(RuntimeError, match="boom"):
        run_chapter(CHAPTER, "smoke", artifacts_root=str(tmp_path), log_output=False)
    failed = final.parent / f"{CHAPTER}.failed.ipynb"
    assert json.loads(failed.read_text()) == {"cells": [], "metadata": {}}
    assert f"the executed notebook is at {failed}" in capsys.readouterr().err


# ---- a run publishes only what it wrote ----------------------------------------------------

def test_a_rerun_publishes_only_its_own_files_and_resumes_from_checkpoints(tmp_path):
    """A run killed after exporting a .tflite, then a rerun without the export: the stale
    model must not be published beside metrics that say no export happened."""
    P = Params(profile="t", artifacts_root=str(tmp_path), seed=0, num_threads=0, device="cpu")
    P.chapter = "10_crack_classifier"
    final = tmp_path / "t" / P.chapter
    stage = staging_dir(final)
    (stage / "tflite").mkdir(parents=True)
    (stage / "tflite" / "crack_classifier_int8.tflite").write_bytes(b"x" * 1000)
    (stage / "figures").mkdir()
    (stage / "figures" / "training.png").write_bytes(b"png")
    (stage / "checkpoints" / "finetuned").mkdir(parents=True)
    (stage / "checkpoints" / "finetuned" / "last.pt").write_bytes(b"state")
    (stage / "checkpoints" / "finetuned" / ".last.pt.abc123.tmp").write_bytes(b"half")
    run = start_run(P)
    assert (run.dir / "checkpoints" / "finetuned" / "last.pt").read_bytes() == b"state"
    run.finish({"tflite": {}})
    files = sorted(str(f.relative_to(final)) for f in final.rglob("*") if f.is_file())
    assert files == ["checkpoints/finetuned/last.pt", "metrics.json", "run.json"]


# ---- paths from metrics.json stay in the chapter's folder ----------------------------------

@pytest.mark.parametrize("entry", ["../../../etc/passwd", "/etc/passwd"])
def test_a_tflite_path_from_metrics_stays_in_the_chapter(tmp_path, entry):
    from roadlite.upstream import Upstream

    d = tmp_path / "t" / "07_quantization"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({"models": {"model5_int8": {
        "tflite_file": entry}}}))
    up = Upstream.at(tmp_path, "t")
    with pytest.raises(ValueError, match=r"metrics\.json, models\.model5_int8\.tflite_file: "
                                         r".* is not a path inside"):
        up.tflite_path("model5_int8")


def test_a_checkpoint_path_from_metrics_stays_in_the_chapter(tmp_path):
    from roadlite.classification import load_chapter_model

    d = tmp_path / "03_eca"
    d.mkdir()
    (d / "metrics.json").write_text(json.dumps({"models": {"mobilenet_v2": {
        "architecture": "mobilenet_v2", "checkpoint": "../elsewhere/model.pt"}}}))
    with pytest.raises(ValueError, match=r"models\.mobilenet_v2\.checkpoint: "
                                         r"'\.\./elsewhere/model\.pt' is not a path inside"):
        load_chapter_model(d, "mobilenet_v2", 4)
