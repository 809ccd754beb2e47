"""LR-CrackNet's U-shaped segmentation networks and a plain U-Net (Chapter 11_crack_segmentation).

Built from the paper's text (Ma et al., "Self-Derived Multimodal Knowledge Distillation for
Real-Time Road Crack Detection", IEEE Sensors J. 2025, §III-A). The paper's abstract names a
source package ("available at https://mias.group/LR-CrackNet/"); the book was built from the
text without that package. The text gives no widths, so the choices below are ours:

* widths: stem ``w``, then ``2w, 4w, 8w, 8w`` down the encoder (the last Down block keeps ``8w``
  because the decoder upsamples bilinearly, as in the common U-Net layout); the decoder mirrors
  it (``4w, 2w, w, w``). ``w = 30`` gives the student 3,845,080 parameters (the paper: 3.856 M;
  see :func:`student_params_for_width` and the chapter's table) -- 30 is our fit to that count;
* RDLDC: a 1x1 projection, two depthwise 3x3 Conv-BN-ReLU layers of which the second sees the sum
  of the projection and the first (the cross-connection), a 1x1 fusion of both and a residual
  addition of the projection (the paper names the cross-connection and the depthwise layers,
  not this layout);
* Down = 2x2 max-pool + block; Up = bilinear x2 + concatenation with the skip + block (bilinear
  is ours);
* Fast-Transformer bottleneck: attention embedding (Eqs. 1-3), residual feature mixer (Eqs.
  4-6), then ``x + MLP(x)`` with the MLP Conv1x1-GELU-Dropout-Conv1x1-Dropout (the paper's
  layers; the ratio 2.5, p 0.1 and the residual are ours); a 1x1 head with one logit per pixel;
* the teacher adds the features of its two DLC stems (image, boundary map) -- the paper says two
  stems, not how they merge;
* Table II's fourth row, "Standard-T", integrates "another Transformer variant [30]", which is
  CAS-ViT (Zhang et al. 2024, arXiv:2408.03703): :class:`CASViTBlock` (``bottleneck="casvit"``)
  is built from CAS-ViT's published description. :class:`StandardTransformer`
  (``bottleneck="standard"``) is ours, a ViT-style self-attention block that the paper did not
  test.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from roadlite.models.registry import register_model


def conv_bn_relu(cin: int, cout: int, k: int = 3, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DLC(nn.Sequential):
    """Dual-layer convolution: two Conv3x3-BN-ReLU (``mid`` channels in between)."""

    def __init__(self, cin: int, cout: int, mid: int | None = None):
        mid = mid or cout
        super().__init__(conv_bn_relu(cin, mid), conv_bn_relu(mid, cout))


class RDLDC(nn.Module):
    """Residual dual-layer depthwise convolution with a cross-connection (our reading)."""

    def __init__(self, cin: int, cout: int, mid: int | None = None):
        super().__init__()
        self.proj = conv_bn_relu(cin, cout, k=1)
        self.dw1 = conv_bn_relu(cout, cout, groups=cout)
        self.dw2 = conv_bn_relu(cout, cout, groups=cout)
        self.fuse = nn.Sequential(nn.Conv2d(2 * cout, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.proj(x)
        a = self.dw1(p)
        b = self.dw2(a + p)  # the cross-connection: the second layer reuses the first's input
        return self.act(self.fuse(torch.cat([a, b], 1)) + p)


def _block(kind: str, cin: int, cout: int, mid: int | None = None) -> nn.Module:
    return RDLDC(cin, cout) if kind == "rdldc" else DLC(cin, cout, mid)


class Down(nn.Sequential):
    def __init__(self, kind: str, cin: int, cout: int):
        super().__init__(nn.MaxPool2d(2), _block(kind, cin, cout))


class Up(nn.Module):
    """Bilinear x2, concatenation with the skip, then a DLC or RDLDC block."""

    def __init__(self, kind: str, cin: int, cout: int):
        super().__init__()
        self.block = _block(kind, cin, cout, mid=cin // 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.block(torch.cat([skip, x], 1))


class SpatialAttention(nn.Module):
    """Channel-wise spatial attention (Eqs. 1-3): ``F * sigmoid(conv7x7([mean_c F, max_c F]))``."""

    def __init__(self, k: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, k, padding=k // 2)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        avg = x.mean(1, keepdim=True)  # CWAP, Eq. 2
        mx = x.amax(1, keepdim=True)  # CWMP, Eq. 3
        return torch.sigmoid(self.conv(torch.cat([avg, mx], 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class ResidualFeatureMixer(nn.Module):
    """RFMM (Eqs. 4-6). Split ``F_e`` into halves ``F_e1``, ``F_e2``;
    ``F'_e1 = F_e1 * conv1x1(dw3x3(F_e))`` (Eq. 6), ``F''_e1 = F'_e1 * sigmoid(conv1x1(GAP(F'_e1)))``
    (Eq. 5), ``F_r = F_e + dw3x3(dw3x3(F''_e1) * F_e2)`` (Eq. 4; the outer depthwise conv has a
    channel multiplier 2 to return to C channels)."""

    def __init__(self, c: int):
        super().__init__()
        if c % 2:
            raise ValueError(f"ResidualFeatureMixer needs an even channel count, got {c}")
        h = c // 2
        self.h = h
        self.dw_fe = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.pw_fe = nn.Conv2d(c, h, 1)
        self.pw_gap = nn.Conv2d(h, h, 1)
        self.dw_e1 = nn.Conv2d(h, h, 3, padding=1, groups=h)
        self.dw_out = nn.Conv2d(h, c, 3, padding=1, groups=h)

    def forward(self, fe: torch.Tensor) -> torch.Tensor:
        e1, e2 = fe[:, :self.h], fe[:, self.h:]
        e1 = e1 * self.pw_fe(self.dw_fe(fe))  # Eq. 6 (spatial interaction)
        e1 = e1 * torch.sigmoid(self.pw_gap(e1.mean((2, 3), keepdim=True)))  # Eq. 5 (channel)
        return fe + self.dw_out(self.dw_e1(e1) * e2)  # Eq. 4


class FastTransformer(nn.Module):
    """AEM (Eqs. 1-3) -> RFMM (Eqs. 4-6) -> ``x + MLP(x)``."""

    def __init__(self, c: int, mlp_ratio: float = 2.5, dropout: float = 0.1):
        super().__init__()
        hidden = int(c * mlp_ratio)
        self.aem = SpatialAttention()
        self.rfmm = ResidualFeatureMixer(c)
        self.mlp = nn.Sequential(nn.Conv2d(c, hidden, 1), nn.GELU(), nn.Dropout(dropout),
                                 nn.Conv2d(hidden, c, 1), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.rfmm(self.aem(x))
        return x + self.mlp(x)


class StandardTransformer(nn.Module):
    """Ours, not the paper's: a ViT-style block, pre-norm multi-head self-attention over all
    positions and an MLP (4 heads). The paper's Table II "Standard-T" row is CAS-ViT's block
    ([30]), see :class:`CASViTBlock`; this one shows what plain self-attention does instead."""

    def __init__(self, c: int, heads: int = 4, mlp_ratio: float = 2.0, dropout: float = 0.1):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.attn = nn.MultiheadAttention(c, heads, dropout=dropout, batch_first=True)
        hidden = int(c * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(c, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, c), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        n = self.norm1(t)
        t = t + self.attn(n, n, n, need_weights=False)[0]
        t = t + self.mlp(self.norm2(t))
        return t.transpose(1, 2).reshape(b, c, h, w)


class _SpatialOp(nn.Module):
    """CAS-ViT's spatial attention: ``x * sigmoid(conv1x1_to_1(ReLU(BN(dw3x3(x)))))``."""

    def __init__(self, c: int):
        super().__init__()
        self.gate = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=c), nn.BatchNorm2d(c),
                                  nn.ReLU(inplace=True), nn.Conv2d(c, 1, 1, bias=False),
                                  nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class _ChannelOp(nn.Module):
    """CAS-ViT's channel attention: ``x * sigmoid(conv1x1(GAP(x)))``."""

    def __init__(self, c: int):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1, bias=False),
                                  nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class AdditiveTokenMixer(nn.Module):
    """CAS-ViT's convolutional additive token mixer (CATM; Zhang et al. 2024, §3).

    ``Q, K, V`` from one 1x1 convolution; ``Phi(.) = C(S(.))``, spatial then channel attention,
    applied to ``Q`` and to ``K`` (each its own weights); the two are *added* (no ``Q K^T``
    matrix, so the cost is linear in the positions); a context mapping ``Gamma`` (a depthwise
    3x3 convolution) of the sum multiplies ``V``; a depthwise 3x3 projection gives the output:
    ``O = proj(Gamma(Phi_q(Q) + Phi_k(K)) * V)``."""

    def __init__(self, c: int):
        super().__init__()
        self.qkv = nn.Conv2d(c, 3 * c, 1, bias=False)
        self.phi_q = nn.Sequential(_SpatialOp(c), _ChannelOp(c))
        self.phi_k = nn.Sequential(_SpatialOp(c), _ChannelOp(c))
        self.context = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.proj = nn.Conv2d(c, c, 3, padding=1, groups=c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=1)
        return self.proj(self.context(self.phi_q(q) + self.phi_k(k)) * v)


class CASViTBlock(nn.Module):
    """Table II's fourth row: a CAS-ViT block ([30] of the paper: "another Transformer variant"),
    built from CAS-ViT's published description (the code here is ours): a residual local
    integration (1x1 - GELU - depthwise 3x3 - ReLU - 1x1), then ``x + CATM(BN(x))`` and
    ``x + MLP(BN(x))`` with a 1x1-GELU-1x1 MLP. The ratios (MLP 4, local integration 1) follow
    CAS-ViT's description; LR-CrackNet's text says only "another Transformer variant [30]", not
    how it was sized or placed, so putting one block where the Fast-Transformer sits is ours."""

    def __init__(self, c: int, mlp_ratio: float = 4.0, dropout: float = 0.1):
        super().__init__()
        self.local = nn.Sequential(nn.Conv2d(c, c, 1), nn.GELU(),
                                   nn.Conv2d(c, c, 3, padding=1, groups=c), nn.ReLU(inplace=True),
                                   nn.Conv2d(c, c, 1))
        self.norm1, self.norm2 = nn.BatchNorm2d(c), nn.BatchNorm2d(c)
        self.mixer = AdditiveTokenMixer(c)
        hidden = int(c * mlp_ratio)
        self.mlp = nn.Sequential(nn.Conv2d(c, hidden, 1), nn.GELU(), nn.Dropout(dropout),
                                 nn.Conv2d(hidden, c, 1), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.local(x)
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


BOTTLENECKS = ("fast", "standard", "casvit", "none")


class LRCrackNet(nn.Module):
    """The U-shaped network: student (``boundary_input=False``) or teacher (``True``).

    ``forward(x)`` (student) or ``forward(x, boundary)`` (teacher) returns crack logits
    ``[B, 1, H, W]``; with ``return_features=True`` also the output of the third Up block
    (``up3``, the features the paper distils). ``rdldc=False`` and ``bottleneck`` give Table II's
    ablations ("RDLDC (w/o)", "Fast-T (w/o)" = ``"none"``, "Standard-T (w*)", the paper's
    CAS-ViT variant = ``"casvit"``); ``"standard"`` is our ViT-style block, not in the paper.
    """

    def __init__(self, width: int = 30, boundary_input: bool = False, rdldc: bool = True,
                 bottleneck: str = "fast", in_channels: int = 3):
        super().__init__()
        if bottleneck not in BOTTLENECKS:
            raise ValueError(f"bottleneck must be one of {BOTTLENECKS}, got {bottleneck!r}")
        if width < 4 or width % 2:
            raise ValueError(f"width must be an even number >= 4, got {width}")
        w = width
        shallow = "rdldc" if rdldc else "dlc"
        self.width, self.boundary_input = w, boundary_input
        self.stem = DLC(in_channels, w)
        self.stem_boundary = DLC(1, w) if boundary_input else None
        self.down1 = Down(shallow, w, 2 * w)
        self.down2 = Down(shallow, 2 * w, 4 * w)
        self.down3 = Down("dlc", 4 * w, 8 * w)
        self.down4 = Down("dlc", 8 * w, 8 * w)
        self.bottleneck = {"fast": lambda: FastTransformer(8 * w),
                           "standard": lambda: StandardTransformer(8 * w),
                           "casvit": lambda: CASViTBlock(8 * w),
                           "none": nn.Identity}[bottleneck]()
        self.up1 = Up("dlc", 16 * w, 4 * w)
        self.up2 = Up("dlc", 8 * w, 2 * w)
        self.up3 = Up(shallow, 4 * w, w)
        self.up4 = Up(shallow, 2 * w, w)
        self.head = nn.Conv2d(w, 1, 1)

    @property
    def up3_channels(self) -> int:
        return self.width

    def forward(self, x: torch.Tensor, boundary: torch.Tensor | None = None,
                return_features: bool = False):
        x1 = self.stem(x)
        if self.stem_boundary is not None:
            if boundary is None:
                raise ValueError("the teacher needs a boundary map: model(x, boundary)")
            x1 = x1 + self.stem_boundary(boundary)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.bottleneck(self.down4(x4))
        u = self.up2(self.up1(x5, x4), x3)
        f3 = self.up3(u, x2)
        logits = self.head(self.up4(f3, x1))
        return (logits, f3) if return_features else logits


class UNet(nn.Module):
    """The plain U-Net of Table II's first row ("a baseline U-Net [29] with base channels reduced
    from 64 to 32"), DLC blocks everywhere, one logit per pixel; the bilinear upsampling (instead
    of the original's transposed convolutions) and the ``8b`` last Down block are ours."""

    def __init__(self, base: int = 32, in_channels: int = 3):
        super().__init__()
        b = base
        self.width = b
        self.inc = DLC(in_channels, b)
        self.down1, self.down2 = Down("dlc", b, 2 * b), Down("dlc", 2 * b, 4 * b)
        self.down3, self.down4 = Down("dlc", 4 * b, 8 * b), Down("dlc", 8 * b, 8 * b)
        self.up1, self.up2 = Up("dlc", 16 * b, 4 * b), Up("dlc", 8 * b, 2 * b)
        self.up3, self.up4 = Up("dlc", 4 * b, b), Up("dlc", 2 * b, b)
        self.head = nn.Conv2d(b, 1, 1)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        f3 = self.up3(self.up2(self.up1(x5, x4), x3), x2)
        logits = self.head(self.up4(f3, x1))
        return (logits, f3) if return_features else logits


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def student_params_for_width(widths=(16, 24, 28, 30, 32)) -> dict[int, int]:
    """Parameters of the student for each width (to pick the one closest to 3.856 M)."""
    return {w: count_params(LRCrackNet(w)) for w in widths}


# roadlite.models.save_model / load_model rebuild the chapter's networks from these names and the
# configuration their checkpoints hold (segmentation.train.network_config).
register_model("lr_cracknet", LRCrackNet)
register_model("unet_segmentation", UNet)
