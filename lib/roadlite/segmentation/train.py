"""Data and the three training phases of LR-CrackNet (Chapter 11_crack_segmentation).

Training (on the book's core: :func:`roadlite.training.iterate_batches`,
:func:`~roadlite.training.make_optimizer`, atomic checkpoints): each phase trains one network on
random crops (one crop position per batch, random horizontal / vertical flips of image, mask and
boundary together), with a cosine learning-rate decay, validates every ``val_every`` epochs
(pooled F1 at 0.5 on the whole validation images) and keeps the best; ``last.pt`` after every
epoch (with the random generators' state, :mod:`roadlite.training.resume`) lets an interrupted
run resume to the uninterrupted run's numbers. Phases:

* ``"image"``: the teacher on images (its boundary stem sees zeros);
* ``"boundary"``: the teacher on images + DMIA boundary maps;
* ``"student"``: the student with distillation from the frozen teacher and the discriminator
  (its own Adam optimizer, trained in the same loop);
* ``"plain"``: any image-only network on BCE + Dice (the student alone, the U-Net).

The trained networks are saved in the book's one model format (:func:`save_network`, through
:func:`roadlite.models.save_model`; :func:`roadlite.models.load_model` rebuilds them).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from roadlite.data.errors import DataError
from roadlite.data.loading import normalize
from roadlite.models.checkpoint import save_model
from roadlite.training import TrainConfig, iterate_batches, make_optimizer, resolve_device
from roadlite.training.resume import Checkpoints, run_fingerprint, tensor_signature

from .data import SegData
from .losses import Distiller, LossWeights, discriminator_loss, generator_loss, segmentation_loss
from .metrics import pooled_metrics
from .networks import BOTTLENECKS, LRCrackNet, UNet

PHASES = ("image", "boundary", "student", "plain")


# ----------------------------------------------------------------------------- training

@dataclass
class PhaseResult:
    history: list[dict]
    best_epoch: int
    best_val_f1: float
    train_seconds: float
    resumed_from_epoch: int = 0


def _crop_batch(gen: torch.Generator, crop: int, *tensors: torch.Tensor) -> list[torch.Tensor]:
    h, w = tensors[0].shape[-2:]
    ch, cw = min(crop, h), min(crop, w)
    top = int(torch.randint(0, h - ch + 1, (1,), generator=gen))
    left = int(torch.randint(0, w - cw + 1, (1,), generator=gen))
    out = [t[..., top:top + ch, left:left + cw] for t in tensors]
    if bool(torch.rand(1, generator=gen) < 0.5):
        out = [t.flip(-1) for t in out]
    if bool(torch.rand(1, generator=gen) < 0.5):
        out = [t.flip(-2) for t in out]
    return out


@torch.no_grad()
def predict_probs(model: nn.Module, data: SegData, boundary: bool = False,
                  batch_size: int = 16) -> np.ndarray:
    """Crack probabilities float32 [N, 1, H, W] of ``model`` in eval mode."""
    model.eval()
    dev = next(model.parameters()).device
    out = []
    idx = torch.arange(len(data))
    for xb, ib in iterate_batches(data.x, idx, batch_size, shuffle=False):
        args = (xb.to(dev), data.boundary[ib].float().to(dev)) if boundary else (xb.to(dev),)
        out.append(torch.sigmoid(model(*args)).float().cpu())
    return torch.cat(out).numpy()


def train_phase(model: nn.Module, train: SegData, val: SegData, cfg: TrainConfig,
                ckpt_dir: str | Path, phase: str, *, crop: int, val_every: int = 1,
                teacher: nn.Module | None = None, discriminator: nn.Module | None = None,
                weights: LossWeights | None = None, name: str = "model",
                log: Callable[[str], None] = print) -> PhaseResult:
    """Train ``model`` in place for one phase; on return it holds its best validation weights.

    ``cfg`` (the book's :class:`~roadlite.training.TrainConfig`): epochs, batch_size,
    optimizer, lr, weight_decay, seed; ``cfg.scheduler`` "cosine" or "none". The discriminator
    (phase "student" only; None = no adversarial terms) gets its own optimizer from the same
    configuration.
    """
    weights = weights or LossWeights()
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    if phase == "student" and teacher is None:
        raise ValueError("phase 'student' needs the trained teacher")
    if len(train) == 0 or len(val) == 0:
        raise DataError("train_phase: the train or the validation split is empty")
    dev = resolve_device(cfg.device)
    model.to(dev)
    ckpt = Checkpoints.in_folder(ckpt_dir, run_fingerprint(
        cfg.fingerprint(), f"{name}:{phase}:{crop}:{val_every}:{weights}", model,
        tensor_signature(train.x, train.mask)), name=name, log=log)
    opt = make_optimizer(model, cfg)
    distiller = opt_d = None
    if phase == "student":
        teacher.to(dev).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        distiller = Distiller(getattr(model, "width", 0), getattr(teacher, "width", 0),
                              weights, feature=weights.fd > 0, logits=weights.ld > 0).to(dev)
        extra = [p for p in distiller.parameters() if p.requires_grad]
        if extra:
            opt.add_param_group({"params": extra})
        if discriminator is not None:
            discriminator.to(dev)
            opt_d = make_optimizer(discriminator, cfg)
    history: list[dict] = []
    start, best_f1, best_epoch = 0, -1.0, -1
    # Resumed: the random generators as the checkpoint left them (the networks' dropout draws
    # from torch's global generator); otherwise seeded -- the same way for every start.
    state = ckpt.start(cfg.seed)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if opt_d is not None:
            discriminator.load_state_dict(state["discriminator"])
            opt_d.load_state_dict(state["optimizer_d"])
        if distiller is not None:
            distiller.load_state_dict(state["distiller"])
        history, start = state["history"], state["epoch"] + 1
        best_f1, best_epoch = state["best_val_f1"], state["best_epoch"]
        log(f"[{name}] resuming from {ckpt.last} after epoch {start}/{cfg.epochs}")
    t_total = time.perf_counter()
    uses_boundary = phase == "boundary"
    idx_all = torch.arange(len(train))
    for epoch in range(start, cfg.epochs):
        model.train()
        lr = cfg.lr * (0.5 * (1 + math.cos(math.pi * epoch / cfg.epochs))
                       if cfg.scheduler == "cosine" else 1.0)
        for o in (opt, opt_d):
            if o is not None:
                for g in o.param_groups:
                    g["lr"] = lr
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        sums: dict[str, float] = {}
        seen, t0 = 0, time.perf_counter()
        for _, ib in iterate_batches(train.x, idx_all, cfg.batch_size, shuffle=True,
                                     generator=gen):
            x8, m8, b8 = _crop_batch(gen, crop, train.x[ib], train.mask[ib], train.boundary[ib])
            x = normalize(x8).to(dev)
            m, b = m8.float().to(dev), b8.float().to(dev)
            parts: dict[str, torch.Tensor] = {}
            if phase in ("image", "boundary"):
                logits = model(x, b if uses_boundary else torch.zeros_like(b))
                parts["seg"] = segmentation_loss(logits, m, weights)
            elif phase == "plain":
                parts["seg"] = segmentation_loss(model(x), m, weights)
            else:
                with torch.no_grad():
                    t_logits, t_feat = teacher(x, b, return_features=True)
                logits, feat = model(x, return_features=True)
                parts.update(distiller(logits, feat, t_logits, t_feat, m))
                if discriminator is not None:
                    fake = torch.sigmoid(logits)
                    loss_d = discriminator_loss(discriminator(x, m), discriminator(x, fake.detach()),
                                                weights)
                    opt_d.zero_grad(set_to_none=True)
                    loss_d.backward()
                    opt_d.step()
                    sums["d"] = sums.get("d", 0.0) + loss_d.item() * len(ib)
                    parts["g"] = weights.adv * generator_loss(discriminator(x, fake), weights)
            loss = sum(parts.values())
            if not torch.isfinite(loss):
                raise FloatingPointError(f"[{name}] loss became {loss.item()} at epoch "
                                         f"{epoch + 1}: lower the learning rate (lr={cfg.lr})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for k, v in {"loss": loss, **parts}.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(ib)
            seen += len(ib)
        row = {"epoch": epoch + 1, "lr": lr, **{k: v / seen for k, v in sums.items()},
               "epoch_seconds": time.perf_counter() - t0}
        if (epoch + 1) % val_every == 0 or epoch + 1 == cfg.epochs:
            if phase == "image":  # the teacher's first phase is validated without boundaries
                probs = predict_probs(_ZeroBoundary(model), val)
            else:
                probs = predict_probs(model, val, boundary=phase == "boundary")
            row["val_f1"] = pooled_metrics(probs, val.mask.numpy())["f1"]
            if row["val_f1"] > best_f1:
                best_f1, best_epoch = row["val_f1"], epoch + 1
                ckpt.save_best(model, epoch=epoch + 1)
        history.append(row)
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                 "history": history, "best_val_f1": best_f1, "best_epoch": best_epoch}
        if opt_d is not None:
            state.update(discriminator=discriminator.state_dict(), optimizer_d=opt_d.state_dict())
        if distiller is not None:
            state["distiller"] = distiller.state_dict()
        ckpt.save(state)
        ckpt.line("epoch", epoch + 1, cfg.epochs, f"loss {row['loss']:.3f}",
                  *([f"val_f1 {row['val_f1']:.3f}"] if "val_f1" in row else []),
                  f"{row['epoch_seconds']:.1f} s")
    ckpt.load_best(model)
    return PhaseResult(history, best_epoch, best_f1, time.perf_counter() - t_total, start)


def network_config(model: nn.Module) -> tuple[str, dict]:
    """The registered name and keyword arguments that rebuild one of the chapter's networks: an
    :class:`~.networks.LRCrackNet` (teacher or student, with Table II's variants) or a
    :class:`~.networks.UNet`. The variant is recognised from the network's layer types, which
    do not depend on the width (a layout that no variant has is an error)."""
    if isinstance(model, UNet):
        return "unet_segmentation", {"base": model.width}
    if not isinstance(model, LRCrackNet):
        raise TypeError(f"not one of chapter 11's networks: {type(model).__name__}")

    def layout(m: nn.Module) -> list[str]:
        return [type(x).__name__ for x in m.modules()]

    for rdldc in (True, False):
        for bottleneck in BOTTLENECKS:
            kw = {"boundary_input": model.boundary_input, "rdldc": rdldc,
                  "bottleneck": bottleneck}
            if layout(LRCrackNet(8, **kw)) == layout(model):
                return "lr_cracknet", {"width": model.width, **kw}
    raise ValueError("this LRCrackNet's layers match no variant (rdldc x bottleneck)")


def save_network(model: nn.Module, path: str | Path, meta: dict | None = None) -> Path:
    """Save one of the chapter's networks with :func:`roadlite.models.save_model` (its
    architecture and configuration with the weights); :func:`roadlite.models.load_model`
    rebuilds it."""
    arch, config = network_config(model)
    return save_model(model, path, arch, meta=meta, config=config)


class _ZeroBoundary(nn.Module):
    """A teacher seen as an image-only network (its boundary stem gets zeros)."""

    def __init__(self, teacher: nn.Module):
        super().__init__()
        self.teacher = teacher

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.teacher(x, torch.zeros_like(x[:, :1]))


def evaluate(model: nn.Module, data: SegData, boundary: bool = False,
             threshold: float = 0.5) -> tuple[dict, np.ndarray]:
    """Pooled metrics (percent) of ``model`` on ``data`` and its probabilities."""
    probs = predict_probs(model, data, boundary=boundary)
    m = pooled_metrics(probs, data.mask.numpy(), threshold)
    pct = {k: 100 * v if k in ("precision", "recall", "f1", "iou", "iou_background", "aiou",
                               "accuracy") else v for k, v in m.items()}
    return pct, probs


def upsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """Float images resized (bilinear) to ``size`` x ``size`` (for the 320 px export check)."""
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def phase_config(params, epochs: int, lr: float) -> TrainConfig:
    """The book's TrainConfig for one phase from the chapter's validated parameters."""
    return TrainConfig(epochs=epochs, lr=lr, batch_size=params["batch_size"],
                       optimizer=params["optimizer"], weight_decay=params["weight_decay"],
                       scheduler=params["scheduler"], seed=params["seed"], augment=True,
                       channels_last=False, device=params["device"],
                       progress=params["progress"])
