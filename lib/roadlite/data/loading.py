"""In-memory loading and fast batching for the training loops of the book.

Chapter 01_dataset teaches this module. :func:`load_split` decodes and resizes a split once into
uint8 tensors (a few MB at 96-128 px); :class:`BatchIterator` then serves shuffled, normalised,
optionally flipped batches with plain tensor indexing, so a training loop on two CPU cores
spends its time in the model, not in the data pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from roadlite.imaging import image_hw, image_size, read_image, read_mask

from .errors import DataError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 images ``[..., 3, H, W]`` -> float32, ImageNet mean / std (Chapter 01_dataset)."""
    if x_uint8.dtype != torch.uint8:
        raise TypeError(f"normalize expects uint8 images, got {x_uint8.dtype}")
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=x_uint8.device)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=x_uint8.device)
    scale = (1.0 / (255.0 * std)).view(3, 1, 1)
    shift = (mean / std).view(3, 1, 1)
    return x_uint8.to(torch.float32) * scale - shift


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalize`, back to uint8 (for showing images; Chapter 01_dataset)."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return ((x * std + mean) * 255.0).round().clamp(0, 255).to(torch.uint8)


def load_split(
    manifest_df,
    split: str,
    img_size: int | Sequence[int],
    classes: Sequence[str],
    with_masks: bool = False,
    progress: bool = True,
    mask_threshold: int | None = None,
):
    """Decode and resize one split into memory (Chapter 01_dataset).

    Returns ``(x, y)``: ``x`` uint8 ``[N, 3, H, W]`` (bilinear resize), ``y`` int64 ``[N]``
    indices into ``classes``; with ``with_masks`` also ``masks`` uint8 ``[N, 1, H, W]`` in
    {0, 1} (nearest resize). Images and masks are read by the book's one reader
    (:func:`roadlite.imaging.read_image`, :func:`~roadlite.imaging.read_mask`: bit depth,
    palette and alpha handled, images below the minimum size refused, masks binarised by
    :data:`~roadlite.imaging.MASK_RULE` and checked against their image's size);
    ``mask_threshold`` (0-255) replaces that rule for masks with several label values. A class
    not in ``classes``, a row without a mask (when masks are asked for) or a bad file is a
    :class:`DataError` naming it.
    """
    from tqdm import tqdm

    hw = image_hw(img_size)
    rows = manifest_df[manifest_df["split"] == split]
    if rows.empty:
        have = sorted(set(manifest_df["split"]))
        raise DataError(f"no rows with split {split!r} (splits present: {have})")
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(rows["class"]) - set(index))
    if unknown:
        example = rows.loc[rows["class"] == unknown[0], "path"].iloc[0]
        raise DataError(
            f"class(es) {unknown} of split {split!r} not in classes {list(classes)} "
            f"(e.g. {example})"
        )
    n = len(rows)
    x = np.empty((n, hw[0], hw[1], 3), dtype=np.uint8)
    m = np.empty((n, 1, hw[0], hw[1]), dtype=np.uint8) if with_masks else None
    paths = rows["path"].tolist()
    mask_paths = rows["mask_path"].tolist()
    for i in tqdm(range(n), desc=f"loading {split}", disable=not progress):
        x[i] = read_image(paths[i], hw)
        if m is not None:
            if not mask_paths[i]:
                raise DataError(f"{paths[i]}: no mask_path, but with_masks=True")
            m[i, 0] = read_mask(mask_paths[i], hw, image_size=image_size(paths[i]),
                                image_path=paths[i], threshold=mask_threshold)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.tensor([index[c] for c in rows["class"]], dtype=torch.int64)
    if m is not None:
        return xt, yt, torch.from_numpy(m)
    return xt, yt
