"""Saving and loading model checkpoints safely (Chapters 03_eca to 07_quantization).

A RoadLite checkpoint is a ``torch.save`` file holding a dict

    {"arch": <name in MODEL_REGISTRY>, "state_dict": ..., "meta": {...}, "roadlite_version": ...}

written atomically (a temporary file in the same folder, then ``os.replace``), so a crash never
leaves a half-written checkpoint behind, and read with ``torch.load(..., weights_only=True)``, so
loading never runs pickled code. A network whose layers are narrower than its architecture's (a
pruned one, Chapter 06_pruning) is saved by the same :func:`save_model`, with its layer plan
(:mod:`roadlite.models.layer_plan`) under ``"pruning_plan"``; :func:`load_model` rebuilds it.
The networks of later chapters, which live above this package (chapter 11's segmentation
networks, chapter 10's classifier), are saved the same way with their factory's keyword
arguments under ``"config"`` (their module registers the factory with
:func:`roadlite.models.registry.register_model`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from roadlite import __version__
from roadlite.artifacts import atomic_path, jsonable

from .layer_plan import PLAN_FORMAT, layer_plan, plan_num_classes, rebuild
from .registry import CONFIGURED_MODELS, MODEL_REGISTRY, build_model

__all__ = ["CheckpointError", "load_model", "read_checkpoint", "save_model"]

_KEYS = ("arch", "state_dict", "meta", "roadlite_version")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, not a RoadLite checkpoint, or of another architecture.

    Chapter 03_eca (first checkpoints written) and every later chapter that loads one.
    """


def save_model(model: nn.Module, path: str | os.PathLike, arch: str, meta: dict | None = None,
               config: dict | None = None) -> Path:
    """Save ``model``'s weights with its architecture name and metadata (Chapters 03_eca, 06, 11).

    ``arch`` is the :func:`roadlite.models.build_model` name that rebuilds the network. ``meta``
    (epoch, accuracy, image size, seed ...) must be JSON-like; numpy / torch scalars and arrays
    become plain numbers and lists, so the file loads with ``weights_only=True``. A pruned
    network (layers narrower than ``arch``'s) is saved with its layer plan and pruning log,
    after checking that the plan rebuilds it exactly (``ValueError`` otherwise). A network of a
    later chapter (``arch`` registered with :func:`~roadlite.models.registry.register_model`)
    is saved with ``config``, its factory's keyword arguments, after checking that
    ``factory(**config)`` takes its weights (``ValueError`` otherwise). The write is atomic.
    Returns the path.
    """
    if config is None and arch not in MODEL_REGISTRY:
        known = ", ".join(sorted(MODEL_REGISTRY))
        raise ValueError(f"unknown architecture {arch!r}; known: {known}"
                         + (" (a registered network: pass its config)"
                            if arch in CONFIGURED_MODELS else ""))
    meta = jsonable(meta or {}, strict=True)
    source = model.state_dict()
    state_dict = OrderedDict((k, v.detach().cpu().contiguous()) for k, v in source.items())
    # Keep the per-module versions: some modules (torchvision's MNASNet) refuse a state dict
    # without them.
    state_dict._metadata = getattr(source, "_metadata", None)
    payload = {"arch": arch, "state_dict": state_dict, "meta": meta,
               "roadlite_version": __version__}
    if config is not None:
        config = jsonable(config, strict=True)
        _build_configured(arch, config, state_dict, f"this model (config {config})", ValueError)
        payload["config"] = config
    elif (plan := layer_plan(model)) != layer_plan(
            build_model(arch, num_classes=plan_num_classes(plan))):
        try:
            rebuild(arch, plan).load_state_dict(state_dict, strict=True)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"this model is not a (pruned) {arch!r}: {exc}") from exc
        payload.update(format=PLAN_FORMAT, pruning_plan=plan,
                       pruning_log=jsonable(getattr(model, "roadlite_pruning", []), strict=True))
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    return path


def _build_configured(arch: str, config: dict, state_dict: dict, what: str,
                      error: type[Exception]) -> nn.Module:
    """``CONFIGURED_MODELS[arch](**config)`` holding ``state_dict`` (strict), or ``error``."""
    factory = CONFIGURED_MODELS.get(arch)
    if factory is None:
        known = ", ".join(sorted(CONFIGURED_MODELS)) or "none"
        raise error(f"{what}: unknown network {arch!r}; the module that defines it registers it "
                    f"when imported (e.g. roadlite.segmentation.train); registered: {known}")
    try:
        model = factory(**config)
        model.load_state_dict(state_dict, strict=True)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise error(f"{what} is not a {arch!r} built with {config}: {exc}") from exc
    return model


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Read and validate a RoadLite checkpoint dict without building the model (Chapter 03_eca).

    Raises :class:`CheckpointError` naming the file if it is missing, unreadable (corrupted,
    truncated, or containing pickled objects that ``weights_only=True`` refuses) or not a
    RoadLite checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is corrupted or not a torch.save file "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc
    if not isinstance(payload, dict) or any(k not in payload for k in _KEYS):
        found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(
            f"{path} is not a RoadLite checkpoint: expected the keys {list(_KEYS)}, found {found}"
        )
    return payload


def load_model(
    path: str | os.PathLike, arch: str | None = None, num_classes: int = 4
) -> nn.Module:
    """Rebuild a model from a checkpoint written by :func:`save_model` (Chapter 03_eca).

    ``arch=None`` takes the architecture stored in the file; a given ``arch`` must match it,
    and a pruned network is rebuilt from its layer plan (``num_classes`` then comes from the plan);
    otherwise a :class:`CheckpointError` names the file and the expected and found
    architectures; a later chapter's network is built from the config its checkpoint holds
    (``num_classes`` unused). The model is returned in eval mode on the CPU; its metadata is
    attached as ``model.roadlite_meta`` (use :func:`read_checkpoint` for the whole dict).
    """
    payload = read_checkpoint(path)
    found = payload["arch"]
    if arch is not None and arch != found:
        raise CheckpointError(
            f"checkpoint {path} holds architecture {found!r}, expected {arch!r}"
        )
    if isinstance(payload.get("config"), dict):  # a later chapter's network
        model = _build_configured(found, payload["config"], payload["state_dict"],
                                  f"checkpoint {path}", CheckpointError)
        model.roadlite_meta = payload["meta"]
        return model.eval()
    if isinstance(payload.get("pruning_plan"), dict):
        try:
            model = rebuild(found, payload["pruning_plan"])
            model.load_state_dict(payload["state_dict"], strict=True)
        except (ValueError, RuntimeError, KeyError, TypeError) as exc:
            raise CheckpointError(
                f"pruned checkpoint {path} does not fit a pruned {found!r}: {exc}") from exc
        model.roadlite_pruning = list(payload.get("pruning_log") or [])
        model.roadlite_meta = payload["meta"]
        return model.eval()
    try:
        model = build_model(found, num_classes=num_classes)
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {path}: {exc}") from exc
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"checkpoint {path} (architecture {found!r}) does not fit "
            f"build_model({found!r}, num_classes={num_classes}): {exc}"
        ) from exc
    model.roadlite_meta = payload["meta"]
    return model.eval()
