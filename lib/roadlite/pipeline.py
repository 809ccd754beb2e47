"""Run chapters with papermill and stage the executed notebooks for the book.

The Makefile calls this module; it can be used directly too (overrides go anywhere after
``run``; names are case-insensitive)::

    python -m roadlite.pipeline run 03_eca --profile default epochs=5
    python -m roadlite.pipeline params 03_eca --profile smoke > my.yaml   # for papermill -f
    python -m roadlite.pipeline stage-book --profile default

``run`` resolves the chapter's parameters (profile + overrides) and checks them and the upstream
chapters before it touches anything, takes the chapter's lock, and executes
``notebooks/<chapter>.ipynb`` with papermill. The notebook works in a staging folder and swaps
it in as ``artifacts/<profile>/<chapter>/`` only when it finished (see
:mod:`roadlite.artifacts`); the executed notebook then joins it. A failed run leaves the last good
result as it was, ``artifacts/<profile>/<chapter>.failed.ipynb`` for inspection (only a complete
one: an empty or cut-short notebook is removed, and a ``!!`` line says so), and its staging
folder, from which the next run continues. A full disk or a read-only artifacts folder ends in
one line naming the folder (:class:`StorageError`): a folder that cannot take a file is found
before the chapter starts, and a run that fills the disk has its staging folder removed.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from roadlite.artifacts import (
    ChapterLockedError,
    acquire_chapter_lock,
    atomic_write_text,
    recover_result,
    staging_dir,
)
from roadlite.params import (
    CHAPTER_PARAMS,
    CHAPTERS,
    SHARED,
    ParameterError,
    UpstreamMissingError,
    parse_override,
    require_upstream,
    resolve_params,
    run_dir,
)
from roadlite.paths import artifact_dir, repo_root
from roadlite.results import render_results_page

BOOK_STAGE = Path("book") / "_chapters"


def chapters_with(name: str) -> list[str]:
    """The chapters that have parameter ``name``."""
    return [c for c in CHAPTERS if name in SHARED or name in CHAPTER_PARAMS[c]]


def split_overrides(chapter: str, overrides: dict[str, Any], strict: bool = True
                    ) -> dict[str, Any]:
    """Keep the overrides ``chapter`` has.

    A name no chapter has is always an error. A name only other chapters have is an error when
    ``strict`` (one chapter run: ``make nb``, ``roadlite run``); otherwise (``make CHAPTER``
    and ``make book``, whose overrides go to every chapter) it is dropped with a notice that
    names the chapters it is for.
    """
    known = {**SHARED, **CHAPTER_PARAMS[chapter]}
    everywhere = set(SHARED).union(*CHAPTER_PARAMS.values())
    unknown = [k for k in overrides if k not in everywhere]
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown}: no chapter has them "
                             f"(chapter {chapter} has: {', '.join(sorted(known))})")
    other = {k: chapters_with(k) for k in overrides if k not in known}
    if other:
        where = "; ".join(f"{k!r} belongs to {', '.join(v)}" for k, v in other.items())
        if strict:
            raise ParameterError(f"{chapter} has no parameter(s) {sorted(other)}: {where}")
        print(f"== {chapter}: not used here: {where}", flush=True)
    return {k: v for k, v in overrides.items() if k in known}


class _ConsoleEcho(logging.Handler):
    """Echo the notebook's resume messages (papermill logs the cells' output) to the console."""

    PATTERN = re.compile(r"resum|starting afresh|starting from the last good", re.I)

    def emit(self, record: logging.LogRecord) -> None:
        for line in str(record.getMessage()).splitlines():
            if self.PATTERN.search(line):
                print(f"   {line.strip()}", flush=True)


class StorageError(RuntimeError):
    """The artifacts folder cannot be written: the disk is full, or the folder is read-only or
    not ours to write. The message is one line naming the folder."""


class KernelDiedError(RuntimeError):
    """The chapter's kernel died (killed, out of memory): the message is one line."""


#: errno values that mean "this folder cannot take a file": full, over quota, read-only
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
NO_PERMISSION = (errno.EACCES, errno.EPERM)
_ERRNO_TEXT = re.compile(r"\[Errno (\d+)\] ([^:']*)(?::\s*'([^']*)')?")


