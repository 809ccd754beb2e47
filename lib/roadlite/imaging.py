"""Image sizes and PNG encoding, shared by the data, models, export and latency layers.

``img_size`` is an int (square) or ``(height, width)`` everywhere in the book; :func:`image_hw`
reads it. :func:`png_bytes` encodes an 8-bit image (chapter 01's generator, chapter 02's
synthetic images, chapter 08's random inputs). :data:`GAN_SIZES` lists the image sizes chapter
02's GAN can make.
"""

from __future__ import annotations

import io
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
