"""The road inspector: three of the book's models on whole photos (Chapter 12_field_test).

Per photo: decode; cut tiles at the segmenter's input size with ``overlap`` pixels shared by
neighbours (:mod:`.tiling`); chapter 10's crack / no-crack classifier on every tile (resized to
its input size when that differs); chapter 11's student on the tiles the classifier flags
(probability >= ``gate_threshold``), and, for comparison, on every tile; the tiles' crack
probabilities stitched into a full-resolution map; the inspector's measurements of the mask
(:mod:`.measure`); Model 5 (chapter 07) for the distress type: on a window around each known
distress (generated photos), else on each flagged tile. Every stage is timed on one thread.

The models are the INT8 ``.tflite`` files the chapters export, run by the LiteRT interpreter
(:class:`roadlite.export.TFLiteModel`, one thread). Where a chapter ran without its export
(``export_tflite = False``), its PyTorch checkpoint stands in, and the model's ``label`` says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from roadlite.data.loading import normalize
from roadlite.export import TFLiteModel
from roadlite.segmentation.metrics import confusion, ods_ois, scores
from roadlite.upstream import Upstream

from .data import Photo, decode
from .measure import measure_mask
from .tiling import Grid, coverage, cut_tiles, stitch, tile_grid

STAGES = ("decode", "tile", "classify", "segment_gated", "stitch", "measure", "type",
          "segment_all")
# the stages of one inspection as the inspector runs it (the segmenter on flagged tiles only)
GATED_STAGES = ("decode", "tile", "classify", "segment_gated", "stitch", "measure")
# gate thresholds of the trade curve (computed from the all-tile run, no model rerun)
GATE_SWEEP = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


class MissingModelError(FileNotFoundError):
    """A model the inspector needs has not been made (the message names the make command)."""


@dataclass
class TileModel:
    """One model of the inspector: ``run`` maps uint8 tiles [N, S, S, 3] to its outputs."""

    name: str
    label: str  # what runs it: "INT8 .tflite (LiteRT, 1 thread)" or the fallback's name
    size: int  # its input side in pixels
    run: Callable[[np.ndarray], np.ndarray]
    classes: tuple[str, ...] = ()
    path: str = ""


def _nchw(tiles: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [N, S, S, 3] -> normalised float [N, 3, size, size] (bilinear when S != size)."""
    x = normalize(torch.from_numpy(np.ascontiguousarray(tiles)).permute(0, 3, 1, 2))
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True)
    return x


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def _probabilities(z: np.ndarray, kind: str) -> np.ndarray:
    """A runner's outputs as probabilities: the classifier's crack probability (its two logits
    (0, z)), the segmenter's per-pixel crack probability, or the typer's softmax."""
    if kind == "classifier":
        return _sigmoid(z[:, 1] - z[:, 0])
    if kind == "segmenter":
        return _sigmoid(z[:, 0])
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def tflite_model(name: str, path: Path, kind: str, classes: Sequence[str] = ()) -> TileModel:
    """A :class:`TileModel` of a ``.tflite`` file: ``kind`` is "classifier" (two logits, crack
    second: chapter 10), "segmenter" (one logit per pixel: chapter 11) or "typer" (logits
    over ``classes``: Model 5)."""
    lite = TFLiteModel(path, num_threads=1)
    size = int(lite.input_shape[-1])

    def run(tiles: np.ndarray) -> np.ndarray:
        return _probabilities(lite.predict(_nchw(tiles, size)), kind)

    return TileModel(name, "INT8 .tflite (LiteRT, 1 thread)", size, run, tuple(classes),
                     str(path))


def torch_model(name: str, model: torch.nn.Module, size: int, kind: str,
                classes: Sequence[str] = (), label: str = "PyTorch checkpoint (no .tflite)"
                ) -> TileModel:
    """The same as :func:`tflite_model` for a PyTorch module (the fallback)."""
    model = model.cpu().eval()

    def run(tiles: np.ndarray) -> np.ndarray:
        torch.set_num_threads(1)
        with torch.no_grad():
            return _probabilities(model(_nchw(tiles, size)).numpy(), kind)

    return TileModel(name, label, int(size), run, tuple(classes))


@dataclass
class Models:
    classifier: TileModel
    segmenter: TileModel
    typer: TileModel | None = None

    def labels(self) -> dict[str, str]:
        out = {"classifier (chapter 10)": self.classifier.label,
               "segmenter (chapter 11)": self.segmenter.label}
        if self.typer is not None:
            out["distress type (Model 5, chapter 07)"] = self.typer.label
        return out


