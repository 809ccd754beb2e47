"""The smoke chain's finished book (``make smoke``: every chapter on the smoke profile with two
seeds of the seeded chapters, then the HTML book): chapter 09 has its mean ± std over the two
seeds, and every chapter with exercises shows them boxed with the solution folded.

These read the chain's output: ``make smoke`` runs them with ``ROADLITE_SMOKE_DIR`` naming the
folder that holds its ``artifacts/`` and ``build/``. Without it they skip, saying so."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMOKE = os.environ.get("ROADLITE_SMOKE_DIR")
pytestmark = pytest.mark.skipif(
    not SMOKE, reason="reads a finished smoke chain: `make smoke` runs it with ROADLITE_SMOKE_DIR")


@pytest.fixture(scope="module")
def smoke() -> Path:
    d = Path(SMOKE)
    assert (d / "artifacts" / "smoke").is_dir() and (d / "build").is_dir(), (
        f"ROADLITE_SMOKE_DIR={SMOKE} holds no finished smoke chain (artifacts/smoke, build)")
    return d


def html(smoke: Path, page: str) -> Path:
    return smoke / "build" / "_build" / "html" / "book" / "_chapters" / f"{page}.html"


def test_the_book_and_its_results_page_were_built(smoke):
    assert (smoke / "build" / "_build" / "html" / "index.html").stat().st_size > 0
    assert html(smoke, "results").stat().st_size > 0


def test_chapter_09_has_the_mean_and_std_over_the_two_seeds(smoke):
    metrics = json.loads((smoke / "artifacts" / "smoke" / "09_confusion" / "metrics.json")
                         .read_text())
    s = metrics["seed_ablation"]
    assert s is not None, "chapter 09 saw one seed: the chain runs SEEDS=2"
    assert s["seeds"] == [0, 1], s
    assert s["models"]["model5_int8"]["n"] == 2, s


def chapters_with_exercises() -> list[str]:
    return sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")
                  if "BEGIN SOLUTION" in p.read_text(encoding="utf-8"))


def test_every_chapter_with_exercises_shows_them_boxed_with_the_solution_folded(smoke):
    chapters = chapters_with_exercises()
    assert chapters, "no chapter notebook holds a solution region"
    for chapter in chapters:
        page = html(smoke, chapter).read_text(encoding="utf-8")
        assert 'class="exercise admonition"' in page, f"{chapter}: no exercise box"
        assert 'class="solution dropdown admonition"' in page, f"{chapter}: no folded solution"
