"""The notebooks' parameters cells, generated from a profile.

Each chapter notebook has one code cell tagged ``parameters``: the ``default`` profile resolved
for the chapter, one assignment per parameter with the schema's help beside it (or above it,
when the line would pass 99 characters). Papermill injects a run's values after it.

    python -m roadlite.params cells            # rewrite the stale cells (make params-cells)
    python -m roadlite.params cells --check    # name the stale notebooks, exit 1 (a unit test too)

The student edition's parameters cell is the same text for the ``classroom`` profile
(:func:`roadlite.student_edition.parameters_source`).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roadlite.paths import repo_root

from .profiles import BASE_PROFILE, resolve_params
from .schema import CHAPTERS, schema

__all__ = ["WIDTH", "check_cells", "parameters_cell", "parameters_cell_of", "write_cells"]

WIDTH = 99  # the longest line written (ruff's line length is 100)
COMMAND = "make params-cells"


def parameters_cell(chapter: str, profile: str = BASE_PROFILE, root: Path | None = None,
                    made_by: str = COMMAND) -> str:
    """The source of ``chapter``'s parameters cell with the values of ``profile``: a two-line
    header naming the profile and ``made_by`` (the command that writes the cell), then
    ``name = value`` per parameter in the profile's order, each with its help."""
    values = resolve_params(chapter, profile, artifacts_root="artifacts", root=root)
    params = schema(chapter)
    run = f"make nb NB={chapter}" + ("" if profile == BASE_PROFILE else f" PROFILE={profile}")
    lines = [f"# The `{profile}` profile's values (params/{profile}.yaml), written by `{made_by}`.",
             *_comment(f"A run injects its own values after this cell: {run} NAME=value.")]
    for name, value in values.items():
        assign = f"{name} = {value!r}"
        inline = f"{assign}  # {params[name].help}"
        if len(inline) <= WIDTH:
            lines.append(inline)
        else:
            lines += [*_comment(params[name].help), assign]
    return "\n".join(lines)


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent="# ", subsequent_indent="# ",
                         break_long_words=False, break_on_hyphens=False)


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def parameters_cell_of(nb: dict[str, Any], where: str = "notebook") -> dict[str, Any]:
    """The one code cell tagged ``parameters`` of a notebook (a ``ValueError`` otherwise)."""
    tagged = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"
              and "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"{where}: {len(tagged)} code cells tagged 'parameters' (expected 1)")
    return tagged[0]


def _dump(nb: dict[str, Any]) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _expected(root: Path) -> dict[Path, tuple[str, str]]:
    """{notebook: (its text now, its text with a generated parameters cell)}."""
    out = {}
    for chapter in CHAPTERS:
        path = root / "notebooks" / f"{chapter}.ipynb"
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        cell = parameters_cell_of(nb, str(path))
        cell["source"] = parameters_cell(chapter, root=root).splitlines(keepends=True)
        out[path] = (text, _dump(nb))
    return out


def write_cells(root: Path | None = None) -> list[Path]:
    """Rewrite the parameters cell of every chapter notebook whose cell is stale; returns the
    notebooks written (the rest of each notebook is left as it is)."""
    root = Path(root) if root is not None else repo_root()
    written = []
    for path, (now, want) in _expected(root).items():
        if now != want:
            path.write_text(want, encoding="utf-8")
            written.append(path)
    return written


def check_cells(root: Path | None = None) -> list[str]:
    """The chapter notebooks whose parameters cell is not the generated one (empty: none)."""
    root = Path(root) if root is not None else repo_root()
    return [f"{path.relative_to(root)}: its parameters cell is not params/{BASE_PROFILE}.yaml's"
            for path, (now, want) in _expected(root).items() if now != want]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m roadlite.params",
                                 description="The notebooks' parameters cells, generated from "
                                             f"params/{BASE_PROFILE}.yaml.")
    ap.add_argument("command", choices=["cells"])
    ap.add_argument("--check", action="store_true",
                    help="write nothing; name the stale notebooks and exit 1 if there are any")
    args = ap.parse_args(argv)
    root = repo_root()
    if args.check:
        problems = check_cells(root)
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print(f"run `{COMMAND}` to regenerate them", file=sys.stderr)
        return 1 if problems else 0
    for path in write_cells(root):
        print(f"wrote {path.relative_to(root)}")
    return 0
