"""Notebook hygiene: clean, one parameters cell, the same skeleton, defaults = default profile."""

import ast
import json
from pathlib import Path

import pytest

from roadlite.params import CHAPTERS, resolve_params, schema

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SKELETON = ["## Overview", "## Prerequisites", "## Imports", "## Parameters", "## Outputs written",
            "## Summary", "## What's next", "## References"]


def load(path):
    return json.loads(path.read_text())


def test_every_chapter_has_a_notebook_and_vice_versa():
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(CHAPTERS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean(path):
    nb = load(path)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: a code cell has outputs"
            assert cell.get("execution_count") is None, f"{path.name}: execution count set"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_follows_the_skeleton(path):
    md = "\n".join("".join(c["source"]) for c in load(path)["cells"]
                   if c["cell_type"] == "markdown")
    positions = [md.find(h) for h in SKELETON]
    assert all(p >= 0 for p in positions), f"{path.name}: missing {SKELETON}"
    assert positions == sorted(positions), f"{path.name}: sections out of order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_is_the_default_profile(path):
    """A plain `papermill notebooks/X.ipynb out.ipynb` runs the default profile."""
    cell = next(c for c in load(path)["cells"]
                if "parameters" in c.get("metadata", {}).get("tags", []))
    values = {}
    for node in ast.parse("".join(cell["source"])).body:
        assert isinstance(node, ast.Assign), f"{path.name}: parameters cell has only assignments"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    assert set(values) == set(schema(path.stem)), f"{path.name}: names differ from the schema"
    expected = resolve_params(path.stem, "default")
    expected["artifacts_root"] = "artifacts"
    assert values == expected


MAX_LOGIC_LINES = 15


def logic_lines(source: str) -> int:
    """Lines of logic in a code cell: non-blank lines that are neither comments nor part of an
    import statement (a parenthesised import over several lines counts as none)."""
    imports: set[int] = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:  # e.g. IPython magics: count every line
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.update(range(node.lineno, node.end_lineno + 1))
    return sum(1 for i, line in enumerate(source.splitlines(), 1)
               if line.strip() and not line.strip().startswith("#") and i not in imports)


def test_logic_lines_counts_what_it_says():
    source = ("import numpy as np\nfrom roadlite.evaluation import (\n    abbreviate,\n)\n\n"
              "# a comment\nx = 1\n  # indented comment\nif x:\n    y = np.zeros(3)\n")
    assert logic_lines(source) == 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_cell_holds_more_than_15_lines_of_logic(path):
    """Logic longer than that belongs in roadlite (with tests), not in a notebook cell."""
    long = []
    for i, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        source = "".join(cell["source"])
        n = logic_lines(source)
        if n > MAX_LOGIC_LINES:
            long.append(f"cell {i} ({source.splitlines()[0][:50]!r}...): {n} lines")
    assert not long, (f"{path.name}: cells with more than {MAX_LOGIC_LINES} lines of logic "
                      f"(move it into roadlite): " + "; ".join(long))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_imports_and_parameters_pass_the_parameter_check(path):
    """Everything a chapter defines before ``validate_params`` (its imports, its parameters
    cell) passes the check: an imported upper-case constant holding a plain value would be
    taken for a misspelt papermill ``-p`` and stop the run."""
    from roadlite.params import validate_params

    ns: dict = {}
    for cell in load(path)["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        if "validate_params(" in src and "import" not in src:
            break
        exec(compile(src, f"{path.name}", "exec"), ns)  # imports and parameters only
    else:
        raise AssertionError(f"{path.name}: no cell calls validate_params")
    validate_params(path.stem, ns, check_upstream=False)


def definitions_outside_solutions(source: str) -> list[str]:
    """Names of the functions, classes and lambdas bound to names that ``source`` defines
    outside an exercise's solution: a definition is the exercise's when a ``### BEGIN
    SOLUTION`` line (roadlite.student_edition.BEGIN) lies inside it."""
    from roadlite.student_edition import BEGIN

    try:
        tree = ast.parse(source)
    except SyntaxError:  # e.g. IPython magics
        return []
    marks = [i for i, line in enumerate(source.splitlines(), 1) if line.strip() == BEGIN]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if not any(node.lineno <= m <= node.end_lineno for m in marks):
                found.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Lambda):
            found.append(f"lambda at line {node.lineno}")
    return found


def test_definitions_outside_solutions_finds_what_it_says():
    solution = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    assert definitions_outside_solutions(solution) == []
    helper = "def g():\n    return 1\nclass C:\n    pass\nh = lambda: 2\nk = sorted(key=len)\n"
    assert definitions_outside_solutions(helper) == ["g", "C", "lambda at line 5"]
    assert definitions_outside_solutions(helper + solution) == ["g", "C", "lambda at line 5"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_cells_define_no_functions_but_the_exercises_solutions(path):
    """A helper a chapter needs lives in roadlite, with a docstring and a test; a chapter cell
    defines a function only around an exercise's solution (which the student edition strips)."""
    found = []
    for i, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] == "code":
            found += [f"cell {i}: {name}"
                      for name in definitions_outside_solutions("".join(cell["source"]))]
    assert not found, f"{path.name}: definitions outside a solution (move them into roadlite): " \
                      + "; ".join(found)
