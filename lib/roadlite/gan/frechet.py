"""Chapter 02_gan: the Fréchet distance between feature sets, with features from a classifier
trained in this book (no downloaded Inception weights).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from roadlite.training import normalize

from .networks import resize_uint8

# ---------------------------------------------------------------------------------------------
# Quality measure


def _as_2d_float64(feats: Any) -> np.ndarray:
    a = feats.detach().cpu().double().numpy() if isinstance(feats, torch.Tensor) else \
        np.asarray(feats, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"features must be [N, D], got shape {a.shape}")
    if a.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors to fit a Gaussian, got {a.shape[0]}")
    return a


def frechet_distance_gaussians(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any,
                               eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, Sigma1) and N(mu2, Sigma2) (Dowson & Landau 1982):
    d^2 = ||mu1 - mu2||^2 + Tr(Sigma1 + Sigma2 - 2 (Sigma1 Sigma2)^(1/2)).

    The matrix square root comes from ``scipy.linalg.sqrtm`` (its real part; numerical error
    can leave tiny imaginary parts). When it is not finite (singular products), ``eps * I`` is
    added to both covariances. A tiny negative result from rounding is returned as 0.
    """
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2,
                                                                                      np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2,
                                                                                     np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shapes do not match: mu {mu1.shape} / {mu2.shape}, "
                         f"sigma {s1.shape} / {s2.shape}")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(mu1)) * eps
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = np.real(covmean)
    d2 = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))
    return max(d2, 0.0)


def frechet_distance(feats_a: Any, feats_b: Any, eps: float = 1e-6) -> float:
    """The Fréchet distance between two Gaussians fitted to feature sets ``[N, D]`` and
    ``[M, D]`` (mean and unbiased covariance of each), as in FID (Heusel et al. 2017) but with
    any feature extractor. Identical sets give ~0; lower means closer distributions."""
    a, b = _as_2d_float64(feats_a), _as_2d_float64(feats_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance_gaussians(a.mean(0), np.cov(a, rowvar=False), b.mean(0),
                                      np.cov(b, rowvar=False), eps)


@torch.no_grad()
def classifier_features(model: nn.Module, x_uint8: torch.Tensor, img_size: int,
                        batch_size: int = 128) -> torch.Tensor:
    """Penultimate features of a classifier trained in this book, for uint8 images [N,3,H,W].

    Images are resized to ``img_size`` (antialiased) and normalised with the ImageNet mean/std,
    as the classifier saw them in training. For the MobileNetV2 family (``.features`` and
    ``.classifier``) the features are the global-average-pooled output of ``model.features``
    (1280 values for MobileNetV2, 640 for the refined Model 2); for a ResNet (``.fc``) the input
    of ``fc``. Returns float32 ``[N, D]`` on the CPU.
    """
    hook_out: list[torch.Tensor] = []
    handle = None
    if hasattr(model, "features"):
        def extract(xb: torch.Tensor) -> torch.Tensor:
            return model.features(xb).mean(dim=(2, 3))
    elif isinstance(getattr(model, "fc", None), nn.Module):
        handle = model.fc.register_forward_hook(lambda m, inp, out: hook_out.append(inp[0]))

        def extract(xb: torch.Tensor) -> torch.Tensor:
            hook_out.clear()
            model(xb)
            return hook_out[0].flatten(1)
    else:
        raise TypeError(f"{type(model).__name__} has neither .features (MobileNetV2 family) nor "
                        ".fc (ResNet); cannot tell where its penultimate features are")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        x = resize_uint8(x_uint8, img_size)
        outs = [extract(normalize(x[i:i + batch_size]).to(device)).float().cpu()
                for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
        if handle is not None:
            handle.remove()
    return torch.cat(outs) if outs else torch.empty(0)
