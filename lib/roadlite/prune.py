"""Structured channel pruning, MobiLiteNet's fourth compression step (Chapter 06_pruning).

*Structured* pruning removes whole channels (filters), so the result is a smaller dense network
that runs faster everywhere, not a sparse mask. A channel cannot be removed alone: in an inverted
residual block the expansion conv's output channels are the depthwise conv's channels and the
projection conv's input channels; the residual add ties a block's output channels to its input
and to every later block of the stage. We let torch-pruning's *dependency graph* (Fang et al.,
CVPR 2023) find these groups and remove the channels of each group together.

MobiLiteNet's recipe (the authors' code uses NNI's ``L1NormPruner``): remove ``ratio`` = 30 % of
the output channels of every convolution, ranking the filters of a layer by their L1 norm
sum |theta| (the least important have the smallest norm; the lambda L1 term of Chapter
05_distillation made many of them small), keep the classifier's outputs, then fine-tune with the
distillation loss without the L1 term (T = 4, alpha = 0.5, lambda = 0).

Why 30 % of the channels removes about half of the parameters: a 1x1 convolution loses 30 % of
its output *and* 30 % of its input channels, so it keeps 0.7 x 0.7 = 0.49 of its weights. The
paper's Model 4 has 498,283 of Model 2's 996,310 parameters (50.0 %); our torch-pruning run
gives 495,528 (49.7 %) -- the small difference is rounding of channel counts.

ECA survives pruning unchanged: its 1-D convolution slides a fixed kernel of size k across the
channel axis, so it works for any number of channels. We register ECA with the dependency graph
as a channel-wise layer (like batch norm) whose channel count follows its block; its Conv1d
itself is never pruned. Its kernel k stays the trained one (ECA's rule would pick k from the new
channel count; for 30 % pruning of Model 2 it gives the same k anyway).

Pruned networks no longer match the constructors of :mod:`roadlite.models`, so
:func:`save_pruned` stores a *pruning plan* (the shape of every Conv / BatchNorm / Linear / ECA
layer) with the weights, and :func:`load_pruned` rebuilds the base model, shrinks its layers to
the plan and loads the weights, all with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import copy
import json
import numbers
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from roadlite.artifacts import atomic_path
from roadlite.models.checkpoint import CheckpointError, read_checkpoint, to_builtin
from roadlite.models.eca import ECA
from roadlite.models.mobilenet import InvertedResidual, MobileNetV2
from roadlite.models.summary import count_macs, count_params

__all__ = [
    "IMPORTANCES",
    "PAPER_PRUNED_PARAMS",
    "PAPER_UNPRUNED_PARAMS",
    "channel_table",
    "expected_param_fraction",
    "layer_groups",
    "load_pruned",
    "make_importance",
    "prune_channels",
    "pruning_plan",
    "save_pruned",
    "sensitivity_scan",
]

#: Model 4 of the paper (Model 2 with 30 % of the channels pruned): 498,283 parameters.
PAPER_PRUNED_PARAMS = 498_283
#: Model 2 (structural refinement), the network that the paper prunes: 996,310 parameters.
PAPER_UNPRUNED_PARAMS = 996_310

#: Importance criteria :func:`prune_channels` accepts by name.
IMPORTANCES = ("l1", "group_l1", "l2", "bn_scale", "random")

_PLAN_FORMAT = "roadlite-pruned/1"


# --- validation and torch-pruning plumbing -----------------------------------------------------

def _check_ratio(ratio: Any, name: str = "ratio") -> float:
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not 0.0 < ratio < 1.0:
        raise ValueError(f"{name} (fraction of channels to remove) must be in (0, 1), "
                         f"got {ratio!r}")
    return float(ratio)


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_img_size(img_size: Any) -> tuple[int, int]:
    try:
        hw = (img_size, img_size) if _is_int(img_size) else tuple(img_size)
    except TypeError:
        hw = ()
    if len(hw) != 2 or not all(_is_int(v) and v > 0 for v in hw):
        raise ValueError(f"img_size must be a positive int or (height, width), got {img_size!r}")
    return int(hw[0]), int(hw[1])


def expected_param_fraction(ratio: float) -> float:
    """(1 - ratio)^2: the fraction of a 1x1 conv's weights left when ``ratio`` of both its input
    and its output channels go (Chapter 06_pruning). 0.49 for the paper's ratio 0.3."""
    return (1.0 - _check_ratio(ratio)) ** 2


