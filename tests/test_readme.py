"""The README's layout section says what the code does: its tiers table lists the import-linter
layers of ``pyproject.toml`` in order, its independent chapter modules are the independence
contract's, and its chapter table lists the ``modules`` of the book's table."""

import re
from pathlib import Path

import tomllib

from roadlite import book

ROOT = Path(__file__).resolve().parents[1]


def _table_after(text: str, header: str) -> list[list[str]]:
    lines = text[text.index(header):].splitlines()[2:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _names(cell: str) -> list[str]:
    """The module names of a cell: every `name` outside parentheses (those are comments)."""
    return re.findall(r"`([\w.]+)`", re.sub(r"\([^)]*\)", "", cell))


def test_readme_layers_are_the_import_contract():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    layers = contract["tool"]["importlinter"]["contracts"][0]["layers"]
    expected = [sorted(part.strip() for part in re.split(r"[|:]", layer)) for layer in layers]
    rows = _table_after(readme, "| layer (top to bottom) | modules |")
    got = [sorted(_names(modules)) for _, modules in rows]
    assert got == expected


def test_readme_chapter_modules_are_the_independence_contract():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    independent = [c for c in contract["tool"]["importlinter"]["contracts"]
                   if c["type"] == "independence"]
    assert len(independent) == 1
    rows = dict(_table_after(readme, "| layer (top to bottom) | modules |"))
    assert sorted(f"roadlite.{m}" for m in _names(rows["chapter modules"])
                  if m != "checkers") == sorted(independent[0]["modules"])


def test_readme_chapter_modules_are_the_books_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = _table_after(readme, "| chapter | modules |")
    got = {slug.strip("`"): re.findall(r"`([\w.]+)`", mods) for slug, mods in rows}
    assert got == {c.slug: list(c.modules) for c in book.CHAPTERS}


def test_every_chapters_modules_exist():
    import importlib

    for c in book.CHAPTERS:
        assert c.modules, f"{c.slug} names no module"
        for m in c.modules:
            importlib.import_module(f"roadlite.{m}")
