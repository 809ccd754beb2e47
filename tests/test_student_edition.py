"""The classroom edition: solution regions in the chapter notebooks, the derived student edition
(exercises/), and what a student meets when running it."""

import json
from pathlib import Path

import pytest

from roadlite import student_edition as se

ROOT = Path(__file__).resolve().parents[1]
EXERCISE_CHAPTERS = ["03_eca", "04_refinement", "05_distillation", "06_pruning",
                     "07_quantization", "09_confusion", "11_crack_segmentation"]


def load(path):
    return json.loads(Path(path).read_text())


def src(cell):
    return "".join(cell["source"])


def test_strip_solutions_writes_nbgraders_stub_at_the_regions_indentation():
    source = ("import math\n\n\ndef f(x):\n    \"\"\"doc\"\"\"\n    ### BEGIN SOLUTION\n"
              "    y = x + 1\n    return y\n    ### END SOLUTION\n")
    assert se.strip_solutions(source) == (
        "import math\n\n\ndef f(x):\n    \"\"\"doc\"\"\"\n    # YOUR CODE HERE\n"
        "    raise NotImplementedError()\n")
    assert se.strip_solutions("a = 1") == "a = 1"
    with pytest.raises(ValueError, match="without"):
        se.strip_solutions("### BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(ValueError, match="without"):
        se.strip_solutions("x = 1\n### END SOLUTION\n")
    with pytest.raises(ValueError, match="inside"):
        se.strip_solutions("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n")


def test_the_chapters_with_exercises():
    assert se.exercise_chapters(ROOT) == EXERCISE_CHAPTERS


def test_the_committed_student_edition_is_up_to_date():
    problems = se.check_edition(ROOT)
    assert not problems, "; ".join(problems) + " -- run `make exercises`"


def test_check_edition_notices_a_stale_file(tmp_path):
    for d in ("notebooks", "params"):
        (tmp_path / d).mkdir()
    for ch in ("03_eca", "04_refinement"):
        (tmp_path / "notebooks" / f"{ch}.ipynb").write_text(
            (ROOT / "notebooks" / f"{ch}.ipynb").read_text())
    for profile in ("classroom", "default"):  # classroom extends default
        (tmp_path / "params" / f"{profile}.yaml").write_text(
            (ROOT / "params" / f"{profile}.yaml").read_text())
    assert [p.name for p in se.write_edition(tmp_path)] == ["03_eca.ipynb", "04_refinement.ipynb"]
    assert se.check_edition(tmp_path) == []
    nb = tmp_path / "notebooks" / "03_eca.ipynb"
    solution_only = nb.read_text().replace("return t if t % 2 == 1 else t + 1", "return t | 1")
    nb.write_text(solution_only)  # a change inside a solution leaves the edition as it was
    assert se.check_edition(tmp_path) == []
    nb.write_text(solution_only.replace("ECA's kernel size", "The kernel size"))
    (tmp_path / "exercises" / "99_old.ipynb").write_text("{}")
    assert se.check_edition(tmp_path) == [
        "exercises/03_eca.ipynb is out of date",
        "exercises/99_old.ipynb belongs to no chapter with exercises"]


@pytest.mark.parametrize("chapter", EXERCISE_CHAPTERS)
def test_the_filled_edition_is_the_chapter_notebook(chapter):
    """Put the reference back into each stub: the code is the chapter's, cell for cell (the
    chapter notebook is what `make smoke` runs to the end); only the parameters differ."""
    full = load(ROOT / "notebooks" / f"{chapter}.ipynb")
    student = load(ROOT / "exercises" / f"{chapter}.ipynb")
    full_code = [c for c in full["cells"] if c["cell_type"] == "code"]
    student_code = [c for c in student["cells"] if c["cell_type"] == "code"]
    assert [c["id"] for c in full_code] == [c["id"] for c in student_code]
    n_solutions = 0
    for a, b in zip(full_code, student_code, strict=True):
        if "parameters" in a["metadata"].get("tags", []):
            assert src(b) == se.parameters_source(chapter)
            continue
        assert se.BEGIN not in src(b) and "END SOLUTION" not in src(b)
        if se.has_solution(src(a)):
            n_solutions += 1
            assert "raise NotImplementedError()" in src(b)
            assert src(b) == se.strip_solutions(src(a))
            assert a["metadata"]["nbgrader"]["solution"] is True
        else:
            assert src(a) == src(b) and a["metadata"] == b["metadata"]
    assert n_solutions >= 1
    prose = [src(c) for c in full["cells"] if c["cell_type"] == "markdown"
             and "{solution-" not in src(c)]
    assert [src(c) for c in student["cells"] if c["cell_type"] == "markdown"
            and c["id"] != "student-edition-note"] == prose


def _exercise_cells(nb):
    """The imports cell and the code cells of the exercises, in notebook order."""
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return [code[0]] + [c for c in code if c["id"].startswith("ex-")]


@pytest.mark.parametrize("chapter", EXERCISE_CHAPTERS)
def test_every_reference_solution_passes_its_checker(chapter, capsys):
    """The chapter notebook's exercise cells, run on its imports alone: each checker passes on
    the reference (the smoke chain runs the same cells inside the whole chapter)."""
    ns: dict = {}
    checks = 0
    for cell in _exercise_cells(load(ROOT / "notebooks" / f"{chapter}.ipynb")):
        exec(compile(src(cell), f"{chapter}:{cell['id']}", "exec"), ns)
        checks += cell["id"].endswith("-check")
    assert checks >= 1
    assert capsys.readouterr().out.count("checks passed") == checks


@pytest.mark.parametrize("chapter", EXERCISE_CHAPTERS)
def test_the_unfilled_edition_stops_at_each_exercise_with_the_checkers_message(chapter):
    """Run the student edition's exercise cells in order: defining a stub works, and its checker
    cell stops with the checker's own message (every exercise, the first one included)."""
    ns: dict = {}
    stopped = []
    for cell in _exercise_cells(load(ROOT / "exercises" / f"{chapter}.ipynb")):
        code = compile(src(cell), f"{chapter}:{cell['id']}", "exec")
        if not cell["id"].endswith("-check"):
            exec(code, ns)
            continue
        with pytest.raises(AssertionError,
                           match="not implemented yet|raised NotImplementedError") as info:
            exec(code, ns)
        stopped.append(str(info.value))
    assert stopped, f"{chapter}: no exercise"


def test_exercise_cells_come_before_the_long_experiments():
    """A student waits at most for the chapter's set-up before the first exercise: no training
    or export call precedes it."""
    slow = ("fit(", "train_kd_students(", "prune_and_finetune(", "sensitivity_scan(",
            "export_tflite(", "evaluate_and_save(", "student_phase(", "plain_phase(",
            "train_phase(", "phases.teacher(", "phases.student(", "phases.plain(",
            "benchmark_tflite(")
    for chapter in EXERCISE_CHAPTERS:
        nb = load(ROOT / "exercises" / f"{chapter}.ipynb")
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        for cell in code[1:]:  # after the imports cell
            if cell["id"].startswith("ex-"):
                break
            if cell["cell_type"] == "code":
                assert not any(s in src(cell) for s in slow), (chapter, cell["id"])


def test_nbgrader_source_keeps_the_solutions_with_the_classroom_parameters(tmp_path):
    [path] = se.write_nbgrader_source(tmp_path / "source" / "lab", ["06_pruning"], ROOT)
    source, student = load(path), load(ROOT / "exercises" / "06_pruning.ipynb")
    code = {c["id"]: src(c) for c in source["cells"] if c["cell_type"] == "code"}
    assert code["cell-03"] == se.parameters_source("06_pruning")
    assert se.BEGIN in code["ex-06-prune-step-solution"]
    for cell in student["cells"]:
        if cell["cell_type"] == "code":
            assert src(cell) == se.strip_solutions(code[cell["id"]])
