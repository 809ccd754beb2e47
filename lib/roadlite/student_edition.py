"""The student edition: ``exercises/NN_slug.ipynb`` derived from the chapter notebooks
(``make exercises``; the teacher's guide explains how to use and grade it).

A chapter notebook holds each exercise's reference solution between nbgrader's markers::

    def eca_kernel_size(channels):
        ### BEGIN SOLUTION
        t = int(abs(math.log2(channels) + 1) / 2)
        return t if t % 2 else t + 1
        ### END SOLUTION

The student edition replaces every such region, markers included, by nbgrader's stub at the
same indentation (``# YOUR CODE HERE`` / ``raise NotImplementedError()``), drops the markdown
cells that only open and close the book's collapsible solutions (``solution-start`` /
``solution-end`` of sphinx-exercise), sets the parameters cell to the ``classroom`` profile and
adds a note at the top. Everything else is the chapter notebook unchanged, so the edition
filled with the reference is the chapter notebook, which ``make smoke`` runs to the end. The
checker cell after each exercise then stops an unfilled notebook with the checker's message.

``python -m roadlite.student_edition write`` writes the edition; ``check`` exits 1 and names
the files that are out of date (a unit test does the same); ``nbgrader-source DIR`` writes the
chapter notebooks with solutions and the classroom parameters into an nbgrader source folder.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roadlite.params import CHAPTERS, parameters_cell
from roadlite.paths import repo_root

__all__ = ["BEGIN", "END", "STUB", "check_edition", "exercise_chapters", "has_solution",
           "nbgrader_source", "parameters_source", "strip_solutions", "student_notebook",
           "write_edition", "write_nbgrader_source"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
EXERCISES_DIR = "exercises"
PROFILE = "classroom"
_GATE = re.compile(r"^\s*(:{3,}|`{3,})\{solution-(start|end)\}")


def has_solution(source: str) -> bool:
    """True when ``source`` holds a solution region."""
    return any(line.strip() == BEGIN for line in source.splitlines())


def strip_solutions(source: str) -> str:
    """``source`` with every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region (markers
    included) replaced by nbgrader's stub at the BEGIN line's indentation. Raises ``ValueError``
    for a marker without its partner or nested markers."""
    out: list[str] = []
    inside = False
    for n, line in enumerate(source.splitlines(keepends=True), 1):
        mark = line.strip()
        if mark == BEGIN:
            if inside:
                raise ValueError(f"line {n}: {BEGIN} inside a solution region")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}{STUB[0]}\n", f"{indent}{STUB[1]}\n"]
        elif mark == END:
            if not inside:
                raise ValueError(f"line {n}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END}")
    text = "".join(out)
    return text if source.endswith("\n") else text.rstrip("\n")


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _is_parameters(cell: dict[str, Any]) -> bool:
    return "parameters" in cell.get("metadata", {}).get("tags", [])


def _is_solution_gate(cell: dict[str, Any]) -> bool:
    """A markdown cell that only opens or closes a sphinx-exercise solution block."""
    return cell["cell_type"] == "markdown" and bool(_GATE.match(_source(cell)))


def exercise_chapters(root: Path | None = None) -> list[str]:
    """The chapters whose notebook holds at least one solution region, in book order."""
    root = Path(root) if root is not None else repo_root()
    out = []
    for chapter in CHAPTERS:
        path = root / "notebooks" / f"{chapter}.ipynb"
        if path.exists():
            nb = json.loads(path.read_text())
            if any(c["cell_type"] == "code" and has_solution(_source(c)) for c in nb["cells"]):
                out.append(chapter)
    return out


def parameters_source(chapter: str, profile: str = PROFILE, root: Path | None = None) -> str:
    """The parameters cell of ``chapter`` with the values of ``profile``: the chapter notebook's
    generated cell (:func:`roadlite.params.parameters_cell`) for another profile."""
    return parameters_cell(chapter, profile, root, made_by="make exercises")


def _note(chapter: str) -> dict[str, Any]:
    text = (
        f"```{{note}}\n**Student edition** of chapter `{chapter}`, written by `make exercises` "
        f"from `notebooks/{chapter}.ipynb`: do not edit it by hand. Its parameters are the "
        f"`{PROFILE}` profile (run `make chapters PROFILE={PROFILE}` once, so that the "
        "chapters it reads exist). In each exercise, replace `raise NotImplementedError()` "
        "by your code and run the checker cell below it: it says what differs from the "
        "reference and, often, why.\n```")
    return {"cell_type": "markdown", "id": "student-edition-note", "metadata": {},
            "source": _lines(text)}


def student_notebook(nb: dict[str, Any], chapter: str, root: Path | None = None
                     ) -> dict[str, Any]:
    """The student edition of a chapter notebook ``nb`` (a new dict; ``nb`` is unchanged)."""
    out = copy.deepcopy(nb)
    cells = []
    for cell in out["cells"]:
        if _is_solution_gate(cell):
            continue
        if cell["cell_type"] == "code":
            if _is_parameters(cell):
                cell["source"] = _lines(parameters_source(chapter, root=root))
            elif has_solution(_source(cell)):
                cell["source"] = _lines(strip_solutions(_source(cell)))
        cells.append(cell)
    out["cells"] = [cells[0], _note(chapter), *cells[1:]]
    return out


def nbgrader_source(nb: dict[str, Any], chapter: str, root: Path | None = None
                    ) -> dict[str, Any]:
    """The chapter notebook with the ``classroom`` parameters and its solutions kept: what a
    teacher puts in nbgrader's ``source/<assignment>/`` (``nbgrader generate_assignment`` then
    strips the solutions the way :func:`strip_solutions` does)."""
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        if cell["cell_type"] == "code" and _is_parameters(cell):
            cell["source"] = _lines(parameters_source(chapter, root=root))
    return out


def write_nbgrader_source(dest: Path, chapters: Sequence[str] | None = None,
                          root: Path | None = None) -> list[Path]:
    """Write :func:`nbgrader_source` of ``chapters`` (default: all with exercises) into
    ``dest/<chapter>.ipynb``; returns the files written."""
    root = Path(root) if root is not None else repo_root()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter in chapters or exercise_chapters(root):
        nb = json.loads((root / "notebooks" / f"{chapter}.ipynb").read_text())
        path = dest / f"{chapter}.ipynb"
        path.write_text(_dump(nbgrader_source(nb, chapter, root)))
        written.append(path)
    return written


def _dump(nb: dict[str, Any]) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _expected(root: Path) -> dict[Path, str]:
    out = {}
    for chapter in exercise_chapters(root):
        nb = json.loads((root / "notebooks" / f"{chapter}.ipynb").read_text())
        out[root / EXERCISES_DIR / f"{chapter}.ipynb"] = _dump(student_notebook(nb, chapter,
                                                                                root))
    return out


def write_edition(root: Path | None = None) -> list[Path]:
    """Write ``exercises/NN_slug.ipynb`` for every chapter with exercises and remove those of
    chapters that have none any more; returns the files written."""
    root = Path(root) if root is not None else repo_root()
    expected = _expected(root)
    folder = root / EXERCISES_DIR
    folder.mkdir(exist_ok=True)
    for stale in set(folder.glob("*.ipynb")) - set(expected):
        stale.unlink()
    for path, text in expected.items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return sorted(expected)


def check_edition(root: Path | None = None) -> list[str]:
    """The problems of the committed student edition: files missing, out of date or left over
    (empty when it is what ``write_edition`` would write)."""
    root = Path(root) if root is not None else repo_root()
    expected = _expected(root)
    problems = [f"{p.relative_to(root)} is missing" for p in expected if not p.exists()]
    problems += [f"{p.relative_to(root)} is out of date" for p, text in expected.items()
                 if p.exists() and p.read_text() != text]
    problems += [f"{p.relative_to(root)} belongs to no chapter with exercises"
                 for p in sorted((root / EXERCISES_DIR).glob("*.ipynb")) if p not in expected]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m roadlite.student_edition",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["write", "check", "nbgrader-source"])
    ap.add_argument("dest", nargs="?", help="nbgrader-source: the folder to write into "
                                            "(e.g. source/lab-pruning)")
    ap.add_argument("--chapters", nargs="*", default=None)
    args = ap.parse_args(argv)
    if args.command == "nbgrader-source":
        if not args.dest:
            ap.error("nbgrader-source needs a destination folder")
        for path in write_nbgrader_source(Path(args.dest), args.chapters):
            print(f"wrote {path}")
        return 0
    if args.command == "write":
        for path in write_edition():
            print(f"wrote {path.relative_to(repo_root())}")
        return 0
    problems = check_edition()
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print("run `make exercises` to update the student edition", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