def make_importance(importance: str | Any = "l1"):
    """A torch-pruning importance criterion by name (Chapter 06_pruning).

    ``"l1"``: the L1 norm sum |theta| of each filter of the layer whose channels are ranked (the
    first layer of the dependency group) -- NNI's ``L1NormPruner``, the authors' choice.
    ``"group_l1"``: the L1 norm summed over every layer of the group, normalised (torch-pruning's
    group magnitude). ``"l2"``: group L2 norm. ``"bn_scale"``: |gamma| of the batch norm after the
    conv (network slimming). ``"random"``: a baseline to compare against. Anything else that is
    not a string is returned as is (a ready ``tp.importance.Importance``).
    """
    import torch_pruning as tp

    if not isinstance(importance, str):
        return importance
    if importance == "l1":
        return tp.importance.MagnitudeImportance(p=1, normalizer=None, group_reduction="first")
    if importance == "group_l1":
        return tp.importance.MagnitudeImportance(p=1)
    if importance == "l2":
        return tp.importance.MagnitudeImportance(p=2)
    if importance == "bn_scale":
        return tp.importance.BNScaleImportance()
    if importance == "random":
        return tp.importance.RandomImportance()
    raise ValueError(f"unknown importance {importance!r}; use one of {IMPORTANCES} or a "
                     "torch_pruning importance object")


def _eca_pruner():
    """torch-pruning handler that treats ECA as a channel-wise layer (in = out = C)."""
    import torch_pruning as tp

    class _ECAPruner(tp.pruner.function.BasePruningFunc):
        TARGET_MODULES = ECA

        def prune_out_channels(self, layer: ECA, idxs: Sequence[int]) -> ECA:
            layer.channels = layer.channels - len(set(int(i) for i in idxs))
            return layer

        prune_in_channels = prune_out_channels  # in and out channels are the same channels

        def get_out_channels(self, layer: ECA) -> int:
            return layer.channels

        def get_in_channels(self, layer: ECA) -> int:
            return layer.channels

    return _ECAPruner()


def _output_layer(model: nn.Module) -> nn.Linear | None:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


def _sync_attributes(model: nn.Module) -> None:
    """Update the descriptive channel counts of our blocks after their layers changed."""
    for m in model.modules():
        if isinstance(m, InvertedResidual):
            convs = [c for c in m.conv.modules() if isinstance(c, nn.Conv2d)]
            m.inp, m.oup = convs[0].in_channels, convs[-1].out_channels
            depthwise = [c for c in convs if c.groups > 1]
            m.hidden = depthwise[0].in_channels if depthwise else m.inp
        if isinstance(m, ECA) and m.channels < 1:
            raise RuntimeError("pruning removed every channel of an ECA block")
    if isinstance(model, MobileNetV2):
        model.stem_channels = model.features[0][0].out_channels
        model.last_channels = model.features[-1][0].out_channels


