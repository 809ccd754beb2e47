"""The book's results page, built only from ``metrics.json`` files (Results chapter).

Chapters that train models report them under ``metrics["models"][<key>]`` with the keys of the
book's table (:data:`roadlite.book.MODELS`: ``mobilenet_v2``, ``model1_eca``, ...). This module
collects them and renders "paper vs this run" tables; a model or chapter that did not run is
shown as *not run*, never as a zero.
"""

from __future__ import annotations

import json
import math
from typing import Any

from roadlite.book import MODELS, SLUGS
from roadlite.paper_numbers import MOBILITENET, MOBILITENET_SOURCE
from roadlite.paths import artifact_dir

MISSING = "*not run*"


def collect(profile: str, artifacts_root: str = "artifacts") -> dict[str, dict[str, Any]]:
    """{chapter: {"metrics": ..., "run": ...}} for every chapter that finished in ``profile``."""
    out = {}
    for chapter in SLUGS:
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


def _maybe(v: Any, fmt: str) -> str:
    """``fmt.format(v)``, or the not-run marker when ``v`` is missing."""
    return MISSING if v is None else fmt.format(v)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def model_rows(found: dict[str, dict[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """{model key: (chapters, merged metrics)}: chapters add to a model's entry in chapter order
    (chapter 03 trains ``mobilenet_v2``, chapter 07 adds its ``.tflite`` size, 08 its latency)."""
    rows: dict[str, tuple[str, dict[str, Any]]] = {}
    for chapter, data in found.items():
        for key, m in (data["metrics"].get("models") or {}).items():
            chapters, merged = rows.get(key, ("", {}))
            rows[key] = (f"{chapters}, `{chapter}`" if chapters else f"`{chapter}`",
                         {**merged, **m})
    return rows


def _headlines(found: dict[str, dict[str, Any]]) -> list[str]:
    """The headline comparisons of chapters 02, 08 and 09, or a line saying they did not run."""
    out = ["## Headline comparisons", ""]
    rows = []
    m08 = found.get("08_benchmark", {}).get("metrics", {})
    paper_ratio = (MOBILITENET["model5_int8"]["latency_ms_phone"]
                   / MOBILITENET["mobilenet_v2"]["latency_ms_phone"])
    rows.append(["Model 5 / MobileNetV2 end-to-end time, 1 thread (08)",
                 f"{paper_ratio:.3f} (Huawei P40)",
                 _maybe(m08.get("ratio_model5_vs_mobilenet_v2_1thread"), "{:.3f}")])
    rows.append(["Model 5 / MobileNetV2 inference time alone, 1 thread (08)", "–",
                 _maybe(m08.get("inference_ratio_model5_vs_mobilenet_v2_1thread"), "{:.3f}")])
    m09 = found.get("09_confusion", {}).get("metrics", {})
    pb = m09.get("paired_bootstrap_model5_vs_mobilenet_v2") or {}
    mc = m09.get("mcnemar_model5_vs_mobilenet_v2") or {}
    diff = (f"{100 * pb['diff']:+.2f} [{100 * pb['ci_low']:+.2f}, {100 * pb['ci_high']:+.2f}]"
            if pb else None)
    paper_gain = MOBILITENET["model5_int8"]["accuracy"] - MOBILITENET["mobilenet_v2"]["accuracy"]
    rows.append(["Model 5 − MobileNetV2 accuracy, points [interval] (09)",
                 f"{paper_gain:+.2f} (called statistically significant; no test named)",
                 _maybe(diff, "{}")])
    rows.append(["McNemar p-value, Model 5 vs MobileNetV2 (09)",
                 "not reported (no test or p-value given)",
                 _maybe(mc.get("p_value"), "{:.3g}")])
    m02 = found.get("02_gan", {}).get("metrics", {})
    gan = (f"{100 * m02['accuracy_without_gan']:.2f} → {100 * m02['accuracy_with_gan']:.2f}"
           if m02 else None)
    rows.append(["accuracy without → with GAN images (02)", "not reported separately",
                 _maybe(gan, "{}")])
    fd = (m02.get("frechet_distance") or {}).get("synthetic vs real test")
    rows.append(["Fréchet distance synthetic vs real, classifier features (02)", "–",
                 _maybe(fd, "{:.2f}")])
    out.append(_table(["quantity", "paper", "this run"], rows))
    return out


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
    for entry in MODELS:
        key, paper = entry.key, MOBILITENET[entry.key]
        chapter, m = models.get(key, (None, {}))
        acc = m.get("accuracy")
        rows.append([
            entry.label,
            f"{paper['accuracy']:.2f} ± {paper['accuracy_std']:.2f}",
            _fmt(acc, "pct"),
            (paper.get("params_text", "–") if paper["params"] is None
             else f"{paper['params']:,}"),
            _fmt(m.get("params"), "int"),
            "–" if paper.get("size_mb") is None else f"{paper['size_mb']}",
            _fmt(m.get("tflite_size_bytes"), "mb"),
            _maybe(m.get("latency_ms_litert_1thread"), "{:.2f}"),
            chapter or MISSING,
        ])
    parts.append(_table(
        ["model", "paper accuracy (%)", "this run accuracy (%)", "paper params",
         "this run params", "paper size (MB)", "this run .tflite (MB)",
         "this run latency (ms, LiteRT, 1 thread)", "from chapters"], rows))
    parts += ["", "Accuracies of this run are on the test split of the profile's dataset "
              "(generated images unless `data_root` points at real data), from one training run "
              "with one seed; the paper's are mean ± std on its held-out real test photos (the "
              "fifth of its 2,873 photos kept out of the GAN augmentation), at 512 px, over a "
              "number of runs it does not state. Compare the direction of each step, not the "
              "level. The paper gives ResNet's parameters only as \"over 11 million\": its "
              "*paper params* entry is the count of ResNet-18 with a 4-class head, the teacher "
              "of the authors' code. The paper gives no size for Models 1 and 3.",
              ""]
    parts += _headlines(found)
    parts += ["", "## Where each number came from", ""]
    prov = []
    for chapter in SLUGS:
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