def storage_problem(exc: BaseException, artifacts: Path) -> tuple[str, str | None] | None:
    """``(reason, file)`` when ``exc`` is the disk refusing a write under ``artifacts``: an
    :class:`OSError` here or, as papermill reports it, one raised in the notebook's kernel. A
    full disk or a read-only file system counts wherever it happened; a permission error only
    under ``artifacts`` (one on a data file is the data's problem)."""
    code, reason, filename = None, "", None
    if isinstance(exc, OSError) and exc.errno is not None:
        code, reason = exc.errno, exc.strerror or os.strerror(exc.errno)
        filename = exc.filename
    elif getattr(exc, "ename", None) and isinstance(getattr(exc, "evalue", None), str):
        hit = _ERRNO_TEXT.search(exc.evalue)  # papermill: the kernel's exception, as text
        if hit:
            code, reason, filename = int(hit.group(1)), hit.group(2).strip(), hit.group(3)
    if code is None:
        return None
    if code in DISK_FULL:
        return reason, filename
    if code in NO_PERMISSION and filename:
        try:
            Path(filename).resolve().relative_to(artifacts.resolve())
        except ValueError:
            return None
        return reason, filename
    return None


def check_writable(folder: Path) -> None:
    """Make ``folder`` and write (then remove) a small file in it; a folder that cannot take
    one (read-only, not ours, disk full) is a :class:`StorageError` naming it, before the
    chapter's lock or any other file is touched."""
    probe = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".roadlite-write-test.", dir=folder)
        try:
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise StorageError(f"cannot write in {folder}: {e.strerror or e}; nothing was run and "
                           f"the last good result (if any) is unchanged") from None
    finally:
        if probe is not None:
            with contextlib.suppress(OSError):
                os.unlink(probe)


def _keep_failed_notebook(executed: Path, failed: Path) -> Path | None:
    """Keep the executed notebook of a failed run as ``failed`` when it is complete (a whole
    JSON document); remove it when it is empty or cut short (a full disk), and then also an
    older ``failed`` notebook, which does not describe this run. Returns what was kept."""
    try:
        if executed.exists() and executed.stat().st_size:
            json.loads(executed.read_text(encoding="utf-8"))
            os.replace(executed, failed)
            return failed
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError):
        executed.unlink(missing_ok=True)
        failed.unlink(missing_ok=True)
    return None


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _remove_stale_temporaries(folder: Path, chapter: str) -> None:
    """Hidden temporary notebooks that a killed run (before this version) left behind."""
    for d in (folder, folder.parent):
        if d.is_dir():
            for f in d.glob(f".{chapter}.ipynb.*.ipynb"):
                f.unlink(missing_ok=True)


