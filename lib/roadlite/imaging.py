"""Image sizes, PNG encoding and the book's one image and mask reader, shared by every layer.

``img_size`` is an int (square) or ``(height, width)`` everywhere in the book; :func:`image_hw`
reads it. :func:`png_bytes` encodes an 8-bit image (chapter 01's generator, chapter 02's
synthetic images, chapter 08's random inputs). :data:`GAN_SIZES` lists the image sizes chapter
02's GAN can make. :func:`read_image` and :func:`read_mask` read every image and mask file
of the book (chapters 01-11), one documented way (:data:`MASK_RULE`); their errors are
:class:`DataError` naming the file.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The image sizes chapter 02's generator and critic can be built for (powers of two, 16 to
#: 256): :data:`roadlite.gan.VALID_SIZES`. Kept here, below both :mod:`roadlite.gan` and
#: :mod:`roadlite.params`, so that checking a profile's ``gan_size`` does not import torch.
GAN_SIZES = (16, 32, 64, 128, 256)


def image_hw(img_size: int | Sequence[int]) -> tuple[int, int]:
    """``(height, width)`` of an image size given as an int (square) or a pair."""
    if isinstance(img_size, (int, np.integer)) and not isinstance(img_size, bool):
        return int(img_size), int(img_size)
    h, w = img_size
    return int(h), int(w)


def png_bytes(image: Any, compress_level: int = -1) -> bytes:
    """PNG file bytes of an 8-bit image: ``[H, W]``, ``[H, W, 3]`` (numpy) or a ``[3, H, W]``
    tensor / array (channels first, as the models see it). ``compress_level``: zlib's, -1 = its
    default."""
    from PIL import Image

    a = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.dtype != np.uint8:
        raise TypeError(f"png_bytes needs uint8 pixels, got {a.dtype}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


# ---- reading image and mask files: the one reader of every chapter ---------------------------

#: An image whose shorter side is below this many pixels is refused by :func:`read_image`: a
#: model would see it enlarged many times over (an 8 x 8 icon at 96 px), which says nothing
#: about the picture.
MIN_IMAGE_SIDE = 16

#: The share of a mask's pixels that may lie in the grey zone (between 10 % and 90 % of the
#: mask's value range) before :func:`read_mask` refuses it as not binary.
GREY_TOLERANCE = 0.02

MASK_RULE = (
    "a mask pixel is crack when its level is above half of the file's value range (8-bit: "
    "128 or more); its level is its brightest colour channel (a grey value, a palette entry's "
    "colour, 16-bit values scaled) times its opacity (a transparent pixel is background); a "
    "mask holding only the values 0 and 1 is a label mask (1 = crack); a mask is refused when "
    f"more than {GREY_TOLERANCE:.0%} of its pixels lie between 10 % and 90 % of the range "
    "(not binary) or when its brightest pixel does (no clear crack value)"
)

_GREY_16 = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class DataError(ValueError):
    """A problem with the data: a bad file, a leak between splits, an unknown layout.

    Chapter 01_dataset. The message always names the file, folder or class concerned. Defined
    here, at the bottom of the package, so that the file readers below can raise it;
    :mod:`roadlite.data` exports it as ``roadlite.data.DataError``.
    """


def _open(path: str | os.PathLike, what: str) -> Any:
    """Open an image file and read its header; a missing or undecodable file is a
    :class:`DataError` naming it."""
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except FileNotFoundError:
        raise DataError(f"{path}: {what} file does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{path}: cannot read {what} ({type(e).__name__}: {e})") from None


def _load(im: Any, path: str | os.PathLike, what: str) -> None:
    try:
        im.load()
    except Exception as e:  # PIL raises OSError ("image file is truncated"), SyntaxError, ...
        raise DataError(f"{path}: cannot decode {what} ({type(e).__name__}: {e})") from None


def _scaled_8bit(a: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """16-bit (or 32-bit integer holding 16-bit) grey values scaled to 0-255, rounded."""
    a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise DataError(f"{path}: integer image with values {a.min()}..{a.max()}, outside the "
                        f"16-bit range 0..65535 the book reads")
    return ((a * 255 + 32767) // 65535).astype(np.uint8)


def as_8bit(im: Any, path: str | os.PathLike = "<image>") -> Any:
    """A decoded PIL image with 16-bit grey values scaled to an 8-bit ``L`` image (other modes
    unchanged): Pillow's own conversion clips them at 255 (all white)."""
    from PIL import Image

    if im.mode in _GREY_16:
        return Image.fromarray(_scaled_8bit(np.asarray(im), path))
    return im


