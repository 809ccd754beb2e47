"""The inspector's report: one HTML page (each photo with its crack mask overlaid, its
measurements and timings; images embedded, so the file stands alone) and a CSV of the
measurements (Chapter 12_field_test, ``roadlite inspect``)."""

from __future__ import annotations

import base64
import html
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from roadlite.artifacts import atomic_write_bytes
from roadlite.imaging import png_bytes

from .pipeline import STAGES, Inspection

PRED = np.array([255, 40, 40], np.float32)  # crack pixels the inspector found: red
MISSED = np.array([0, 220, 255], np.float32)  # ground-truth crack pixels it missed: cyan
TILE = np.array([255, 215, 0], np.uint8)  # outline of a flagged tile: yellow


def overlay(ins: Inspection, threshold: float = 0.5, alpha: float = 0.6,
            outline: bool = True) -> np.ndarray:
    """uint8 [H, W, 3]: the photo with the found crack pixels in red, the ground truth's
    missed ones (when known) in cyan and the classifier's flagged tiles outlined in yellow."""
    img = ins.image.astype(np.float32).copy()
    pred = ins.prob >= threshold
    img[pred] = (1 - alpha) * img[pred] + alpha * PRED
    if ins.mask is not None:
        miss = (ins.mask > 0) & ~pred
        img[miss] = (1 - alpha) * img[miss] + alpha * MISSED
    out = img.clip(0, 255).astype(np.uint8)
    if outline:
        t = ins.grid.tile
        h, w = out.shape[:2]
        for i in ins.flagged:
            y, x = ins.grid.positions[int(i)]
            y1, x1 = min(y + t, h) - 1, min(x + t, w) - 1
            out[y, x:x1 + 1] = out[y1, x:x1 + 1] = TILE
            out[y:y1 + 1, x] = out[y:y1 + 1, x1] = TILE
    return out


def dominant_type(ins: Inspection) -> str:
    """The most frequent distress type Model 5 gave (on distresses or flagged tiles)."""
    c = Counter(t["predicted"] for t in ins.types)
    return c.most_common(1)[0][0] if c else ""


def rows(results: Sequence[Inspection], mm_per_pixel: float | None = None) -> pd.DataFrame:
    """One row per photo: size, tiles, measurements, times (ms), and scores when the ground
    truth is known."""
    out = []
    for r in results:
        row: dict[str, Any] = {"photo": r.name, "width": r.image.shape[1],
                               "height": r.image.shape[0], "tiles": len(r.grid),
                               "tiles_flagged": len(r.flagged)}
        row.update({k: v for k, v in r.measures.items()})
        if mm_per_pixel is not None:  # millimetres, when the inspection gave only pixels
            for k in ("length", "mean_width", "max_width"):
                row.setdefault(f"{k}_mm", r.measures[f"{k}_px"] * mm_per_pixel)
        row["distress_type"] = dominant_type(r)
        row.update({f"{s}_ms": 1000 * r.seconds[s] for s in STAGES if s in r.seconds})
        row["inspection_ms"] = 1000 * r.gated_seconds
        if r.truth is not None:
            gt = r.truth["gt"]
            row.update({"f1": r.truth["f1"], "iou": r.truth["iou"],
                        "f1_all_tiles": r.truth.get("f1_all"),
                        "gt_length_px": gt["length_px"], "gt_mean_width_px": gt["mean_width_px"],
                        "gt_n_cracks": gt["n_cracks"],
                        "length_error_px": r.truth["length_error_px"],
                        "mean_width_error_px": r.truth["mean_width_error_px"],
                        "gt_crack_pixels": r.truth["gt_crack_pixels"],
                        "missed_by_gate": r.truth.get("missed_by_gate")})
        out.append(row)
    return pd.DataFrame(out)


def _img_tag(a: np.ndarray, alt: str) -> str:
    data = base64.b64encode(png_bytes(a)).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
            f'style="max-width:100%;height:auto">')


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:2px 6px;
text-align:right}th{background:#eee}.photo{margin:2em 0;border-top:2px solid #888}
.legend span{padding:0 .5em;margin-right:1em}"""


def _kv(d: Mapping[str, Any]) -> str:
    def f(v: Any) -> str:
        return f"{v:.3g}" if isinstance(v, float) else html.escape(str(v))
    return "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{f(v)}</td></tr>"
                               for k, v in d.items()) + "</table>"


def write_report(results: Sequence[Inspection], out_dir: str | os.PathLike,
                 models: Mapping[str, str] | None = None, mm_per_pixel: float | None = None,
                 title: str = "RoadLite road inspection", threshold: float = 0.5
                 ) -> tuple[Path, Path]:
    """Write ``report.html`` and ``measurements.csv`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = rows(results, mm_per_pixel)
    csv_path = out / "measurements.csv"
    atomic_write_bytes(csv_path, table.to_csv(index=False).encode())
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             f"</title><style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>{len(results)} photo(s). Crack pixels found: "
             "<span style='color:#ff2828'>red</span>; ground-truth crack pixels missed (when a "
             "mask is known): <span style='color:#00b4d0'>cyan</span>; tiles the classifier "
             "flagged: <span style='color:#d4a000'>yellow outline</span>. Times are on one "
             "thread. Measurements: <a href='measurements.csv'>measurements.csv</a>.</p>"]
    if models:
        parts.append("<h2>Models</h2>" + _kv(models))
    if mm_per_pixel:
        parts.append(f"<p>Pixel size: {mm_per_pixel:g} mm per pixel.</p>")
    for r, (_, row) in zip(results, table.iterrows(), strict=True):
        meas = {k: row[k] for k in ("n_cracks", "length_px", "mean_width_px", "max_width_px",
                                    "area_share", "length_mm", "mean_width_mm", "max_width_mm",
                                    "distress_type", "f1", "iou", "gt_length_px",
                                    "gt_mean_width_px") if k in row and pd.notna(row[k])}
        times = {s: f"{1000 * r.seconds[s]:.1f} ms" for s in STAGES if s in r.seconds}
        times["inspection (gated)"] = f"{1000 * r.gated_seconds:.1f} ms"
        parts.append(
            f"<div class='photo'><h2>{html.escape(r.name)}</h2>"
            f"<p>{r.image.shape[1]} x {r.image.shape[0]} px, {len(r.grid)} tiles of "
            f"{r.grid.tile} px (overlap {r.grid.overlap}), {len(r.flagged)} flagged.</p>"
            f"{_img_tag(overlay(r, threshold), r.name + ' with its crack mask')}"
            f"<div style='display:flex;gap:2em'><div><h3>Measurements</h3>{_kv(meas)}</div>"
            f"<div><h3>Time per stage</h3>{_kv(times)}</div></div></div>")
    parts.append("</body></html>")
    html_path = out / "report.html"
    atomic_write_bytes(html_path, "\n".join(parts).encode())
    return html_path, csv_path
