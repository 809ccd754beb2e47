"""Chapter 02_gan: the conditional DCGAN generator and critic, the gradient penalty, and the
image conversions between uint8 pictures and the GAN's [-1, 1] range.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from roadlite.imaging import GAN_SIZES

#: The image sizes the generator and critic can be built for (powers of two, 16 to 256; the
#: one list is :data:`roadlite.imaging.GAN_SIZES`, which the parameter checks read torch-free).
VALID_SIZES = GAN_SIZES
#: Gulrajani et al.'s defaults: lambda, n_critic, Adam (alpha, beta1, beta2).
LAMBDA_GP = 10.0
N_CRITIC = 5
ADAM_LR = 1e-4
ADAM_BETAS = (0.0, 0.9)


def check_size(size: int) -> int:
    """Return ``size`` if the networks can produce it, else raise a ``ValueError`` listing the
    sizes they can produce (Chapter 02_gan turns it into a parameter error)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or int(size) not in \
            VALID_SIZES:
        raise ValueError(f"GAN image size {size!r} is not supported; the generator and critic can "
                         f"produce {', '.join(str(s) for s in VALID_SIZES)} px "
                         "(powers of two from 16 to 256)")
    return int(size)


def _widths(size: int, base_channels: int) -> list[tuple[int, int]]:
    """(resolution, channels) of the feature maps from 4x4 up to size/2 (DCGAN rule: the width
    doubles each time the resolution halves, from ``base_channels`` at size/2, capped at 8x)."""
    out, r = [], 4
    while r < size:
        out.append((r, base_channels * min(8, size // (2 * r))))
        r *= 2
    return out


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al.: "all weights were initialized from a zero-centered
    Normal distribution with standard deviation 0.02"); norm scales around 1, biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """G(z, y): z ~ N(0, I) of ``z_dim`` plus a learned class embedding -> image in [-1, 1].

    DCGAN layout: a 4x4 transposed convolution from the 1x1 input to 4x4, then stride-2 4x4
    transposed convolutions doubling the resolution, each followed by batch norm and ReLU; the
    last one outputs 3 channels through tanh. Output ``[N, 3, size, size]``.
    """

    def __init__(self, num_classes: int, size: int = 64, z_dim: int = 128,
                 base_channels: int = 32, embed_dim: int = 32):
        super().__init__()
        self.size, self.z_dim, self.num_classes = check_size(size), z_dim, num_classes
        self.embed = nn.Embedding(num_classes, embed_dim)
        widths = _widths(self.size, base_channels)
        c = widths[0][1]
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim + embed_dim, c, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        for _, c_next in widths[1:]:
            layers += [nn.ConvTranspose2d(c, c_next, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c_next), nn.ReLU(inplace=True)]
            c = c_next
        layers += [nn.ConvTranspose2d(c, 3, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, self.embed(y)], dim=1)
        return self.net(h[:, :, None, None])


class Critic(nn.Module):
    """D(x, y): the WGAN critic, a real number per image (no sigmoid), no batch norm.

    Strided 4x4 convolutions halve the resolution down to 4x4 with LeakyReLU(0.2); every
    convolution but the first is followed by layer normalization (``GroupNorm(1, C)``) when
    ``norm="layer"``, or by nothing when ``norm="none"``. With phi(x) the flattened 4x4 features,
    the output is ``w . phi(x) + b + <embed(y), phi(x)>`` (a projection discriminator, Miyato &
    Koyama 2018). Output ``[N]``.
    """

    def __init__(self, num_classes: int, size: int = 64, base_channels: int = 32,
                 norm: str = "layer"):
        super().__init__()
        if norm not in ("layer", "none"):
            raise ValueError(f"critic norm {norm!r} is not supported; use 'layer' or 'none' "
                             "(WGAN-GP forbids batch norm in the critic)")
        self.size, self.num_classes = check_size(size), num_classes
        widths = list(reversed(_widths(self.size, base_channels)))  # size/2 ... 4
        c = widths[0][1]
        layers: list[nn.Module] = [nn.Conv2d(3, c, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        for _, c_next in widths[1:]:
            layers.append(nn.Conv2d(c, c_next, 4, 2, 1, bias=norm == "none"))
            if norm == "layer":
                layers.append(nn.GroupNorm(1, c_next))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c = c_next
        self.net = nn.Sequential(*layers)
        self.feature_dim = c * 16
        self.linear = nn.Linear(self.feature_dim, 1)
        self.embed = nn.Embedding(num_classes, self.feature_dim)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        phi = self.net(x).flatten(1)
        return self.linear(phi).squeeze(1) + (self.embed(y) * phi).sum(1)


def gradient_penalty(critic: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                     real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """The WGAN-GP penalty E_{x^}[(||grad_{x^} D(x^)||_2 - 1)^2], *without* the factor lambda.

    x^ = eps * real + (1 - eps) * fake with eps ~ U[0, 1], one eps per sample, drawn from the
    ``generator`` (a ``torch.Generator``, for reproducibility; the global RNG when None). The
    gradient is taken with ``create_graph=True`` so the penalty can be back-propagated into the
    critic's weights. ``critic(x, labels)`` returns one value per sample; the norm is over all of
    a sample's pixels and channels; the result is the mean over the batch (a scalar tensor).
    """
    n = real.shape[0]
    gen_device = generator.device if generator is not None else real.device
    eps = torch.rand(n, *([1] * (real.dim() - 1)), generator=generator, device=gen_device)
    eps = eps.to(device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = critic(x_hat, labels)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norm = torch.linalg.vector_norm(grad.flatten(1), ord=2, dim=1)
    return ((norm - 1) ** 2).mean()


# ---------------------------------------------------------------------------------------------
# Image conversions


def resize_uint8(x: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``[N, 3, H, W]`` -> uint8 ``[N, 3, size, size]`` (bilinear, antialiased; a no-op at
    the right size). Done in chunks, so a large set does not need a float copy in memory."""
    if x.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got {x.dtype}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images [N, 3, H, W], got shape {tuple(x.shape)}")
    if x.shape[-2:] == (size, size):
        return x
    out = torch.empty((x.shape[0], 3, size, size), dtype=torch.uint8)
    for i in range(0, x.shape[0], 256):
        xb = x[i:i + 256].float()
        xb = F.interpolate(xb, size=(size, size), mode="bilinear", align_corners=False,
                           antialias=True)
        out[i:i + 256] = xb.round_().clamp_(0, 255).to(torch.uint8)
    return out


def to_gan_range(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 in [0, 255] -> float32 in [-1, 1] (the range of the generator's tanh)."""
    return x_uint8.float().div(127.5).sub_(1.0)


def from_gan_range(x: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8 in [0, 255] (rounded, clamped)."""
    return x.detach().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8).cpu()


def image_grid(x_uint8: torch.Tensor, nrow: int, padding: int = 2) -> torch.Tensor:
    """uint8 ``[N, 3, H, W]`` -> one uint8 image ``[3, H', W']``, ``nrow`` images per row."""
    n, c, h, w = x_uint8.shape
    rows = math.ceil(n / nrow)
    grid = torch.zeros((c, rows * (h + padding) + padding, nrow * (w + padding) + padding),
                       dtype=torch.uint8)
    for i in range(n):
        r, k = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        grid[:, top:top + h, left:left + w] = x_uint8[i]
    return grid
