"""Whole photos for the road inspector: generated ones with known masks and distress types, a
real segmentation set's full-size test photos, or a user's own files (Chapter 12_field_test).

The generator composes a road photo of any size from the drawing functions of
:mod:`roadlite.data.synthetic` (chapter 01): one asphalt surface, then several distresses at
random places, each drawn at the scale the models were trained at (``unit``: 1 for chapter 01's
96 px samples), with the same crack compositing, camera and noise as a single sample. The
crack mask marks crack pixels only (a worn marking is a distress with a type but no crack
pixels). Photos are top-down (chapter 01's "parallel" condition).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

from roadlite.data import synthetic as syn
from roadlite.data.errors import DataError
from roadlite.data.locate import resolve_data_root
from roadlite.data.real import crack_mask_set, scan_imagefolder
from roadlite.imaging import as_8bit, image_size, png_bytes, read_mask

# the distress kinds a generated photo holds, by chapter 01's class names
KINDS = ("longitudinal", "transverse", "alligator", "broken_marking")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class PhotoError(ValueError):
    """A photo (or a folder of photos) that cannot be inspected."""


@dataclass
class Photo:
    """One photo to inspect: its encoded bytes (decoding is a timed stage of the pipeline),
    and what is known about it: the crack mask [H, W] (0/1) and the distresses drawn
    (``kind``, ``box`` = x0, y0, x1, y1 in pixels)."""

    name: str
    data: bytes
    mask: np.ndarray | None = None
    distresses: list[dict[str, Any]] = field(default_factory=list)
    source: str = "generated"


def _paste_max(dst: np.ndarray, src: np.ndarray, y: int, x: int) -> None:
    h, w = src.shape
    np.maximum(dst[y:y + h, x:x + w], src, out=dst[y:y + h, x:x + w])


def generate_photo(width: int, height: int, seed: int, n_distresses: int = 3,
                   unit: float = 1.0) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """A generated road photo (uint8 [H, W, 3]), its crack mask (uint8 0/1) and the list of
    its distresses, from ``numpy.random.default_rng(seed)`` (module docstring)."""
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise ValueError(f"photo size must be even and >= 32, got {width} x {height}")
    rng = np.random.default_rng(seed)
    u = float(unit)
    rw, rh = 2 * width, 2 * height
    side = -(-max(rw, rh) // 4) * 4
    img, _ = syn._asphalt(rng, side, u)
    img = np.ascontiguousarray(img[:rh, :rw])
    base = int(round(192 * u))  # a chapter 01 sample's side at the render resolution
    for make in (syn._patch_repair, syn._oil):  # distractors under the distresses
        for _ in range(int(rng.integers(0, 3))):
            p = min(base, rh, rw)
            y, x = int(rng.integers(0, rh - p + 1)), int(rng.integers(0, rw - p + 1))
            make(rng, img[y:y + p, x:x + p], p, u)
    cracks = np.zeros((rh, rw), np.uint8)
    tone = np.full((rh, rw), 128, np.uint8)
    distresses = []
    for _ in range(int(n_distresses)):
        kind = str(rng.choice(KINDS))
        scale = rng.uniform(1.0, 2.2) if kind in ("longitudinal", "transverse") else 1.0
        p = int(min(rh, rw, round(base * scale))) // 2 * 2
        y, x = int(rng.integers(0, rh - p + 1)), int(rng.integers(0, rw - p + 1))
        w0 = float(np.clip(rng.lognormal(np.log(2.6), 0.35), 1.2, 6.5)) * u
        if kind == "broken_marking":
            worn, _ = syn._marking(rng, img[y:y + p, x:x + p], p, u, rng.uniform(0.3, 0.75),
                                   rng.uniform(0.5, 1.5))
            ys, xs = np.nonzero(worn)
        else:
            layer = Image.new("L", (p, p), 0)
            tone_layer = Image.new("L", (p, p), 128)
            draw = ImageDraw.Draw(layer)
            if kind == "alligator":
                syn._alligator(rng, draw, ImageDraw.Draw(tone_layer), p, u,
                               max(w0 * rng.uniform(0.55, 0.9), 1.4 * u))
                t = np.asarray(tone_layer)
                sub = tone[y:y + p, x:x + p]
                sub[t != 128] = t[t != 128]
            else:
                syn._linear_crack(rng, draw, p, u, np.pi / 2 if kind == "longitudinal" else 0.0,
                                  w0)
            a = np.asarray(layer)
            _paste_max(cracks, a, y, x)
            ys, xs = np.nonzero(a > 127)
        if len(ys) == 0:
            continue
        distresses.append({"kind": kind, "box": [int(x + xs.min()) // 2, int(y + ys.min()) // 2,
                                                 int(x + xs.max()) // 2 + 1,
                                                 int(y + ys.max()) // 2 + 1],
                           "width_px": round(w0 / 2, 2)})
    if rng.random() < 0.5:  # an intact lane marking as a distractor
        p = min(base * 2, rh, rw)
        y, x = int(rng.integers(0, rh - p + 1)), int(rng.integers(0, rw - p + 1))
        syn._marking(rng, img[y:y + p, x:x + p], p, u, rng.uniform(0.96, 1.0), 0.05)
    # composite the cracks as chapter 01 does: cell tones, dark core, soft halo
    if (tone != 128).any():
        img += (syn._blur_l(Image.fromarray(tone), 0.8 * u) * 255.0 - 128.0)[:, :, None]
    layer = Image.fromarray(cracks)
    core = syn._blur_l(layer, 0.55 * u)
    halo = syn._blur_l(layer, 2.5 * u) * rng.uniform(0.05, 0.2)
    img *= (1.0 - np.clip(rng.uniform(0.45, 0.9) * core + halo, 0.0, 0.95))[:, :, None]
    if rng.random() < 0.3:
        p = min(base * 2, rh, rw)
        y, x = int(rng.integers(0, rh - p + 1)), int(rng.integers(0, rw - p + 1))
        syn._shadow(rng, img[y:y + p, x:x + p], p, u)
    # camera: white balance, exposure, gamma, down 2x2, sensor noise (as generate_sample)
    axis = np.array([1.0, 0.2, -1.0]) * rng.normal(0.0, 0.025)
    wb = np.exp(axis + rng.normal(0.0, 0.006, 3)).astype(np.float32)
    img *= (wb * rng.uniform(0.85, 1.2))[None, None, :]
    np.clip(img, 0, 255, out=img)
    small = syn._down2(img)
    np.clip(small, 0, 255, out=small)
    lut = 255.0 * np.linspace(0.0, 1.0, 1021, dtype=np.float32) ** np.float32(
        rng.uniform(0.85, 1.15))
    small = lut[(small * 4.0).astype(np.int32)]
    sigma = np.float32(rng.uniform(0.8, 2.5))
    small += rng.standard_normal((height, width, 1), dtype=np.float32) * sigma
    small += rng.standard_normal((height, width, 3), dtype=np.float32) * (sigma * 0.5)
    image = np.clip(small + 0.5, 0, 255).astype(np.uint8)
    c = (cracks > 127).view(np.uint8)
    count = c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]
    return image, (count >= 1).astype(np.uint8), distresses


def generated_photos(n: int, width: int, height: int, seed: int = 0,
                     distresses: tuple[int, int] = (2, 5), unit: float = 1.0) -> list[Photo]:
    """``n`` generated photos (PNG bytes, masks and distresses known), photo i from seed
    ``seed * 100_003 + i``; each holds ``distresses`` (low, high) distresses."""
    if not 0 <= distresses[0] <= distresses[1]:
        raise ValueError(f"distresses per photo: min_distresses = {distresses[0]} must lie in "
                         f"[0, max_distresses = {distresses[1]}]")
    out = []
    for i in range(int(n)):
        s = int(seed) * 100_003 + i
        k = int(np.random.default_rng(s + 7).integers(distresses[0], distresses[1] + 1))
        image, mask, d = generate_photo(width, height, s, k, unit)
        out.append(Photo(f"generated_{i:03d}", png_bytes(image), mask, d, "generated"))
    return out


def _read_mask(path: str | os.PathLike, image_path: str | os.PathLike) -> np.ndarray:
    # the book's one mask reader (roadlite.imaging.MASK_RULE): a red, white or grey mask reads
    # the same, a grey-level or wrong-sized mask is refused naming the file
    return read_mask(path, image_size=image_size(image_path), image_path=image_path)


def folder_photos(root: str | os.PathLike, limit: int | None = None) -> list[Photo]:
    """Full-size photos with crack masks of a segmentation set: DeepCrack's test split (all
    its images when it has none) or CFD's labelled images, through the book's scanners.
    ``root`` is a folder or a registered set's name (``data/deepcrack``; its copy in
    ``../shared/data`` when not downloaded), as every ``data_root``."""
    root = resolve_data_root(root)
    try:
        layout, df = crack_mask_set(root)
    except DataError as e:
        raise PhotoError(f"{e} (the field test needs one)") from None
    if limit is not None:
        df = df.head(int(limit))
    return [Photo(Path(p).stem, Path(p).read_bytes(), _read_mask(m, p), [], layout)
            for p, m in zip(df["path"], df["mask_path"], strict=True)]


def type_photos(root: str | os.PathLike, limit: int | None = None) -> list[Photo]:
    """Photos with a distress type and no mask: an ImageFolder set such as MobiLiteNet's demo
    photos (``{train,val,test}/<Class>/``; its test split, else all), one distress per photo
    covering the whole photo (``whole``: Model 5 sees the photo resized, as the paper's app)."""
    df = scan_imagefolder(resolve_data_root(root))
    df = df[df["split"] == "test"] if (df["split"] == "test").any() else df
    df = df.sort_values("path")
    if limit is not None:
        df = df.head(int(limit))
    out = []
    for path, cls in zip(df["path"], df["class"], strict=True):
        with Image.open(path) as im:
            w, h = im.size
        out.append(Photo(Path(path).stem, Path(path).read_bytes(), None,
                         [{"kind": cls, "box": [0, 0, w, h], "whole": True}], "type"))
    return out


def decode(data: bytes, name: str = "photo") -> np.ndarray:
    """RGB uint8 [H, W, 3] of an encoded image; :class:`PhotoError` when it is not one."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.array(as_8bit(im, name).convert("RGB"))  # 16-bit grey scaled, not clipped
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise PhotoError(f"{name} is not an image that can be read ({e})") from None


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def user_photos(path: str | os.PathLike) -> list[Path]:
    """The image files to inspect: ``path`` itself, or the images in the folder ``path`` (not
    recursive, sorted). A clear :class:`PhotoError` for a missing path, a file that is not an
    image or a folder without images."""
    p = Path(path)
    if not p.exists():
        raise PhotoError(f"{p} does not exist")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if is_image_file(f) and not f.name.startswith("."))
        if not files:
            raise PhotoError(f"{p} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return files
    try:
        with Image.open(p) as im:
            im.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PhotoError(f"{p} is not an image (PIL cannot read it)") from None
    return [p]


def load_user_photos(paths: Sequence[Path]) -> Iterator[Photo]:
    for p in paths:
        yield Photo(p.stem, p.read_bytes(), None, [], "user")
