"""The book's one training core (Chapter 03_eca teaches it; later chapters reuse it).

:func:`fit` trains any classifier on in-memory uint8 tensors:

* seeded and deterministic on CPU: same seed and data, same weights -- for a fresh run, a run
  into a folder holding another configuration's checkpoints and a resumed run alike;
* best-on-validation checkpointing (``best.pt``) and a full training state after every epoch
  (``last.pt``, with the random generators' state), both written atomically; a rerun resumes
  from ``last.pt`` when its training configuration (fingerprint) is unchanged, and finishes at
  once when training was complete. The protocol is :mod:`roadlite.training.resume`, shared with
  chapter 02_gan's WGAN-GP and chapter 11's training phases;
* ``channels_last`` memory format, a progress bar, one log line per epoch;
* optimizer (SGD with momentum as in the authors' code, RMSProp as in the paper's text, Adam) and
  schedule (reduce-on-plateau on validation accuracy as in the authors' code, cosine, none) are
  configuration, with an optional linear warm-up;
* the loss is a function ``criterion(logits, y, x) -> loss`` so that distillation can plug in;
* optional, off by default: early stopping, a ``monitor`` (validation accuracy or loss) for it and
  for reduce-on-plateau, a ``transform`` of the training batches (e.g. torchvision transforms v2)
  and a ``val_criterion`` for the validation loss -- the Keras callbacks of Chapter
  10_crack_classifier as torch code.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from roadlite.data.loading import normalize

from .resume import Checkpoints, progress_bar, run_fingerprint, tensor_signature

Criterion = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class TrainConfig:
    """Everything that decides the result of a training run (its fingerprint)."""

    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "sgd"  # sgd | rmsprop | adam
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    scheduler: str = "plateau"  # plateau | cosine | none
    plateau_patience: int = 3
    plateau_factor: float = 0.1
    warmup_epochs: int = 0
    augment: bool = False
    channels_last: bool = True
    seed: int = 0
    extra: dict = field(default_factory=dict)  # e.g. a loss's hyper-parameters
    # Chapter 10_crack_classifier (Keras' callbacks); the defaults leave training as before.
    monitor: str = "val_accuracy"  # what plateau and early stopping watch: val_accuracy | val_loss
    early_stopping_patience: int = 0  # stop after this many epochs without improvement; 0 = off
    # Where and how it runs; neither decides the result, so neither is in the fingerprint.
    device: str = "cpu"  # cpu | cuda | auto
    progress: bool = True  # a tqdm bar per epoch

    @classmethod
    def from_params(cls, params: dict, **changes) -> TrainConfig:
        """The configuration from a chapter's validated parameters (the TRAINING schema), with
        ``changes`` on top (e.g. ``epochs=P.teacher_epochs``)."""
        names = [f for f in cls.__dataclass_fields__ if f != "extra"]
        values = {k: params[k] for k in names if k in params}
        values.update(changes)
        return cls(**values)

    def fingerprint(self) -> str:
        # Options that are off (at their default) stay out, so that checkpoints written before
        # they existed still resume.
        d = asdict(self)
        for name in _NOT_IN_FINGERPRINT:
            d.pop(name)
        for name, off in _OFF_BY_DEFAULT.items():
            if d.get(name) == off:
                d.pop(name)
        blob = json.dumps(d, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


_NOT_IN_FINGERPRINT = ("device", "progress")
_OFF_BY_DEFAULT = {"monitor": "val_accuracy", "early_stopping_patience": 0}
_MONITORS = ("val_accuracy", "val_loss")


@dataclass
class FitResult:
    history: list[dict]
    best_epoch: int
    best_val_accuracy: float
    resumed_from_epoch: int
    train_seconds: float
    stopped_early: bool = False  # early stopping ended training before cfg.epochs


def iterate_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool,
                    generator: torch.Generator | None = None, augment: bool = False,
                    channels_last: bool = False, drop_last: bool = False,
                    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield normalised float batches from in-memory uint8 images.

    Plain tensor indexing and one vectorised normalisation per batch: the loop is not data-bound.
    ``augment`` flips each image horizontally and/or vertically with probability 0.5 (drawn
    from ``generator``, so it is reproducible). ``transform`` (optional) maps each uint8 batch
    [B, 3, H, W] to another uint8 batch before the normalisation (Chapter 10_crack_classifier:
    torchvision transforms v2; they draw from torch's global generator, which fit seeds).
    """
    n = len(x)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - (n % batch_size) if drop_last and n >= batch_size else n
    for i in range(0, stop, batch_size):
        idx = order[i:i + batch_size]
        xb = x[idx]
        if transform is not None:
            xb = transform(xb)
        xb = normalize(xb)
        if augment:
            flip_h = torch.rand(len(idx), generator=generator) < 0.5
            flip_v = torch.rand(len(idx), generator=generator) < 0.5
            xb[flip_h] = xb[flip_h].flip(-1)
            xb[flip_v] = xb[flip_v].flip(-2)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yield xb, y[idx]


