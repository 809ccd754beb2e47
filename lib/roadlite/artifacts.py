"""Artifacts of a chapter run: atomic writes, ``metrics.json``, ``run.json`` (book introduction).

A chapter's result is the folder ``artifacts/<profile>/<chapter>/``. Every file is written to a
temporary name and then renamed (``os.replace`` is atomic on POSIX), so no file is ever seen
half-written. A run works in a staging folder beside it, ``.<chapter>.partial/``, and
:meth:`Run.finish` swaps the staging folder in only when the whole chapter succeeded: a failed
or interrupted run leaves the last good result untouched, and its staging folder (with the
training checkpoints) lets the next run continue where it stopped; the next run keeps only those
checkpoints from it, so a result holds only files its own run wrote. A run holds a lock on its
chapter (``.<chapter>.lock``), so a second run into the same folder stops with a message that
names the first.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
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


class OutsideFolderError(ValueError):
    """A path read from a file (a ``metrics.json`` entry) that leads out of its folder."""


def path_inside(folder: str | os.PathLike, relative: str, where: str) -> Path:
    """``folder / relative``, where ``relative`` was read from a file (``where`` names it and
    the entry): it must be a relative path that stays inside ``folder``. An absolute path or one
    that climbs out with ``..`` is an :class:`OutsideFolderError` naming ``where`` and the
    value, so that a crafted ``metrics.json`` never makes a chapter open another file."""
    rel = str(relative)
    parts = Path(os.path.normpath(rel)).parts if rel else ()
    if not rel or Path(rel).is_absolute() or (parts and parts[0] == ".."):
        raise OutsideFolderError(f"{where}: {rel!r} is not a path inside {folder} (a path in "
                                 f"a chapter's metrics.json is relative to its folder, without "
                                 f"..)")
    return Path(folder) / rel


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


def jsonable(obj: Any, strict: bool = False) -> Any:
    """``obj`` in plain JSON types: the book's one converter (run records, metrics, checkpoint
    metadata, benchmark results).

    Mappings, lists and tuples recurse; paths become strings; numpy / torch scalars and arrays
    numbers and lists; objects with ``as_dict()`` (e.g. latency statistics) their dict;
    non-finite floats None (JSON has no NaN). Anything else becomes its ``str`` or, with
    ``strict``, raises TypeError naming its type.
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, strict) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()  # numpy / torch scalars
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "tolist"):
        return jsonable(obj.tolist(), strict)
    if hasattr(obj, "as_dict") and callable(obj.as_dict):
        return jsonable(obj.as_dict(), strict)
    if strict:
        raise TypeError(f"a value of type {type(obj).__name__} cannot be stored as JSON")
    return str(obj)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (numpy/torch scalars become numbers)."""
    return atomic_write_text(path, json.dumps(jsonable(obj), indent=2, sort_keys=True) + "\n")


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


def cpu_info() -> tuple[str | None, set[str]]:
    """The CPU's model name and feature flags from ``/proc/cpuinfo`` (None and an empty set
    where there is none, e.g. on macOS)."""
    model, flags = None, set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and model is None:
                model = value.strip()
            elif key == "flags" and not flags:
                flags = set(value.split())
    return model, flags


def machine_info() -> dict[str, Any]:
    """CPU model, core count, OS and Python: recorded in every ``run.json``."""
    cpu = cpu_info()[0] or platform.processor() or platform.machine()
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}


def load_average() -> list[float] | None:
    """The machine's 1-, 5- and 15-minute load averages when the run ends (None where the OS
    has none): a wall time measured while other jobs shared the cores reads differently."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


class Run:
    """One chapter run: its output folder, figures, and the final ``metrics.json``/``run.json``.

    Chapter notebooks create it with :func:`start_run` right after validating parameters.
    """

    def __init__(self, chapter: str, params: Mapping[str, Any], out_dir: Path,
                 final_dir: Path | None = None, lock: ChapterLock | None = None):
        self.chapter = chapter
        self.params = dict(params)
        self.dir = Path(out_dir)  # the staging folder while the run works, then the result
        self.final_dir = Path(final_dir) if final_dir is not None else self.dir
        self.lock = lock
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
            "load_average": load_average(),
            "figures": self.figures,
        }
        atomic_write_json(self.dir / "run.json", run_info)
        out = dict(metrics)
        out.setdefault("wall_time_s", round(wall, 2))
        atomic_write_json(self.dir / "metrics.json", out)
        if self.dir != self.final_dir:
            publish(self.dir, self.final_dir)
            self.dir = self.final_dir
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        path = self.dir / "metrics.json"
        print(f"{self.chapter} finished in {wall:.1f} s; wrote {path}")
        return path


def staging_dir(final_dir: Path) -> Path:
    """Where a run of the chapter whose result is ``final_dir`` works: ``.<chapter>.partial``."""
    return final_dir.parent / f".{final_dir.name}.partial"


def publish(stage: Path, final_dir: Path) -> None:
    """Make the finished staging folder the chapter's result, replacing the previous one.

    Two renames: the old result moves aside to ``.<chapter>.old`` (deleted after), the staging
    folder takes its place. :func:`recover_result` puts the old one back if a crash falls
    between the two."""
    old = final_dir.parent / f".{final_dir.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if final_dir.exists():
        os.replace(final_dir, old)
    os.replace(stage, final_dir)
    shutil.rmtree(old, ignore_errors=True)


def recover_result(final_dir: Path) -> None:
    """Undo a half-done :func:`publish` (the result moved aside, the new one not yet in)."""
    old = final_dir.parent / f".{final_dir.name}.old"
    if old.exists() and not final_dir.exists():
        os.replace(old, final_dir)