def prune_channels(
    model: nn.Module,
    img_size: int | Sequence[int],
    ratio: float = 0.3,
    steps: int = 1,
    ignored_layers: Iterable[nn.Module] | None = None,
    round_to: int | None = None,
    importance: str | Any = "l1",
    finetune: Callable[[nn.Module, int], Any] | None = None,
    *,
    only: Iterable[nn.Module] | None = None,
) -> nn.Module:
    """Remove ``ratio`` of the channels of every prunable convolution (Chapter 06_pruning).

    Structured pruning with torch-pruning's dependency graph: coupled channels (depthwise convs,
    residual adds, ECA) are removed together; filters are ranked by ``importance`` (default
    ``"l1"``, the L1 norm sum |theta| of each filter, as in the authors' NNI code; see
    :func:`make_importance`). The model's last ``nn.Linear`` (the classifier) keeps its outputs,
    and so do the layers in ``ignored_layers``. ECA layers follow their block's channels.

    The network is traced once on a random ``img_size`` image (in eval mode, so batch-norm
    statistics are untouched) and pruned **in place**; it is returned for convenience (deep-copy
    it first to keep the original). With ``steps`` > 1 the ratio is reached in equal steps
    (torch-pruning's ``iterative_steps``; step i removes up to i / steps x ratio of the original
    channels), and ``finetune(model, i)`` (if given) is called after each step i = 1..steps --
    e.g. a few epochs of :func:`roadlite.training.fit` with the KD criterion (lambda = 0).
    ``round_to`` keeps channel counts multiples of that number (hardware friendly).

    ``only`` (keyword): prune only the dependency groups that contain one of these modules'
    layers (used by :func:`sensitivity_scan`); everything else keeps its channels.

    Ratio 0.3 on Model 2 (``refined_mobilenet_v2``) leaves 495,528 of 996,310 parameters
    (49.7 %, about (1 - 0.3)^2; the paper's Model 4: 498,283) and about 50 % of the MACs.
    A record of the run (ratio, steps, params and MACs before / after, seconds) is appended to
    ``model.roadlite_pruning``. Raises ``ValueError`` for a ratio outside (0, 1), steps < 1, an
    unknown importance or a bad ``img_size``, before any work.
    """
    import torch_pruning as tp

    ratio = _check_ratio(ratio)
    if not _is_int(steps) or steps < 1:
        raise ValueError(f"steps (number of iterative pruning steps) must be an int >= 1, "
                         f"got {steps!r}")
    if round_to is not None and (not _is_int(round_to) or round_to < 1):
        raise ValueError(f"round_to must be None or an int >= 1, got {round_to!r}")
    steps, round_to = int(steps), (None if round_to is None else int(round_to))
    if finetune is not None and not callable(finetune):
        raise ValueError("finetune must be None or a callable finetune(model, step)")
    h, w = _check_img_size(img_size)
    imp = make_importance(importance)
    if only is not None:
        targets = list(only)
        if not targets:
            raise ValueError("only= must name at least one module")
        global_ratio, ratio_dict = 0.0, {m: ratio for m in targets}
    else:
        global_ratio, ratio_dict = ratio, None

    start = time.perf_counter()
    out_layer = _output_layer(model)
    n_out = out_layer.out_features if out_layer is not None else None
    ignored = [out_layer] if out_layer is not None else []
    ignored += list(ignored_layers or [])
    param = next(model.parameters())
    example = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    example = example.to(param.device, param.dtype)
    params_before, macs_before = count_params(model), count_macs(model, (h, w))

    was_training = model.training
    model.eval()  # the tracing forward pass must not update batch-norm statistics
    try:
        pruner = tp.pruner.MetaPruner(
            model, example, importance=imp, pruning_ratio=global_ratio,
            pruning_ratio_dict=ratio_dict, iterative_steps=steps, ignored_layers=ignored,
            round_to=round_to, customized_pruners={ECA: _eca_pruner()},
        )
    finally:
        model.train(was_training)
    finetune_seconds = 0.0
    for step in range(1, steps + 1):
        pruner.step()
        _sync_attributes(model)
        if finetune is not None:
            t0 = time.perf_counter()
            finetune(model, step)
            finetune_seconds += time.perf_counter() - t0
    if out_layer is not None and out_layer.out_features != n_out:
        raise RuntimeError(f"pruning changed the classifier's outputs from {n_out} to "
                           f"{out_layer.out_features}")
    params_after, macs_after = count_params(model), count_macs(model, (h, w))
    record = {
        "ratio": ratio, "steps": steps, "importance": str(importance), "round_to": round_to,
        "only": only is not None, "img_size": [h, w],
        "params_before": params_before, "params_after": params_after,
        "macs_before": macs_before, "macs_after": macs_after,
        "prune_seconds": time.perf_counter() - start - finetune_seconds,
    }
    log = getattr(model, "roadlite_pruning", None)
    model.roadlite_pruning = [*(log if isinstance(log, list) else []), record]
    return model


# --- per-layer views ---------------------------------------------------------------------------

def layer_groups(model: nn.Module) -> dict[str, list[nn.Module]]:
    """The layer groups of a sensitivity scan (Chapter 06_pruning).

    For the MobileNetV2 family (:class:`roadlite.models.MobileNetV2`, pruned or not): ``stem``,
    ``stage1`` ... ``stage7`` (the blocks of each row (t, c, n, s) of the inverted residual
    setting) and ``head`` (the last 1x1 conv). Any other model: its top-level children that
    contain a Conv2d (e.g. ResNet's ``conv1``, ``layer1`` ... ``layer4``).
    """
    if isinstance(model, MobileNetV2):
        feats = list(model.features)
        groups: dict[str, list[nn.Module]] = {"stem": [feats[0]]}
        i = 1
        for k, row in enumerate(model.setting, start=1):
            n = row[2]
            groups[f"stage{k}"] = feats[i:i + n]
            i += n
        groups["head"] = [feats[-1]]
        return groups
    return {name: [child] for name, child in model.named_children()
            if any(isinstance(m, nn.Conv2d) for m in child.modules())}


