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