def _make(chapter: str, up: Upstream) -> str:
    root = str(up.artifacts_root)
    where = "" if root == "artifacts" else f" ARTIFACTS={root}"
    return f"make {chapter} PROFILE={up.profile}{where}"


def load_models(up: Upstream, with_type: bool = True, allow_torch: bool = True) -> Models:
    """The inspector's models of one finished run: chapter 10's INT8 classifier, chapter 11's
    INT8 student and (``with_type``) Model 5, chapter 07's INT8 file; a chapter that did not
    export its ``.tflite`` falls back to its PyTorch checkpoint (``allow_torch``). A chapter
    that has not run is a :class:`MissingModelError` naming the make command."""
    chapters = ["07_quantization"] * with_type + ["10_crack_classifier", "11_crack_segmentation"]
    missing = [c for c in chapters if not (up.dir(c) / "metrics.json").is_file()]
    if missing:
        raise MissingModelError(
            f"no model of chapter{'s' * (len(missing) > 1)} {', '.join(missing)} in "
            f"{up.dir(missing[0]).parent}: run `{_make(' '.join(missing), up)}`")
    m10, m11 = up.metrics("10_crack_classifier"), up.metrics("11_crack_segmentation")
    d10, d11 = up.dir("10_crack_classifier"), up.dir("11_crack_segmentation")
    f10 = d10 / "tflite" / "crack_classifier_int8.tflite"
    f11 = d11 / "tflite" / "student_static.tflite"
    if f10.is_file():
        classifier = tflite_model("crack classifier", f10, "classifier")
    elif allow_torch and (d10 / "models" / "crack_classifier.pt").is_file():
        from roadlite.crack_classifier import load_classifier

        classifier = torch_model("crack classifier",
                                 load_classifier(d10 / "models" / "crack_classifier.pt"),
                                 int(m10["img_size"]), "classifier")
    else:
        raise MissingModelError(f"{f10} does not exist: run `{_make('10_crack_classifier', up)}`"
                                f" with export_tflite true")
    if f11.is_file():
        segmenter = tflite_model("LR-CrackNet student", f11, "segmenter")
    elif allow_torch and (d11 / "models" / "student.pt").is_file():
        from roadlite.models import load_model
        from roadlite.segmentation import networks as _registers_chapter_11s_networks  # noqa: F401

        net = load_model(d11 / "models" / "student.pt", arch="lr_cracknet")
        segmenter = torch_model("LR-CrackNet student", net, int(m11["img_size"]), "segmenter")
    else:
        raise MissingModelError(f"{f11} does not exist: run "
                                f"`{_make('11_crack_segmentation', up)}`")
    typer = None
    if with_type:
        m07 = up.metrics("07_quantization")
        classes = tuple(m07.get("classes") or up.metrics("01_dataset")["classes"])
        path = up.tflite_path("model5_int8")
        if not path.is_file():
            raise MissingModelError(f"{path} does not exist: run "
                                    f"`{_make('07_quantization', up)}`")
        typer = tflite_model("Model 5", path, "typer", classes)
    return Models(classifier, segmenter, typer)


@dataclass
class Inspection:
    """What the inspector found on one photo (and, with a known mask, how well)."""

    name: str
    image: np.ndarray
    grid: Grid
    tile_probability: np.ndarray  # the classifier's, per tile
    flagged: np.ndarray  # indices of the tiles it flags
    prob: np.ndarray  # the stitched crack probability, segmenter on flagged tiles [H, W]
    prob_all: np.ndarray | None  # the same with the segmenter on every tile
    measures: dict[str, float]
    seconds: dict[str, float]
    types: list[dict[str, Any]] = field(default_factory=list)
    # per gate threshold of GATE_SWEEP: tiles flagged and (known mask) crack pixels missed
    gate_curve: list[dict[str, float]] = field(default_factory=list)
    truth: dict[str, Any] | None = None  # ground-truth measures and scores (known mask)
    mask: np.ndarray | None = None  # the ground-truth mask, when known

    @property
    def gated_seconds(self) -> float:
        return float(sum(self.seconds.get(s, 0.0) for s in GATED_STAGES))


