"""How long each chapter takes to run, per profile, read from the ``run.json`` files the runs
wrote (the teacher's guide's table; ``make times`` writes it to ``book/chapter_times.md``).

``wall_time_s`` in ``run.json`` is the notebook's own time, from ``start_run`` (right after the
parameters are checked) to ``run.finish``; the kernel's start and the imports, a few seconds,
come on top. Nothing here is typed by hand: a profile without runs shows a dash and a TODO line
naming the command that fills it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from roadlite.params import CHAPTERS
from roadlite.paths import artifact_dir, repo_root

__all__ = ["chapter_times", "format_duration", "main", "times_markdown"]

PROFILES = ("smoke", "classroom", "default")


def chapter_times(artifacts_root: str | Path = "artifacts", profiles: Iterable[str] = PROFILES
                  ) -> dict[str, dict[str, dict[str, Any]]]:
    """``{profile: {chapter: run}}`` for every chapter with a ``run.json``, where ``run`` holds
    ``wall_time_s``, ``started_utc``, ``git_commit``, ``torch_threads``, ``machine`` and
    ``load_average`` (1, 5, 15 minutes at the end of the run; absent in older runs)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for profile in profiles:
        runs = {}
        for chapter in CHAPTERS:
            path = artifact_dir(artifacts_root, profile, chapter) / "run.json"
            if not path.is_file():
                continue
            info = json.loads(path.read_text())
            runs[chapter] = {k: info.get(k) for k in ("wall_time_s", "started_utc",
                                                     "git_commit", "torch_threads", "machine",
                                                     "load_average")}
        out[profile] = runs
    return out


def format_duration(seconds: float) -> str:
    """``8 s``, ``2 min 05 s``, ``1 h 03 min``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def _machines(runs: Mapping[str, Mapping[str, Any]]) -> str:
    seen = []
    for r in runs.values():
        m = r.get("machine") or {}
        text = f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, {r.get('torch_threads')} torch threads"
        if text not in seen:
            seen.append(text)
    return "; ".join(seen)


def _short_commit(commit: Any) -> str:
    """``39810a9`` of a full hash; ``-dirty`` kept (the run had uncommitted changes)."""
    text = str(commit)
    return text[:7] + (" (with uncommitted changes)" if text.endswith("-dirty") else "")


def _load(runs: Mapping[str, Mapping[str, Any]]) -> str:
    loads = [r["load_average"][1] for r in runs.values() if r.get("load_average")]
    if not loads:
        return ""
    return (f"; 5-minute load average at the end of {len(loads)} of these runs: "
            f"{min(loads):.1f} to {max(loads):.1f}")


def times_markdown(times: Mapping[str, Mapping[str, Mapping[str, Any]]],
                   profiles: Sequence[str] = PROFILES, command: str = "make times") -> str:
    """The guide's table: one row per chapter, one column per profile, a total row, then one
    line per profile saying where and when it was measured (or a TODO line without runs)."""
    lines = ["| chapter | " + " | ".join(f"`{p}`" for p in profiles) + " |",
             "|---|" + "---:|" * len(profiles)]
    for chapter in CHAPTERS:
        cells = []
        for p in profiles:
            run = times.get(p, {}).get(chapter)
            cells.append(format_duration(run["wall_time_s"]) if run else "—")
        lines.append(f"| {chapter} | " + " | ".join(cells) + " |")
    totals = []
    for p in profiles:
        runs = times.get(p, {})
        total = sum(r["wall_time_s"] for r in runs.values())
        complete = len(runs) == len(CHAPTERS)
        totals.append(("" if complete else f"{len(runs)} of {len(CHAPTERS)} chapters: ")
                      + format_duration(total)
                      if runs else "—")
    lines.append("| **all chapters** | " + " | ".join(f"**{t}**" for t in totals) + " |")
    lines.append("")
    for p in profiles:
        runs = times.get(p, {})
        if not runs:
            lines.append(f"- TODO `{p}`: no `run.json` under `artifacts/{p}/` when this table "
                         f"was written; run `make chapters PROFILE={p}`, then `{command}`.")
            continue
        started = sorted(r["started_utc"] for r in runs.values() if r.get("started_utc"))
        commits = sorted({_short_commit(r.get("git_commit")) for r in runs.values()})
        when = f"{started[0][:16]} to {started[-1][:16]} UTC" if started else "unknown dates"
        lines.append(f"- `{p}`: {len(runs)} of {len(CHAPTERS)} chapters, started {when}, "
                     f"commit {', '.join(commits)}; {_machines(runs)}{_load(runs)}.")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m roadlite.timings",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--artifacts", default="artifacts")
    ap.add_argument("--profiles", nargs="+", default=list(PROFILES))
    ap.add_argument("--output", default=None, help="write here (default: print)")
    args = ap.parse_args(argv)
    text = ("<!-- Written by `make times` (python -m roadlite.timings) from "
            "artifacts/<profile>/<chapter>/run.json; do not edit by hand. -->\n\n"
            + times_markdown(chapter_times(args.artifacts, args.profiles), args.profiles))
    if args.output is None:
        print(text, end="")
    else:
        out = Path(args.output)
        out = out if out.is_absolute() else repo_root() / out
        out.write_text(text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
