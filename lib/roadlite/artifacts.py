"""Artifacts of a chapter run: atomic writes, ``metrics.json``, ``run.json`` (book introduction).

A chapter writes everything into ``artifacts/<profile>/<chapter>/``. Every file is written to a
temporary name in the same folder and then renamed (``os.replace`` is atomic on POSIX), so an
interrupted run never leaves a half-written file that a later run could mistake for a finished
one. ``metrics.json`` is written last by :meth:`Run.finish`; the pipeline deletes it before a run
starts, so its presence means "this chapter finished".
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import roadlite
from roadlite.paths import repo_root


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was. ``suffix``
    ends the temporary name (a tool that checks extensions may need the real one).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes files private (0600); give them the usual mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (``fsync=False`` for many small files, e.g.
    generated images, whose completeness a later marker file vouches for)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()  # numpy / torch scalars
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    return str(obj)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (numpy/torch scalars become numbers)."""
    return atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path) as f:
        return json.load(f)


def git_commit(root: Path | None = None) -> str | None:
    """The checkout's commit (with ``-dirty`` when it has uncommitted changes), or None."""
    root = root or repo_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout
        return sha + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info() -> dict[str, Any]:
    """CPU model, core count, OS and Python: recorded in every ``run.json``."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}


class Run:
    """One chapter run: its output folder, figures, and the final ``metrics.json``/``run.json``.

    Chapter notebooks create it with :func:`start_run` right after validating parameters.
    """

    def __init__(self, chapter: str, params: Mapping[str, Any], out_dir: Path):
        self.chapter = chapter
        self.params = dict(params)
        self.dir = Path(out_dir)
        self.t0 = time.perf_counter()
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self.figures: list[str] = []

    def path(self, *parts: str) -> Path:
        """A path inside the chapter's artifact folder (parents created)."""
        p = self.dir.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def save_figure(self, fig: Any, name: str, dpi: int = 120) -> Path:
        """Save a matplotlib figure as ``figures/<name>.png`` (atomically) and return the path."""
        target = self.path("figures", f"{name}.png")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
        self.figures.append(str(target.relative_to(self.dir)))
        return target

    def wall_time(self) -> float:
        return time.perf_counter() - self.t0

    def finish(self, metrics: Mapping[str, Any]) -> Path:
        """Write ``run.json`` then ``metrics.json`` (the "finished" marker); print the wall time."""
        import torch

        wall = self.wall_time()
        run_info = {
            "chapter": self.chapter,
            "profile": self.params.get("profile"),
            "parameters": self.params,
            "seed": self.params.get("seed"),
            "roadlite_version": roadlite.__version__,
            "git_commit": git_commit(),
            "torch_version": torch.__version__,
            "device": str(self.params.get("device", "cpu")),
            "torch_threads": torch.get_num_threads(),
            "machine": machine_info(),
            "started_utc": self.started.isoformat(timespec="seconds"),
            "wall_time_s": round(wall, 2),
            "figures": self.figures,
        }
        atomic_write_json(self.dir / "run.json", run_info)
        out = dict(metrics)
        out.setdefault("wall_time_s", round(wall, 2))
        path = atomic_write_json(self.dir / "metrics.json", out)
        print(f"{self.chapter} finished in {wall:.1f} s; wrote {path}")
        return path


def start_run(params: Any) -> Run:
    """Start a chapter run from validated parameters (:class:`roadlite.params.Params`).

    Removes a stale ``metrics.json`` (so that the folder does not look finished while this run
    works), applies the thread count and seed, and returns the :class:`Run`.
    """
    import torch

    out_dir = params.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").unlink(missing_ok=True)
    if params.get("num_threads"):
        torch.set_num_threads(int(params["num_threads"]))
    torch.manual_seed(int(params.get("seed", 0)))
    return Run(params.chapter, params, out_dir)
