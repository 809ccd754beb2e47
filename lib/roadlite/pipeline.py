"""Run chapters with papermill and stage the executed notebooks for the book.

The Makefile calls this module; it can be used directly too::

    python -m roadlite.pipeline run 03_eca --profile default epochs=5
    python -m roadlite.pipeline stage-book --profile default

``run`` resolves the chapter's parameters (profile + overrides, validated before any work),
executes ``notebooks/<chapter>.ipynb`` with papermill into a temporary file and renames it to
``artifacts/<profile>/<chapter>/<chapter>.ipynb`` only when the whole notebook succeeded. A failed
run leaves ``<chapter>.failed.ipynb`` beside it for inspection and no ``metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roadlite.artifacts import atomic_path, atomic_write_text
from roadlite.params import (
    CHAPTER_PARAMS,
    CHAPTERS,
    SHARED,
    ParameterError,
    parse_override,
    resolve_params,
)
from roadlite.paths import artifact_dir, repo_root

BOOK_STAGE = Path("book") / "_chapters"


def split_overrides(chapter: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Keep the overrides this chapter knows; a name no chapter knows is an error."""
    everywhere = set(SHARED).union(*CHAPTER_PARAMS.values())
    unknown = [k for k in overrides if k not in everywhere]
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown}: no chapter has them "
                             f"(chapter {chapter} knows: "
                             f"{', '.join(sorted({**SHARED, **CHAPTER_PARAMS[chapter]}))})")
    known = {**SHARED, **CHAPTER_PARAMS[chapter]}
    return {k: v for k, v in overrides.items() if k in known}


def run_chapter(chapter: str, profile: str, overrides: dict[str, Any] | None = None,
                artifacts_root: str | None = None, log_output: bool = True) -> Path:
    """Execute one chapter notebook with papermill; return the executed notebook's path."""
    import papermill as pm

    root = repo_root()
    params = resolve_params(chapter, profile, split_overrides(chapter, overrides or {}),
                            artifacts_root=artifacts_root, root=root)
    out_dir = artifact_dir(params["artifacts_root"], profile, chapter)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{chapter}.ipynb"
    failed = out_dir / f"{chapter}.failed.ipynb"
    for stale in (final, failed, out_dir / "metrics.json"):
        stale.unlink(missing_ok=True)
    src = root / "notebooks" / f"{chapter}.ipynb"
    print(f"== {chapter} [{profile}] -> {out_dir}", flush=True)
    t0 = time.perf_counter()
    env_root = os.environ.get("ROADLITE_ROOT")
    os.environ["ROADLITE_ROOT"] = str(root)
    try:
        with atomic_path(final, suffix=".tmp.ipynb") as tmp:
            try:
                pm.execute_notebook(str(src), str(tmp), parameters=params, cwd=str(root),
                                    kernel_name="python3", progress_bar=False,
                                    log_output=log_output, report_mode=False)
            except BaseException:
                if tmp.exists() and tmp.stat().st_size:
                    shutil.copyfile(tmp, failed)
                    print(f"!! {chapter} failed; executed notebook kept at {failed}",
                          file=sys.stderr)
                raise
    finally:
        if env_root is None:
            os.environ.pop("ROADLITE_ROOT", None)
        else:
            os.environ["ROADLITE_ROOT"] = env_root
    if not (out_dir / "metrics.json").exists():
        final.unlink(missing_ok=True)
        raise RuntimeError(f"{chapter} ran but wrote no metrics.json (did it call run.finish?)")
    print(f"== {chapter} [{profile}] done in {time.perf_counter() - t0:.1f} s", flush=True)
    return final


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
    from roadlite.results import render_results_page

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


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m roadlite.pipeline", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute one chapter notebook")
    r.add_argument("chapter", choices=CHAPTERS)
    r.add_argument("--profile", default="default")
    r.add_argument("--artifacts", default=None, help="artifacts root (default: artifacts)")
    r.add_argument("overrides", nargs="*", help="name=value parameter overrides")
    s = sub.add_parser("stage-book", help="stage executed notebooks + results page for the book")
    s.add_argument("--profile", default="default")
    s.add_argument("--artifacts", default=None)
    sub.add_parser("chapters", help="list the chapters in order")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "run":
            overrides = dict(parse_override(o) for o in args.overrides)
            run_chapter(args.chapter, args.profile, overrides, args.artifacts)
        elif args.cmd == "stage-book":
            print(stage_book(args.profile, args.artifacts))
        else:
            print("\n".join(CHAPTERS))
    except ParameterError as e:
        print(f"parameter error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
