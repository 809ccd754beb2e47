"""Chapter 02_gan: training the conditional WGAN-GP (class-balanced batches, n_critic critic steps per
generator step, resumable checkpoints, snapshots).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from roadlite.training import resolve_device
from roadlite.training.resume import (
    Checkpoints,
    capture_rng,
    console_line,
    fingerprint,
    isolated_rng,
    progress_bar,
    read_state,
    restore_rng,
    seed_everything,
    write_state,
)

from .networks import (
    ADAM_BETAS,
    ADAM_LR,
    LAMBDA_GP,
    N_CRITIC,
    Critic,
    Generator,
    check_size,
    from_gan_range,
    gradient_penalty,
    image_grid,
    resize_uint8,
    to_gan_range,
)

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
    return name if isinstance(name, torch.device) else resolve_device(name)


class WGANGP:
    """A class-conditional WGAN-GP (Gulrajani et al. 2017) for Chapter 02_gan.

    ``classes`` is the list of class names (or their number); label ``i`` means ``classes[i]``.
    ``size`` is the image size (one of :data:`VALID_SIZES`), ``base_channels`` the width of the
    generator's and critic's largest feature maps (``critic_channels`` overrides the critic's),
    ``z_dim`` the noise dimension. ``lambda_gp`` (lambda), ``n_critic``, ``lr`` (alpha) and
    ``betas`` (beta1, beta2) default to Gulrajani et al.'s 10, 5, 1e-4 and (0, 0.9).

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
        self._rng: dict | None = None  # the global generators' state where training stopped

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
        self._sampler_state = self._rng = None

    def _fingerprint_of(self, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                        seed: int) -> str:
        data_sig = f"{tuple(x.shape)}:{int(x[:, :, ::5, ::5].sum())}:{y.tolist()}"
        blob = json.dumps({"config": self.config, "batch_size": batch_size, "seed": seed,
                           "data": hashlib.sha256(data_sig.encode()).hexdigest()},
                          sort_keys=True)
        return fingerprint(blob)

    # -- checkpoints --------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything a resumed run needs: both networks, both optimizers, the sampler's state
        (with its generator), the global random generators' state where training stopped, the
        iteration, the history, the snapshots, the configuration and fingerprint."""
        return {"config": self.config, "fingerprint": self._fingerprint,
                "iteration": self.iteration, "history": self.history,
                "snapshots": self.snapshots, "generator": self.generator.state_dict(),
                "critic": self.critic.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "sampler": self._sampler_state,
                "fixed_z": self._fixed_z, "rng": self._rng}

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
        self._rng = state.get("rng")

    def save(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` to ``path`` atomically (temporary file + ``os.replace``)."""
        return write_state(self.state_dict(), path)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> WGANGP:
        """Rebuild a trained GAN from a checkpoint written by :meth:`train` or :meth:`save`."""
        state = read_state(path)
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
        saved atomically every ``checkpoint_every`` iterations and at the end (the protocol of
        :mod:`roadlite.training.resume`); a rerun with the same configuration, data, batch size
        and seed resumes from it (a finished run returns at once; a larger ``iterations``
        continues), another configuration or a checkpoint of more iterations than ``iterations``
        starts afresh with a message, so that a rerun's weights are a fresh run's. Without
        ``ckpt_path`` the same holds for the state kept in this object. Training draws from
        global random generators of its own, seeded from ``seed``; the caller's are left as
        they were.
        A fixed-noise sample grid is added to :attr:`snapshots` at the start, every
        ``sample_every`` iterations (default: about 8 over the run) and at the end.

        Returns :attr:`history`: per generator iteration ``iteration``, ``critic_loss``
        (E[D(x~)] - E[D(x)] + lambda * GP, mean over the critic iterations), ``generator_loss``
        (-E[D(G(z))]), ``wasserstein`` (E[D(x)] - E[D(x~)], the critic's estimate of the
        Wasserstein distance), ``gradient_penalty`` (without lambda) and ``seconds``.
        """
        x, y = self._check_data(images_uint8, labels, batch_size)
        # Training seeds and draws from global generators of its own (the caller's are left
        # as they were); every start seeds them the same way, a resumed one restores them.
        fp = self._fingerprint_of(x, y, batch_size, seed)
        ckpt = (Checkpoints(ckpt_path, fp, name="gan", log=log) if ckpt_path is not None
                else None)
        with isolated_rng():
            if not self._begin(fp, iterations, seed, ckpt, log):
                return self.history
            try:
                self._train_loop(x, y, iterations, batch_size, seed, progress, sample_every,
                                 checkpoint_every, ckpt, log)
            finally:
                self._rng = capture_rng()
        return self.history

    def _begin(self, fp: str, iterations: int, seed: int, ckpt: Checkpoints | None,
               log: Callable[[str], None]) -> bool:
        """Resume from the checkpoint, continue in memory or start afresh (seeded); False when
        there is nothing left to train."""

        def further(it: int) -> str | None:
            return (f"holds {it} iterations, more than the {iterations} asked for"
                    if it > iterations else None)

        state = None if ckpt is None else ckpt.start(
            seed, reject=lambda s: ("was made with another configuration"
                                    if s.get("config") != self.config
                                    else further(s["iteration"])))
        if state is not None:
            self.load_state_dict(state)
            log(f"[gan] resuming from {ckpt.last} at iteration {self.iteration}/{iterations}")
        elif self._fingerprint == fp and 0 < self.iteration <= iterations:
            log(f"[gan] continuing the run in memory at iteration {self.iteration}")
            if self._rng is not None:
                restore_rng(self._rng)
            else:  # loaded from a checkpoint written before the generators were saved
                seed_everything(seed)
        else:
            if self._fingerprint is not None and self._fingerprint != fp:
                log("[gan] the configuration changed; starting afresh")
            elif self.iteration > iterations:
                log(f"[gan] the GAN in memory {further(self.iteration)}; starting afresh")
            self._fresh(seed)
            self._fingerprint = fp
            seed_everything(seed)
        return self.iteration < iterations

    def _train_loop(self, x: torch.Tensor, y: torch.Tensor, iterations: int, batch_size: int,
                    seed: int, progress: bool, sample_every: int | None, checkpoint_every: int,
                    ckpt: Checkpoints | None, log: Callable[[str], None]) -> None:
        cfg, dev = self.config, self.device
        sampler = _BalancedSampler(y, self.num_classes, batch_size, seed)
        if self._sampler_state is not None:
            sampler.load_state_dict(self._sampler_state)
        every = sample_every or max(1, iterations // 8)
        if not self.snapshots:
            self._snapshot()
        lam, n_critic, z_dim = cfg["lambda_gp"], cfg["n_critic"], cfg["z_dim"]
        g_net, d_net = self.generator.train(), self.critic.train()
        rng = sampler.rng
        bar = progress_bar(iterations, self.iteration, "WGAN-GP", "it", progress)
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
                    log(console_line("gan", "it", self.iteration, iterations,
                                     f"critic {row['critic_loss']:+.3f}",
                                     f"gen {row['generator_loss']:+.3f}",
                                     f"W {row['wasserstein']:.3f}",
                                     f"gp {row['gradient_penalty']:.3f}",
                                     f"{row['seconds']:.2f} s/it", width=5))
                if ckpt is not None and (self.iteration % checkpoint_every == 0
                                         or self.iteration == iterations):
                    ckpt.save(self.state_dict())
        finally:
            d_net.requires_grad_(True)
            bar.close()
        done = self.iteration - start_it
        if done:
            log(f"[gan] {done} iterations in {time.perf_counter() - t_start:.1f} s")

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