def channel_table(before: nn.Module, after: nn.Module) -> pd.DataFrame:
    """Per-layer channels and parameters before and after pruning (Chapter 06_pruning).

    One row per Conv2d / Linear of ``before`` (matched by name in ``after``; pruning keeps the
    names): ``layer, type, in_before, in_after, out_before, out_after, params_before,
    params_after, kept`` (kept = params_after / params_before). ``type`` tells depthwise
    (``dw``), 1x1 (``pw``), other convs (``conv``) and ``linear`` apart.
    """
    after_mods = dict(after.named_modules())
    rows = []
    for name, m in before.named_modules():
        if not isinstance(m, nn.Conv2d | nn.Linear):
            continue
        a = after_mods.get(name)
        if a is None or type(a) is not type(m):
            raise ValueError(f"layer {name!r} of the first model is missing from the second")
        if isinstance(m, nn.Linear):
            kind = "linear"
            io = (m.in_features, a.in_features, m.out_features, a.out_features)
        else:
            kind = ("dw" if m.groups > 1 and m.groups == m.in_channels
                    else "pw" if m.kernel_size == (1, 1) else "conv")
            io = (m.in_channels, a.in_channels, m.out_channels, a.out_channels)
        pb, pa = count_params(m), count_params(a)
        rows.append({"layer": name, "type": kind, "in_before": io[0], "in_after": io[1],
                     "out_before": io[2], "out_after": io[3], "params_before": pb,
                     "params_after": pa, "kept": pa / pb if pb else float("nan")})
    return pd.DataFrame(rows)


def sensitivity_scan(
    model: nn.Module,
    img_size: int | Sequence[int],
    groups: Mapping[str, Iterable[nn.Module]] | None = None,
    ratios: Sequence[float] = (0.1, 0.3, 0.5, 0.7),
    evaluate: Callable[[nn.Module], float] | None = None,
    *,
    importance: str | Any = "l1",
    round_to: int | None = None,
) -> pd.DataFrame:
    """Prune one layer group at a time and measure what it costs (Chapter 06_pruning).

    For each group of ``groups`` (default :func:`layer_groups`) and each ratio, a deep copy of
    ``model`` is pruned in that group only (``prune_channels(..., only=group)``; channels coupled
    to the group by the dependency graph go too, e.g. the stem's outputs with stage 1's
    depthwise conv) and ``evaluate(pruned_copy)`` (e.g. validation accuracy) is recorded with the
    copy's parameters and MACs. ``evaluate=None`` records sizes only. The original is untouched.

    Returns a DataFrame with columns ``group, ratio, accuracy, accuracy_drop, params, macs,
    params_frac, macs_frac`` (drop and fractions relative to the unpruned model, which is
    evaluated once; its values are in ``df.attrs["baseline"]``).
    """
    ratios = [_check_ratio(r, "each ratio") for r in ratios]
    if not ratios:
        raise ValueError("ratios must hold at least one pruning ratio")
    h, w = _check_img_size(img_size)
    make_importance(importance)  # validate early
    groups = layer_groups(model) if groups is None else groups
    names = {id(m): n for n, m in model.named_modules()}
    group_names: dict[str, list[str]] = {}
    for gname, mods in groups.items():
        mods = list(mods)
        missing = [type(m).__name__ for m in mods if id(m) not in names]
        if missing or not mods:
            raise ValueError(f"layer group {gname!r} is empty or holds modules that are not "
                             f"part of the model ({', '.join(missing)})")
        group_names[gname] = [names[id(m)] for m in mods]

    def _eval(m: nn.Module) -> float:
        if evaluate is None:
            return float("nan")
        was_training = m.training
        m.eval()
        try:
            return float(evaluate(m))
        finally:
            m.train(was_training)

    base = {"accuracy": _eval(model), "params": count_params(model),
            "macs": count_macs(model, (h, w))}
    rows = []
    for gname, module_names in group_names.items():
        for ratio in ratios:
            pruned = copy.deepcopy(model)
            lookup = dict(pruned.named_modules())
            prune_channels(pruned, (h, w), ratio, importance=importance, round_to=round_to,
                           only=[lookup[n] for n in module_names])
            acc = _eval(pruned)
            params, macs = count_params(pruned), count_macs(pruned, (h, w))
            rows.append({"group": gname, "ratio": ratio, "accuracy": acc,
                         "accuracy_drop": base["accuracy"] - acc, "params": params,
                         "macs": macs, "params_frac": params / base["params"],
                         "macs_frac": macs / base["macs"]})
            del pruned
    df = pd.DataFrame(rows, columns=["group", "ratio", "accuracy", "accuracy_drop", "params",
                                     "macs", "params_frac", "macs_frac"])
    df.attrs["baseline"] = base
    return df


