"""Chapter 06's checkers (roadlite.checkers.pruning): L1 importance, the channel selection and
one pruning step.

Each checker passes the reference, the reference agrees with a maintained library, and the
checker fails, with the right message, on wrong answers written the way a student would
write them (the `rejects` fixture: tests/conftest.py)."""

import copy

import pytest
import torch
from torch import nn

from roadlite.checkers.pruning import (
    check_l1_channel_importance,
    check_prune_step,
    check_select_channels,
    l1_channel_importance_reference,
    prune_step_reference,
    select_channels_reference,
    small_network,
)


def not_implemented(*args):
    raise NotImplementedError()


def test_l1_importance_reference_equals_torch_prune_and_torch_pruning():
    import torch.nn.utils.prune as prune
    import torch_pruning as tp

    g = torch.Generator().manual_seed(1)
    conv = nn.Conv2d(4, 6, 3)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(6, 4, 3, 3, generator=g))
    imp = l1_channel_importance_reference(conv.weight)
    # torch.nn.utils.prune.ln_structured removes the filters with the smallest L1 norm
    prune.ln_structured(conv, "weight", amount=2, n=1, dim=0)
    removed = torch.nonzero(conv.weight_mask.flatten(1).sum(1) == 0).flatten()
    assert set(removed.tolist()) == set(torch.argsort(imp)[:2].tolist())
    # torch-pruning's L1 magnitude of the layer's own filters
    net = nn.Sequential(nn.Conv2d(4, 6, 3), nn.ReLU(), nn.Conv2d(6, 2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.randn(6, 4, 3, 3, generator=g))
    dg = tp.DependencyGraph().build_dependency(net, torch.zeros(1, 4, 5, 5))
    group = dg.get_pruning_group(net[0], tp.prune_conv_out_channels, idxs=list(range(6)))
    tp_imp = tp.importance.MagnitudeImportance(p=1, normalizer=None, group_reduction="first")(
        group)
    torch.testing.assert_close(tp_imp, l1_channel_importance_reference(net[0].weight))


def test_pruning_checkers_accept_the_references():
    assert check_l1_channel_importance(l1_channel_importance_reference, verbose=False) == 4
    assert check_select_channels(select_channels_reference, verbose=False) == 6
    assert check_prune_step(prune_step_reference, verbose=False) == 3


@pytest.mark.parametrize("fn, fragments", [
    (lambda w: w.abs().sum(dim=(0, 2, 3)), ["shape differs", "dim 0"]),       # wrong axis
    (lambda w: w.norm(p=2, dim=(1, 2, 3)), ["L2 norm"]),
    (lambda w: w.sum(dim=(1, 2, 3)), ["absolute value is missing"]),
    (lambda w: w.abs().mean(dim=(1, 2, 3)), ["the mean instead of the sum"]),
    (not_implemented, ["not implemented yet"]),
])
def test_importance_checker_rejects(fn, fragments, rejects):
    rejects(check_l1_channel_importance, fn, "l1_channel_importance", *fragments)


def test_select_reference_matches_torch_pruning_on_one_layer():
    import torch_pruning as tp

    for c, ratio in ((10, 0.3), (16, 0.3), (7, 0.5)):
        net = nn.Sequential(nn.Conv2d(3, c, 3), nn.ReLU(), nn.Conv2d(c, 2, 1))
        with torch.no_grad():  # filters of distinct L1 norms
            scale = torch.randperm(c, generator=torch.Generator().manual_seed(c)).float() + 1
            net[0].weight.copy_(torch.ones_like(net[0].weight) * scale[:, None, None, None])
        keep = select_channels_reference(l1_channel_importance_reference(net[0].weight), ratio)
        imp = tp.importance.MagnitudeImportance(p=1, normalizer=None, group_reduction="first")
        pruner = tp.pruner.MetaPruner(net, torch.zeros(1, 3, 6, 6), importance=imp,
                                      pruning_ratio=ratio, ignored_layers=[net[2]])
        kept_weight = net[0].weight.detach().clone()[keep]
        pruner.step()
        assert net[0].out_channels == keep.numel()
        torch.testing.assert_close(net[0].weight.detach(), kept_weight)


def _select(descending=True, count="keep", sort=True):
    def select(imp, ratio):
        c = imp.numel()
        k = {"keep": int(c * (1 - ratio)), "round": c - round(c * ratio),
             "floor": c - int(c * ratio), "ratio": int(c * ratio)}[count]
        idx = torch.argsort(imp, descending=descending)[:k]
        return torch.sort(idx).values if sort else idx
    return select


@pytest.mark.parametrize("fn, fragments", [
    (_select(descending=False), ["*least* important"]),
    (_select(count="floor"), ["16 channels", "int(C * ratio) channels (rounded down)"]),
    (_select(count="ratio"), ["ratio is the share to *remove*"]),
    (_select(sort=False), ["ascending order"]),
    (lambda imp, r: _select()(imp, r).int(), ["dtype differs"]),
    (lambda imp, r: torch.sort(torch.argsort(imp)[: imp.numel() - int(imp.numel() * (1 - r))]
                               ).values, ["channels to remove"]),
])
def test_select_checker_rejects(fn, fragments, rejects):
    rejects(check_select_channels, fn, "select_channels", *fragments)


def _threshold_select(imp, ratio):
    """A student's threshold: every channel at least as important as the k-th largest."""
    k = int(imp.numel() * (1 - ratio))
    return torch.nonzero(imp >= torch.sort(imp, descending=True).values[k - 1]).flatten()


def test_select_checker_rejects_a_threshold_that_keeps_every_tied_channel(rejects):
    assert torch.equal(_threshold_select(torch.tensor([0.9, 0.1, 0.5, 0.7]), 0.5),
                       torch.tensor([0, 3]))  # right when nothing ties
    rejects(check_select_channels, _threshold_select, "five filters at zero (tied)",
            "shape differs", "tied with the last one kept", "ties broken by index")


def test_select_checker_accepts_ties_broken_another_way():
    def last_index_wins(imp, ratio):
        k = int(imp.numel() * (1 - ratio))
        order = sorted(range(imp.numel()), key=lambda i: (-float(imp[i]), -i))
        return torch.tensor(sorted(order[:k]), dtype=torch.int64)

    assert check_select_channels(last_index_wins, verbose=False) == 6
    assert check_select_channels(lambda imp, r: torch.sort(torch.topk(
        imp, int(imp.numel() * (1 - r))).indices).values, verbose=False) == 6


def test_prune_step_reference_equals_torch_pruning():
    import torch_pruning as tp

    for seed, (ci, cm, co), ratio in ((0, (3, 8, 10), 0.3), (1, (2, 12, 3), 0.5)):
        net = small_network(ci, cm, co, seed=seed)
        ours = prune_step_reference(net, ratio)
        theirs = copy.deepcopy(net)
        keep = select_channels_reference(l1_channel_importance_reference(net[0].weight), ratio)
        drop = sorted(set(range(cm)) - set(keep.tolist()))
        dg = tp.DependencyGraph().build_dependency(theirs, torch.zeros(1, ci, 6, 6))
        dg.get_pruning_group(theirs[0], tp.prune_conv_out_channels, idxs=drop).prune()
        for (name, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items(),
                                     strict=True):
            torch.testing.assert_close(a, b, msg=name)


def _student_prune(bn_stats=True, conv2_dim=1, keep_first_bias=False, rank_by_conv2=False,
                   attributes=True):
    def prune_step(net, ratio):
        conv1, bn, relu, conv2 = net
        imp = (conv2.weight.abs().sum(dim=(0, 2, 3)) if rank_by_conv2
               else conv1.weight.abs().sum(dim=(1, 2, 3)))
        keep = torch.sort(torch.argsort(imp, descending=True)[: int(imp.numel() * (1 - ratio))]
                          ).values
        with torch.no_grad():
            conv1.weight = nn.Parameter(conv1.weight[keep])
            if conv1.bias is not None:
                conv1.bias = nn.Parameter(conv1.bias[: keep.numel()] if keep_first_bias
                                          else conv1.bias[keep])
            if attributes:
                conv1.out_channels = keep.numel()
            bn.weight, bn.bias = nn.Parameter(bn.weight[keep]), nn.Parameter(bn.bias[keep])
            if bn_stats:
                bn.running_mean, bn.running_var = bn.running_mean[keep], bn.running_var[keep]
            if attributes:
                bn.num_features = keep.numel()
            conv2.weight = nn.Parameter(conv2.weight.index_select(conv2_dim, keep))
            if conv2_dim == 0 and conv2.bias is not None:
                conv2.bias = nn.Parameter(conv2.bias[keep])
            if attributes:
                conv2.in_channels = keep.numel()
        return net
    return prune_step


def test_prune_step_checker_accepts_an_in_place_student_solution():
    assert check_prune_step(_student_prune(), verbose=False) == 3


@pytest.mark.parametrize("fn, fragments", [
    (_student_prune(bn_stats=False), ["shape differs", "running mean and variance"]),
    (_student_prune(conv2_dim=0), ["3.weight", "shape differs", "*input* channels"]),
    (_student_prune(keep_first_bias=True), ["0.bias", "first channels"]),
    (_student_prune(rank_by_conv2=True), ["0.weight", "conv2's input filters"]),
    (lambda net, r: nn.Sequential(net[0], net[3]), ["has no"]),
    (lambda net, r: net, ["shape differs"]),                       # pruned nothing
])
def test_prune_step_checker_rejects(fn, fragments, rejects):
    rejects(check_prune_step, fn, "prune_step", *fragments)


def test_prune_step_checker_rejects_sliced_tensors_with_stale_attributes(rejects):
    """Every tensor right, the forward pass right, but conv1.out_channels, the batch norm's
    num_features and conv2.in_channels still say 8."""
    stale = _student_prune(attributes=False)
    net = stale(copy.deepcopy(small_network(3, 8, 10)), 0.3)
    assert net[0].weight.shape[0] == 5 and net[0].out_channels == 8
    rejects(check_prune_step, stale, "prune_step", "layer 0's out_channels is 8",
            "5 channels", "attributes were left stale")