def run_chapter(chapter: str, profile: str, overrides: dict[str, Any] | None = None,
                artifacts_root: str | None = None, log_output: bool = True,
                strict: bool = True) -> Path:
    """Execute one chapter notebook with papermill; return the executed notebook's path.

    Everything is checked before anything is touched: the parameters (a :class:`ParameterError`
    names the bad one), the upstream chapters (:class:`UpstreamMissingError`) and the chapter's
    lock (:class:`~roadlite.artifacts.ChapterLockedError` names the run that holds it)."""
    import papermill as pm
    from nbclient.exceptions import DeadKernelError

    root = repo_root()
    params = resolve_params(chapter, profile, split_overrides(chapter, overrides or {}, strict),
                            artifacts_root=artifacts_root, root=root)
    require_upstream(chapter, params)
    out_dir = run_dir(params, chapter)  # a seed run: artifacts/<profile>/seeds/<seed>/
    failed = out_dir.parent / f"{chapter}.failed.ipynb"
    src = root / "notebooks" / f"{chapter}.ipynb"
    check_writable(out_dir.parent)
    lock = acquire_chapter_lock(out_dir)
    saved_env = {k: os.environ.get(k) for k in ("ROADLITE_ROOT", "ROADLITE_LOCK_TOKEN")}
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    echo = _ConsoleEcho()
    pm_log = logging.getLogger("papermill")
    pm_log.addHandler(echo)
    pm_log.setLevel(logging.INFO)
    try:
        recover_result(out_dir)
        _remove_stale_temporaries(out_dir, chapter)
        os.environ["ROADLITE_ROOT"] = str(root)
        os.environ["ROADLITE_LOCK_TOKEN"] = lock.token
        print(f"== {chapter} [{profile}] -> {out_dir}", flush=True)
        t0 = time.perf_counter()
        executed = out_dir.parent / f".{chapter}.executing.ipynb"
        executed.unlink(missing_ok=True)
        try:
            pm.execute_notebook(str(src), str(executed), parameters=params, cwd=str(root),
                                kernel_name="python3", progress_bar=False,
                                log_output=log_output, report_mode=False)
        except BaseException as exc:
            kept = _keep_failed_notebook(executed, failed)
            problem = storage_problem(exc, root / params["artifacts_root"])
            if problem is not None:
                reason, filename = problem
                folder = Path(filename).parent if filename else out_dir.parent
                stage = staging_dir(out_dir)
                shutil.rmtree(stage, ignore_errors=True)
                where = (f"the executed notebook is at {kept}" if kept else
                         "no executed notebook could be saved")
                raise StorageError(
                    f"{chapter} stopped: cannot write in {folder} ({reason}); its staging "
                    f"folder {stage} is removed, {where}; the last good result (if any) is "
                    f"unchanged in {out_dir}") from None
            where = (f"the executed notebook is at {kept}" if kept else
                     "no executed notebook could be saved (it was empty or cut short)")
            if isinstance(exc, DeadKernelError):  # kill -9, out of memory: no cell error to show
                raise KernelDiedError(
                    f"{chapter} stopped: its kernel died (killed, or out of memory); {where}; "
                    f"the last good result (if any) is unchanged in {out_dir}; a rerun "
                    f"continues from what the run saved") from None
            print(f"!! {chapter} failed; {where}; the last good result (if any) is unchanged "
                  f"in {out_dir}", file=sys.stderr)
            raise
        if staging_dir(out_dir).exists() or not (out_dir / "metrics.json").exists():
            executed.unlink(missing_ok=True)
            raise RuntimeError(f"{chapter} ran but did not finish its run (did it call "
                               f"run.finish?); the last good result is unchanged")
        final = out_dir / f"{chapter}.ipynb"
        os.replace(executed, final)
        failed.unlink(missing_ok=True)
    finally:
        pm_log.removeHandler(echo)
        signal.signal(signal.SIGTERM, previous_term)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        lock.release()
    print(f"== {chapter} [{profile}] done in {time.perf_counter() - t0:.1f} s", flush=True)
    return final


def chapter_parameters_yaml(chapter: str, profile: str, overrides: dict[str, Any] | None = None,
                            artifacts_root: str | None = None) -> str:
    """The resolved parameters of one chapter as flat YAML: the file ``papermill -f`` takes.

    (A profile file has one section per chapter, which papermill cannot inject.)"""
    params = resolve_params(chapter, profile, split_overrides(chapter, overrides or {}),
                            artifacts_root=artifacts_root)
    return yaml.safe_dump(dict(params), sort_keys=False)


def _stage_notebook(src: Path, dest: Path) -> None:
    """Copy an executed notebook for the book (figures are inline outputs). The notebook's own
    defaults (the ``parameters`` cell) fold away behind a button; the values the run really used
    (papermill's ``injected-parameters`` cell) stay in view."""
    nb = json.loads(src.read_text())
    for cell in nb.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags and "hide-input" not in tags:
            cell["metadata"]["tags"] = [*tags, "hide-input"]
    atomic_write_text(dest, json.dumps(nb, indent=1) + "\n")