# --- saving and loading pruned networks --------------------------------------------------------

def pruning_plan(model: nn.Module) -> dict[str, dict]:
    """The shape of every Conv / BatchNorm / Linear / ECA / Dropout layer of ``model`` by name
    (Chapter 06_pruning): what :func:`load_pruned` needs to rebuild a pruned network from its
    base architecture. Plain ints, floats and strings only (safe for ``weights_only=True``)."""
    plan: dict[str, dict] = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d):
            plan[name] = {"type": type(m).__name__, "in_channels": m.in_channels,
                          "out_channels": m.out_channels, "groups": m.groups,
                          "kernel_size": list(m.kernel_size), "bias": m.bias is not None}
        elif isinstance(m, nn.BatchNorm2d):
            plan[name] = {"type": "BatchNorm2d", "num_features": m.num_features}
        elif isinstance(m, nn.Linear):
            plan[name] = {"type": "Linear", "in_features": m.in_features,
                          "out_features": m.out_features, "bias": m.bias is not None}
        elif isinstance(m, ECA):
            plan[name] = {"type": "ECA", "channels": m.channels, "k_size": m.k_size}
        elif isinstance(m, nn.Dropout):
            plan[name] = {"type": "Dropout", "p": float(m.p)}
    return plan


def _num_classes(plan: Mapping[str, dict]) -> int:
    linears = [spec for spec in plan.values() if spec["type"] == "Linear"]
    return int(linears[-1]["out_features"]) if linears else 4


def _shrink(module: nn.Module, spec: dict) -> None:
    """Resize ``module``'s parameters and attributes to ``spec`` (values are loaded later)."""
    kind = spec["type"]
    if kind in ("Conv1d", "Conv2d"):
        if list(module.kernel_size) != list(spec["kernel_size"]) or \
                (module.bias is not None) != spec["bias"]:
            raise ValueError("kernel size or bias differs from the base architecture")
        module.in_channels, module.out_channels = spec["in_channels"], spec["out_channels"]
        module.groups = spec["groups"]
        shape = (spec["out_channels"], spec["in_channels"] // spec["groups"],
                 *spec["kernel_size"])
        module.weight = nn.Parameter(torch.empty(shape))
        if module.bias is not None:
            module.bias = nn.Parameter(torch.empty(spec["out_channels"]))
    elif kind == "BatchNorm2d":
        n = spec["num_features"]
        module.num_features = n
        if module.affine:
            module.weight = nn.Parameter(torch.empty(n))
            module.bias = nn.Parameter(torch.empty(n))
        if module.track_running_stats:
            module.running_mean = torch.zeros(n)
            module.running_var = torch.ones(n)
    elif kind == "Linear":
        if (module.bias is not None) != spec["bias"]:
            raise ValueError("bias differs from the base architecture")
        module.in_features, module.out_features = spec["in_features"], spec["out_features"]
        module.weight = nn.Parameter(torch.empty(spec["out_features"], spec["in_features"]))
        if module.bias is not None:
            module.bias = nn.Parameter(torch.empty(spec["out_features"]))
    elif kind == "ECA":
        if module.k_size != spec["k_size"]:
            raise ValueError(f"ECA kernel {spec['k_size']} differs from the base's "
                             f"{module.k_size}")
        module.channels = spec["channels"]
    elif kind == "Dropout":
        module.p = spec["p"]


