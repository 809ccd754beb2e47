"""One builder for the MobileNetV2 family of MobiLiteNet: baseline, +ECA (Model 1), refined (Model 2).

Chapters 03_eca and 04_refinement teach this file. MobileNetV2 (Sandler et al., CVPR 2018) stacks
*inverted residual* blocks with *linear bottlenecks*: a 1x1 expansion by the factor t, a 3x3
depthwise convolution with stride s, and a 1x1 linear projection to c channels (no ReLU6 after
it). A stage of the network is one row (t, c, n, s) of the *inverted residual setting*: n blocks
with c output channels, the first of them with stride s, the others with stride 1.

MobiLiteNet (Hu et al., 2025) adds ECA to MobileNetV2 (Model 1) and then applies "structural
refinement" (Model 2), in the paper's words "reducing the number of bottleneck repetitions and
adjusting the input-output channel dimensions"; its text says neither where the ECA layers go nor
which settings it uses. The exact settings here come from the authors' released code: an ECA
layer on the output of every stride-1 block, and for Model 2 the repeats n cut from
(1, 2, 3, 4, 3, 3, 1) to (1, 1, 1, 2, 1, 1, 1) with a 24-channel stem and a 640-channel head (the
code's Model 1 already has that stem and head; :func:`eca_mobilenet_v2` keeps the baseline's by
default).

The module layout follows torchvision's MobileNetV2 so that the usual tools find their layers:
``model.features`` is ``Sequential(stem, block_1, ..., block_N, head)``, ``model.features[-1]`` is
the last convolution block (the Grad-CAM target layer) and ``model.classifier`` is
``Sequential(Dropout, Linear)``, so ``model.classifier[1]`` is the last Linear layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .eca import ECA

__all__ = [
    "REFINED_SETTING",
    "STANDARD_SETTING",
    "ConvBNReLU6",
    "InvertedResidual",
    "MobileNetV2",
    "eca_mobilenet_v2",
    "mobilenet_v2",
    "refined_mobilenet_v2",
]

#: MobileNetV2's inverted residual setting, rows (t, c, n, s): expansion factor t, output
#: channels c, repeats n, stride s of the first block of the stage.
STANDARD_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)

#: MobiLiteNet's structural refinement (Model 2): the same t, c, s with n = (1, 1, 1, 2, 1, 1, 1).
REFINED_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 1, 2),
    (6, 32, 1, 2),
    (6, 64, 2, 2),
    (6, 96, 1, 1),
    (6, 160, 1, 2),
    (6, 320, 1, 1),
)


class ConvBNReLU6(nn.Sequential):
    """Convolution (no bias) -> BatchNorm -> ReLU6, the unit of stem, head and blocks (Chapter 03_eca).

    A ``Sequential`` like torchvision's ``Conv2dNormActivation``, so ``block[0]`` is the conv.
    """

    def __init__(
        self, inp: int, oup: int, kernel_size: int = 3, stride: int = 1, groups: int = 1
    ):
        super().__init__(
            nn.Conv2d(
                inp, oup, kernel_size, stride, padding=(kernel_size - 1) // 2, groups=groups,
                bias=False,
            ),
            nn.BatchNorm2d(oup),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """MobileNetV2's inverted residual block with linear bottleneck, optionally with ECA.

    Chapter 03_eca (the block and where ECA goes) and Chapter 04_refinement (the per-block table).

    ``inp`` -> [1x1 expand conv + BN + ReLU6, only when the expansion factor t != 1] -> 3x3
    depthwise conv with stride s + BN + ReLU6 -> 1x1 *linear* projection to ``oup`` + BN ->
    [ECA, when ``eca``] -> [+ input, the residual, only when s == 1 and inp == oup].
    The hidden width is round(inp * t). All convolutions are bias-free.
    """

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: float, eca: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.inp, self.oup, self.stride, self.expand_ratio = inp, oup, stride, expand_ratio
        hidden = int(round(inp * expand_ratio))
        self.hidden = hidden
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU6(inp, hidden, kernel_size=1))
        layers += [
            ConvBNReLU6(hidden, hidden, kernel_size=3, stride=stride, groups=hidden),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.eca = ECA(oup) if eca else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.eca is not None:
            out = self.eca(out)
        if self.use_res_connect:
            out = x + out
        return out

    def extra_repr(self) -> str:
        return (
            f"inp={self.inp}, oup={self.oup}, stride={self.stride}, t={self.expand_ratio}, "
            f"residual={self.use_res_connect}"
        )


class MobileNetV2(nn.Module):
    """Generic MobileNetV2-family network (Chapters 03_eca and 04_refinement).

    stem (3x3 conv, stride 2, ``stem_channels``) -> inverted residual blocks from ``setting``
    (rows (t, c, n, s)) -> head (1x1 conv to ``last_channels``) -> global average pooling ->
    Dropout(``dropout``) -> Linear(``num_classes``). With ``eca=True`` every stride-1 block
    carries an ECA layer on its output (MobiLiteNet's placement).

    Initialisation as in MobileNetV2 / MobiLiteNet: Kaiming-normal (fan_out) for the 2-D
    convolutions, BN weight 1 and bias 0, Linear weights N(0, 0.01) and bias 0. ECA's Conv1d
    keeps PyTorch's default initialisation.
    """

    def __init__(
        self,
        num_classes: int = 4,
        setting: Sequence[Sequence[int]] = STANDARD_SETTING,
        stem_channels: int = 32,
        last_channels: int = 1280,
        dropout: float = 0.2,
        eca: bool = False,
    ):
        super().__init__()
        self.setting = tuple(tuple(int(v) for v in row) for row in setting)
        self.stem_channels, self.last_channels = stem_channels, last_channels
        self.use_eca = eca
        layers: list[nn.Module] = [ConvBNReLU6(3, stem_channels, kernel_size=3, stride=2)]
        inp = stem_channels
        for row in self.setting:
            if len(row) != 4:
                raise ValueError(f"each setting row must be (t, c, n, s), got {row}")
            t, c, n, s = row
            for i in range(n):
                stride = s if i == 0 else 1
                layers.append(InvertedResidual(inp, c, stride, t, eca=eca and stride == 1))
                inp = c
        layers.append(ConvBNReLU6(inp, last_channels, kernel_size=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last_channels, num_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = x.mean(dim=(2, 3))  # global average pooling
        return self.classifier(x)


def mobilenet_v2(num_classes: int = 4, dropout: float = 0.2) -> MobileNetV2:
    """Baseline MobileNetV2 (Chapter 03_eca): stem 32, the standard 17 blocks, head 1280, no ECA.

    Same layer shapes as torchvision's ``mobilenet_v2``: 2,228,996 parameters with 4 classes
    (MobiLiteNet's baseline number), about 300 M MACs at 224 px.
    """
    return MobileNetV2(num_classes, STANDARD_SETTING, 32, 1280, dropout, eca=False)


def eca_mobilenet_v2(
    num_classes: int = 4, variant: str = "paper", dropout: float = 0.2
) -> MobileNetV2:
    """Model 1 of MobiLiteNet, MobileNetV2 + ECA (Chapter 03_eca), on every stride-1 block as in
    the authors' code.

    ``variant="paper"``: the baseline plus ECA, as the paper describes it (a gain "without increasing
    the parameter count"; in fact + sum(k + 1) over the 13 stride-1 blocks = 58 parameters:
    2,229,054 with 4 classes). ``variant="authors"``: the authors' code's ``MobileNetV2ECA``,
    which also narrows the stem to 24 and the head to 640 channels: 2,019,966 parameters.
    """
    if variant == "paper":
        return MobileNetV2(num_classes, STANDARD_SETTING, 32, 1280, dropout, eca=True)
    if variant == "authors":
        return MobileNetV2(num_classes, STANDARD_SETTING, 24, 640, dropout, eca=True)
    raise ValueError(f"unknown ECA-MobileNetV2 variant {variant!r}; use 'paper' or 'authors'")


def refined_mobilenet_v2(num_classes: int = 4, dropout: float = 0.2) -> MobileNetV2:
    """Model 2 of MobiLiteNet, the structural refinement (Chapter 04_refinement).

    Repeats n = (1, 1, 1, 2, 1, 1, 1) instead of (1, 2, 3, 4, 3, 3, 1), same t, c, s, stem 24,
    head 640, dropout 0.2, ECA on every stride-1 block: 996,310 parameters with 4 classes,
    about 140 M MACs at 224 px.
    """
    return MobileNetV2(num_classes, REFINED_SETTING, 24, 640, dropout, eca=True)
