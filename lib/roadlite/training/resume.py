"""The book's one checkpoint-and-resume protocol (Chapter 03_eca teaches it with :func:`fit`;
chapter 02_gan's WGAN-GP and chapter 11's training phases use it too).

A training loop that resumes exactly

1. names its run by a fingerprint (:func:`fingerprint`, :func:`run_fingerprint`: configuration,
   model and data); a checkpoint written for another fingerprint is never resumed;
2. begins with :meth:`Checkpoints.start`. A ``last`` checkpoint of this fingerprint gives back
   the saved training state, with every random generator restored as it was when the state was
   written. Otherwise (no checkpoint, or one of another configuration, which is removed with a
   message) it returns ``None`` after seeding every random generator from the run's seed -- the
   same way each time, so that a fresh run, a run into a folder holding an older result and a
   resumed run draw the same random numbers;
3. after every epoch (or every few iterations) writes its whole state with
   :meth:`Checkpoints.save`, which adds the state of the random generators (torch's CPU and CUDA
   generators, numpy's and Python's global ones, and the ``torch.Generator`` objects the loop
   names) and writes atomically; :meth:`Checkpoints.save_best` keeps the best weights;
4. reports one console line per epoch (:meth:`Checkpoints.line`) and shows a bar
   (:func:`progress_bar`).

Everything is read with ``torch.load(weights_only=True)``: no pickled code runs.
"""

from __future__ import annotations

import hashlib
import random
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from roadlite.artifacts import atomic_path

__all__ = ["Checkpoints", "capture_rng", "console_line", "fingerprint", "isolated_rng", "progress_bar",
           "read_state",
           "restore_rng", "run_fingerprint", "seed_everything", "tensor_signature",
           "write_state"]

Generators = Mapping[str, torch.Generator]


# --------------------------------------------------------------------------- fingerprints

def fingerprint(*parts: object) -> str:
    """16 hex digits naming a run: the SHA-256 of ``parts`` joined by ``:``."""
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:16]


def tensor_signature(x: torch.Tensor, *others: torch.Tensor) -> str:
    """A cheap signature of a data set: the images' shape and the sum of a pixel grid, then the
    sum of each other tensor (labels, masks)."""
    sig = f"{tuple(x.shape)}:{int(x[:, :, ::7, ::7].sum())}"
    return sig + "".join(f":{int(o.sum())}" for o in others)


def run_fingerprint(config_fingerprint: str, name: str, model: nn.Module, data_signature: str
                    ) -> str:
    """The fingerprint of a training run: its configuration's fingerprint, its name, the model's
    parameter count and the data's signature."""
    n_params = sum(p.numel() for p in model.parameters())
    return fingerprint(config_fingerprint, name, n_params, data_signature)


# --------------------------------------------------------------------------- random generators

def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy's and Python's global generators from ``seed``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def capture_rng(generators: Generators | None = None) -> dict:
    """The state of every random generator a training loop may draw from, as tensors and plain
    numbers (so that it loads with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
                       "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64),
                        "gauss_next": gauss_next},
             "generators": {k: g.get_state() for k, g in (generators or {}).items()}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict | torch.Tensor | None, generators: Generators | None = None) -> None:
    """Set the generators to a state from :func:`capture_rng` (a bare tensor: torch's CPU state,
    as checkpoints written before the other generators were saved hold)."""
    if state is None:
        return
    if isinstance(state, torch.Tensor):
        torch.set_rng_state(state.cpu())
        return
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"].tolist()), p["gauss_next"]))
    saved = state.get("generators") or {}
    for key, gen in (generators or {}).items():
        if key not in saved:
            raise KeyError(f"the checkpoint holds no state of the random generator {key!r}")
        gen.set_state(saved[key])


@contextmanager
def isolated_rng() -> Iterator[None]:
    """Run a block with the global generators of its own: their state is put back on exit, so
    that what the block seeds and draws leaves the caller's random numbers as they were."""
    saved = capture_rng()
    try:
        yield
    finally:
        restore_rng(saved)


# --------------------------------------------------------------------------- files

