"""Structured channel pruning, MobiLiteNet's fourth compression step (Chapter 06_pruning).

*Structured* pruning removes whole channels (filters), so the result is a smaller dense network
that runs faster everywhere, not a sparse mask. A channel cannot be removed alone: in an inverted
residual block the expansion conv's output channels are the depthwise conv's channels and the
projection conv's input channels; the residual add ties a block's output channels to its input
and to every later block of the stage. We let torch-pruning's *dependency graph* (Fang et al.,
CVPR 2023) find these groups and remove the channels of each group together.

The authors' code's recipe (NNI's ``L1NormPruner``, one step; the paper says only "up to 30 %"
of the channels, by a criterion "such as the magnitude of the channel's weights", pruned
iteratively with fine-tuning after each step): remove ``ratio`` = 30 % of
the output channels of every convolution, ranking the filters of a layer by their L1 norm
sum |theta| (the least important have the smallest norm; the lambda L1 term of Chapter
05_distillation made many of them small), keep the classifier's outputs, then fine-tune with the
distillation loss without the L1 term (T = 4, alpha = 0.5, lambda = 0).

Why 30 % of the channels removes about half of the parameters: a 1x1 convolution loses 30 % of
its output *and* 30 % of its input channels, so it keeps 0.7 x 0.7 = 0.49 of its weights. The
paper's Model 4 has 498,283 of Model 2's 996,310 parameters (50.0 %); our torch-pruning run
gives 495,528 (49.7 %) -- the small difference is rounding of channel counts: keeping ceil(0.7 C)
of a layer's C channels gives exactly 498,283, torch-pruning keeps floor(0.7 C).

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
import numbers
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from roadlite.imaging import image_hw
from roadlite.models.eca import ECA
from roadlite.models.layer_plan import layer_plan, sync_block_attributes
from roadlite.models.mobilenet import MobileNetV2
from roadlite.models.summary import count_macs, count_params
from roadlite.training import FitResult, TrainConfig, accuracy, fit, predict_logits

__all__ = [
    "IMPORTANCES",
    "channel_table",
    "expected_param_fraction",
    "layer_groups",
    "make_importance",
    "prune_and_finetune",
    "prune_channels",
    "pruning_plan",
    "sensitivity_scan",
    "split_accuracy",
]

#: Importance criteria :func:`prune_channels` accepts by name.
IMPORTANCES = ("l1", "group_l1", "l2", "bn_scale", "random")



# --- validation and torch-pruning plumbing -----------------------------------------------------

def _check_ratio(ratio: Any, name: str = "ratio") -> float:
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not 0.0 < ratio < 1.0:
        raise ValueError(f"{name} (fraction of channels to remove) must be in (0, 1), "
                         f"got {ratio!r}")
    return float(ratio)


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_img_size(img_size: Any) -> tuple[int, int]:
    """:func:`roadlite.imaging.image_hw` of a checked ``img_size``: image_hw converts without
    checking, so a bad size (0, negative, a float, not a pair) is refused here first with a
    ValueError naming it."""
    try:
        hw = (img_size, img_size) if _is_int(img_size) else tuple(img_size)
    except TypeError:
        hw = ()
    if len(hw) != 2 or not all(_is_int(v) and v > 0 for v in hw):
        raise ValueError(f"img_size must be a positive int or (height, width), got {img_size!r}")
    return image_hw(hw)


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
        sync_block_attributes(model)
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


def split_accuracy(split: Sequence[torch.Tensor]) -> Callable[[nn.Module], float]:
    """The ``evaluate`` of :func:`sensitivity_scan` for one split (Chapter 06_pruning): a
    function that returns a model's accuracy on ``split`` = (uint8 images [N,3,H,W], labels
    [N]), computed by :func:`roadlite.training.predict_logits` (which puts the model in eval
    mode)."""
    if len(split) != 2:
        raise ValueError(f"split must be a pair (images, labels), not {len(split)} items")
    x, y = split
    if len(x) != len(y):
        raise ValueError(f"split holds {len(x)} images but {len(y)} labels")

    def evaluate(model: nn.Module) -> float:
        return accuracy(predict_logits(model, x), y)

    return evaluate


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


# A pruned network is saved and loaded like any other (roadlite.models.save_model / load_model):
# the checkpoint then also holds its layer plan. ``pruning_plan`` is that plan.
pruning_plan = layer_plan


def prune_and_finetune(
    model: nn.Module,
    img_size: int | Sequence[int],
    ratio: float,
    steps: int,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    cfg: TrainConfig,
    ckpt_root: str | Path,
    *,
    criterion: Callable[[nn.Module], Any] | None = None,
    seed: int = 0,
    round_to: int | None = None,
    log: Callable[[str], None] = print,
) -> list[FitResult]:
    """Prune ``model`` in place and fine-tune it after every step (Chapter 06_pruning).

    :func:`prune_channels` removes ``ratio`` of the channels in ``steps`` steps (channel counts
    multiples of ``round_to`` when given); after step i
    the network is trained with :func:`roadlite.training.fit` on ``train`` / ``val`` with
    ``cfg`` from the seed ``seed + i``, with the loss ``criterion(model)`` (e.g. chapter 05's KD
    loss with lambda = 0; None: cross-entropy), its checkpoints in ``ckpt_root/step<i>``. Logs
    one line per step (parameters, best validation accuracy) and returns the steps'
    :class:`~roadlite.training.FitResult`\\ s.
    """
    results: list[FitResult] = []

    def finetune(m: nn.Module, step: int) -> None:
        torch.manual_seed(seed + step)
        crit = criterion(m) if criterion is not None else None
        res = fit(m, train, val, cfg, Path(ckpt_root) / f"step{step}", criterion=crit,
                  name=f"prune step {step}")
        results.append(res)
        log(f"step {step}: {count_params(m):,} parameters, "
            f"best validation accuracy {res.best_val_accuracy:.3f}")

    prune_channels(model, img_size, ratio=ratio, steps=steps, round_to=round_to,
                   finetune=finetune)
    return results