def resolve_device(name: str = "cpu") -> torch.device:
    """'cpu', 'cuda' or 'auto' (CUDA when available) -> a torch.device; 'cuda' without a GPU is
    an error that says so."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for, but torch sees no CUDA GPU; "
                           "use device='cpu' or 'auto'")
    return torch.device(name)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum,
                                   weight_decay=cfg.weight_decay, alpha=0.9, eps=1e-3)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; expected sgd, rmsprop or adam")


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The default criterion: plain cross-entropy (``x`` is unused)."""
    return F.cross_entropy(logits, y)


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 256,
                   channels_last: bool = False) -> torch.Tensor:
    """Logits (on the CPU) of ``model`` in eval mode for uint8 images ``x`` [N,3,H,W]."""
    model.eval()
    device = next(model.parameters()).device
    outs = [model(xb.to(device)).float().cpu() for xb, _ in iterate_batches(
        x, torch.zeros(len(x), dtype=torch.long), batch_size, shuffle=False,
        channels_last=channels_last)]
    return torch.cat(outs) if outs else torch.empty(0)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).float().mean()) if len(y) else float("nan")


class _Schedule:
    """Learning-rate control: warm-up per step, then plateau / cosine / constant per epoch."""

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int):
        self.cfg = cfg
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.base_lr = cfg.lr
        self.lr = cfg.lr
        self.best = -math.inf
        self.bad_epochs = 0

    def state_dict(self) -> dict:
        return {"lr": self.lr, "best": self.best, "bad_epochs": self.bad_epochs,
                "base_lr": self.base_lr}

    def load_state_dict(self, s: dict) -> None:
        self.lr, self.best, self.bad_epochs = s["lr"], s["best"], s["bad_epochs"]
        self.base_lr = s["base_lr"]

    def lr_at(self, epoch: int, step: int) -> float:
        cfg = self.cfg
        if epoch < cfg.warmup_epochs:
            done = epoch * self.steps_per_epoch + step + 1
            return self.base_lr * done / (cfg.warmup_epochs * self.steps_per_epoch)
        if cfg.scheduler == "cosine":
            span = max(1, cfg.epochs - cfg.warmup_epochs)
            t = (epoch - cfg.warmup_epochs) / span
            return self.base_lr * 0.5 * (1 + math.cos(math.pi * t))
        return self.lr

    def end_epoch(self, epoch: int, val_acc: float, val_loss: float | None = None) -> None:
        if self.cfg.scheduler != "plateau" or epoch < self.cfg.warmup_epochs:
            return
        score = monitored(self.cfg, val_acc, val_loss)
        if score > self.best + 1e-4:
            self.best, self.bad_epochs = score, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.cfg.plateau_patience:
                self.lr *= self.cfg.plateau_factor
                self.bad_epochs = 0


def monitored(cfg: TrainConfig, val_acc: float, val_loss: float | None) -> float:
    """The quantity plateau and early stopping watch, as a score to maximise: validation
    accuracy, or minus the validation loss (``cfg.monitor``; Chapter 10_crack_classifier)."""
    if cfg.monitor not in _MONITORS:
        raise ValueError(f"monitor must be one of {_MONITORS}, got {cfg.monitor!r}")
    if cfg.monitor == "val_accuracy":
        return val_acc
    return -math.inf if val_loss is None or math.isnan(val_loss) else -val_loss


