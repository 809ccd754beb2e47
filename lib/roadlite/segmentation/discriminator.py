"""The attention-enhanced discriminator (Chapter 11_crack_segmentation; LR-CrackNet §III-B).

Input: the image concatenated with a crack map (the ground truth or the segmenter's sigmoid
output), 4 channels. Encoder: four Attention-Conv blocks, each Conv3x3 (stride 2)-BN-ReLU followed
by directional-spatial attention (DSA, Eqs. 7-9). Global output: global average pooling of the
encoder and a linear layer (one logit per image, ``D_en``). Decoder: four transposed convolutions
(4x4, stride 2) back to the input size, one logit per pixel.

DSA, our reading of the text (the paper's abstract names a source package at
https://mias.group/LR-CrackNet/; the book was built from the text without it): split the channels into ``groups``; per group,
directional context from average pooling along the vertical and the horizontal direction (the
adaptive pools of Eqs. 8-9 with windows spanning the whole column / row), concatenated and fused
by a 1x1 convolution (Eq. 7) into a vertical and a horizontal sigmoid gate; in parallel the
channel-wise spatial attention gate of Eq. 1; the two multiplied with the group; group
normalisation; a channel gate from its global average; and the cross-connection: the gates
re-weight the group's input ``F_g``.
"""

from __future__ import annotations

import torch
from torch import nn

from .networks import SpatialAttention


class DirectionalSpatialAttention(nn.Module):
    def __init__(self, c: int, groups: int = 4):
        super().__init__()
        if c % groups:
            raise ValueError(f"channels {c} not divisible by groups {groups}")
        self.groups = groups
        cg = c // groups
        self.fuse = nn.Conv2d(cg, cg, 1)  # Eq. 7's Conv_2 (1x1)
        self.spatial = SpatialAttention()
        self.norm = nn.GroupNorm(1, cg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = x.reshape(b * self.groups, c // self.groups, h, w)  # F_g
        pool_v = g.mean(3, keepdim=True)  # [.., h, 1]: average along each row (Eq. 8)
        pool_h = g.mean(2, keepdim=True).transpose(2, 3)  # [.., w, 1] (Eq. 9)
        d = self.fuse(torch.cat([pool_v, pool_h], 2))  # Eq. 7
        a_v, a_h = torch.split(d, [h, w], dim=2)
        directional = torch.sigmoid(a_v) * torch.sigmoid(a_h.transpose(2, 3))
        fused = self.norm(g * directional * self.spatial.gate(g))
        chan = torch.sigmoid(fused.mean((2, 3), keepdim=True))
        out = g * torch.sigmoid(fused * chan)  # cross-connection: F_g re-weighted
        return out.reshape(b, c, h, w)


class AttentionConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, groups: int = 4):
        super().__init__(nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         DirectionalSpatialAttention(cout, groups))


class AttentionDiscriminator(nn.Module):
    """``forward(image, crack_map) -> (global_logit [B, 1], pixel_logits [B, 1, H, W])``;
    H and W must be multiples of 16."""

    def __init__(self, width: int = 16, in_channels: int = 4, groups: int = 4):
        super().__init__()
        c = [width, 2 * width, 4 * width, 8 * width]
        self.encoder = nn.Sequential(AttentionConv(in_channels, c[0], groups),
                                     AttentionConv(c[0], c[1], groups),
                                     AttentionConv(c[1], c[2], groups),
                                     AttentionConv(c[2], c[3], groups))
        self.global_head = nn.Linear(c[3], 1)
        ups = []
        for cin, cout in ((c[3], c[2]), (c[2], c[1]), (c[1], c[0])):
            ups += [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True)]
        ups.append(nn.ConvTranspose2d(c[0], 1, 4, stride=2, padding=1))
        self.decoder = nn.Sequential(*ups)

    def forward(self, image: torch.Tensor, crack_map: torch.Tensor):
        if image.shape[-1] % 16 or image.shape[-2] % 16:
            raise ValueError(f"discriminator input {tuple(image.shape[-2:])} must be a multiple "
                             "of 16")
        z = self.encoder(torch.cat([image, crack_map], 1))
        return self.global_head(z.mean((2, 3))), self.decoder(z)
