"""Checkers for the exercises of Chapter 06_pruning: L1 channel importance, the channel
selection of one layer, and one structured pruning step of a small network by hand.

The chapter prunes with torch-pruning; these exercises do by hand what it does for one layer:

1. importance of output channel o of a convolution with weight W [out, in, kh, kw]:
   the L1 norm sum_{i, y, x} |W[o, i, y, x]| (NNI's ``L1NormPruner``, the authors' choice);
2. keep the int(C * (1 - ratio)) most important channels (torch-pruning's count), in their
   original order;
3. prune ``Sequential(conv1, bn1, ReLU, conv2)``: remove the dropped output channels of conv1
   (weight rows and bias), the same entries of bn1 (weight, bias, running mean and variance) and
   the same *input* channels of conv2 (weight dim 1).

The references are plain tensor code; the unit tests compare them with ``torch.nn.utils.prune``
and with torch-pruning's dependency graph.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .compare import Mistake, call, compare, outputs, passed

__all__ = ["check_l1_channel_importance", "check_prune_step", "check_select_channels",
           "l1_channel_importance_reference", "prune_step_reference", "select_channels_reference",
           "small_network"]


def l1_channel_importance_reference(weight: torch.Tensor) -> torch.Tensor:
    """The L1 norm of each output channel's filter of a conv weight [out, in, kh, kw] -> [out]."""
    return weight.detach().abs().flatten(1).sum(dim=1)


IMPORTANCE_MISTAKES: list[Mistake] = [
    ("summed over the output channels (dim 0) instead of over each filter (dims 1, 2, 3)",
     lambda w: w.abs().sum(dim=(0, 2, 3))),
    ("the L2 norm instead of the L1 norm", lambda w: w.pow(2).flatten(1).sum(1).sqrt()),
    ("the absolute value is missing: sum of the weights, not of their magnitudes",
     lambda w: w.flatten(1).sum(1)),
    ("the mean instead of the sum (same ranking, other values: the exercise asks for the norm)",
     lambda w: w.abs().flatten(1).mean(1)),
    ("summed over the input channels only, per kernel position",
     lambda w: w.abs().sum(dim=1)),
]