class _EarlyStopping:
    """Keras' ``EarlyStopping(monitor, patience)``: stop once ``patience`` epochs in a row
    brought no improvement of the monitored quantity (Chapter 10_crack_classifier)."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.best, self.wait, self.stopped = -math.inf, 0, False

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait, "stopped": self.stopped}

    def load_state_dict(self, s: dict) -> None:
        self.best, self.wait, self.stopped = s["best"], s["wait"], s["stopped"]

    def end_epoch(self, val_acc: float, val_loss: float | None) -> bool:
        """Record an epoch; True when training should stop now."""
        if self.cfg.early_stopping_patience <= 0:
            return False
        score = monitored(self.cfg, val_acc, val_loss)
        if score > self.best:
            self.best, self.wait = score, 0
        else:
            self.wait += 1
            self.stopped = self.wait >= self.cfg.early_stopping_patience
        return self.stopped


def fit(model: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
        val: tuple[torch.Tensor, torch.Tensor], cfg: TrainConfig, ckpt_dir: str | Path,
        criterion: Criterion | None = None, name: str = "model",
        log: Callable[[str], None] = print,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        val_criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
        ) -> FitResult:
    """Train ``model`` in place on uint8 ``train``/``val`` tensors; keep the best on validation.

    On return the model holds the weights of the best validation epoch. Checkpoints go to
    ``ckpt_dir`` (``last.pt`` every epoch, ``best.pt`` on improvement), so an interrupted run
    resumes where it stopped. ``cfg.device`` ('cpu', 'cuda' or 'auto') says where it trains and
    ``cfg.progress`` whether a bar shows. Returns the per-epoch history (loss, accuracy, val
    accuracy, learning rate, training images/s).

    Chapter 10_crack_classifier's options (off by default): ``cfg.early_stopping_patience``
    ends training once that many epochs brought no improvement of ``cfg.monitor``;
    ``transform`` maps each uint8 training batch before normalisation (its identity is not part
    of the checkpoint fingerprint: name it in ``cfg.extra``); ``val_criterion(logits, y)``
    computes the validation loss (default: cross-entropy).
    """
    criterion = criterion or cross_entropy
    x_tr, y_tr = train
    x_va, y_va = val
    # The fingerprint ties a checkpoint to its configuration, model and data.
    ckpt = Checkpoints.in_folder(ckpt_dir, run_fingerprint(
        cfg.fingerprint(), name, model, tensor_signature(x_tr, y_tr)), name=name, log=log)
    torch.use_deterministic_algorithms(True, warn_only=True)
    dev = resolve_device(cfg.device)
    model = model.to(dev)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    steps = math.ceil(len(x_tr) / cfg.batch_size)
    opt = make_optimizer(model, cfg)
    sched = _Schedule(cfg, steps)
    stopper = _EarlyStopping(cfg)
    history: list[dict] = []
    start_epoch, best_acc, best_epoch = 0, -1.0, -1

    state = ckpt.start(cfg.seed)  # resumed (generators restored) or seeded afresh
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["schedule"])
        if "early_stopping" in state:
            stopper.load_state_dict(state["early_stopping"])
        history = state["history"]
        start_epoch = state["epoch"] + 1
        best_acc, best_epoch = state["best_val_accuracy"], state["best_epoch"]
        log(f"[{name}] resuming from {ckpt.last} after epoch {start_epoch}/{cfg.epochs}")

    t_total = time.perf_counter()
    bar = progress_bar(cfg.epochs * steps, start_epoch * steps, name, "batch", cfg.progress)
    for epoch in range(start_epoch, cfg.epochs):
        if stopper.stopped:
            break
        model.train()
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        tot_loss, tot_correct, seen, t0 = 0.0, 0, 0, time.perf_counter()
        for step, (xb, yb) in enumerate(iterate_batches(
                x_tr, y_tr, cfg.batch_size, shuffle=True, generator=gen, augment=cfg.augment,
                channels_last=cfg.channels_last, transform=transform)):
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            lr = sched.lr_at(epoch, step)
            for g in opt.param_groups:
                g["lr"] = lr
            logits = model(xb)
            loss = criterion(logits, yb, xb)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"[{name}] loss became {loss.item()} at epoch {epoch + 1}, step {step}: "
                    f"lower the learning rate (lr={cfg.lr})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot_loss += loss.item() * len(yb)
            tot_correct += int((logits.argmax(1) == yb).sum())
            seen += len(yb)
            bar.update(1)
        train_s = time.perf_counter() - t0
        val_logits = predict_logits(model, x_va, channels_last=cfg.channels_last)
        val_acc = accuracy(val_logits, y_va)  # predict_logits returns CPU logits
        val_fn = val_criterion or F.cross_entropy
        val_loss = float(val_fn(val_logits, y_va)) if len(y_va) else float("nan")
        row = {"epoch": epoch + 1, "loss": tot_loss / seen, "accuracy": tot_correct / seen,
               "val_loss": val_loss, "val_accuracy": val_acc, "lr": lr,
               "train_images_per_s": seen / train_s, "epoch_seconds": time.perf_counter() - t0}
        history.append(row)
        sched.end_epoch(epoch, val_acc, val_loss)
        stopper.end_epoch(val_acc, val_loss)
        if val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch + 1
            ckpt.save_best(model, epoch=epoch + 1, val_accuracy=val_acc)
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(),
                 "schedule": sched.state_dict(), "epoch": epoch, "history": history,
                 "best_val_accuracy": best_acc, "best_epoch": best_epoch}
        if cfg.early_stopping_patience > 0:
            state["early_stopping"] = stopper.state_dict()
        ckpt.save(state)
        ckpt.line("epoch", epoch + 1, cfg.epochs, f"loss {row['loss']:.3f}",
                  f"acc {row['accuracy']:.3f}", f"val_acc {val_acc:.3f}", f"lr {lr:.2g}",
                  f"{row['train_images_per_s']:.0f} img/s")
        if stopper.stopped:
            log(f"[{name}] early stopping after epoch {epoch + 1}: {cfg.monitor} did not improve "
                f"for {cfg.early_stopping_patience} epochs")
    bar.close()
    ckpt.load_best(model)
    return FitResult(history=history, best_epoch=best_epoch, best_val_accuracy=best_acc,
                     resumed_from_epoch=start_epoch,
                     train_seconds=time.perf_counter() - t_total,
                     stopped_early=stopper.stopped)