def _window(image: np.ndarray, box: Sequence[int], size: int) -> np.ndarray:
    """A ``size`` x ``size`` window of ``image`` centred on ``box`` (moved inside the photo)."""
    h, w = image.shape[:2]
    cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
    size = min(size, h, w)
    x0 = int(np.clip(cx - size // 2, 0, w - size))
    y0 = int(np.clip(cy - size // 2, 0, h - size))
    return image[y0:y0 + size, x0:x0 + size]


def _run_batched(model: TileModel, tiles: np.ndarray, batch: int = 16) -> np.ndarray:
    return np.concatenate([model.run(tiles[i:i + batch]) for i in range(0, len(tiles), batch)])


def inspect_photo(photo: Photo, models: Models, overlap: int, gate_threshold: float = 0.5,
                  compare_all: bool = True, mm_per_pixel: float | None = None,
                  min_crack_pixels: int = 1, threshold: float = 0.5,
                  max_side: int | None = None) -> Inspection:
    """Run the inspector on one photo (module docstring); with a known mask, also score it.
    With ``max_side``, a photo whose longer side is longer is first scaled down to it (area
    average; part of the decode stage), its mask and distress boxes with it, and
    ``mm_per_pixel`` (the original photo's) becomes that of the scaled photo."""
    t: dict[str, float] = {}
    clock = time.perf_counter
    s = clock()
    image = decode(photo.data, photo.name)
    h, w = image.shape[:2]
    if max_side is not None and max(h, w) > max_side:
        f = max_side / max(h, w)
        size = (max(1, round(w * f)), max(1, round(h * f)))
        image = np.array(Image.fromarray(image).resize(size, Image.BOX))
        mm_per_pixel = None if mm_per_pixel is None else mm_per_pixel / f
        photo = Photo(photo.name, photo.data, None if photo.mask is None else np.array(
            Image.fromarray(np.asarray(photo.mask, np.uint8)).resize(size, Image.NEAREST)),
            [{**d, "box": [int(v * f) for v in d["box"]]} for d in photo.distresses],
            photo.source)
    t["decode"] = clock() - s
    s = clock()
    grid = tile_grid(image.shape[0], image.shape[1], models.segmenter.size, overlap)
    tiles = cut_tiles(image, grid)
    t["tile"] = clock() - s
    s = clock()
    p_tile = _run_batched(models.classifier, tiles)
    t["classify"] = clock() - s
    flagged = np.flatnonzero(p_tile >= gate_threshold)
    s = clock()
    seg = _run_batched(models.segmenter, tiles[flagged]) if len(flagged) else np.zeros(
        (0, grid.tile, grid.tile), np.float32)
    t["segment_gated"] = clock() - s
    s = clock()
    prob = stitch(seg, grid, flagged)
    t["stitch"] = clock() - s
    s = clock()
    measures = measure_mask(prob >= threshold, mm_per_pixel, min_crack_pixels)
    t["measure"] = clock() - s
    prob_all, curve = None, []
    if compare_all:
        s = clock()
        seg_all = _run_batched(models.segmenter, tiles)
        prob_all = stitch(seg_all, grid)
        t["segment_all"] = clock() - s
        curve = _gate_curve(p_tile, seg_all, grid, prob_all, photo.mask, threshold)
    types: list[dict[str, Any]] = []
    if models.typer is not None:
        s = clock()
        if photo.distresses:
            windows = np.stack([image if d.get("whole") else
                                _window(image, d["box"], models.typer.size)
                                for d in photo.distresses])
            p = _run_batched(models.typer, windows)
            types = [{"true": d["kind"], "predicted": models.typer.classes[int(k)],
                      "confidence": float(q.max())}
                     for d, k, q in zip(photo.distresses, p.argmax(1), p, strict=True)]
        elif len(flagged):
            p = _run_batched(models.typer, tiles[flagged])
            types = [{"tile": int(i), "predicted": models.typer.classes[int(k)],
                      "confidence": float(q.max())}
                     for i, k, q in zip(flagged, p.argmax(1), p, strict=True)]
        t["type"] = clock() - s
    out = Inspection(photo.name, image, grid, p_tile, flagged, prob, prob_all, measures, t,
                     types, gate_curve=curve)
    if photo.mask is not None:
        out.mask = np.asarray(photo.mask)
        out.truth = score_inspection(out, photo.mask, mm_per_pixel, min_crack_pixels,
                                     threshold)
    return out


def _gate_curve(p_tile: np.ndarray, seg_all: np.ndarray, grid: Grid, prob_all: np.ndarray,
                mask: np.ndarray | None, threshold: float) -> list[dict[str, float]]:
    """The gate's trade at every threshold of :data:`GATE_SWEEP`: the segmenter is the same
    function of each tile, so the gated map at threshold g is the all-tile run's tiles above
    g stitched alone (exactly what a gated run would give)."""
    found = None if mask is None else (prob_all >= threshold) & (np.asarray(mask) > 0)
    out = []
    for g in GATE_SWEEP:
        which = np.flatnonzero(p_tile >= g)
        row = {"gate_threshold": g, "tiles": len(p_tile), "flagged": len(which)}
        if found is not None:
            gated = stitch(seg_all[which], grid, which) >= threshold
            row.update(found=int(found.sum()), missed=int((found & ~gated).sum()))
        out.append(row)
    return out


def score_inspection(ins: Inspection, mask: np.ndarray, mm_per_pixel: float | None = None,
                     min_crack_pixels: int = 1, threshold: float = 0.5) -> dict[str, Any]:
    """The photo's scores against its ground-truth mask: pixel counts (threshold 0.5) of the
    gated and the all-tile masks, the ground truth's own measures, the errors of length and
    mean width, and the gate's cost: crack pixels of the ground truth outside the flagged
    tiles, and those the all-tile run finds but the gated run misses."""
    mask = np.asarray(mask) > 0
    if mask.shape != ins.prob.shape:
        raise ValueError(f"{ins.name}: mask of shape {mask.shape} != photo {ins.prob.shape}")
    gt = measure_mask(mask, mm_per_pixel, min_crack_pixels)
    c = confusion(ins.prob, mask, threshold)
    out: dict[str, Any] = {"gt": gt, "counts": c, **{k: v for k, v in scores(c).items()
                                                      if k in ("precision", "recall", "f1",
                                                               "iou")}}
    out["length_error_px"] = ins.measures["length_px"] - gt["length_px"]
    out["mean_width_error_px"] = ins.measures["mean_width_px"] - gt["mean_width_px"]
    n = int(mask.sum())
    out["gt_crack_pixels"] = n
    cov = coverage(ins.grid, ins.flagged)
    out["gt_outside_flagged"] = int((mask & ~cov).sum())
    if ins.prob_all is not None:
        c_all = confusion(ins.prob_all, mask, threshold)
        out["counts_all"] = c_all
        out["f1_all"] = scores(c_all)["f1"]
        out["iou_all"] = scores(c_all)["iou"]
        found_all = (ins.prob_all >= threshold) & mask
        out["missed_by_gate"] = int((found_all & ~(ins.prob >= threshold)).sum())
        out["found_all"] = int(found_all.sum())
    return out


def classify_types(photos: Sequence[Photo], typer: TileModel) -> list[dict[str, Any]]:
    """Model 5 alone on photos whose distresses have a known type (:func:`.data.type_photos`):
    per distress, its true and predicted type and the time (one thread)."""
    out = []
    for photo in photos:
        image = decode(photo.data, photo.name)
        for d in photo.distresses:
            s = time.perf_counter()
            p = typer.run((image if d.get("whole") else _window(image, d["box"], typer.size))[None])
            out.append({"photo": photo.name, "true": d["kind"],
                        "predicted": typer.classes[int(p[0].argmax())],
                        "confidence": float(p[0].max()), "ms": 1000 * (time.perf_counter() - s)})
    return out


def warm(models: Models, runs: int = 2) -> None:
    """Run each model ``runs`` times on a grey tile, untimed."""
    for m in (models.classifier, models.segmenter, models.typer):
        if m is not None:
            for _ in range(runs):
                m.run(np.full((1, m.size, m.size, 3), 128, np.uint8))


def inspect_photos(photos: Sequence[Photo], models: Models, progress: bool = False,
                   **kw: Any) -> list[Inspection]:
    """:func:`inspect_photo` over ``photos`` (a line per photo with ``progress``), after one
    untimed run of each model (the interpreter's first call allocates)."""
    warm(models)
    out = []
    for i, photo in enumerate(photos):
        out.append(inspect_photo(photo, models, **kw))
        if progress:
            r = out[-1]
            print(f"[{i + 1}/{len(photos)}] {photo.name}: {len(r.flagged)}/{len(r.grid)} tiles "
                  f"flagged, {r.measures['n_cracks']} crack(s), "
                  f"{1000 * r.gated_seconds:.0f} ms", flush=True)
    return out


def _pad_to(a: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.pad(a, ((0, h - a.shape[0]), (0, w - a.shape[1])))


def summarize(results: Sequence[Inspection]) -> dict[str, Any]:
    """The chapter's summary over photos: pooled pixel scores (gated and all tiles), ODS / OIS
    (photos padded with zeros to one shape, which adds no counts), median time per stage,
    photos per second on one thread, the gate's saving and cost, and the type accuracy."""
    if not results:
        raise ValueError("no photos were inspected")
    out: dict[str, Any] = {"photos": len(results)}
    sec = {s: [r.seconds[s] for r in results if s in r.seconds] for s in STAGES}
    out["median_ms"] = {s: 1000 * float(np.median(v)) for s, v in sec.items() if v}
    gated = np.array([r.gated_seconds for r in results])
    out["median_ms_inspection"] = 1000 * float(np.median(gated))
    out["photos_per_second"] = float(len(gated) / gated.sum())
    out["tiles_per_photo"] = float(np.mean([len(r.grid) for r in results]))
    out["flagged_share"] = float(np.sum([len(r.flagged) for r in results])
                                 / np.sum([len(r.grid) for r in results]))
    out["photo_size"] = sorted({f"{r.image.shape[1]}x{r.image.shape[0]}" for r in results})
    scored = [r for r in results if r.truth is not None]
    if scored:
        tot = {k: sum(r.truth["counts"][k] for r in scored) for k in ("tp", "fp", "fn", "tn")}
        out["pooled"] = {k: v for k, v in scores(tot).items()
                         if k in ("precision", "recall", "f1", "iou")}
        h = max(r.prob.shape[0] for r in scored)
        w = max(r.prob.shape[1] for r in scored)
        masks = np.stack([_pad_to(r.mask, h, w) for r in scored])
        out["ods_ois"] = ods_ois(np.stack([_pad_to(r.prob, h, w) for r in scored]), masks)
        if all(r.prob_all is not None for r in scored):
            tot_all = {k: sum(r.truth["counts_all"][k] for r in scored)
                       for k in ("tp", "fp", "fn", "tn")}
            out["pooled_all_tiles"] = {k: v for k, v in scores(tot_all).items()
                                       if k in ("precision", "recall", "f1", "iou")}
            found = sum(r.truth["found_all"] for r in scored)
            out["gate"] = {
                "segment_ms_all": 1000 * float(np.median(sec["segment_all"])),
                "segment_ms_gated": 1000 * float(np.median(sec["segment_gated"])),
                "time_saved_share": float(1 - np.sum(sec["segment_gated"])
                                          / max(np.sum(sec["segment_all"]), 1e-12)),
                # None when the all-tile run found no crack pixel: nothing to miss
                "missed_share_of_found": float(sum(r.truth["missed_by_gate"] for r in scored)
                                               / found) if found else None,
                "gt_outside_flagged_share": float(
                    sum(r.truth["gt_outside_flagged"] for r in scored)
                    / max(sum(r.truth["gt_crack_pixels"] for r in scored), 1))}
        curves = [r.gate_curve for r in scored if r.gate_curve]
        if curves:
            out["gate_curve"] = [
                {"gate_threshold": rows[0]["gate_threshold"],
                 "tiles_skipped_share": 1 - sum(x["flagged"] for x in rows)
                 / sum(x["tiles"] for x in rows),
                 "missed_share_of_found": sum(x["missed"] for x in rows)
                 / sum(x["found"] for x in rows) if sum(x["found"] for x in rows) else None}
                for rows in zip(*curves, strict=True)]
        for k in ("length_error_px", "mean_width_error_px"):
            v = np.array([r.truth[k] for r in scored])
            out[f"{k}_median_abs"] = float(np.median(np.abs(v)))
        rel = [abs(r.truth["length_error_px"]) / r.truth["gt"]["length_px"]
               for r in scored if r.truth["gt"]["length_px"] > 0]
        out["length_error_relative_median"] = float(np.median(rel)) if rel else float("nan")
    typed = [t for r in results for t in r.types if "true" in t]
    if typed:
        out["type_accuracy"] = float(np.mean([t["true"] == t["predicted"] for t in typed]))
        out["typed_distresses"] = len(typed)
    return out


def headline_numbers(summary: dict[str, Any]) -> dict[str, float]:
    """The chapter's numbers in prose (percentages where a share): pooled F1 and IoU (gated,
    and F1 with every tile), the gate's saving and cost, time per photo, photos per second,
    median length error, median mean-width error (pixels), type accuracy; NaN where the run
    has none (no ground truth, nothing found to miss, no typed distress)."""
    nan = float("nan")

    def pct(v: Any) -> float:
        return nan if v is None else 100 * float(v)

    pooled, gate = summary.get("pooled") or {}, summary.get("gate") or {}
    return {"f1": pct(pooled.get("f1")), "iou": pct(pooled.get("iou")),
            "f1_all": pct((summary.get("pooled_all_tiles") or {}).get("f1")),
            "saved": pct(gate.get("time_saved_share")),
            "missed": pct(gate.get("missed_share_of_found")),
            "ms_photo": float(summary["median_ms_inspection"]),
            "pps": float(summary["photos_per_second"]),
            "len_err": pct(summary.get("length_error_relative_median")),
            "width_err": float(summary.get("mean_width_error_px_median_abs", nan)),
            "type_acc": pct(summary.get("type_accuracy"))}