def _importance_cases() -> list[tuple[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(6)
    return [
        ("3x3 conv, 5 filters of 4 channels", torch.randn(5, 4, 3, 3, generator=g)),
        ("1x1 conv, 6 filters of 3 channels", torch.randn(6, 3, 1, 1, generator=g)),
        ("depthwise 3x3 conv, 4 filters of 1 channel", torch.randn(4, 1, 3, 3, generator=g)),
        ("a filter of zeros", torch.cat([torch.zeros(1, 2, 3, 3),
                                         torch.randn(2, 2, 3, 3, generator=g)])),
    ]


def check_l1_channel_importance(fn: Callable[[torch.Tensor], Any], verbose: bool = True) -> int:
    """Test a reader's ``l1_channel_importance(weight) -> [out]`` on four convolution weights
    (3x3, 1x1, depthwise, one filter of zeros). Returns the number of cases passed."""
    ex = "l1_channel_importance"
    cases = _importance_cases()
    for case, w in cases:
        got = call(ex, case, fn, w.clone())
        compare(ex, case, got, l1_channel_importance_reference(w), atol=1e-5, rtol=1e-5,
                name="the importance", mistakes=IMPORTANCE_MISTAKES, inputs=(w,),
                others=lambda: outputs(fn, [(c[1],) for c in cases]))
    return passed(ex, len(cases), verbose)


def n_keep(channels: int, ratio: float) -> int:
    """Channels left when ``ratio`` of ``channels`` go: int(C * (1 - ratio)), at least 1."""
    return max(1, int(channels * (1.0 - ratio)))


def select_channels_reference(importance: torch.Tensor, ratio: float) -> torch.Tensor:
    """Indices (int64, ascending) of the int(C * (1 - ratio)) most important channels."""
    keep = torch.argsort(importance.detach(), descending=True, stable=True)
    return torch.sort(keep[: n_keep(importance.numel(), ratio)]).values


def _top(imp: torch.Tensor, k: int) -> torch.Tensor:
    return torch.sort(torch.argsort(imp, descending=True, stable=True)[:k]).values


TIES = ("kept every channel tied with the last one kept (a threshold, importance >= the "
        "k-th largest): with ties (sparse distillation zeroes whole filters) that keeps more "
        "than int(C * (1 - ratio)); keep exactly that many, ties broken by index")

SELECT_MISTAKES: list[Mistake] = [
    ("kept the *least* important channels (sorted in the wrong direction)",
     lambda imp, r: torch.sort(torch.argsort(imp, stable=True)[: n_keep(imp.numel(), r)]).values),
    ("returned the channels to remove instead of the channels to keep",
     lambda imp, r: torch.sort(torch.argsort(imp, stable=True)[
         : imp.numel() - n_keep(imp.numel(), r)]).values),
    ("removed round(C * ratio) channels; torch-pruning keeps int(C * (1 - ratio))",
     lambda imp, r: _top(imp, imp.numel() - round(imp.numel() * r))),
    ("removed int(C * ratio) channels (rounded down); torch-pruning keeps int(C * (1 - ratio))",
     lambda imp, r: _top(imp, imp.numel() - int(imp.numel() * r))),
    ("kept int(C * ratio) channels: ratio is the share to *remove*",
     lambda imp, r: _top(imp, max(1, int(imp.numel() * r)))),
    ("the indices are not in ascending order (the pruned layer keeps its channels in order)",
     lambda imp, r: torch.argsort(imp, descending=True, stable=True)[: n_keep(imp.numel(), r)]),
    (TIES,
     lambda imp, r: torch.nonzero(imp >= torch.sort(imp, descending=True).values[
         n_keep(imp.numel(), r) - 1]).flatten()),
]


def _select_cases() -> list[tuple[str, torch.Tensor, float]]:
    return [
        ("10 channels, ratio 0.3", torch.tensor([0.9, 0.1, 0.5, 0.7, 0.2, 0.8, 0.05, 0.6, 0.3,
                                                 0.4]), 0.3),
        ("16 channels, ratio 0.3 (C * ratio = 4.8)",
         torch.linspace(0.0, 1.5, 16)[torch.tensor([3, 14, 0, 9, 6, 11, 1, 15, 7, 2, 12, 5, 10,
                                                    4, 13, 8])], 0.3),
        ("7 channels, ratio 0.5", torch.tensor([3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0]), 0.5),
        ("4 channels, ratio 0.1 (nothing to remove)", torch.tensor([1.0, 4.0, 2.0, 3.0]), 0.1),
        ("8 channels, ratio 0.5, five filters at zero (tied)",
         torch.tensor([0.0, 0.7, 0.0, 0.2, 0.0, 0.0, 0.9, 0.0]), 0.5),
        ("6 channels, ratio 0.5, three tied at 0.3 across the cut",
         torch.tensor([0.3, 0.5, 0.3, 0.1, 0.3, 0.8]), 0.5),
    ]


def _another_tie_break(got: Any, want: torch.Tensor, imp: torch.Tensor) -> bool:
    """Whether ``got`` keeps as many channels as ``want``, ascending and distinct, with the same
    importances: the same selection with ties broken another way (also right)."""
    if not (torch.is_tensor(got) and got.dtype == torch.int64 and got.shape == want.shape):
        return False
    if got.numel() and (got.min() < 0 or got.max() >= imp.numel()
                        or not bool((got[1:] > got[:-1]).all())):
        return False
    return torch.equal(torch.sort(imp[got]).values, torch.sort(imp[want]).values)


def check_select_channels(fn: Callable[[torch.Tensor, float], Any], verbose: bool = True
                          ) -> int:
    """Test a reader's ``select_channels(importance, ratio) -> kept indices`` (int64, ascending).
    Returns the number of cases passed."""
    ex = "select_channels"
    cases = _select_cases()
    for case, imp, ratio in cases:
        got = call(ex, case, fn, imp.clone(), ratio)
        want = select_channels_reference(imp, ratio)
        if _another_tie_break(got, want, imp):
            want = got
        compare(ex, case, got, want, dtype=torch.int64,
                name="the kept channels", mistakes=SELECT_MISTAKES, inputs=(imp, ratio),
                others=lambda: outputs(fn, [c[1:] for c in cases]))
    return passed(ex, len(cases), verbose)


def small_network(c_in: int = 3, c_mid: int = 8, c_out: int = 4, seed: int = 0
                  ) -> nn.Sequential:
    """``Sequential(Conv2d(c_in, c_mid, 3, padding=1), BatchNorm2d(c_mid), ReLU(),
    Conv2d(c_mid, c_out, 3, padding=1))`` with seeded weights and non-trivial batch-norm
    statistics, in eval mode (the network of the pruning-step exercise)."""
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(c_in, c_mid, 3, padding=1), nn.BatchNorm2d(c_mid), nn.ReLU(),
                        nn.Conv2d(c_mid, c_out, 3, padding=1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        net[1].running_mean.copy_(torch.randn(c_mid, generator=g) * 0.1)
        net[1].running_var.copy_(torch.rand(c_mid, generator=g) + 0.5)
    return net.eval()


def _slice_net(net: nn.Sequential, keep: torch.Tensor, *, bn_stats: bool = True,
               conv2_dim: int = 1, conv1_bias: bool = True) -> nn.Sequential:
    conv1, bn, _, conv2 = net
    k = keep.numel()
    new1 = nn.Conv2d(conv1.in_channels, k, conv1.kernel_size, conv1.stride, conv1.padding,
                     bias=conv1.bias is not None)
    new_bn = nn.BatchNorm2d(k, eps=bn.eps, momentum=bn.momentum)
    c2_in = k if conv2_dim == 1 else conv2.in_channels
    c2_out = k if conv2_dim == 0 else conv2.out_channels
    new2 = nn.Conv2d(c2_in, c2_out, conv2.kernel_size, conv2.stride, conv2.padding,
                     bias=conv2.bias is not None)
    with torch.no_grad():
        new1.weight.copy_(conv1.weight[keep])
        if conv1.bias is not None:
            new1.bias.copy_(conv1.bias[keep] if conv1_bias else conv1.bias[:k])
        new_bn.weight.copy_(bn.weight[keep])
        new_bn.bias.copy_(bn.bias[keep])
        if bn_stats:
            new_bn.running_mean.copy_(bn.running_mean[keep])
            new_bn.running_var.copy_(bn.running_var[keep])
        new2.weight.copy_(conv2.weight.index_select(conv2_dim, keep))
        if conv2.bias is not None:
            new2.bias.copy_(conv2.bias[keep] if conv2_dim == 0 else conv2.bias)
    return nn.Sequential(new1, new_bn, nn.ReLU(), new2).eval()


def prune_step_reference(net: nn.Sequential, ratio: float) -> nn.Sequential:
    """One pruning step of ``Sequential(conv1, bn1, ReLU, conv2)``: drop ``ratio`` of conv1's
    output channels, the least important by L1 norm; returns a new network (eval mode)."""
    keep = select_channels_reference(l1_channel_importance_reference(net[0].weight), ratio)
    return _slice_net(net, keep)


def _keep(net: nn.Sequential, ratio: float) -> torch.Tensor:
    return select_channels_reference(l1_channel_importance_reference(net[0].weight), ratio)


STEP_MISTAKES: list[tuple[str, Callable[[nn.Sequential, float], nn.Sequential]]] = [
    ("the batch norm's running mean and variance were not sliced (only its weight and bias)",
     lambda n, r: _slice_net(n, _keep(n, r), bn_stats=False)),
    ("conv2 lost *output* channels (weight dim 0); it must lose the *input* channels (dim 1) "
     "that conv1 no longer produces", lambda n, r: _slice_net(n, _keep(n, r), conv2_dim=0)),
    ("conv1's bias was cut to the first channels instead of the kept ones",
     lambda n, r: _slice_net(n, _keep(n, r), conv1_bias=False)),
    ("the least important channels were kept",
     lambda n, r: _slice_net(n, torch.sort(torch.argsort(
         l1_channel_importance_reference(n[0].weight), stable=True)[
         : n_keep(n[0].out_channels, r)]).values)),
    ("the channels were ranked by the L1 norm of conv2's input filters instead of conv1's "
     "output filters", lambda n, r: _slice_net(n, select_channels_reference(
         n[3].weight.detach().abs().sum(dim=(0, 2, 3)), r))),
]


def _state(net: Any) -> dict[str, torch.Tensor]:
    if not isinstance(net, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(net).__name__}")
    return {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}


def _matches_net(got: nn.Module, wrong: nn.Module) -> bool:
    a, b = _state(got), _state(wrong)
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and torch.allclose(a[k].float(), b[k].float(), atol=1e-6)
        for k in a)


def check_prune_step(fn: Callable[[nn.Sequential, float], Any], verbose: bool = True) -> int:
    """Test a reader's ``prune_step(net, ratio) -> pruned network`` (Chapter 06_pruning).

    ``net`` is :func:`small_network` (conv1 -> BN -> ReLU -> conv2); the reader's function gets a
    copy, so pruning in place is fine. Every parameter and batch-norm buffer of the result is
    compared with the reference by name (shape, then values), then the output on a fixed input.
    Returns the number of cases passed.
    """
    ex = "prune_step"
    cases = [("8 -> 5 channels (ratio 0.3)", small_network(3, 8, 10, seed=0), 0.3),
             ("12 -> 6 channels (ratio 0.5)", small_network(2, 12, 3, seed=1), 0.5),
             ("6 -> 4 channels (ratio 0.25), conv without bias", small_network(3, 6, 2, seed=2),
              0.25)]
    x = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(9))
    for case, net, ratio in cases:
        if "without bias" in case:
            net[0].bias = None
        got = call(ex, case, fn, copy.deepcopy(net), ratio)
        expected = prune_step_reference(net, ratio)
        likely = next((d for d, wrong in STEP_MISTAKES
                       if _safe_match(got, wrong, net, ratio)), None)
        try:
            got_state = _state(got)
        except TypeError as exc:
            raise AssertionError(f"{ex}, {case}: {exc}") from exc
        want = _state(expected)
        likely = likely or _hint_by_name(got_state, want)
        hint = f"Likely mistake: {likely}." if likely else ""
        missing = sorted(set(want) - set(got_state))
        if missing:
            raise AssertionError(f"{ex}, {case}: the pruned network has no {missing} (keep the "
                                 "layout Sequential(conv1, bn1, ReLU, conv2)).")
        for name, value in want.items():
            compare(ex, case, got_state[name], value, atol=1e-6, name=name, hint=hint)
        for layer, attr in (("0", "out_channels"), ("1", "num_features"), ("3", "in_channels")):
            have, should = (getattr(n.get_submodule(layer), attr, None) for n in (got, expected))
            if have != should:
                raise AssertionError(
                    f"{ex}, {case}: layer {layer}'s {attr} is {have!r}, but its tensors hold "
                    f"{should} channels. Likely mistake: {STALE}.")
        xin = x[:, : net[0].in_channels]
        with torch.no_grad():
            out = call(ex, case, got.eval(), xin)
            compare(ex, case, out, expected(xin), atol=1e-5, name="the network's output",
                    hint=hint)
    return passed(ex, len(cases), verbose)


STALE = ("the tensors were sliced but the layers' attributes were left stale (conv1's "
         "out_channels, the batch norm's num_features, conv2's in_channels): set them to the "
         "kept count, or build new layers; the network's summary, a reload from its state and "
         "the next pruning step read them")

NAME_HINTS = {
    "1.running_mean": STEP_MISTAKES[0][0], "1.running_var": STEP_MISTAKES[0][0],
    "0.bias": "conv1's bias must lose the same channels as its weight",
    "1.weight": "the batch norm's gamma must keep the same channels as conv1",
    "1.bias": "the batch norm's beta must keep the same channels as conv1",
}


def _hint_by_name(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> str | None:
    """A hint from the first entry that differs, when no whole-network mistake matched."""
    for name, value in want.items():
        g = got.get(name)
        if g is None or (g.shape == value.shape and torch.allclose(g.float(), value.float(),
                                                                    atol=1e-6)):
            continue
        if name == "3.weight" and g.dim() == 4 and g.shape[0] != value.shape[0]:
            return STEP_MISTAKES[1][0]
        return NAME_HINTS.get(name)
    return None


def _safe_match(got: Any, wrong: Callable[[nn.Sequential, float], nn.Sequential],
                net: nn.Sequential, ratio: float) -> bool:
    try:
        return _matches_net(got, wrong(copy.deepcopy(net), ratio))
    except Exception:
        return False
