"""The classroom edition's checkers: each passes the reference, the reference agrees with a
maintained library, and each checker fails, with the right message, on realistic wrong answers
written the way a student would write them."""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from roadlite.checkers import compare as cmp
from roadlite.checkers.dmia import check_dmia_boundary, dmia_boundary_reference, dmia_cases
from roadlite.checkers.eca import (
    KERNEL_CASES,
    check_eca_gate,
    check_eca_kernel_size,
    eca_gate_reference,
    eca_kernel_size_reference,
)
from roadlite.checkers.mcnemar import check_mcnemar, mcnemar_reference
from roadlite.checkers.pruning import (
    check_l1_channel_importance,
    check_prune_step,
    check_select_channels,
    l1_channel_importance_reference,
    prune_step_reference,
    select_channels_reference,
    small_network,
)
from roadlite.checkers.quantization import (
    SZP_CASES,
    check_fake_quantize,
    check_quantized_bias,
    check_scale_zero_point,
    fake_quantize_reference,
    quantized_bias_reference,
    scale_zero_point_reference,
)
from roadlite.checkers.refinement import (
    BLOCK_CASES,
    check_inverted_residual_cost,
    inverted_residual_cost_reference,
)


def rejects(checker, fn, *fragments):
    """The checker raises one AssertionError whose message holds every fragment."""
    with pytest.raises(AssertionError) as info:
        checker(fn, verbose=False)
    msg = str(info.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    return msg


def not_implemented(*args):
    raise NotImplementedError()


# ------------------------------------------------------------------------------------ compare

def test_compare_reports_shape_dtype_and_largest_deviation():
    with pytest.raises(AssertionError, match=r"shape differs: expected \(2, 3\), got \(3, 2\)"):
        cmp.compare("ex", "case", torch.zeros(3, 2), torch.zeros(2, 3))
    with pytest.raises(AssertionError, match="dtype differs: expected torch.int32, got "
                                             "torch.int64"):
        cmp.compare("ex", "case", torch.zeros(2, dtype=torch.int64),
                    torch.zeros(2, dtype=torch.int32), dtype=torch.int32)
    got = torch.tensor([[0.0, 1.0], [2.0, 3.5]])
    with pytest.raises(AssertionError, match=r"1 of 4 values differ; the largest deviation is "
                                             r"0.5 at index \[1, 1\] \(expected 3.0, got 3.5\)"):
        cmp.compare("ex", "case", got, torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    with pytest.raises(AssertionError, match="forget to `return`"):
        cmp.compare("ex", "case", None, torch.zeros(2))
    cmp.compare("ex", "case", torch.ones(2), torch.ones(2) + 1e-9)  # equal within tolerance


def test_call_turns_not_implemented_into_the_checkers_message():
    with pytest.raises(AssertionError, match="not implemented yet"):
        cmp.call("ex", "case", not_implemented)
    with pytest.raises(AssertionError, match="raised ZeroDivisionError"):
        cmp.call("ex", "case", lambda: 1 / 0)


# ----------------------------------------------------------------------------- 03: ECA kernel

def test_kernel_reference_equals_the_model_and_eca_net_table():
    from roadlite.models.eca import eca_kernel_size

    for c in KERNEL_CASES:
        assert eca_kernel_size_reference(c) == eca_kernel_size(c)
    # ECA-Net / STUDY: k = 3 up to 96 channels, 5 for 160 and 320 channels.
    assert [eca_kernel_size_reference(c) for c in (16, 24, 32, 64, 96, 160, 320)] == \
        [3, 3, 3, 3, 3, 5, 5]


def test_kernel_checker_accepts_the_reference(capsys):
    assert check_eca_kernel_size(eca_kernel_size_reference) == len(KERNEL_CASES)
    assert "all 17 checks passed" in capsys.readouterr().out


def _t(c):
    return int(abs(math.log2(c) + 1) / 2)


@pytest.mark.parametrize("fn, fragments", [
    (lambda c: _t(c) + 1, ["off by one"]),                             # always t + 1
    (lambda c: _t(c), ["without making it odd"]),                      # even kernel allowed
    (lambda c: _t(c) if _t(c) % 2 else _t(c) - 1, ["rounded down to t - 1"]),
    (lambda c: round(abs(math.log2(c) + 1) / 2) | 1, ["rounded to the nearest"]),
    (lambda c: int(abs(math.log(c) + 1) / 2) | 1, ["natural logarithm"]),
    (lambda c: float(_t(c) | 1), ["must be an int"]),
    (not_implemented, ["not implemented yet"]),
])
def test_kernel_checker_rejects(fn, fragments):
    rejects(check_eca_kernel_size, fn, "eca_kernel_size", *fragments)


# ------------------------------------------------------------------------------- 03: ECA gate

def _module_gate(x, w, b):
    from roadlite.models.eca import ECA

    eca = ECA(x.shape[1], k_size=w.numel())
    with torch.no_grad():
        eca.conv.weight.copy_(w.view(1, 1, -1))
        eca.conv.bias.copy_(b.view(1))
    gates = []
    eca.sigmoid.register_forward_hook(lambda m, i, o: gates.append(o))
    eca(x)
    return gates[0].view(x.shape[0], x.shape[1])


def test_gate_reference_equals_the_eca_module():
    g = torch.Generator().manual_seed(0)
    for c, k in ((6, 3), (16, 5), (5, 1), (32, 3)):
        x = torch.randn(2, c, 3, 4, generator=g)
        w, b = torch.randn(k, generator=g), torch.randn((), generator=g)
        torch.testing.assert_close(eca_gate_reference(x, w, b), _module_gate(x, w, b))


def test_gate_checker_accepts_the_reference_and_the_module():
    assert check_eca_gate(eca_gate_reference, verbose=False) == 4
    assert check_eca_gate(_module_gate, verbose=False) == 4


def _student_gate(pool="mean", pad=True, sigmoid=True, bias=True, flip=False, gated=False,
                  softmax=False):
    def gate(x, w, b):
        y = x.amax(dim=(2, 3)) if pool == "max" else x.mean(dim=(2, 3))
        ker = w.flip(0) if flip else w
        z = F.conv1d(y.unsqueeze(1), ker.view(1, 1, -1), b.view(1) if bias else None,
                     padding=w.numel() // 2 if pad else 0).squeeze(1)
        out = torch.softmax(z, dim=1) if softmax else torch.sigmoid(z) if sigmoid else z
        return x * out[:, :, None, None] if gated else out
    return gate


@pytest.mark.parametrize("fn, fragments", [
    (lambda x, w, b: x.mean(dim=1), ["shape differs", "channel axis"]),   # wrong reduction axis
    (_student_gate(pool="max"), ["max pooling"]),
    (_student_gate(pad=False), ["shape differs", "no padding"]),
    (_student_gate(sigmoid=False), ["sigmoid is missing"]),
    (_student_gate(bias=False), ["bias of the 1-D convolution is missing"]),
    (_student_gate(flip=True), ["flipped"]),
    (_student_gate(softmax=True), ["softmax"]),
    (_student_gate(gated=True), ["shape differs", "gated feature map"]),
    (lambda x, w, b: _student_gate()(x, w, b).double(), ["dtype differs"]),
])
def test_gate_checker_rejects(fn, fragments):
    rejects(check_eca_gate, fn, "eca_gate", *fragments)


# ------------------------------------------------------------------ 04: inverted residual cost

def test_block_cost_reference_equals_the_model_and_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    from roadlite.models.mobilenet import InvertedResidual
    from roadlite.models.summary import count_params, macs_per_layer

    for inp, oup, s, t, h, w in BLOCK_CASES:
        block = InvertedResidual(inp, oup, s, t).eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            block(torch.zeros(1, inp, h, w))
        params, macs = inverted_residual_cost_reference(inp, oup, s, t, h, w)
        assert params == count_params(block)
        assert 2 * macs == counter.get_total_flops()  # torch counts 2 FLOPs per MAC
        wrapper = nn.Sequential(block)
        wrapper.features = block  # macs_per_layer only needs a forward pass
        assert macs == sum(macs_per_layer(nn.Sequential(block), (h, w), inp).values())


def test_block_cost_checker_accepts_the_reference():
    assert check_inverted_residual_cost(inverted_residual_cost_reference, verbose=False) == 7


def _student_cost(dw_groups=True, bn=True, flops=False, expand_t1=False, floor=False,
                  no_stride=False, expand_at_out=False):
    def cost(inp, oup, stride, t, h, w):
        hid = round(inp * t)
        ho, wo = (h // stride, w // stride) if floor else ((h - 1) // stride + 1,
                                                          (w - 1) // stride + 1)
        if no_stride:
            ho, wo = h, w
        p = m = 0
        if t != 1 or expand_t1:
            p += inp * hid + (2 * hid if bn else 0)
            m += (ho * wo if expand_at_out else h * w) * inp * hid
        p += hid * 9 * (hid if not dw_groups else 1) + (2 * hid if bn else 0)
        m += ho * wo * hid * 9 * (hid if not dw_groups else 1)
        p += hid * oup + (2 * oup if bn else 0)
        m += ho * wo * hid * oup
        return p, (2 * m if flops else m)
    return cost


@pytest.mark.parametrize("fn, fragments", [
    (_student_cost(dw_groups=False), ["params", "groups = hidden"]),
    (_student_cost(bn=False), ["params", "batch-norm parameters are missing"]),
    (_student_cost(flops=True), ["macs", "FLOPs"]),
    (_student_cost(expand_t1=True), ["t=1", "expansion layer counted for t = 1"]),
    (_student_cost(floor=True), ["15x15", "h // stride"]),
    (_student_cost(no_stride=True), ["macs", "stride ignored"]),
    (_student_cost(expand_at_out=True), ["macs", "expansion conv counted at the output"]),
    (lambda *a: (float(inverted_residual_cost_reference(*a)[0]), 0), ["params must be an int"]),
    (lambda *a: inverted_residual_cost_reference(*a)[1], ["expected a pair"]),
])
def test_block_cost_checker_rejects(fn, fragments):
    rejects(check_inverted_residual_cost, fn, "inverted_residual_cost", *fragments)


def test_block_cost_checker_names_the_depthwise_mistake_for_macs_too():
    def dw_macs_only(*a):  # parameters right, MACs without the group factor
        inp, oup, stride, t, h, w = a
        params, macs = inverted_residual_cost_reference(*a)
        hid = round(inp * t)
        ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
        return params, macs + ho * wo * hid * 9 * (hid - 1)
    rejects(check_inverted_residual_cost, dw_macs_only, "macs", "groups = hidden")


# ------------------------------------------------------------------------------- 06: pruning

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
    assert check_select_channels(select_channels_reference, verbose=False) == 4
    assert check_prune_step(prune_step_reference, verbose=False) == 3


@pytest.mark.parametrize("fn, fragments", [
    (lambda w: w.abs().sum(dim=(0, 2, 3)), ["shape differs", "dim 0"]),       # wrong axis
    (lambda w: w.norm(p=2, dim=(1, 2, 3)), ["L2 norm"]),
    (lambda w: w.sum(dim=(1, 2, 3)), ["absolute value is missing"]),
    (lambda w: w.abs().mean(dim=(1, 2, 3)), ["the mean instead of the sum"]),
    (not_implemented, ["not implemented yet"]),
])
def test_importance_checker_rejects(fn, fragments):
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
def test_select_checker_rejects(fn, fragments):
    rejects(check_select_channels, fn, "select_channels", *fragments)


def _threshold_select(imp, ratio):
    """A student's threshold: every channel at least as important as the k-th largest."""
    k = int(imp.numel() * (1 - ratio))
    return torch.nonzero(imp >= torch.sort(imp, descending=True).values[k - 1]).flatten()


def test_select_checker_rejects_a_threshold_that_keeps_every_tied_channel():
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
def test_prune_step_checker_rejects(fn, fragments):
    rejects(check_prune_step, fn, "prune_step", *fragments)


def test_prune_step_checker_rejects_sliced_tensors_with_stale_attributes():
    """Every tensor right, the forward pass right, but conv1.out_channels, the batch norm's
    num_features and conv2.in_channels still say 8."""
    stale = _student_prune(attributes=False)
    net = stale(copy.deepcopy(small_network(3, 8, 10)), 0.3)
    assert net[0].weight.shape[0] == 5 and net[0].out_channels == 8
    rejects(check_prune_step, stale, "prune_step", "layer 0's out_channels is 8",
            "5 channels", "attributes were left stale")


# -------------------------------------------------------------------------- 07: quantization

@pytest.mark.parametrize("lo, hi", SZP_CASES)
def test_scale_zero_point_reference_equals_torch_observers(lo, hi):
    from torch.ao.quantization.observer import MinMaxObserver

    for symmetric in (False, True):
        obs = MinMaxObserver(dtype=torch.qint8, quant_min=-127 if symmetric else -128,
                             quant_max=127, qscheme=torch.per_tensor_symmetric if symmetric
                             else torch.per_tensor_affine)
        obs(torch.tensor([lo, hi]))
        scale, zp = obs.calculate_qparams()
        want = scale_zero_point_reference(lo, hi, symmetric)
        assert math.isclose(float(scale), want[0], rel_tol=1e-6)
        assert int(zp) == want[1]


def test_quantization_checkers_accept_the_references():
    assert check_scale_zero_point(scale_zero_point_reference, verbose=False) == 14
    assert check_fake_quantize(fake_quantize_reference, verbose=False) == 4
    assert check_quantized_bias(quantized_bias_reference, verbose=False) == 3


def _student_szp(asym_for_sym=False, sym_for_asym=False, sign=-1, levels=255, rounder=round,
                 widen=True, sym_div=127, qmin=-128):
    def szp(x_min, x_max, symmetric):
        lo, hi = (min(x_min, 0.0), max(x_max, 0.0)) if widen else (x_min, x_max)
        if (symmetric and not asym_for_sym) or (not symmetric and sym_for_asym):
            return max(max(abs(lo), abs(hi)) / sym_div, 1.1920928955078125e-07), 0
        scale = max((hi - lo) / levels, 1.1920928955078125e-07)
        return scale, int(qmin + sign * rounder(lo / scale))
    return szp


@pytest.mark.parametrize("fn, fragments", [
    (_student_szp(sym_for_asym=True), ["asymmetric INT8", "symmetric quantization where"]),
    (_student_szp(asym_for_sym=True), ["symmetric INT8", "symmetric quantization where"]),
    (_student_szp(sign=1), ["zero_point", "wrong sign"]),
    (_student_szp(levels=256), ["scale", "256 steps"]),
    (_student_szp(rounder=math.floor), ["zero_point", "floor instead of round"]),
    (_student_szp(widen=False), ["[0.2, 3.0]", "widened to include 0"]),
    (_student_szp(sym_div=128), ["symmetric INT8", "max|x| / 128"]),
    (_student_szp(sym_div=127.5), ["max|x| / 127.5"]),
    (_student_szp(qmin=0), ["zero_point", "UINT8"]),
    (lambda lo, hi, s: (scale_zero_point_reference(lo, hi, s)[0],
                        float(scale_zero_point_reference(lo, hi, s)[1])), ["must be an integer"]),
])
def test_scale_zero_point_checker_rejects(fn, fragments):
    rejects(check_scale_zero_point, fn, "scale_zero_point", *fragments)


def test_fake_quantize_reference_equals_torch():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(200, generator=g) * 3
    for scale, zp in ((0.02, 0), (0.013, 20), (0.05, -77)):
        torch.testing.assert_close(fake_quantize_reference(x, scale, zp),
                                   torch.fake_quantize_per_tensor_affine(x, scale, zp, -128, 127))


def _student_fq(rounding="round", clamp=True, clamp_first=False, sub_zp=True, dequant=True,
                wrap=False):
    def fq(x, s, z, qmin=-128, qmax=127):
        r = {"round": torch.round, "floor": torch.floor, "int": lambda v: v.int().float()}[
            rounding](x / s)
        if clamp_first:
            q = torch.clamp(r, qmin, qmax) + z
        elif wrap:
            q = (r + z).to(torch.int8).float()
        else:
            q = torch.clamp(r + z, qmin, qmax) if clamp else r + z
        if not dequant:
            return q
        return ((q - z) if sub_zp else q) * s
    return fq


@pytest.mark.parametrize("fn, fragments", [
    (_student_fq(rounding="int"), ["truncation"]),
    (_student_fq(rounding="floor"), ["floor instead of round"]),
    (_student_fq(clamp=False), ["saturate", "no clamping"]),
    (_student_fq(clamp_first=True), ["zero point -77", "clamped before adding the zero point"]),
    (_student_fq(sub_zp=False), ["zero point is not subtracted"]),
    (_student_fq(dequant=False), ["integers q"]),
    (_student_fq(wrap=True), ["wrap around"]),
    (lambda x, s, z, lo, hi: fake_quantize_reference(x, s, z).double(), ["dtype differs"]),
])
def test_fake_quantize_checker_rejects(fn, fragments):
    rejects(check_fake_quantize, fn, "fake_quantize", *fragments)


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
def test_quantized_bias_reference_equals_torch_qint32():
    b = torch.tensor([0.1, -0.361, 0.0, 2.5, -0.00137, 3.0, -7.1])
    q = torch.quantize_per_tensor(b, 0.05 * 0.004, 0, torch.qint32).int_repr()
    torch.testing.assert_close(quantized_bias_reference(b, 0.05, 0.004), q)
    bc = torch.tensor([0.8, -0.2, 0.05])
    sw = torch.tensor([0.002, 0.0051, 0.013], dtype=torch.float64)
    q = torch.quantize_per_channel(bc, sw * 0.021, torch.zeros(3, dtype=torch.long), 0,
                                   torch.qint32).int_repr()
    torch.testing.assert_close(quantized_bias_reference(bc, 0.021, sw), q)


def _student_bias(scale="product", rounding="round", dtype=torch.int32, clamp8=False):
    def qb(b, s_in, s_w):
        sc = {"product": s_in * s_w, "w": s_w, "in": s_in, "sum": s_in + s_w}[scale]
        v = b / sc
        v = torch.round(v) if rounding == "round" else torch.trunc(v)
        if clamp8:
            v = torch.clamp(v, -128, 127)
        return v.to(dtype)
    return qb


@pytest.mark.parametrize("fn, fragments", [
    (_student_bias(scale="w"), ["s_in * s_w: you divided by s_w only"]),
    (_student_bias(scale="in"), ["divided by s_in only"]),
    (_student_bias(scale="sum"), ["not s_in + s_w"]),
    (_student_bias(rounding="trunc"), ["truncated"]),
    (_student_bias(clamp8=True), ["INT8 range"]),
    (_student_bias(dtype=torch.int64), ["dtype differs: expected torch.int32, got torch.int64"]),
    (_student_bias(dtype=torch.int8), ["dtype differs"]),
])
def test_quantized_bias_checker_rejects(fn, fragments):
    rejects(check_quantized_bias, fn, "quantized_bias", *fragments)


# ---------------------------------------------------------------------------- 09: McNemar

def test_mcnemar_reference_equals_the_books_test_on_the_chi2_branch():
    from roadlite.evaluation import mcnemar_test

    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 4, 300)
        a = np.where(rng.random(300) < 0.8, y, (y + 1) % 4)
        b = np.where(rng.random(300) < 0.7, y, (y + 2) % 4)
        ref = mcnemar_test(y, a, b)
        bb, cc, chi2 = mcnemar_reference(y, a, b)
        assert (bb, cc) == (ref["b"], ref["c"]) and ref["method"] == "chi2"
        assert math.isclose(chi2, ref["statistic"], rel_tol=1e-12)


def test_mcnemar_checker_accepts_the_reference():
    assert check_mcnemar(mcnemar_reference, verbose=False) == 4


def _student_mcnemar(correction=1, swap=False, disagree=False, denom="bc", clip=True,
                     square=True):
    def mcnemar(y, a, b):
        ok_a, ok_b = a == y, b == y
        if disagree:
            nb, nc = int(np.sum((a != b) & ok_a)), int(np.sum((a != b) & ~ok_a))
        else:
            nb, nc = int(np.sum(ok_a & ~ok_b)), int(np.sum(~ok_a & ok_b))
        if swap:
            nb, nc = nc, nb
        d = abs(nb - nc) - correction
        d = max(d, 0) if clip else d
        n = nb + nc if denom == "bc" else len(y)
        return nb, nc, (d * d if square else d) / n
    return mcnemar


@pytest.mark.parametrize("fn, fragments", [
    (_student_mcnemar(correction=0), ["chi2", "no continuity correction"]),
    (_student_mcnemar(swap=True), ["b: expected 18, got 3", "swapped"]),
    (_student_mcnemar(disagree=True), ["*predict* differently"]),
    (_student_mcnemar(denom="n"), ["number of images n"]),
    (_student_mcnemar(clip=False), ["b = c = 3", "not clipped"]),
    (_student_mcnemar(square=False), ["chi2", "not squared"]),
    (_student_mcnemar(), ["b + c = 0", "ZeroDivisionError"]),   # crashes when b + c = 0
])
def test_mcnemar_checker_rejects(fn, fragments):
    rejects(check_mcnemar, fn, "mcnemar", *fragments)


def test_mcnemar_checker_accepts_a_guarded_student_solution():
    def guarded(y, a, b):
        nb, nc = int(np.sum((a == y) & (b != y))), int(np.sum((a != y) & (b == y)))
        return nb, nc, 0.0 if nb + nc == 0 else max(abs(nb - nc) - 1, 0) ** 2 / (nb + nc)
    assert check_mcnemar(guarded, verbose=False) == 4


# ------------------------------------------------------------------------------ 11: DMIA

def test_dmia_reference_equals_opencv_and_scipy():
    from scipy import ndimage

    from roadlite.segmentation.dmia import dmia_boundary

    cross = ndimage.generate_binary_structure(2, 1)
    for _, m in dmia_cases():
        ref = dmia_boundary_reference(m)
        np.testing.assert_array_equal(ref, dmia_boundary(m))
        mb, n = m > 0, 0
        e = mb
        while e.any():
            e = ndimage.binary_erosion(e, cross, border_value=0)
            n += 1
        if n:
            d = np.abs(np.arange(-n, n + 1))
            grown = ndimage.binary_dilation(mb, (d[:, None] + d[None, :]) <= n)
            np.testing.assert_array_equal(ref, (grown & ~mb).astype(np.uint8))
        else:
            assert not ref.any()


def test_dmia_checker_accepts_the_reference_and_the_books_function():
    from roadlite.segmentation.dmia import dmia_boundary

    assert check_dmia_boundary(dmia_boundary_reference, verbose=False) == 8
    assert check_dmia_boundary(dmia_boundary, verbose=False) == 8


def _student_dmia(erode="cross", dilate="diamond", extra=0, subtract=True, dtype=np.uint8):
    def dmia(mask):
        from scipy import ndimage

        m = mask > 0
        el = ndimage.generate_binary_structure(2, 1 if erode == "cross" else 2)
        n, e = 0, m
        while e.any():
            e = ndimage.binary_erosion(e, el, border_value=0)
            n += 1
        r = n + extra if n else 0
        if r <= 0:
            return np.zeros(m.shape, dtype)
        d = np.abs(np.arange(-r, r + 1))
        se = (d[:, None] + d[None, :]) <= r if dilate == "diamond" else np.ones((2 * r + 1,) * 2)
        grown = ndimage.binary_dilation(m, se)
        return (grown & ~m if subtract else grown).astype(dtype)
    return dmia


@pytest.mark.parametrize("fn, fragments", [
    (_student_dmia(erode="square"), ["wide diagonal", "3x3 square"]),
    (_student_dmia(dilate="square"), ["square of radius r"]),
    (_student_dmia(subtract=False), ["not subtracted"]),
    (_student_dmia(extra=1), ["r = n + 1"]),
    (_student_dmia(extra=-1), ["r = n - 1"]),
    (_student_dmia(dtype=bool), ["dtype differs: expected uint8"]),
    (lambda m: _student_dmia()(m)[None], ["shape differs"]),
])
def test_dmia_checker_rejects(fn, fragments):
    rejects(check_dmia_boundary, fn, "dmia_boundary", *fragments)


# ------------------------------------------------------- every mistake a checker lists, named

def _listed_mistakes():
    """(checker, description, wrong function) for every mistake a checker's table lists: the
    teacher's guide promises that each is rejected and named, so each is tried here."""
    from roadlite.checkers import dmia, eca, mcnemar, pruning, quantization, refinement

    table = [
        (check_eca_kernel_size, eca.KERNEL_MISTAKES),
        (check_eca_gate, eca.GATE_MISTAKES),
        (check_l1_channel_importance, pruning.IMPORTANCE_MISTAKES),
        (check_select_channels, pruning.SELECT_MISTAKES),
        (check_prune_step, pruning.STEP_MISTAKES),
        (check_scale_zero_point, quantization.SZP_MISTAKES),
        (check_fake_quantize, quantization.FQ_MISTAKES),
        (check_quantized_bias, quantization.BIAS_MISTAKES),
        (check_mcnemar, mcnemar.MISTAKES),
        (check_dmia_boundary, dmia.MISTAKES),
        (check_inverted_residual_cost,
         [(d, lambda *a, kw=kw: refinement._cost(*a, **kw)) for d, kw in refinement.MISTAKES]),
    ]
    return [pytest.param(checker, d, f, id=f"{checker.__name__}: {d[:40]}")
            for checker, mistakes in table for d, f in mistakes]


@pytest.mark.parametrize("checker, description, wrong", _listed_mistakes())
def test_every_listed_mistake_is_rejected_and_named(checker, description, wrong):
    # The tables compute in float64 (a value is matched whatever its dtype); a student returns
    # the dtype asked for, so the wrong answer is cast to it before the checker sees it.
    cast = {check_eca_gate: torch.float32, check_quantized_bias: torch.int32}.get(checker)
    if checker is check_prune_step:  # the student may prune in place: give each call a copy
        fn = lambda net, r: wrong(copy.deepcopy(net), r)  # noqa: E731
    elif cast is not None:
        fn = lambda *a: wrong(*a).to(cast)  # noqa: E731
    else:
        fn = wrong
    rejects(checker, fn, description)
