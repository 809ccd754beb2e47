"""WGAN-GP augmentation: one class-conditional Wasserstein GAN with gradient penalty.

Chapter 02_gan teaches this module. MobiLiteNet (Hu et al. 2025) enlarges its dataset with a
"Wasserstein Generative Adversarial Network with Gradient Penalty (WGAN-GP)": "for each distress
class, 4500 synthetic images were generated, of which 4000 were allocated for training and 500
for validation". The authors' released code has no GAN, so this one follows Gulrajani et al.,
"Improved Training of Wasserstein GANs" (2017), whose loss the paper quotes as its Eq. (7)::

    L = E_{x~ ~ P_g}[D(x~)] - E_{x ~ P_r}[D(x)] + lambda * E_{x^ ~ P_x^}[(||grad_x^ D(x^)||_2 - 1)^2]

with the paper's defaults: gradient penalty coefficient lambda = 10, n_critic = 5 critic
iterations per generator iteration, Adam with alpha = 1e-4, beta1 = 0, beta2 = 0.9. The penalty
is taken at x^ = eps * x + (1 - eps) * x~, "sampling uniformly along straight lines between
pairs of points sampled from the data distribution P_r and the generator distribution P_g".
Because the penalty constrains "the gradient norm of the critic's output with respect to its
input independently for each sample", the critic has no batch normalization (which "changes
the form of the discriminator's problem from mapping a single input to a single output to
mapping from an entire batch of inputs to a batch of outputs"); it uses layer normalization
(``GroupNorm(1, C)``, per sample over channels and pixels) or none.

Architecture (DCGAN style, Radford et al. 2016): the :class:`Generator` maps z (plus a class
embedding) through 4x4 transposed-convolution stages with batch norm and ReLU to a tanh image;
the :class:`Critic` mirrors it with strided 4x4 convolutions and LeakyReLU(0.2), no batch norm,
and a linear (unbounded) output. The output size is a parameter: a power of two from 16 to 256
(:data:`VALID_SIZES`); channel widths are parameters too.

**One conditional model, not one GAN per class.** The paper trains "for each distress category";
here one generator and one critic serve all classes, conditioned on the label: the generator
concatenates a learned class embedding to z (Mirza & Osindero 2014), the critic adds a
projection term <embed(y), phi(x)> to its output (Miyato & Koyama 2018). Reasons: (1) the
classes share almost everything -- asphalt texture, grain, lighting, wet and night conditions --
and a shared model learns those statistics from all images at once instead of four times from a
quarter of the data; (2) it costs a quarter of the compute of four separate GANs for the same
number of iterations, which matters on a two-core CPU; (3) a class has only a few hundred
images (the paper's 2,873 photos over four classes), where a GAN per class overfits or
collapses sooner. Batches are class-balanced, so a rare class is learned as well as a frequent
one (the paper's stated goal of "addressing data imbalance").

Quality is measured offline by :func:`frechet_distance` between feature sets, with features from
a classifier trained in this book (:func:`classifier_features`) instead of Inception-v3 (Heusel
et al. 2017's FID needs downloaded weights). :func:`write_augmented_set` writes generated images
as PNGs with manifest rows, so later chapters train on real + synthetic through the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from roadlite.artifacts import atomic_path

#: The image sizes the generator and critic can be built for (powers of two, 16 to 256).
VALID_SIZES = (16, 32, 64, 128, 256)
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


# ---------------------------------------------------------------------------------------------
# Training


class _BalancedSampler:
    """Class-balanced batches: each batch holds batch_size // K images of every class (the
    remainder goes to randomly chosen classes); each class is walked through a fresh random
    permutation of its images (an "epoch" per class). All draws come from one CPU generator,
    whose state is part of the checkpoint, so a resumed run draws the same batches."""

    def __init__(self, labels: torch.Tensor, num_classes: int, batch_size: int, seed: int):
        self.k, self.batch_size = num_classes, batch_size
        self.index = [torch.nonzero(labels == c).flatten() for c in range(num_classes)]
        self.rng = torch.Generator().manual_seed(seed)
        self.perm = [torch.randperm(len(ix), generator=self.rng) for ix in self.index]
        self.pos = [0] * num_classes

    def labels(self) -> torch.Tensor:
        counts = [self.batch_size // self.k] * self.k
        for c in torch.randperm(self.k, generator=self.rng)[:self.batch_size % self.k].tolist():
            counts[c] += 1
        return torch.cat([torch.full((n,), c, dtype=torch.long) for c, n in enumerate(counts)])

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.labels()
        idx = []
        for c in range(self.k):
            need = int((y == c).sum())
            while need:
                if self.pos[c] >= len(self.perm[c]):
                    self.perm[c] = torch.randperm(len(self.index[c]), generator=self.rng)
                    self.pos[c] = 0
                take = min(need, len(self.perm[c]) - self.pos[c])
                idx.append(self.index[c][self.perm[c][self.pos[c]:self.pos[c] + take]])
                self.pos[c] += take
                need -= take
        return torch.cat(idx), y

    def state_dict(self) -> dict:
        return {"rng": self.rng.get_state(), "perm": list(self.perm), "pos": list(self.pos)}

    def load_state_dict(self, s: dict) -> None:
        self.rng.set_state(s["rng"])
        self.perm, self.pos = list(s["perm"]), list(s["pos"])


def _resolve_device(name: str | torch.device) -> torch.device:
    from roadlite.training import resolve_device

    return name if isinstance(name, torch.device) else resolve_device(name)


class WGANGP:
    """A class-conditional WGAN-GP (Gulrajani et al. 2017) for Chapter 02_gan.

    ``classes`` is the list of class names (or their number); label ``i`` means ``classes[i]``.
    ``size`` is the image size (one of :data:`VALID_SIZES`), ``base_channels`` the width of the
    generator's and critic's largest feature maps (``critic_channels`` overrides the critic's),
    ``z_dim`` the noise dimension. ``lambda_gp`` (lambda), ``n_critic``, ``lr`` (alpha) and
    ``betas`` (beta1, beta2) default to the paper's 10, 5, 1e-4 and (0, 0.9).

    :meth:`train` trains with checkpoint/resume and returns the history; :meth:`sample` draws
    images per class; :attr:`snapshots` holds fixed-noise sample grids taken during training.
    """

    def __init__(self, classes: Sequence[str] | int, size: int = 64, *, z_dim: int = 128,
                 base_channels: int = 32, critic_channels: int | None = None,
                 embed_dim: int = 32, critic_norm: str = "layer", lambda_gp: float = LAMBDA_GP,
                 n_critic: int = N_CRITIC, lr: float = ADAM_LR,
                 betas: tuple[float, float] = ADAM_BETAS, snapshot_per_class: int = 8,
                 device: str | torch.device = "cpu"):
        if isinstance(classes, (int, np.integer)):
            classes = [str(i) for i in range(int(classes))]
        self.classes = [str(c) for c in classes]
        if len(self.classes) < 1:
            raise ValueError("a conditional GAN needs at least one class")
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        self.config: dict[str, Any] = {
            "classes": list(self.classes), "size": check_size(size), "z_dim": int(z_dim),
            "base_channels": int(base_channels),
            "critic_channels": int(critic_channels or base_channels),
            "embed_dim": int(embed_dim), "critic_norm": critic_norm,
            "lambda_gp": float(lambda_gp), "n_critic": int(n_critic), "lr": float(lr),
            "betas": [float(betas[0]), float(betas[1])],
            "snapshot_per_class": int(snapshot_per_class)}
        self.device = _resolve_device(device)
        self._build(seed=0)
        #: Per generator iteration: critic_loss, generator_loss, wasserstein, gradient_penalty...
        self.history: list[dict[str, float]] = []
        #: (iteration, uint8 grid [3, H', W']) of fixed-noise samples, one row per class.
        self.snapshots: list[tuple[int, torch.Tensor]] = []
        self.iteration = 0
        self._fingerprint: str | None = None
        self._sampler_state: dict | None = None

    # -- construction -------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self.config["size"]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _build(self, seed: int) -> None:
        cfg = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.generator = Generator(self.num_classes, cfg["size"], cfg["z_dim"],
                                       cfg["base_channels"], cfg["embed_dim"]).to(self.device)
            self.critic = Critic(self.num_classes, cfg["size"], cfg["critic_channels"],
                                 cfg["critic_norm"]).to(self.device)
        betas = tuple(cfg["betas"])
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg["lr"], betas=betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=cfg["lr"], betas=betas)
        # Fixed noise for the snapshot grids: the same z and labels at every snapshot.
        g = torch.Generator().manual_seed(seed + 7919)
        per = cfg["snapshot_per_class"]
        self._fixed_z = torch.randn(self.num_classes * per, cfg["z_dim"], generator=g)
        self._fixed_y = torch.arange(self.num_classes).repeat_interleave(per)

    def _fresh(self, seed: int) -> None:
        self._build(seed)
        self.history, self.snapshots, self.iteration = [], [], 0
        self._sampler_state = None

    def _fingerprint_of(self, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                        seed: int) -> str:
        data_sig = f"{tuple(x.shape)}:{int(x[:, :, ::5, ::5].sum())}:{y.tolist()}"
        blob = json.dumps({"config": self.config, "batch_size": batch_size, "seed": seed,
                           "data": hashlib.sha256(data_sig.encode()).hexdigest()},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    # -- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything a resumed run needs: both networks, both optimizers, the sampler's RNG
        state, the iteration, the history, the snapshots, the configuration and fingerprint."""
        return {"config": self.config, "fingerprint": self._fingerprint,
                "iteration": self.iteration, "history": self.history,
                "snapshots": self.snapshots, "generator": self.generator.state_dict(),
                "critic": self.critic.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "sampler": self._sampler_state,
                "fixed_z": self._fixed_z}

    def load_state_dict(self, state: dict) -> None:
        if state["config"] != self.config:
            raise ValueError("checkpoint was made for another GAN configuration")
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self._fingerprint, self.iteration = state["fingerprint"], state["iteration"]
        self.history = list(state["history"])
        self.snapshots = [(int(i), g) for i, g in state["snapshots"]]
        self._sampler_state = state["sampler"]
        self._fixed_z = state["fixed_z"]

    def save(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` to ``path`` atomically (temporary file + ``os.replace``)."""
        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save(self.state_dict(), tmp)
        return path

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> WGANGP:
        """Rebuild a trained GAN from a checkpoint written by :meth:`train` or :meth:`save`."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        cfg = dict(state["config"])
        gan = cls(cfg.pop("classes"), cfg.pop("size"), betas=tuple(cfg.pop("betas")),
                  device=device, **cfg)
        gan.load_state_dict(state)
        return gan

    # -- training -----------------------------------------------------------------------------

    def _check_data(self, images: torch.Tensor, labels: torch.Tensor,
                    batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
            raise TypeError("images must be a uint8 tensor [N, 3, H, W]")
        labels = torch.as_tensor(labels, dtype=torch.long).flatten()
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1} "
                             f"({', '.join(self.classes)})")
        counts = torch.bincount(labels, minlength=self.num_classes).tolist()
        short = [(self.classes[c], n) for c, n in enumerate(counts) if n < batch_size]
        if short:
            listed = ", ".join(f"class {name!r} has {n} image{'s' if n != 1 else ''}"
                               for name, n in short)
            raise ValueError(f"too few images to train the GAN with batch_size={batch_size}: "
                             f"{listed}; every class needs at least one batch of images "
                             "(lower the batch size or add images)")
        return resize_uint8(images, self.size), labels

    def train(self, images_uint8: torch.Tensor, labels: torch.Tensor, iterations: int,
              batch_size: int = 32, ckpt_path: str | Path | None = None, seed: int = 0,
              progress: bool = True, sample_every: int | None = None,
              checkpoint_every: int = 50, log: Callable[[str], None] = print
              ) -> list[dict[str, float]]:
        """Train for ``iterations`` generator iterations in total (each after ``n_critic``
        critic iterations) on uint8 images ``[N, 3, H, W]`` with integer ``labels``.

        Images are resized to the GAN size (antialiased) and scaled to [-1, 1]. Deterministic on
        the CPU for a ``seed`` (weights, batches, noise). With ``ckpt_path`` the full state is
        saved atomically every ``checkpoint_every`` iterations and at the end; a rerun with the
        same configuration, data, batch size and seed resumes from it (a finished run returns at
        once; a larger ``iterations`` continues), another configuration starts afresh with a
        message. Without ``ckpt_path`` the same holds for the state kept in this object.
        A fixed-noise sample grid is added to :attr:`snapshots` at the start, every
        ``sample_every`` iterations (default: about 8 over the run) and at the end.

        Returns :attr:`history`: per generator iteration ``iteration``, ``critic_loss``
        (E[D(x~)] - E[D(x)] + lambda * GP, mean over the critic iterations), ``generator_loss``
        (-E[D(G(z))]), ``wasserstein`` (E[D(x)] - E[D(x~)], the critic's estimate of the
        Wasserstein distance), ``gradient_penalty`` (without lambda) and ``seconds``.
        """
        from tqdm import tqdm

        x, y = self._check_data(images_uint8, labels, batch_size)
        fp = self._fingerprint_of(x, y, batch_size, seed)
        cfg, dev = self.config, self.device
        ckpt_path = Path(ckpt_path) if ckpt_path is not None else None
        resumed = False
        if ckpt_path is not None and ckpt_path.exists():
            state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
            if state.get("fingerprint") == fp and state.get("config") == cfg:
                self.load_state_dict(state)
                resumed = True
                log(f"[gan] resuming from {ckpt_path} at iteration {self.iteration}/{iterations}")
            else:
                log(f"[gan] {ckpt_path} was made with another configuration; starting afresh")
        if not resumed:
            if self._fingerprint == fp and self.iteration > 0:
                log(f"[gan] continuing the run in memory at iteration {self.iteration}")
            else:
                if self._fingerprint is not None and self._fingerprint != fp:
                    log("[gan] the configuration changed; starting afresh")
                self._fresh(seed)
                self._fingerprint = fp
        if self.iteration >= iterations:
            if self.iteration > iterations:
                log(f"[gan] already trained for {self.iteration} iterations "
                    f"(>= {iterations}); nothing to do")
            return self.history

        sampler = _BalancedSampler(y, self.num_classes, batch_size, seed)
        if self._sampler_state is not None:
            sampler.load_state_dict(self._sampler_state)
        every = sample_every or max(1, iterations // 8)
        if not self.snapshots:
            self._snapshot()
        lam, n_critic, z_dim = cfg["lambda_gp"], cfg["n_critic"], cfg["z_dim"]
        g_net, d_net = self.generator.train(), self.critic.train()
        rng = sampler.rng
        bar = tqdm(total=iterations, initial=self.iteration, desc="WGAN-GP", unit="it",
                   disable=not progress, file=sys.stderr, mininterval=2.0, leave=False)
        t_start = time.perf_counter()
        start_it = self.iteration
        try:
            while self.iteration < iterations:
                t0 = time.perf_counter()
                d_loss_sum = w_sum = gp_sum = 0.0
                d_net.requires_grad_(True)
                for _ in range(n_critic):
                    idx, yb = sampler.batch()
                    real = to_gan_range(x[idx]).to(dev)
                    yb = yb.to(dev)
                    z = torch.randn(len(yb), z_dim, generator=rng).to(dev)
                    with torch.no_grad():
                        fake = g_net(z, yb)
                    # real and fake through the critic in one batch (no batch norm: the same
                    # numbers as two passes, at lower cost)
                    out = d_net(torch.cat([real, fake]), torch.cat([yb, yb]))
                    d_real, d_fake = out[:len(yb)].mean(), out[len(yb):].mean()
                    gp = gradient_penalty(d_net, real, fake, yb, generator=rng)
                    d_loss = d_fake - d_real + lam * gp
                    self.opt_d.zero_grad(set_to_none=True)
                    d_loss.backward()
                    self.opt_d.step()
                    d_loss_sum += d_loss.item()
                    w_sum += (d_real - d_fake).item()
                    gp_sum += gp.item()
                d_net.requires_grad_(False)  # the generator step needs no critic gradients
                yg = sampler.labels().to(dev)
                z = torch.randn(len(yg), z_dim, generator=rng).to(dev)
                g_loss = -d_net(g_net(z, yg), yg).mean()
                self.opt_g.zero_grad(set_to_none=True)
                g_loss.backward()
                self.opt_g.step()
                if not math.isfinite(d_loss_sum) or not math.isfinite(g_loss.item()):
                    raise FloatingPointError(
                        f"[gan] loss became non-finite at iteration {self.iteration + 1}: "
                        f"critic {d_loss_sum / n_critic}, generator {g_loss.item()}")
                self.iteration += 1
                row = {"iteration": self.iteration, "critic_loss": d_loss_sum / n_critic,
                       "generator_loss": g_loss.item(), "wasserstein": w_sum / n_critic,
                       "gradient_penalty": gp_sum / n_critic,
                       "seconds": time.perf_counter() - t0}
                self.history.append(row)
                bar.update(1)
                bar.set_postfix(W=f"{row['wasserstein']:.3f}", gp=f"{row['gradient_penalty']:.3f}",
                                refresh=False)
                self._sampler_state = sampler.state_dict()
                if self.iteration % every == 0 or self.iteration == iterations:
                    self._snapshot()
                    log(f"[gan] it {self.iteration:>5}/{iterations}  critic "
                        f"{row['critic_loss']:+.3f}  gen {row['generator_loss']:+.3f}  "
                        f"W {row['wasserstein']:.3f}  gp {row['gradient_penalty']:.3f}  "
                        f"{row['seconds']:.2f} s/it")
                if ckpt_path is not None and (self.iteration % checkpoint_every == 0
                                              or self.iteration == iterations):
                    self.save(ckpt_path)
        finally:
            d_net.requires_grad_(True)
            bar.close()
        done = self.iteration - start_it
        if done:
            log(f"[gan] {done} iterations in {time.perf_counter() - t_start:.1f} s")
        return self.history

    # -- sampling -----------------------------------------------------------------------------

    @torch.no_grad()
    def _generate(self, z: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        was_training = self.generator.training
        self.generator.eval()  # batch norm from running statistics: a sample is its own
        try:
            outs = [from_gan_range(self.generator(z[i:i + batch_size].to(self.device),
                                                  y[i:i + batch_size].to(self.device)))
                    for i in range(0, len(z), batch_size)]
        finally:
            self.generator.train(was_training)
        return torch.cat(outs) if outs else torch.empty((0, 3, self.size, self.size),
                                                        dtype=torch.uint8)

    def _snapshot(self) -> None:
        imgs = self._generate(self._fixed_z, self._fixed_y)
        self.snapshots.append((self.iteration,
                               image_grid(imgs, nrow=self.config["snapshot_per_class"])))

    def _class_index(self, c: int | str) -> int:
        if isinstance(c, str):
            if c not in self.classes:
                raise ValueError(f"unknown class {c!r}; the GAN knows {', '.join(self.classes)}")
            return self.classes.index(c)
        if not 0 <= int(c) < self.num_classes:
            raise ValueError(f"class index {c} out of range 0..{self.num_classes - 1}")
        return int(c)

    def sample(self, n_per_class: int, classes: Sequence[int | str] | None = None,
               seed: int = 0, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n_per_class`` images for each of ``classes`` (names or indices; default all).

        Returns uint8 images ``[N, 3, size, size]`` (class by class) and their integer labels
        ``[N]``. The generator runs in eval mode (batch norm from its running statistics), so an
        image depends only on its z, its label and the ``seed``, not on the batch.
        """
        idx = [self._class_index(c) for c in (range(self.num_classes) if classes is None
                                              else classes)]
        y = torch.tensor(idx, dtype=torch.long).repeat_interleave(int(n_per_class))
        z = torch.randn(len(y), self.config["z_dim"], generator=torch.Generator().manual_seed(seed))
        return self._generate(z, y, batch_size), y


# ---------------------------------------------------------------------------------------------
# Quality measure


def _as_2d_float64(feats: Any) -> np.ndarray:
    a = feats.detach().cpu().double().numpy() if isinstance(feats, torch.Tensor) else \
        np.asarray(feats, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"features must be [N, D], got shape {a.shape}")
    if a.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors to fit a Gaussian, got {a.shape[0]}")
    return a


def frechet_distance_gaussians(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any,
                               eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, Sigma1) and N(mu2, Sigma2) (Dowson & Landau 1982):
    d^2 = ||mu1 - mu2||^2 + Tr(Sigma1 + Sigma2 - 2 (Sigma1 Sigma2)^(1/2)).

    The matrix square root comes from ``scipy.linalg.sqrtm`` (its real part; numerical error
    can leave tiny imaginary parts). When it is not finite (singular products), ``eps * I`` is
    added to both covariances. A tiny negative result from rounding is returned as 0.
    """
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2,
                                                                                      np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2,
                                                                                     np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shapes do not match: mu {mu1.shape} / {mu2.shape}, "
                         f"sigma {s1.shape} / {s2.shape}")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(mu1)) * eps
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = np.real(covmean)
    d2 = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))
    return max(d2, 0.0)


def frechet_distance(feats_a: Any, feats_b: Any, eps: float = 1e-6) -> float:
    """The Fréchet distance between two Gaussians fitted to feature sets ``[N, D]`` and
    ``[M, D]`` (mean and unbiased covariance of each), as in FID (Heusel et al. 2017) but with
    any feature extractor. Identical sets give ~0; lower means closer distributions."""
    a, b = _as_2d_float64(feats_a), _as_2d_float64(feats_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance_gaussians(a.mean(0), np.cov(a, rowvar=False), b.mean(0),
                                      np.cov(b, rowvar=False), eps)


@torch.no_grad()
def classifier_features(model: nn.Module, x_uint8: torch.Tensor, img_size: int,
                        batch_size: int = 128) -> torch.Tensor:
    """Penultimate features of a classifier trained in this book, for uint8 images [N,3,H,W].

    Images are resized to ``img_size`` (antialiased) and normalised with the ImageNet mean/std,
    as the classifier saw them in training. For the MobileNetV2 family (``.features`` and
    ``.classifier``) the features are the global-average-pooled output of ``model.features``
    (1280 values for MobileNetV2, 640 for the refined Model 2); for a ResNet (``.fc``) the input
    of ``fc``. Returns float32 ``[N, D]`` on the CPU.
    """
    from roadlite.training import normalize

    hook_out: list[torch.Tensor] = []
    handle = None
    if hasattr(model, "features"):
        def extract(xb: torch.Tensor) -> torch.Tensor:
            return model.features(xb).mean(dim=(2, 3))
    elif isinstance(getattr(model, "fc", None), nn.Module):
        handle = model.fc.register_forward_hook(lambda m, inp, out: hook_out.append(inp[0]))

        def extract(xb: torch.Tensor) -> torch.Tensor:
            hook_out.clear()
            model(xb)
            return hook_out[0].flatten(1)
    else:
        raise TypeError(f"{type(model).__name__} has neither .features (MobileNetV2 family) nor "
                        ".fc (ResNet); cannot tell where its penultimate features are")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        x = resize_uint8(x_uint8, img_size)
        outs = [extract(normalize(x[i:i + batch_size]).to(device)).float().cpu()
                for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
        if handle is not None:
            handle.remove()
    return torch.cat(outs) if outs else torch.empty(0)


# ---------------------------------------------------------------------------------------------
# Writing the augmented set


def _png_bytes(img_chw: torch.Tensor) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img_chw.permute(1, 2, 0).contiguous().numpy()).save(buf, format="PNG")
    return buf.getvalue()


def write_augmented_set(out_dir: str | Path, real_manifest_df: Any,
                        synthetic_images: torch.Tensor, synthetic_labels: torch.Tensor,
                        classes: Sequence[str], split: str | Sequence[str] = "train",
                        prefix: str = "gan") -> Any:
    """Write generated images as PNGs in an ImageFolder layout and return manifest rows.

    Files go to ``out_dir/<split>/<class>/<prefix>_<class>_<index>.png`` (each written to a
    temporary name and renamed; earlier ``<prefix>_*.png`` files of those folders are removed
    first, so a rerun with fewer images leaves none behind). ``split`` is one split for all
    images or one per image (e.g. the paper's 4,000 train / 500 val per class).
    ``synthetic_labels[i]`` indexes ``classes``.

    Returns a DataFrame with the manifest columns ``path, mask_path, class, condition, split,
    sha256`` (Chapter 01_dataset): the rows of ``real_manifest_df`` (may be None) followed by
    one row per synthetic image with ``condition="synthetic"``, an empty ``mask_path`` and the
    absolute ``path``. Pass it to ``roadlite.data.manifest.write_manifest`` to save it.
    """
    import pandas as pd

    from roadlite.data.manifest import COLUMNS

    out_dir = Path(out_dir)
    imgs = synthetic_images
    if imgs.dtype != torch.uint8 or imgs.dim() != 4 or imgs.shape[1] != 3:
        raise ValueError("synthetic_images must be uint8 [N, 3, H, W]")
    labels = torch.as_tensor(synthetic_labels, dtype=torch.long).flatten().tolist()
    if len(labels) != len(imgs):
        raise ValueError(f"{len(imgs)} images but {len(labels)} labels")
    classes = [str(c) for c in classes]
    if any(not 0 <= lab < len(classes) for lab in labels):
        raise ValueError(f"labels must index classes 0..{len(classes) - 1}")
    splits = [split] * len(imgs) if isinstance(split, str) else [str(s) for s in split]
    if len(splits) != len(imgs):
        raise ValueError(f"{len(imgs)} images but {len(splits)} splits")
    if real_manifest_df is not None and len(real_manifest_df):
        missing = [c for c in COLUMNS if c not in real_manifest_df.columns]
        if missing:
            raise ValueError(f"real manifest lacks column(s) {', '.join(missing)}")
        unknown = sorted(set(classes[lab] for lab in labels) - set(real_manifest_df["class"]))
        if unknown:
            raise ValueError(f"synthetic class(es) {', '.join(unknown)} do not occur in the real "
                             "manifest; check the order of `classes`")
    for sp, cls in sorted({(s, classes[lab]) for s, lab in zip(splits, labels, strict=True)}):
        for old in (out_dir / sp / cls).glob(f"{prefix}_*.png"):
            old.unlink()
    rows, counters = [], {}
    for i, (lab, sp) in enumerate(zip(labels, splits, strict=True)):
        cls = classes[lab]
        k = counters.get((sp, cls), 0)
        counters[(sp, cls)] = k + 1
        target = (out_dir / sp / cls / f"{prefix}_{cls}_{k:05d}.png").resolve()
        data = _png_bytes(imgs[i])
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
        rows.append({"path": str(target), "mask_path": "", "class": cls,
                     "condition": "synthetic", "split": sp,
                     "sha256": hashlib.sha256(data).hexdigest()})
    synth = pd.DataFrame(rows, columns=list(COLUMNS))
    if real_manifest_df is None or not len(real_manifest_df):
        return synth
    return pd.concat([real_manifest_df, synth], ignore_index=True)
