"""The notebooks' parameters cells are generated from params/default.yaml (make params-cells)
and a stale one is named, as the student edition's files are."""

import ast
import json
import shutil
from pathlib import Path

from roadlite.params import CHAPTERS, check_cells, parameters_cell, schema, write_cells
from roadlite.params.cells import WIDTH, main

ROOT = Path(__file__).resolve().parents[1]


def cells(path):
    return json.loads(Path(path).read_text())["cells"]


def test_every_notebooks_parameters_cell_is_the_generated_one():
    assert check_cells(ROOT) == [], "run `make params-cells`"


def test_a_stale_cell_is_named_and_rewritten_alone(tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "params", tmp_path / "params")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    default = tmp_path / "params" / "default.yaml"
    default.write_text(default.read_text().replace("  n_boot: 2000\n", "  n_boot: 3000\n"))
    nb = tmp_path / "notebooks" / "09_confusion.ipynb"
    assert check_cells(tmp_path) == [
        "notebooks/09_confusion.ipynb: its parameters cell is not params/default.yaml's"]
    monkeypatch.setenv("ROADLITE_ROOT", str(tmp_path))
    assert main(["cells", "--check"]) == 1
    assert "run `make params-cells`" in capsys.readouterr().err
    before = cells(nb)
    assert main(["cells"]) == 0
    assert capsys.readouterr().out == "wrote notebooks/09_confusion.ipynb\n"
    after = cells(nb)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) == 1 and "parameters" in after[changed[0]]["metadata"]["tags"]
    assert "n_boot = 3000  # " in "".join(after[changed[0]]["source"])
    assert check_cells(tmp_path) == [] and write_cells(tmp_path) == []
    assert main(["cells", "--check"]) == 0


def test_a_hand_edited_cell_is_stale(tmp_path):
    shutil.copytree(ROOT / "params", tmp_path / "params")
    (tmp_path / "notebooks").mkdir()
    nb = json.loads((ROOT / "notebooks" / "03_eca.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    cell["source"] = [line.replace("epochs = 12", "epochs = 13") for line in cell["source"]]
    (tmp_path / "notebooks" / "03_eca.ipynb").write_text(json.dumps(nb, indent=1) + "\n")
    assert check_cells(tmp_path) == [
        "notebooks/03_eca.ipynb: its parameters cell is not params/default.yaml's"]


def test_each_parameter_has_its_help_and_no_line_is_too_long():
    for chapter in CHAPTERS:
        source = parameters_cell(chapter)
        assert max(len(line) for line in source.splitlines()) <= WIDTH
        names = [node.targets[0].id for node in ast.parse(source).body]
        assert sorted(names) == sorted(schema(chapter))
        comments = source.replace("\n# ", " ")
        for name, p in schema(chapter).items():
            assert " ".join(p.help.split()) in " ".join(comments.split()), (chapter, name)
