"""What a chapter reads from earlier chapters, found through the book's table (chapters 02-11).

A downstream chapter names models by their key (``"model4_pruned"``); :mod:`roadlite.book` says
which chapter made each, and this module reads that chapter's ``metrics.json``, checkpoint and
saved test predictions. No notebook hand-types where a model lives.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from roadlite import book
from roadlite.artifacts import path_inside
from roadlite.classification import load_chapter_model
from roadlite.paths import artifact_dir


class Upstream:
    """The finished upstream chapters of one run (``artifacts_root``/``profile``)."""

    def __init__(self, params: Any):
        self.artifacts_root = params["artifacts_root"]
        self.profile = params["profile"]
        # A seed run's seeded chapters live in their own folder (roadlite.book.seed_folder).
        self._run = {"seed": params.get("seed", 0), "seed_run": params.get("seed_run", False)}
        self._metrics: dict[str, dict] = {}

    @classmethod
    def at(cls, artifacts_root: str | Path, profile: str) -> Upstream:
        """The chapters under ``artifacts_root/profile`` (without a chapter's parameters)."""
        return cls({"artifacts_root": artifacts_root, "profile": profile})

    def seed_run(self, seed: int) -> Upstream:
        """The same run's extra seed ``seed`` (``make book SEEDS=N``): its seeded chapters
        (03-07) from ``artifacts/<profile>/seeds/<seed>/``, the others from the main run."""
        return Upstream({"artifacts_root": self.artifacts_root, "profile": self.profile,
                         "seed": seed, "seed_run": True})

    def dir(self, chapter: str) -> Path:
        return artifact_dir(self.artifacts_root, self.profile, chapter,
                            book.seed_folder(chapter, self._run))  # unknown chapter: an error

    def metrics(self, chapter: str) -> dict:
        """A chapter's ``metrics.json`` (read once)."""
        if chapter not in self._metrics:
            path = self.dir(chapter) / "metrics.json"
            if not path.exists():
                raise FileNotFoundError(f"{path} does not exist: chapter {chapter} has not "
                                        f"finished for the {self.profile!r} profile")
            self._metrics[chapter] = json.loads(path.read_text())
        return self._metrics[chapter]

    def model_entry(self, key: str) -> dict:
        """``metrics["models"][key]`` of the chapter that made model ``key``."""
        chapter = book.model(key).chapter
        models = self.metrics(chapter).get("models") or {}
        if key not in models:
            raise KeyError(f"chapter {chapter} did not report model {key!r} "
                           f"(it has {sorted(models)})")
        return models[key]

    def made(self, key: str) -> bool:
        """Whether the chapter that makes model ``key`` reported it (e.g. chapter 06's faster
        Model 4 exists only with its ``fast_ratio`` set)."""
        return key in (self.metrics(book.model(key).chapter).get("models") or {})

    def peers(self) -> list[str]:
        """The peers chapter 03 trained (its ``peers`` parameter), in the book's order."""
        models = self.metrics("03_eca").get("models") or {}
        return [m.key for m in book.PEERS if m.key in models]

    def load_model(self, key: str, num_classes: int | None = None):
        """The trained PyTorch model ``key`` (pruned networks rebuilt from their plan); the
        number of classes defaults to that of the chapter that made it."""
        m = book.model(key)
        if m.kind != "checkpoint":
            raise ValueError(f"model {key!r} exists only as a .tflite file of {m.chapter}")
        if num_classes is None:
            num_classes = len(self.metrics(m.chapter)["classes"])
        return load_chapter_model(self.dir(m.chapter), key, num_classes)

    def load_models(self, keys: Iterable[str], num_classes: int) -> dict[str, Any]:
        return {k: self.load_model(k, num_classes) for k in keys}

    def tflite_path(self, key: str) -> Path:
        """Model ``key``'s ``.tflite`` file, as chapter 07 exported it."""
        entry = self.metrics("07_quantization")["models"][key]
        folder = self.dir("07_quantization")
        return path_inside(folder, entry["tflite_file"],
                           f"{folder / 'metrics.json'}, models.{key}.tflite_file")

    def own_tflite_path(self, key: str) -> Path:
        """The float32 ``.tflite`` that model ``key``'s own chapter exported (chapter 03 exports
        its networks as ``tflite/<key>.tflite``), for chapters that do not read chapter 07."""
        m = book.model(key)
        path = self.dir(m.chapter) / "tflite" / f"{key}.tflite"
        if key not in (self.metrics(m.chapter).get("models") or {}) or not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: chapter {m.chapter} did not export "
                                    f"model {key!r} (its export_tflite parameter)")
        return path

    def predictions(self, key: str) -> dict[str, np.ndarray]:
        """Model ``key``'s saved test predictions (``y_true``, ``logits``, ``classes``).

        Every PyTorch model's come from the chapter that trained it; INT8 models' from chapter
        07 (the LiteRT interpreter's)."""
        chapter = book.model(key).chapter
        with np.load(self.dir(chapter) / "predictions" / f"{key}.npz") as z:
            return {k: z[k] for k in z.files}
