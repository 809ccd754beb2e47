"""Chapter 02_gan: writing generated images as PNG files with manifest rows, so that later
chapters train on real + synthetic images through the manifest, and measuring what they buy (the
same classifier trained with and without them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from roadlite.artifacts import atomic_path
from roadlite.data.loading import load_split
from roadlite.data.manifest import COLUMNS
from roadlite.imaging import png_bytes
from roadlite.training import FitResult, TrainConfig, fit

# ---------------------------------------------------------------------------------------------
# Writing the augmented set




def write_augmented_set(out_dir: str | Path, real_manifest_df: Any,
                        synthetic_images: torch.Tensor, synthetic_labels: torch.Tensor,
                        classes: Sequence[str], split: str | Sequence[str] = "train",
                        prefix: str = "gan") -> Any:
    """Write generated images as PNGs in an ImageFolder layout and return manifest rows.

    Files go to ``out_dir/<split>/<class>/<prefix>_<class>_<index>.png`` (each written to a
    temporary name and renamed; earlier ``<prefix>_*.png`` files of those folders are removed
    first, so a rerun with fewer images leaves none behind). ``split`` is one split for all
    images or one per image (e.g. the paper's 4,000 train / 500 val per class).
    ``synthetic_labels[i]`` indexes ``classes``.

    Returns a DataFrame with the manifest columns ``path, mask_path, class, condition, split,
    sha256`` (Chapter 01_dataset): the rows of ``real_manifest_df`` (may be None) followed by
    one row per synthetic image with ``condition="synthetic"``, an empty ``mask_path`` and the
    absolute ``path``. Pass it to ``roadlite.data.manifest.write_manifest`` to save it.
    """
    out_dir = Path(out_dir)
    imgs = synthetic_images
    if imgs.dtype != torch.uint8 or imgs.dim() != 4 or imgs.shape[1] != 3:
        raise ValueError("synthetic_images must be uint8 [N, 3, H, W]")
    labels = torch.as_tensor(synthetic_labels, dtype=torch.long).flatten().tolist()
    if len(labels) != len(imgs):
        raise ValueError(f"{len(imgs)} images but {len(labels)} labels")
    classes = [str(c) for c in classes]
    if any(not 0 <= lab < len(classes) for lab in labels):
        raise ValueError(f"labels must index classes 0..{len(classes) - 1}")
    splits = [split] * len(imgs) if isinstance(split, str) else [str(s) for s in split]
    if len(splits) != len(imgs):
        raise ValueError(f"{len(imgs)} images but {len(splits)} splits")
    if real_manifest_df is not None and len(real_manifest_df):
        missing = [c for c in COLUMNS if c not in real_manifest_df.columns]
        if missing:
            raise ValueError(f"real manifest lacks column(s) {', '.join(missing)}")
        unknown = sorted(set(classes[lab] for lab in labels) - set(real_manifest_df["class"]))
        if unknown:
            raise ValueError(f"synthetic class(es) {', '.join(unknown)} do not occur in the real "
                             "manifest; check the order of `classes`")
    for sp, cls in sorted({(s, classes[lab]) for s, lab in zip(splits, labels, strict=True)}):
        for old in (out_dir / sp / cls).glob(f"{prefix}_*.png"):
            old.unlink()
    rows, counters = [], {}
    for i, (lab, sp) in enumerate(zip(labels, splits, strict=True)):
        cls = classes[lab]
        k = counters.get((sp, cls), 0)
        counters[(sp, cls)] = k + 1
        target = (out_dir / sp / cls / f"{prefix}_{cls}_{k:05d}.png").resolve()
        data = png_bytes(imgs[i])
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
        rows.append({"path": str(target), "mask_path": "", "class": cls,
                     "condition": "synthetic", "split": sp,
                     "sha256": hashlib.sha256(data).hexdigest()})
    synth = pd.DataFrame(rows, columns=list(COLUMNS))
    if real_manifest_df is None or not len(real_manifest_df):
        return synth
    return pd.concat([real_manifest_df, synth], ignore_index=True)


# ---------------------------------------------------------------------------------------------
# What the augmented set buys: the same classifier with and without the synthetic images


def with_and_without_arms(real_train: tuple[torch.Tensor, torch.Tensor], augmented: Any,
                          img_size: int, classes: Sequence[str]
                          ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The two training sets of chapter 02's comparison (Chapter 02_gan).

    ``{"without_gan": real_train, "with_gan": (x, y)}``, the second being the ``train`` rows of
    the augmented manifest ``augmented`` (real + synthetic, :func:`write_augmented_set`'s
    return value) loaded at ``img_size`` px with ``classes``.
    """
    aug_train = augmented[augmented["split"] == "train"]
    return {"without_gan": real_train,
            "with_gan": load_split(aug_train, "train", img_size, list(classes), progress=False)}


def train_arms(arms: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
               build: Callable[[], torch.nn.Module], val: tuple[torch.Tensor, torch.Tensor],
               cfg: TrainConfig, ckpt_root: str | Path, *, seed: int = 0
               ) -> tuple[dict[str, torch.nn.Module], dict[str, FitResult]]:
    """Train the same classifier on each training set of ``arms`` (Chapter 02_gan).

    For each arm, a model ``build()`` from the same seed ``seed`` is trained with
    :func:`roadlite.training.fit` (``cfg``, validation on ``val``, checkpoints in
    ``ckpt_root/<arm>``), so that only the training images differ. Returns ``(models, fit
    results)`` by arm.
    """
    models, fits = {}, {}
    for name, train_set in arms.items():
        torch.manual_seed(seed)
        model = build()
        fits[name] = fit(model, train_set, val, cfg, Path(ckpt_root) / name, name=name)
        models[name] = model
    return models, fits
