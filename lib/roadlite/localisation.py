"""Where the crack classifier looks: Grad-CAM and a measured localisation (Chapter 10_crack_classifier).

Polat et al. show Grad-CAM heat maps and write that the model "focused on crack regions". This
module makes that a number, on images whose crack masks are known:

* :func:`compute_cams` runs a class-activation method of the ``grad-cam`` package
  (``pytorch_grad_cam``: Grad-CAM, Grad-CAM++, EigenCAM) on the last block of the backbone;
  the maps are min-max scaled to [0, 1] per image and upsampled to the input size by the
  package. Grad-CAM and Grad-CAM++ explain the crack logit; EigenCAM is the first principal
  component of the block's activations, blind to the class and with an arbitrary sign (an SVD
  leaves it open), so it may light up the background instead of the crack;
* :func:`energy_in_mask`: the share of the map's total mass ("energy") that falls inside the
  crack mask dilated by a few pixels, against :func:`area_share`, the share of the image that
  mask covers -- what a map spread evenly over the image would score. A ratio well above 1
  means the map concentrates on the crack;
* :func:`pointing_hit`: the pointing game (Zhang et al., 2016): does the map's maximum fall
  inside the dilated mask? Chance is about the area share;
* :func:`overlay` and :func:`cam_gallery` draw maps over images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from roadlite.data import normalize

__all__ = [
    "CAM_METHODS",
    "area_share",
    "cam_gallery",
    "cams_at",
    "compute_cams",
    "dilate",
    "energy_in_mask",
    "gallery_indices",
    "localisation_table",
    "measure_localisation",
    "overlay",
    "pick",
    "plot_localisation",
    "pointing_hit",
    "summarise_localisation",
]


def _cam_classes() -> dict[str, type]:
    from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus

    return {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "eigencam": EigenCAM}


CAM_METHODS: tuple[str, ...] = ("gradcam", "gradcam++", "eigencam")
CAM_LABELS = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "eigencam": "EigenCAM"}


def compute_cams(model: nn.Module, x: torch.Tensor, method: str = "gradcam",
                 target_layer: nn.Module | None = None, target_class: int = 1,
                 batch_size: int = 32) -> np.ndarray:
    """Class-activation maps [N, H, W] in [0, 1] of uint8 images ``x`` [N, 3, H, W] (Chapter
    10_crack_classifier).

    ``method``: one of :data:`CAM_METHODS`, from ``pytorch_grad_cam``. ``target_layer``
    defaults to ``model.target_layer`` (the classifier's last backbone block) or
    ``model.features[-1]``. The maps explain the logit of ``target_class`` (1 = crack) whatever
    the prediction. Meanwhile no weight takes a gradient and the target layer's output is made
    to carry one, so that the gradient methods also work on a frozen backbone and the backward
    pass stops at that layer; the model's ``requires_grad`` flags are restored afterwards.
    """
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    classes = _cam_classes()
    if method not in classes:
        raise ValueError(f"unknown CAM method {method!r}; expected one of {list(classes)}")
    if target_layer is None:
        target_layer = getattr(model, "target_layer", None) or model.features[-1]
    model.eval()
    device = next(model.parameters()).device
    out = []
    # No weight takes a gradient meanwhile; the target layer's output is made to carry one (a
    # hook that runs before the package's): the gradient methods then also work on a frozen
    # backbone, and the backward pass stops at that layer.
    saved = [(q, q.requires_grad) for q in model.parameters()]
    for q, _ in saved:
        q.requires_grad_(False)

    def needs_grad(_module, _inputs, output):
        if isinstance(output, torch.Tensor) and not output.requires_grad:
            output.requires_grad_(True)

    handle = target_layer.register_forward_hook(needs_grad)
    try:
        with classes[method](model=model, target_layers=[target_layer]) as cam:
            for i in range(0, len(x), batch_size):
                xb = normalize(x[i:i + batch_size]).to(device)
                targets = [ClassifierOutputTarget(target_class)] * len(xb)
                out.append(np.asarray(cam(input_tensor=xb, targets=targets), dtype=np.float32))
    finally:
        handle.remove()
        for q, flag in saved:
            q.requires_grad_(flag)
            q.grad = None
    h, w = x.shape[-2:]
    return np.concatenate(out) if out else np.zeros((0, h, w), np.float32)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` (bool [H, W] or [N, H, W]) dilated by a disc of ``radius`` pixels (OpenCV,
    elliptical structuring element of size 2 r + 1)."""
    import cv2

    m = np.asarray(mask, dtype=bool)
    if radius <= 0:
        return m.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    if m.ndim == 3:
        return np.stack([dilate(one, radius) for one in m])
    return cv2.dilate(m.astype(np.uint8), kernel).astype(bool)


def energy_in_mask(cam: np.ndarray, mask: np.ndarray) -> float:
    """Share of the map's mass inside ``mask``: sum(cam * mask) / sum(cam) (NaN for an empty
    map)."""
    cam = np.asarray(cam, dtype=np.float64)
    total = cam.sum()
    return float((cam * np.asarray(mask, bool)).sum() / total) if total > 0 else float("nan")


def area_share(mask: np.ndarray) -> float:
    """Share of the image the mask covers: what a uniform map would score in
    :func:`energy_in_mask`."""
    return float(np.asarray(mask, bool).mean())


def pointing_hit(cam: np.ndarray, mask: np.ndarray) -> bool:
    """The pointing game: is the map's (first) maximum inside ``mask``?"""
    cam = np.asarray(cam)
    r, c = np.unravel_index(int(np.argmax(cam)), cam.shape)
    return bool(np.asarray(mask, bool)[r, c])


def localisation_table(cams: np.ndarray, masks: np.ndarray, radius: int) -> pd.DataFrame:
    """Per image: ``energy_in_mask``, ``area_share`` (both of the mask dilated by ``radius``
    pixels), their ratio and the pointing ``hit``. Images with an empty mask are left out."""
    rows = []
    for i, (cam, mask) in enumerate(zip(cams, masks, strict=True)):
        if not np.asarray(mask).any():
            continue
        d = dilate(mask, radius)
        e, a = energy_in_mask(cam, d), area_share(d)
        rows.append({"index": i, "energy_in_mask": e, "area_share": a,
                     "ratio": e / a if a > 0 else float("nan"), "hit": pointing_hit(cam, d)})
    return pd.DataFrame(rows, columns=["index", "energy_in_mask", "area_share", "ratio", "hit"])


def summarise_localisation(table: pd.DataFrame) -> dict:
    """Means over the images of :func:`localisation_table`: energy in the mask, area share,
    their ratio (of the means), pointing-game hit rate, and ``n``."""
    if table.empty:
        return {"n": 0, "energy_in_mask": None, "area_share": None, "energy_to_area": None,
                "pointing_game": None}
    e, a = float(table["energy_in_mask"].mean()), float(table["area_share"].mean())
    return {"n": int(len(table)), "energy_in_mask": e, "area_share": a,
            "energy_to_area": e / a if a > 0 else None,
            "pointing_game": float(table["hit"].mean())}


def overlay(image: np.ndarray, cam: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """A uint8 [H, W, 3] image with the map drawn over it (``show_cam_on_image``); ``image`` is
    uint8 [H, W, 3] or [3, H, W]."""
    from pytorch_grad_cam.utils.image import show_cam_on_image

    img = np.asarray(image)
    if img.ndim == 3 and img.shape[0] == 3 and img.shape[-1] != 3:
        img = img.transpose(1, 2, 0)
    return show_cam_on_image(img.astype(np.float32) / 255.0, np.asarray(cam, np.float32),
                             use_rgb=True, image_weight=1.0 - weight)


def gallery_indices(y_true: np.ndarray, prob: np.ndarray, n: int = 4,
                    threshold: float = 0.5) -> dict[str, list[int]]:
    """Indices for galleries: the most confident correct predictions of each class and the
    most confident wrong ones (false positives, false negatives), at most ``n`` each."""
    y = np.asarray(y_true).astype(int)
    p = np.asarray(prob, dtype=np.float64)
    pred = (p >= threshold).astype(int)
    conf = np.where(pred == 1, p, 1 - p)

    def top(sel: np.ndarray) -> list[int]:
        idx = np.flatnonzero(sel)
        return [int(i) for i in idx[np.argsort(-conf[idx], kind="stable")][:n]]

    return {"correct crack": top((y == 1) & (pred == 1)),
            "correct no crack": top((y == 0) & (pred == 0)),
            "false positive": top((y == 0) & (pred == 1)),
            "false negative": top((y == 1) & (pred == 0))}


def cam_gallery(images: torch.Tensor, cams: dict[str, np.ndarray], groups: dict[str, list[int]],
                prob: np.ndarray, masks: np.ndarray | None = None, radius: int = 0,
                n_cols: int = 4):
    """A figure: per group (row block) and image (column) the image, then one overlay per
    CAM method; the dilated crack mask, when given, outlined in white (Chapter
    10_crack_classifier)."""
    import matplotlib.pyplot as plt

    methods = list(cams)
    rows = [(g, idx) for g, idx in groups.items() if idx]
    n_rows = max(1, len(rows) * (1 + len(methods)))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.1 * n_cols, 2.1 * n_rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    r = 0
    for group, idx in rows:
        for j, i in enumerate(idx[:n_cols]):
            img = images[i].permute(1, 2, 0).numpy()
            ax = axes[r, j]
            ax.imshow(img)
            ax.set_title(f"{group}\np(crack) = {prob[i]:.2f}", fontsize=8)
            for k, m in enumerate(methods):
                ax = axes[r + 1 + k, j]
                ax.imshow(overlay(img, cams[m][i]))
                if masks is not None and masks[i].any():
                    ax.contour(dilate(masks[i], radius), levels=[0.5], colors="white",
                               linewidths=0.6)
                ax.set_title(CAM_LABELS.get(m, m), fontsize=8)
        r += 1 + len(methods)
    if not rows:
        axes[0, 0].text(0.5, 0.5, "no images", ha="center", va="center")
    fig.tight_layout()
    return fig


def pick(values: Sequence[int], n: int, seed: int = 0) -> np.ndarray:
    """``n`` of ``values`` drawn without replacement from ``seed``, in their original order."""
    values = np.asarray(values)
    if len(values) <= n:
        return values
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(values, size=n, replace=False))


def measure_localisation(model: nn.Module, x: torch.Tensor, masks: np.ndarray,
                         methods: Sequence[str], radius: int, max_images: int, seed: int = 0
                         ) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Chapter 10_crack_classifier: the localisation of each CAM method on the images whose
    mask is not empty (at most ``max_images`` of them, drawn from ``seed``). Returns
    ({method: :func:`summarise_localisation`}, {method: :func:`localisation_table`}); the
    tables' ``index`` refers to ``x``."""
    have = np.flatnonzero(np.asarray(masks).reshape(len(masks), -1).any(axis=1))
    idx = pick(have, max_images, seed)
    summaries, tables = {}, {}
    for m in methods:
        cams = compute_cams(model, x[torch.from_numpy(idx)], m) if len(idx) else np.zeros(
            (0, *x.shape[-2:]), np.float32)
        t = localisation_table(cams, masks[idx], radius)
        t["index"] = idx[t["index"].to_numpy(dtype=np.int64)] if len(t) else t["index"]
        summaries[m], tables[m] = summarise_localisation(t), t
    return summaries, tables


def plot_localisation(tables: dict[str, pd.DataFrame], title: str = ""):
    """Chapter 10_crack_classifier: per image, the CAM energy inside the dilated crack mask
    against the share of the image that mask covers. Points above the diagonal: the map puts
    more of its mass on the crack than a uniform map would; filled: pointing-game hits."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(3.8 * len(tables), 3.6), squeeze=False)
    for ax, (name, t) in zip(axes[0], tables.items(), strict=True):
        if len(t):
            hit = t["hit"].to_numpy(bool)
            ax.scatter(t["area_share"][hit], t["energy_in_mask"][hit], s=12, color="C0",
                       label="maximum inside the mask")
            ax.scatter(t["area_share"][~hit], t["energy_in_mask"][~hit], s=12,
                       facecolors="none", edgecolors="C3", label="maximum outside")
        ax.plot([0, 1], [0, 1], ":", color="0.4", label="uniform map")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="area share of the dilated mask",
               ylabel="CAM energy inside it", title=CAM_LABELS.get(name, name))
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def cams_at(model: nn.Module, x: torch.Tensor, indices: Sequence[int], methods: Sequence[str]
            ) -> dict[str, np.ndarray]:
    """Chapter 10_crack_classifier: the maps of ``methods`` for the images ``indices`` of
    ``x`` only, in arrays indexed like ``x`` (zero elsewhere), for :func:`cam_gallery`."""
    idx = np.asarray(sorted(set(int(i) for i in indices)), dtype=np.int64)
    out = {}
    for m in methods:
        full = np.zeros((len(x), *x.shape[-2:]), np.float32)
        if len(idx):
            full[idx] = compute_cams(model, x[torch.from_numpy(idx)], m)
        out[m] = full
    return out