def _rgb_alpha(im: Any, path: str | os.PathLike, what: str) -> tuple[np.ndarray, np.ndarray | None]:
    """An opened image as 8-bit RGB [H, W, 3] and its alpha [H, W] (None when opaque).

    8-bit modes are read as they are; 16-bit grey is scaled to 8 bits (``v * 255 / 65535``,
    not clipped); a palette is looked up (with its transparency); CMYK, YCbCr and LAB go
    through Pillow's conversion; floating-point images are refused."""
    mode = im.mode
    if mode in _GREY_16:
        g = _scaled_8bit(np.asarray(im), path)
        return np.repeat(g[:, :, None], 3, axis=2), None
    if mode == "F":
        raise DataError(f"{path}: a floating-point {what} (mode F) is not read; save it as an "
                        f"8- or 16-bit PNG")
    if mode in ("P", "PA"):
        im = im.convert("RGBA")
        mode = "RGBA"
    elif mode in ("RGBa", "La"):  # premultiplied alpha
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA"):
        a = np.asarray(im)
        colour, alpha = a[:, :, :-1], a[:, :, -1]
        if colour.shape[2] == 1:
            colour = np.repeat(colour, 3, axis=2)
        return colour, (None if alpha.min() == 255 else alpha)
    if mode != "RGB":
        im = im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, RGBX
    return np.asarray(im), None


