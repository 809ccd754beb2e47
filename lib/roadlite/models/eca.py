"""Efficient Channel Attention (ECA), in the form MobiLiteNet's code uses.

Chapter 03_eca teaches this module. ECA-Net (Wang et al., CVPR 2020) replaces the two fully
connected layers of squeeze-and-excitation with a 1-D convolution of kernel size k across the
channel axis, so that each channel's weight depends only on its k neighbours ("local cross-channel
interaction without dimensionality reduction"). The kernel size is chosen adaptively from the
number of channels C:

    t = int(|log2(C) + b| / gamma),   k = t if t is odd else t + 1,   gamma = 2, b = 1.

MobiLiteNet's version differs from the official ECA-Net code in one detail: its 1-D convolution
has a bias, so each ECA layer costs k + 1 parameters instead of k.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["ECA", "collect_eca_gates", "eca_kernel_size"]


def eca_kernel_size(channels: int, gamma: int = 2, b: int = 1) -> int:
    """Adaptive kernel size k of ECA for C = ``channels`` (Chapter 03_eca).

    ECA-Net's rule ``t = int(|log2(C) + b| / gamma)``; ``k = t`` if t is odd, else ``t + 1``.
    With gamma = 2 and b = 1 (ECA-Net's values, kept by the MobiLiteNet authors' code; the paper gives none): C = 16, 24, 32, 64, 96 give
    k = 3 and C = 160, 320 give k = 5.
    """
    if channels < 1:
        raise ValueError(f"ECA needs at least one channel, got C={channels}")
    t = int(abs(math.log2(channels) + b) / gamma)
    return t if t % 2 == 1 else t + 1


class ECA(nn.Module):
    """Efficient Channel Attention on a feature map x of shape [N, C, H, W] (Chapter 03_eca).

    Steps: global average pooling y = mean_{H,W}(x) -> 1-D convolution of kernel k (padding
    k // 2, with bias) across the C channels -> sigmoid gate w in (0, 1)^C -> ``x * w``.

    The gate is reshaped to [N, C, 1, 1] and applied by plain broadcasting. Never use
    ``expand_as`` here: it breaks the TFLite conversion of the whole network (Chapter 07_quantization).

    The sigmoid is a submodule (``self.sigmoid``) so that :func:`collect_eca_gates` can read the
    gate values w with a forward hook, without changing the forward pass.
    """

    def __init__(self, channels: int, k_size: int | None = None, gamma: int = 2, b: int = 1):
        super().__init__()
        self.channels = int(channels)
        self.k_size = int(k_size) if k_size is not None else eca_kernel_size(channels, gamma, b)
        self.conv = nn.Conv1d(1, 1, self.k_size, padding=self.k_size // 2, bias=True)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[0], x.shape[1]
        y = x.mean(dim=(2, 3))  # [N, C]: the channel descriptor (global average pooling)
        y = self.conv(y.unsqueeze(1))  # [N, 1, C]: 1-D conv across channels
        gate = self.sigmoid(y).view(n, c, 1, 1)  # [N, C, 1, 1]
        return x * gate

    def extra_repr(self) -> str:
        return f"channels={self.channels}, k_size={self.k_size}"


@torch.no_grad()
def collect_eca_gates(model: nn.Module, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Mean ECA gate per channel for every ECA layer of ``model`` on the batch ``x``.

    Chapter 03_eca plots these: for each block that carries an ECA layer it returns
    ``{block_name: w}`` where w is the [C] float32 numpy vector of sigmoid gate values averaged
    over the batch.
    The block name is the name of the module that owns the ECA layer (e.g. ``"features.3"``).
    The model runs once in eval mode under ``no_grad`` (``x`` is moved to the model's device);
    its training flag is restored afterwards.
    """
    gates: dict[str, np.ndarray] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, ECA):
            block = name.rsplit(".", 1)[0] if "." in name else name

            def hook(_mod, _inp, out, block=block):
                gates[block] = out.detach().float().mean(dim=0).flatten().cpu().numpy()

            handles.append(module.sigmoid.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        param = next(model.parameters(), None)
        model(x.to(param.device) if param is not None else x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return gates
