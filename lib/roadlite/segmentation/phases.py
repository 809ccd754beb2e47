"""Chapter 11_crack_segmentation's training runs, each one phase of :func:`.train.train_phase`
with the chapter's parameters: the teacher's two phases, the distilled student (and the Table I
ablations, which switch loss terms off), and the plain networks trained alone (the student
alone, the U-Net, the Table II variants).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data import SegData
from .discriminator import AttentionDiscriminator
from .losses import LossWeights
from .networks import LRCrackNet
from .train import PhaseResult, phase_config, train_phase

__all__ = ["ChapterPhases"]


class ChapterPhases:
    """The training phases of chapter 11_crack_segmentation on its ``train`` / ``val`` splits.

    ``params`` is the chapter's validated parameters (``seed``, ``crop``, ``val_every``,
    ``width``, ``disc_width``, ``student_epochs``, ``student_lr`` and what
    :func:`.train.phase_config` reads); each run checkpoints into ``checkpoints/<name>``.
    The student and plain runs reseed torch with ``seed`` first, so each starts from the same
    random state whatever ran before it.
    """

    def __init__(self, params: Mapping[str, Any], train: SegData, val: SegData,
                 checkpoints: str | Path):
        self.params, self.train, self.val = params, train, val
        self.checkpoints = Path(checkpoints)

    def checkpoint(self, name: str) -> Path:
        """The checkpoint folder of the run ``name`` (its parent created)."""
        path = self.checkpoints / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _run(self, model: nn.Module, epochs: int, lr: float, phase: str, name: str,
             **kw: Any) -> PhaseResult:
        p = self.params
        return train_phase(model, self.train, self.val, phase_config(p, epochs, lr),
                           self.checkpoint(name), phase, crop=p["crop"],
                           val_every=p["val_every"], name=name, **kw)

    def teacher(self, model: nn.Module, phase: str, epochs: int, lr: float,
                name: str) -> PhaseResult:
        """One teacher phase ("image" or "boundary") of ``epochs`` epochs at ``lr``."""
        return self._run(model, epochs, lr, phase, name)

    def student(self, name: str, teacher: nn.Module, weights: LossWeights | None = None,
                discriminator: bool = True) -> tuple[LRCrackNet, PhaseResult]:
        """A new LR-CrackNet student (width ``width``, after reseeding) distilled from
        ``teacher`` with the loss ``weights`` and, with ``discriminator``, an attention
        discriminator of width ``disc_width``: the model and its result."""
        p = self.params
        torch.manual_seed(p["seed"])
        model = LRCrackNet(p["width"])
        disc = AttentionDiscriminator(p["disc_width"]) if discriminator else None
        r = self._run(model, p["student_epochs"], p["student_lr"], "student", name,
                      teacher=teacher, discriminator=disc, weights=weights)
        return model, r

    def plain(self, name: str, model: nn.Module) -> tuple[nn.Module, PhaseResult]:
        """``model`` trained alone on the masks (after reseeding), as long as the student:
        the model and its result."""
        p = self.params
        torch.manual_seed(p["seed"])
        return model, self._run(model, p["student_epochs"], p["student_lr"], "plain", name)