def stage_book(profile: str, artifacts_root: str | None = None, stage: Path | None = None
               ) -> Path:
    """Copy the executed notebooks of ``profile`` into ``book/_chapters/`` and write the results
    page. A chapter that did not run gets a page saying so (never an empty or zero result)."""
    a_root = artifacts_root or os.environ.get("ROADLITE_ARTIFACTS", "artifacts")
    stage = Path(stage) if stage is not None else repo_root() / BOOK_STAGE
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for chapter in CHAPTERS:
        nb = artifact_dir(a_root, profile, chapter) / f"{chapter}.ipynb"
        if nb.exists():
            _stage_notebook(nb, stage / f"{chapter}.ipynb")
        else:
            atomic_write_text(stage / f"{chapter}.md", (
                f"# {chapter}\n\n```{{warning}}\nChapter `{chapter}` has not been run for the "
                f"`{profile}` profile, so this page has no results. Run `make {chapter} "
                f"PROFILE={profile}` and rebuild the book.\n```\n"))
    atomic_write_text(stage / "results.md", render_results_page(profile, a_root))
    atomic_write_text(stage / "profile.json", json.dumps({"profile": profile}) + "\n")
    return stage


def _overrides(words: Iterable[str], from_env: Iterable[str] = ()) -> dict[str, Any]:
    """``name=value`` words, then names whose values are in the environment (``make`` passes
    its command-line variables this way, so values with quotes or spaces arrive intact)."""
    out = dict(parse_override(w) for w in words)
    for name in from_env:
        if name not in os.environ:
            raise ParameterError(f"override {name} is not in the environment")
        out.update([parse_override(f"{name}={os.environ[name]}")])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m roadlite.pipeline", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute one chapter notebook",
                       usage="%(prog)s CHAPTER [--profile P] [--artifacts DIR] [name=value ...]")
    r.add_argument("chapter", choices=CHAPTERS)
    r.add_argument("--profile", default="default")
    r.add_argument("--artifacts", default=None, help="artifacts root (default: artifacts)")
    r.add_argument("--from-env", nargs="*", default=[], metavar="NAME",
                   help="overrides whose values are environment variables of these names")
    r.add_argument("--other-chapters-ok", action="store_true",
                   help="drop (with a notice) overrides that only other chapters have")
    q = sub.add_parser("params", help="print one chapter's resolved parameters as YAML "
                                      "(for papermill -f)")
    q.add_argument("chapter", choices=CHAPTERS)
    q.add_argument("--profile", default="default")
    q.add_argument("--artifacts", default=None)
    s = sub.add_parser("stage-book", help="stage executed notebooks + results page for the book")
    s.add_argument("--profile", default="default")
    s.add_argument("--artifacts", default=None)
    sub.add_parser("chapters", help="list the chapters in order")
    # Overrides (name=value) may stand anywhere after the command.
    args, rest = ap.parse_known_args(argv)
    words = [w for w in rest if "=" in w and not w.startswith("-")]
    stray = [w for w in rest if w not in words]
    if stray or (words and args.cmd not in ("run", "params")):
        ap.error(f"unrecognized arguments: {' '.join(stray or words)}")
    try:
        if args.cmd == "run":
            run_chapter(args.chapter, args.profile, _overrides(words, args.from_env),
                        args.artifacts, strict=not args.other_chapters_ok)
        elif args.cmd == "params":
            sys.stdout.write(chapter_parameters_yaml(args.chapter, args.profile,
                                                     _overrides(words), args.artifacts))
        elif args.cmd == "stage-book":
            print(stage_book(args.profile, args.artifacts))
        else:
            print("\n".join(CHAPTERS))
    except (ParameterError, UpstreamMissingError, ChapterLockedError) as e:
        kind = ("parameter error" if isinstance(e, ParameterError) else
                "missing upstream" if isinstance(e, UpstreamMissingError) else "chapter in use")
        print(f"{kind}: {e}", file=sys.stderr)
        return 2
    except StorageError as e:
        print(f"!! storage error: {e}", file=sys.stderr)
        return 1
    except KernelDiedError as e:
        print(f"!! {e}", file=sys.stderr)
        return 1
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        folder = Path(e.filename).parent if e.filename else Path(args.artifacts or "artifacts")
        print(f"!! storage error: cannot write in {folder} ({e.strerror}); the last good "
              f"result (if any) is unchanged", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the last good result is unchanged and a rerun continues",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