def _link_tree(src: Path, dest: Path) -> int:
    """Hard-link (copy where linking fails) every file of ``src`` into ``dest``; return the
    number of files. Safe because every writer replaces files by rename, never in place."""
    n = 0
    for f in src.rglob("*"):
        if f.is_file():
            target = dest / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(f, target)
            except OSError:
                shutil.copy2(f, target)
            n += 1
    return n


def _clear_stale_outputs(stage: Path) -> list[str]:
    """Remove everything from a staging folder but its ``checkpoints/`` (and, inside that, the
    temporary files of writes a kill cut short); return the top-level names removed."""
    removed = []
    for entry in sorted(stage.iterdir()):
        if entry.name == "checkpoints" and entry.is_dir() and not entry.is_symlink():
            for tmp in entry.rglob(".*.tmp"):
                if tmp.is_file():
                    tmp.unlink(missing_ok=True)
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed


def prepare_staging(final_dir: Path, log: Any = print) -> Path:
    """Create (or reuse) the staging folder of a chapter run and say what it continues from.

    A run publishes only what it wrote: the staging folder starts from checkpoints only. One
    left by an interrupted run keeps its ``checkpoints/`` (the training core resumes from them)
    and loses every other file it holds (figures, exported models, tables of the interrupted
    run: a rerun with other parameters, e.g. without an export, must not publish them). A new
    staging folder starts with the checkpoints of the last good result (hard links), so that a
    rerun whose training configuration did not change does not train again."""
    recover_result(final_dir)
    stage = staging_dir(final_dir)
    if stage.exists():
        removed = _clear_stale_outputs(stage)
        n = sum(1 for f in (stage / "checkpoints").rglob("*.pt")) if (
            stage / "checkpoints").exists() else 0
        dropped = f"; its other outputs are dropped ({', '.join(removed)})" if removed else ""
        log(f"resuming an interrupted run of {final_dir.name}: {stage} "
            f"({n} checkpoint file(s)){dropped}")
    else:
        stage.mkdir(parents=True)
        if (final_dir / "checkpoints").is_dir():
            n = _link_tree(final_dir / "checkpoints", stage / "checkpoints")
            log(f"{final_dir.name}: starting from the last good result's {n} checkpoint "
                f"file(s); training whose configuration is unchanged is not repeated")
    return stage


# ---- one run per chapter folder --------------------------------------------------------------

class ChapterLockedError(RuntimeError):
    """Another run holds the chapter's folder."""


_HELD: dict[str, ChapterLock] = {}  # locks this process holds, by lock-file path


class ChapterLock:
    """An exclusive ``flock`` on ``<artifacts>/<profile>/.<chapter>.lock``.

    The lock file records its holder (process, host, command, start time, token); the kernel
    frees it when the holder dies, so a killed run never leaves a stale lock. A child process
    whose environment carries the holder's token (``ROADLITE_LOCK_TOKEN``: the pipeline passes
    it to the notebook's kernel) runs under its parent's lock.
    """

    def __init__(self, path: Path, fd: int | None, token: str, inherited: bool = False):
        self.path, self.fd, self.token, self.inherited = path, fd, token, inherited

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None
        _HELD.pop(str(self.path), None)

    def __enter__(self) -> ChapterLock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def lock_path(final_dir: Path) -> Path:
    return final_dir.parent / f".{final_dir.name}.lock"


def acquire_chapter_lock(final_dir: Path) -> ChapterLock:
    """Lock the chapter whose result is ``final_dir``; raise :class:`ChapterLockedError`
    naming the holder when another run has it."""
    path = lock_path(final_dir)
    held = _HELD.get(str(path))
    if held is not None:  # this process already holds it (a notebook re-run in one kernel)
        return held
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = json.loads(os.pread(fd, 65536, 0).decode() or "{}")
        except (OSError, ValueError):
            holder = {}
        os.close(fd)
        if holder.get("token") and holder.get("token") == os.environ.get("ROADLITE_LOCK_TOKEN"):
            return ChapterLock(path, None, holder["token"], inherited=True)
        who = (f"process {holder.get('pid', '?')} on {holder.get('host', '?')} "
               f"(started {holder.get('started', '?')}: {holder.get('command', '?')})")
        raise ChapterLockedError(
            f"{final_dir} is in use by another run: {who}. Wait for it to finish, stop it, or "
            f"run into another folder (ARTIFACTS=... / artifacts_root=...).") from None
    token = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
    info = {"pid": os.getpid(), "host": socket.gethostname(), "token": token,
            "command": " ".join(sys.argv)[:300],
            "started": _dt.datetime.now().isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    lock = ChapterLock(path, fd, token)
    _HELD[str(path)] = lock
    return lock


def start_run(params: Any) -> Run:
    """Start a chapter run from validated parameters (:class:`roadlite.params.Params`).

    Takes the chapter's lock, prepares the staging folder (see the module's docstring), applies
    the thread count and seed, and returns the :class:`Run`. The last good result stays in
    place until :meth:`Run.finish` replaces it.
    """
    import torch

    final_dir = params.out_dir
    lock = acquire_chapter_lock(final_dir)
    stage = prepare_staging(final_dir)
    if params.get("num_threads"):
        torch.set_num_threads(int(params["num_threads"]))
    torch.manual_seed(int(params.get("seed", 0)))
    return Run(params.chapter, params, stage, final_dir=final_dir,
               lock=None if lock.inherited else lock)