def write_state(obj: dict, path: str | Path) -> Path:
    """``torch.save`` ``obj`` to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def read_state(path: str | Path) -> dict:
    """A state written by :func:`write_state`, on the CPU, without running pickled code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def console_line(name: str, unit: str, done: int, total: int, *fields: str, width: int = 3
                 ) -> str:
    """The book's one line per epoch: ``[name] unit done/total  field  field ...``."""
    return f"[{name}] {unit} {done:>{width}}/{total}  " + "  ".join(fields)


def progress_bar(total: int, initial: int = 0, desc: str = "", unit: str = "it",
                 enabled: bool = True):
    """The book's progress bar (tqdm on stderr, updated at most every 2 s, removed when done)."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=not enabled,
                file=sys.stderr, mininterval=2.0, leave=False)


# --------------------------------------------------------------------------- the protocol

class Checkpoints:
    """One training run's checkpoints: ``last`` (the whole training state, written after every
    epoch or every few iterations) and optionally ``best`` (the best weights so far).

    ``fingerprint`` names the run; ``name`` starts the console lines (``[name] ...``); ``log``
    prints them. :meth:`in_folder` gives the usual layout ``folder/last.pt``, ``folder/best.pt``.
    """

    def __init__(self, last: str | Path, fingerprint: str, *, best: str | Path | None = None,
                 name: str = "model", log: Callable[[str], None] = print):
        self.last = Path(last)
        self.best = Path(best) if best is not None else None
        self.fingerprint, self.name, self.log = fingerprint, name, log

    @classmethod
    def in_folder(cls, folder: str | Path, fingerprint: str, **kw) -> Checkpoints:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder / "last.pt", fingerprint, best=folder / "best.pt", **kw)

    def start(self, seed: int | None, *, generators: Generators | None = None,
              reject: Callable[[dict], str | None] | None = None) -> dict | None:
        """Begin the run: the saved state when ``last`` holds this fingerprint's (and
        ``reject(state)`` has no objection), with the random generators -- the global ones and
        ``generators`` -- restored; else ``None``, after removing a stale checkpoint (with a
        message saying why) and seeding the global generators from ``seed`` (None: leave
        them). The caller seeds its own ``generators`` on a fresh start."""
        state = None
        if self.last.exists():
            try:
                state = read_state(self.last)
                why = (None if isinstance(state, dict)
                       and state.get("fingerprint") == self.fingerprint
                       else "was made with another configuration")
            except Exception as exc:  # truncated or foreign file: it is only a cache
                why = f"cannot be read ({type(exc).__name__})"
            if why is None and reject is not None:
                why = reject(state)
            if why is None:
                if state.get("rng") is not None:
                    restore_rng(state["rng"], generators)
                elif seed is not None:  # written before the generators were saved
                    seed_everything(seed)
                return state
            self.log(f"[{self.name}] {self.last} {why}; starting afresh")
            self.discard()
        if seed is not None:
            seed_everything(seed)
        return None

    def discard(self) -> None:
        """Remove both checkpoints."""
        self.last.unlink(missing_ok=True)
        if self.best is not None:
            self.best.unlink(missing_ok=True)

    def save(self, state: dict, generators: Generators | None = None) -> None:
        """Write ``state`` to ``last`` atomically, with the fingerprint and the state of the
        random generators (the global ones and ``generators``)."""
        write_state({**state, "fingerprint": self.fingerprint, "rng": capture_rng(generators)},
                    self.last)

    def save_best(self, model: nn.Module, **info) -> None:
        """Write ``model``'s weights (and ``info``: epoch, score ...) to ``best`` atomically."""
        if self.best is None:
            raise ValueError(f"[{self.name}] these checkpoints keep no best weights")
        write_state({"model": model.state_dict(), **info, "fingerprint": self.fingerprint},
                    self.best)

    def load_best(self, model: nn.Module) -> bool:
        """Load the best weights into ``model`` (on its device); False when there are none."""
        if self.best is None or not self.best.exists():
            return False
        model.load_state_dict(read_state(self.best)["model"])
        return True

    def line(self, unit: str, done: int, total: int, *fields: str, width: int = 3) -> None:
        """Log the run's console line (:func:`console_line`)."""
        self.log(console_line(self.name, unit, done, total, *fields, width=width))
