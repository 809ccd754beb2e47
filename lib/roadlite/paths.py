"""Where things live: the repository root and the artifact folders (book introduction)."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The RoadLite checkout: ``$ROADLITE_ROOT``, else the nearest folder above the working
    directory holding ``params/`` and ``notebooks/``, else the folder above ``lib/roadlite``."""
    env = os.environ.get("ROADLITE_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / "params").is_dir() and (d / "notebooks").is_dir():
            return d
    return Path(__file__).resolve().parents[2]


def artifact_dir(artifacts_root: str | os.PathLike, profile: str, chapter: str,
                 seed: int | None = None) -> Path:
    """``<artifacts_root>/<profile>/<chapter>/``, or a seed run's
    ``<artifacts_root>/<profile>/seeds/<seed>/<chapter>/``; a relative root is taken from the
    repo root."""
    root = Path(artifacts_root)
    if not root.is_absolute():
        root = repo_root() / root
    return root / profile / chapter if seed is None else root / profile / "seeds" / str(seed) / chapter


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout (present in CI, absent on a user's clone)."""
    return repo_root().parent / "shared" / "data"
