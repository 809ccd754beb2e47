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

from roadlite.book import MODELS, PEERS, PEERS_INT8, SLUGS
from roadlite.book import label as book_label
from roadlite.paper_numbers import (
    LR_CRACKNET,
    LR_CRACKNET_SOURCE,
    MOBILITENET,
    MOBILITENET_FIELD_TESTS,
    MOBILITENET_SOURCE,
    POLAT,
    POLAT_SOURCE,
)
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
    notes: dict[str, str] = {}  # params_from text -> its marker (a), (b), ...
    for entry in MODELS:
        key, paper = entry.key, MOBILITENET[entry.key]
        paper_params = (paper.get("params_text", "–") if paper["params"] is None
                        else f"{paper['params']:,}")
        if paper.get("params_from"):
            mark = notes.setdefault(paper["params_from"], f"({chr(ord('a') + len(notes))})")
            paper_params += f" {mark}"
        chapter, m = models.get(key, (None, {}))
        acc = m.get("accuracy")
        rows.append([
            entry.label,
            f"{paper['accuracy']:.2f} ± {paper['accuracy_std']:.2f}",
            _fmt(acc, "pct"),
            paper_params,
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
              "with one seed; the paper's are value ± spread on its held-out real test photos (the "
              "fifth of its 2,873 photos kept out of the GAN augmentation), at 512 px; the "
              "paper does not say what its ± is over. Compare the direction of each step, not the "
              "level. The paper gives ResNet's parameters only as \"over 11 million\", which is "
              "what its *paper params* entry shows. The paper prints exact parameter counts "
              "only for the baseline and the final model (\"from 2,228,996 to 498,283\"); "
              "the marked *paper params* entries are not the paper's counts for that model: "
              + "; ".join(f"{mark} {text}" for text, mark in notes.items())
              + ". The paper gives no size for Models 1 and 3.",
              ""]
    parts += ["", *seeds_section(found)]
    parts += _headlines(found)
    parts += ["", *peers_section(found, models)]
    parts += ["", *polat_section(found)]
    parts += ["", *lr_cracknet_section(found)]
    parts += ["", *field_test_section(found)]
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


def seeds_section(found: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown lines of chapter 09's accuracy over seeds (``make book SEEDS=N``) beside the
    paper's value ± spread, or a line saying the run has one seed."""
    out = ["### Over seeds", ""]
    seeds = found.get("09_confusion", {}).get("metrics", {}).get("seed_ablation")
    if not seeds:
        return out + ["This run has one seed; `make book SEEDS=3` reruns chapters 03-07 with "
                      "seeds 1 and 2 and fills this table."]
    rows = []
    for key, m in seeds["models"].items():
        paper = MOBILITENET.get(key)
        rows.append([book_label(key), str(m["n"]), f"{100 * m['mean']:.1f} ± {100 * m['std']:.1f}",
                     f"{paper['accuracy']:.2f} ± {paper['accuracy_std']:.2f}" if paper else "–"])
    return out + [f"Seeds {', '.join(str(s) for s in seeds['seeds'])} (chapter 09):", "",
                  _table(["model", "seeds", "this run: mean ± std (%)",
                          "paper: value ± spread (%)"], rows)]


def peers_section(found: dict[str, dict[str, Any]],
                  models: dict[str, tuple[str, dict[str, Any]]]) -> list[str]:
    """Markdown lines of the peers section (chapters 03, 07-09): each peer chapter 03 trained,
    float32 and INT8, beside Model 5 and MobileNetV2, and chapter 09's answer to "does the
    recipe beat picking a smaller network and quantizing it?" (issue 12). The paper has no
    such comparison."""
    out = ["## The recipe against smaller networks off the shelf (the paper has no such "
           "comparison)", ""]
    trained = [m for m in PEERS if m.key in models]
    if not trained:
        return out + [f"Peers (chapter `03_eca`'s `peers`): {MISSING}."]
    rows = []
    for fp32, q in [(m, PEERS_INT8[PEERS.index(m)]) for m in trained]:
        _, a = models.get(fp32.key, ("", {}))
        _, b = models.get(q.key, ("", {}))
        rows.append([fp32.label, _fmt(a.get("params"), "int"), _fmt(a.get("accuracy"), "pct"),
                     _fmt(b.get("accuracy"), "pct"), _fmt(a.get("tflite_size_bytes"), "mb"),
                     _fmt(b.get("tflite_size_bytes"), "mb"),
                     _maybe(a.get("latency_ms_litert_1thread"), "{:.2f}"),
                     _maybe(b.get("latency_ms_litert_1thread"), "{:.2f}")])
    int8_of = {"model4_pruned": "model5_int8", "model4_fast": "model5_fast_int8"}
    for key, label in (("mobilenet_v2", "MobileNetV2 (baseline)"), ("model4_pruned", "Model 4 / 5"),
                       ("model4_fast", "Model 4 / 5, pruned for speed (ours)")):
        if key == "model4_fast" and key not in models:
            continue
        _, a = models.get(key, ("", {}))
        _, b = models.get(int8_of[key], ("", {})) if key in int8_of else ("", {})
        rows.append([label, _fmt(a.get("params"), "int"), _fmt(a.get("accuracy"), "pct"),
                     _fmt(b.get("accuracy"), "pct") if b else "–",
                     _fmt(a.get("tflite_size_bytes"), "mb"),
                     _fmt(b.get("tflite_size_bytes"), "mb") if b else "–",
                     _maybe(a.get("latency_ms_litert_1thread"), "{:.2f}"),
                     _maybe(b.get("latency_ms_litert_1thread"), "{:.2f}") if b else "–"])
    out.append(_table(["model", "params", "accuracy fp32 (%)", "accuracy INT8 (%)",
                       "fp32 .tflite (MB)", "INT8 .tflite (MB)", "fp32 latency (ms)",
                       "INT8 latency (ms)"], rows))
    verdict = found.get("09_confusion", {}).get("metrics", {}).get("recipe_verdict")
    out += ["", "Latency: LiteRT, 1 thread, end to end (chapter 08). Chapter 09: "
            + (verdict or MISSING)]
    m08 = found.get("08_benchmark", {}).get("metrics", {})
    ratios = m08.get("input_path_ratios") or {}
    if ratios:
        out += ["", "Chapter 08's faster input path (pixels in, reduced-scale JPEG decoding, "
                "OpenCV resize), Model 5 / MobileNetV2 end-to-end time (the paper: "
                f"{MOBILITENET['model5_int8']['latency_ms_phone'] / MOBILITENET['mobilenet_v2']['latency_ms_phone']:.3f}"
                " on the Huawei P40, "
                f"{MOBILITENET['model5_int8']['latency_ms_headset'] / MOBILITENET['mobilenet_v2']['latency_ms_headset']:.3f}"
                " on the Meta Quest 3):", "",
                _ratio_table(ratios)]
    fast = m08.get("input_path_ratios_fast") or {}
    if fast:
        out += ["", "The same for chapter 06's Model 4 pruned for speed (`fast_ratio`, ours), "
                "quantized like Model 5, over MobileNetV2:", "",
                _ratio_table(fast)]
    return out


def _ratio_table(ratios: dict[str, dict[str, float]]) -> str:
    """Chapter 08's input-path ratios (``"<source>_<size>"`` -> end-to-end median, mean and
    inference ratio) as a table."""
    return _table(["source and size", "median ratio", "mean ratio", "inference ratio"],
                  [[k.replace("_", " at ") + " px", f"{r['end-to-end median']:.3f}",
                    f"{r['end-to-end mean']:.3f}", f"{r['inference']:.3f}"]
                   for k, r in ratios.items()])


def polat_section(found: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown lines of the Polat et al. section (Chapter 10_crack_classifier): the paper's
    Table 3 and text beside this run's ``metrics.json``, or a line saying it did not run."""
    out = ["## Polat et al.: crack / no crack with MobileNetV2 and Grad-CAM", ""]
    m = found.get("10_crack_classifier", {}).get("metrics")
    if not m:
        return out + [f"Chapter `10_crack_classifier`: {MISSING}."]
    test = m.get("test") or {}
    pct = {k: _maybe(None if test.get(k) is None else 100 * test[k], "{:.2f}")
           for k in ("accuracy", "precision", "recall", "f1", "dice", "iou", "soft_dice")}
    cross = (m.get("cross_domain") or {}).get("all") or {}
    loc = ((m.get("localisation") or {}).get("test") or {}).get("gradcam") or {}
    tfl = (m.get("tflite") or {}).get("crack classifier, INT8") or {}
    paper = POLAT["test"]
    rows = [[f"test {k} (%)", f"{paper[k]:.2f}", pct[k]]
            for k in ("accuracy", "precision", "recall", "f1")]
    train = m.get("train") or {}  # Table 3's train row; this run's without augmentation
    rows += [[f"train {k} (%, this run: no augmentation)", f"{POLAT['train'][k]:.2f}",
              _maybe(None if train.get(k) is None else 100 * train[k], "{:.2f}")]
             for k in ("accuracy", "f1")]
    rows += [["Dice (paper: text; this run: hard, = F1 / soft)",
              f"{POLAT['text']['dice']:.2f}", f"{pct['dice']} / {pct['soft_dice']} (%)"],
             ["IoU (paper: \"IoU (mAP)\", text)", f"{POLAT['text']['iou']:.2f}",
              f"{pct['iou']} (%)"],
             ["accuracy / F1 on DeepCrack + CFD patches (%)", "not reported",
              _maybe(None if not cross else f"{100 * cross['accuracy']:.2f} / "
                     f"{100 * cross['f1']:.2f}", "{}")],
             ["Grad-CAM energy in the dilated mask / its area share (%)",
              "not measured (heat maps shown)",
              _maybe(None if loc.get("energy_in_mask") is None else
                     f"{100 * loc['energy_in_mask']:.1f} / {100 * loc['area_share']:.1f}",
                     "{}")],
             ["Grad-CAM pointing game (%)", "not measured",
              _maybe(None if loc.get("pointing_game") is None else
                     100 * loc["pointing_game"], "{:.1f}")],
             ["INT8 .tflite size (MB) / LiteRT inference, 1 thread (ms)",
              "not reported (TFLite named as future work)",
              _maybe(None if not tfl else f"{tfl['size_mb']:.2f} / {tfl['inference_ms']:.2f}",
                     "{}")]]
    out.append(_table(["quantity", "paper", "this run"], rows))
    out += ["", f"The *paper* column quotes {POLAT_SOURCE}: the Kaggle \"Surface Crack "
            f"Detection\" set it cites (Özgenel's 40,000 concrete patches, our identification) "
            f"at 224 px, an ImageNet MobileNetV2. This run: {m.get('source', '?')}, "
            f"{m.get('img_size', '?')} px, the variant `{m.get('selected_variant', '?')}` "
            f"(backbone: {m.get('backbone_weights', '?')}). Precision, recall and F1 use the "
            f"standard definitions (the paper's printed Eqs. 4-6 swap precision and recall "
            f"and drop F1's factor 2)."]
    return out


def field_test_section(found: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown lines of the field test (Chapter 12_field_test, ours): the three models as one
    inspector on whole photos, beside MobiLiteNet's field-test time, or a not-run line."""
    out = ["## The field test: the three papers' models on whole photos (ours)", ""]
    m = found.get("12_field_test", {}).get("metrics")
    if not m:
        return out + [f"Chapter `12_field_test`: {MISSING}."]
    s = m.get("summary") or {}
    pooled, gate = s.get("pooled") or {}, s.get("gate") or {}
    head = MOBILITENET_FIELD_TESTS["headset"]
    rows = [["pixel F1 / IoU of the stitched mask (%), pooled, threshold 0.5", "–",
             _maybe(None if not pooled else f"{100 * pooled['f1']:.1f} / "
                    f"{100 * pooled['iou']:.1f}", "{}")],
            ["segmenter time saved by the gate / crack pixels it misses (%)", "–",
             _maybe(None if not gate else f"{100 * gate['time_saved_share']:.0f} / " + (
                 "–" if gate.get("missed_share_of_found") is None
                 else f"{100 * gate['missed_share_of_found']:.1f}"), "{}")],
            ["crack length error, median (%)", "–",
             _maybe(None if s.get("length_error_relative_median") is None else
                    100 * s["length_error_relative_median"], "{:.0f}")],
            ["time per photo (ms)", f"{head['time_ms']} (classification app, "
             f"{head['image_px']} px photos, Meta Quest 3)",
             _maybe(s.get("median_ms_inspection"), "{:.0f} (1 CPU thread, "
                    + ", ".join(s.get("photo_size") or []) + " px)")]]
    out.append(_table(["quantity", "paper", "this run"], rows))
    out += ["", f"No paper composes the three models: this chapter is ours. The *paper* entry "
            f"quotes {MOBILITENET_SOURCE}'s field test (another task on another device). This "
            f"run: {m.get('photos', '?')} {m.get('source', '?')} photos, tiles of "
            f"{m.get('tile', '?')} px with an overlap of {m.get('overlap', '?')}."]
    return out


def lr_cracknet_section(found: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown lines of the LR-CrackNet section (Chapter 11_crack_segmentation): the paper's
    Tables IV, II and VI beside this run's ``metrics.json``, or a line saying it did not run."""
    out = ["## LR-CrackNet: pixel-wise cracks by self-derived distillation", ""]
    m = found.get("11_crack_segmentation", {}).get("metrics")
    if not m:
        return out + [f"Chapter `11_crack_segmentation`: {MISSING}."]
    test = m.get("test") or {}
    paper4 = LR_CRACKNET["table4_deepcrack"]["LR-CrackNet"]
    paper_unet = LR_CRACKNET["table2_deepcrack"]["U-Net (Base, 32 ch.)"]
    paper = {"student (distilled)": paper4, "U-Net": paper_unet}
    rows = []
    for name in ("teacher", "student (distilled)", "student alone", "U-Net"):
        s, p = test.get(name) or {}, paper.get(name, {})
        rows.append([name, *((_maybe(p[k], "{:.2f}") if k in p else "not reported")
                             if p else "–" for k in ("f1", "iou", "aiou")),
                     *(_maybe(s.get(k), "{:.2f}") for k in ("f1", "iou", "aiou")),
                     _fmt(s.get("params"), "int")])
    out.append(_table(["model", "paper F1", "paper IoU", "paper AIoU", "this run F1",
                       "this run IoU", "this run AIoU", "this run params"], rows))
    ratio = m.get("fps_ratio") or {}
    speed = m.get("speed_320") or {}
    student = next((v for k, v in speed.items() if k.startswith("student")), {})
    out += ["", _table(["quantity", "paper", "this run"], [
        ["student parameters (w = 30, the book's fit to 3.856 M)",
         f"{LR_CRACKNET['table6']['params_m']} M",
         _fmt(m.get("paper_params_student_w30"), "int")],
        ["teacher parameters (w = 30)", "not reported",
         _fmt(m.get("teacher_params_w30"), "int")],
        ["FPS student / U-Net, PyTorch", f"{LR_CRACKNET['fps_ratio_to_unet']} (RTX 3090)",
         _maybe(ratio.get("fps_torch"), "{:.3f}")],
        ["FPS student / U-Net, LiteRT", "–", _maybe(ratio.get("fps_litert"), "{:.3f}")],
        ["student FPS at 320 px, PyTorch / LiteRT",
         f"{LR_CRACKNET['table6']['fps_3090']} (RTX 3090)",
         _maybe(None if not student else f"{student.get('fps_torch', 0):.1f} / "
                f"{student.get('fps_litert', float('nan')):.1f}", "{} (CPU)")],
    ])]
    out += ["", f"The *paper* columns quote {LR_CRACKNET_SOURCE}: DeepCrack's 237 test images; "
            f"the paper's student trains 200 epochs (after 50 + 100 epochs of its teacher) on "
            f"an RTX 3090, and its U-Net AIoU is not reported (Table II gives F1 and IoU only). "
            f"This run: {m.get('source', '?')}, "
            f"{m.get('img_size', '?')} px, width {m.get('width', '?')} (U-Net "
            f"{m.get('unet_base', '?')}), epochs {m.get('epochs', {})}. Metrics are pooled "
            f"over the test split at threshold 0.5, the book's choice: the paper names no "
            f"threshold or pooling, but every (F1, IoU) pair of its Tables I-V satisfies "
            f"IoU = F1 / (2 - F1), as one pooled confusion matrix does. The teacher sees "
            f"boundary maps derived from the test masks."]
    return out