def _rebuild(arch: str, plan: Mapping[str, dict]) -> nn.Module:
    """Build ``arch`` and shrink its layers to ``plan``; ``ValueError`` if it does not fit."""
    from roadlite.models import build_model

    model = build_model(arch, num_classes=_num_classes(plan))
    modules = dict(model.named_modules())
    base_plan = pruning_plan(model)
    if set(base_plan) != set(plan):
        extra, missing = sorted(set(plan) - set(base_plan)), sorted(set(base_plan) - set(plan))
        raise ValueError(f"the layers differ from {arch!r}: not in {arch!r}: {extra[:5]}, "
                         f"missing: {missing[:5]}")
    for name, spec in plan.items():
        if spec["type"] != base_plan[name]["type"]:
            raise ValueError(f"layer {name!r} is a {spec['type']} here but a "
                             f"{base_plan[name]['type']} in {arch!r}")
        try:
            _shrink(modules[name], spec)
        except ValueError as exc:
            raise ValueError(f"layer {name!r}: {exc}") from None
    _sync_attributes(model)
    return model


def save_pruned(
    model: nn.Module, path: str | os.PathLike, arch: str, meta: dict | None = None
) -> Path:
    """Save a pruned network safely: base architecture + pruning plan + weights (Chapter 06).

    ``arch`` is the :func:`roadlite.models.build_model` name of the network that was pruned
    (e.g. ``"refined_mobilenet_v2"``). The file is a RoadLite checkpoint (the keys of
    :func:`roadlite.models.save_model`) plus ``pruning_plan`` (see :func:`pruning_plan`) and
    ``pruning_log`` (``model.roadlite_pruning``), all plain tensors and JSON-like values, so it
    loads with ``torch.load(weights_only=True)``; ``meta`` must be JSON-like (numpy / torch
    scalars are converted). Before writing, the plan is checked to rebuild ``model`` exactly
    (``ValueError`` otherwise). The write is atomic. Returns the path.
    """
    from roadlite import __version__
    from roadlite.models import MODEL_REGISTRY

    if arch not in MODEL_REGISTRY:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(sorted(MODEL_REGISTRY))}")
    plan = pruning_plan(model)
    state_dict = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    try:
        _rebuild(arch, plan).load_state_dict(state_dict, strict=True)
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"this model is not a (pruned) {arch!r}: {exc}") from exc
    meta = json.loads(json.dumps(meta or {}, default=to_builtin))
    log = json.loads(json.dumps(getattr(model, "roadlite_pruning", []), default=to_builtin))
    payload = {"arch": arch, "state_dict": state_dict, "meta": meta,
               "roadlite_version": __version__, "format": _PLAN_FORMAT,
               "pruning_plan": plan, "pruning_log": log}
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
    return path


def load_pruned(path: str | os.PathLike, arch: str | None = None) -> nn.Module:
    """Rebuild a network saved by :func:`save_pruned` (Chapter 06_pruning).

    The base architecture is built, its layers are shrunk to the stored pruning plan and the
    weights are loaded strictly. ``arch`` (optional) must match the stored architecture. Returns
    the model in eval mode on the CPU, with ``roadlite_meta`` and ``roadlite_pruning`` attached.
    Raises :class:`roadlite.models.CheckpointError` naming the file (and the expected model) when
    the file is missing, corrupt, not a pruned RoadLite checkpoint, of another architecture or
    does not fit the architecture.
    """
    payload = read_checkpoint(path)
    found = payload["arch"]
    if payload.get("format") != _PLAN_FORMAT or not isinstance(payload.get("pruning_plan"), dict):
        raise CheckpointError(
            f"{path} is a RoadLite checkpoint of {found!r} but not a pruned one (no pruning "
            f"plan); load it with roadlite.models.load_model"
        )
    if arch is not None and arch != found:
        raise CheckpointError(f"pruned checkpoint {path} holds architecture {found!r}, "
                              f"expected {arch!r}")
    try:
        model = _rebuild(found, payload["pruning_plan"])
        model.load_state_dict(payload["state_dict"], strict=True)
    except (ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"pruned checkpoint {path} does not fit a pruned {found!r}: {exc}"
        ) from exc
    model.roadlite_meta = payload["meta"]
    model.roadlite_pruning = list(payload.get("pruning_log") or [])
    return model.eval()