def read_image(path: str | os.PathLike, hw: tuple[int, int] | int | None = None, *,
               min_side: int = MIN_IMAGE_SIDE, reduce_jpeg: bool = True) -> np.ndarray:
    """An image file as 8-bit RGB ``[H, W, 3]``: the one image reader of the book.

    - grey, palette, CMYK images become RGB; 16-bit grey is scaled to 8 bits (not clipped);
      a transparent pixel is composited onto black (an opaque image is read unchanged);
    - an image whose shorter side is below ``min_side`` pixels is refused (:class:`DataError`
      naming the file), as is a missing, truncated or undecodable file;
    - with ``hw`` (an ``img_size``), resized bilinearly to that size; a JPEG much larger than
      it is decoded at a reduced scale first (``reduce_jpeg``; libjpeg's 1/2, 1/4, 1/8).
    """
    from PIL import Image

    size = None if hw is None else image_hw(hw)
    with _open(path, "image") as im:
        w0, h0 = im.size
        if min(w0, h0) < min_side:
            raise DataError(f"{path}: image is {w0}x{h0} pixels, below the book's minimum of "
                            f"{min_side} pixels a side (it would be enlarged without a word)")
        if size is not None and reduce_jpeg and im.format == "JPEG":
            im.draft("RGB", (size[1], size[0]))  # decode at a reduced scale when much larger
        _load(im, path, "image")
        rgb, alpha = _rgb_alpha(im, path, "image")
    if alpha is not None:
        rgb = (rgb.astype(np.uint16) * alpha[:, :, None] + 127) // 255
        rgb = rgb.astype(np.uint8)
    if size is not None and rgb.shape[:2] != size:
        out = Image.fromarray(np.ascontiguousarray(rgb)).resize((size[1], size[0]),
                                                               Image.BILINEAR)
        rgb = np.asarray(out)
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image file, from its header (:class:`DataError` naming it
    when it does not open)."""
    with _open(path, "image") as im:
        return im.size


def mask_levels(im: Any, path: str | os.PathLike = "<mask>") -> tuple[np.ndarray, bool]:
    """A decoded mask image as levels in [0, 1] ``[H, W]`` (float32) and whether it is a
    0 / 1 label mask. See :data:`MASK_RULE`."""
    if im.mode == "1":
        return np.asarray(im, dtype=np.float32), True
    if im.mode in _GREY_16:
        a = np.asarray(im).astype(np.int64)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise DataError(f"{path}: integer mask with values {a.min()}..{a.max()}, outside "
                            f"the 16-bit range")
        top = 65535.0
        level = a.astype(np.float32)
        alpha = None
    elif im.mode in ("L",):
        level = np.asarray(im).astype(np.float32)
        top, alpha = 255.0, None
    else:
        rgb, alpha = _rgb_alpha(im, path, "mask")
        level = rgb.max(axis=2).astype(np.float32)
        top = 255.0
    if alpha is None and level.size and float(level.max()) == 1.0:
        # only 0 and 1 (and no other value): a label mask
        if not np.any((level != 0) & (level != 1)):
            return level, True
    level = level / top
    if alpha is not None:
        level = level * (alpha.astype(np.float32) / 255.0)
    return level, False


def read_mask(path: str | os.PathLike, hw: tuple[int, int] | int | None = None, *,
              image_size: tuple[int, int] | None = None, image_path: Any = None,
              grey_tolerance: float = GREY_TOLERANCE, threshold: int | None = None
              ) -> np.ndarray:
    """A crack mask file as uint8 ``[H, W]`` in {0, 1}: the one mask reader of the book.

    The rule (:data:`MASK_RULE`): a pixel is crack when its level -- its brightest colour
    channel times its opacity, as a fraction of the file's range -- is above one half (8-bit:
    128 or more; a red, white or grey mask reads the same); a mask of only the values 0 and 1
    is a label mask. Refused (:class:`DataError` naming the file): a mask that is not binary
    (more than ``grey_tolerance`` of its pixels between 10 % and 90 % of the range, e.g. a
    grey-level ramp), one whose brightest pixel lies there (no clear crack value), one whose
    size differs from ``image_size`` (``(width, height)`` of ``image_path``), a missing or
    undecodable file.

    ``threshold`` (0-255) replaces the rule for a data set whose masks hold several label
    values (UAV75: crack 255, planking 204 -> ``threshold=250``): crack = level above
    ``threshold / 255``, no binary check. With ``hw``, the binary mask is resized (nearest).
    """
    from PIL import Image

    with _open(path, "mask") as m:
        if image_size is not None and tuple(m.size) != tuple(image_size):
            of = f"its image {image_path}" if image_path is not None else "its image"
            raise DataError(f"mask {path} is {m.size[0]}x{m.size[1]} pixels, but {of} is "
                            f"{image_size[0]}x{image_size[1]}: a mask must have its image's "
                            f"size")
        _load(m, path, "mask")
        level, labels = mask_levels(m, path)
    if labels:
        crack = level > 0.5
    elif threshold is not None:
        crack = level > threshold / 255.0
    else:
        grey = (level > 0.1) & (level < 0.9)
        share = float(grey.mean()) if grey.size else 0.0
        if share > grey_tolerance:
            raise DataError(f"mask {path} is not binary: {100 * share:.1f} % of its pixels are "
                            f"grey (between 10 % and 90 % of its range; at most "
                            f"{100 * grey_tolerance:g} % may be). See roadlite.imaging.MASK_RULE.")
        top = float(level.max()) if level.size else 0.0
        if 0.1 < top < 0.9:
            raise DataError(f"mask {path} has no clear crack value: its brightest pixel is at "
                            f"{100 * top:.0f} % of its range (a mask is 0 / 1 or 0 / 255, "
                            f"crack = the bright value). See roadlite.imaging.MASK_RULE.")
        crack = level > 0.5
    out = crack.astype(np.uint8)
    if hw is not None:
        h, w = image_hw(hw)
        if out.shape != (h, w):
            out = np.asarray(Image.fromarray(out).resize((w, h), Image.NEAREST))
    return out
