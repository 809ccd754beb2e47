"""The book's results page, built only from ``metrics.json`` files (Results chapter).

Chapters that train models report them under ``metrics["models"][<key>]`` with the keys of
:data:`roadlite.paper_numbers.MOBILITENET` (``mobilenet_v2``, ``model1_eca``, ...). This module
collects them and renders "paper vs this run" tables; a model or chapter that did not run is
shown as *not run*, never as a zero.
"""

from __future__ import annotations

import json
import math
from typing import Any

from roadlite.paper_numbers import MOBILITENET, MOBILITENET_SOURCE
from roadlite.params import CHAPTERS
from roadlite.paths import artifact_dir

MISSING = "*not run*"


def collect(profile: str, artifacts_root: str = "artifacts") -> dict[str, dict[str, Any]]:
    """{chapter: {"metrics": ..., "run": ...}} for every chapter that finished in ``profile``."""
    out = {}
    for chapter in CHAPTERS:
        d = artifact_dir(artifacts_root, profile, chapter)
        m = d / "metrics.json"
        if m.exists():
            run_path = d / "run.json"
            out[chapter] = {"metrics": json.loads(m.read_text()),
                            "run": json.loads(run_path.read_text()) if run_path.exists() else {}}
    return out


def _fmt(v: Any, kind: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    if kind == "pct":
        return f"{100 * v:.2f}"
    if kind == "int":
        return f"{int(v):,}"
    if kind == "mb":
        return f"{v / 1e6:.2f}"
    return str(v)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def model_rows(found: dict[str, dict[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """{model key: (chapter, metrics of that model)}: the last chapter reporting a model wins."""
    rows: dict[str, tuple[str, dict[str, Any]]] = {}
    for chapter, data in found.items():
        for key, m in (data["metrics"].get("models") or {}).items():
            rows[key] = (chapter, m)
    return rows


def render_results_page(profile: str, artifacts_root: str = "artifacts") -> str:
    """Markdown of the results page for ``profile``."""
    found = collect(profile, artifacts_root)
    models = model_rows(found)
    parts = [
        "# Results: the papers beside this run",
        "",
        f"Every number in the *this run* columns is read from a `metrics.json` written by the "
        f"`{profile}` profile; the *paper* columns quote {MOBILITENET_SOURCE}. Nothing here is "
        f"typed by hand. A model or chapter that did not run is marked {MISSING}.",
        "",
        "## MobiLiteNet: the ablation ladder",
        "",
    ]
    rows = []
    for key, paper in MOBILITENET.items():
        chapter, m = models.get(key, (None, {}))
        acc = m.get("accuracy")
        rows.append([
            paper["label"],
            f"{paper['accuracy']:.2f} ± {paper['accuracy_std']:.2f}",
            _fmt(acc, "pct"),
            f"{paper['params']:,}",
            _fmt(m.get("params"), "int"),
            "" if paper.get("size_mb") is None else f"{paper['size_mb']}",
            _fmt(m.get("tflite_size_bytes"), "mb"),
            f"`{chapter}`" if chapter else MISSING,
        ])
    parts.append(_table(
        ["model", "paper accuracy (%)", "this run accuracy (%)", "paper params",
         "this run params", "paper size (MB)", "this run .tflite (MB)", "from chapter"], rows))
    parts += ["", "Accuracies of this run are on the test split of the profile's dataset "
              "(generated images unless `data_root` points at real data); the paper's are on its "
              "2,873 real photos at 512 px. Compare the direction of each step, not the level.",
              "", "## Where each number came from", ""]
    prov = []
    for chapter in CHAPTERS:
        if chapter in found:
            run = found[chapter]["run"]
            machine = run.get("machine", {})
            prov.append([f"`{chapter}`", "finished", str(run.get("git_commit", "?"))[:12],
                         str(run.get("started_utc", "?")),
                         _fmt(found[chapter]["metrics"].get("wall_time_s")),
                         f"{machine.get('cpu', '?')} ({machine.get('cores', '?')} cores)"])
        else:
            prov.append([f"`{chapter}`", MISSING, "", "", "", ""])
    parts.append(_table(["chapter", "status", "commit", "started (UTC)", "wall time (s)",
                         "machine"], prov))
    dataset = found.get("01_dataset", {}).get("metrics", {})
    if dataset:
        parts += ["", "## Dataset", "",
                  _table(["source", "images", "colour-histogram baseline accuracy (%)"],
                         [[str(dataset.get("source", "?")), _fmt(dataset.get("n_images"), "int"),
                           _fmt(dataset.get("baseline_accuracy"), "pct")]])]
    return "\n".join(parts) + "\n"

