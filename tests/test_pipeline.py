"""The pipeline: overrides from make, parameter errors before any work, staging, results page."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from roadlite.params import CHAPTERS, ParameterError
from roadlite.pipeline import run_chapter, stage_book
from roadlite.results import MISSING, render_results_page

ROOT = Path(__file__).resolve().parents[1]


def test_make_has_one_target_per_chapter(tmp_path):
    out = subprocess.run(["make", "-n", "chapters", "PROFILE=smoke", f"ARTIFACTS={tmp_path}"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    runs = [ln.split("run ")[1].split()[0] for ln in out.splitlines()
            if "roadlite.pipeline run" in ln]
    assert runs == list(CHAPTERS)  # in dependency order


def test_bad_parameter_stops_before_any_work(tmp_path):
    with pytest.raises(ParameterError, match="'epochs' = 0 must be >= 1"):
        run_chapter("03_eca", "smoke", {"epochs": 0}, artifacts_root=str(tmp_path))
    assert not any(tmp_path.iterdir())


def fake_chapter(root, chapter, metrics):
    d = root / "t" / chapter
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps(metrics))
    (d / "run.json").write_text(json.dumps({"git_commit": "abc123", "machine": {"cores": 2}}))
    return d


def test_results_page_reads_only_metrics_and_marks_missing(tmp_path):
    fake_chapter(tmp_path, "03_eca", {"models": {"mobilenet_v2": {"accuracy": 0.8125,
                                                                  "params": 2228996}}})
    page = render_results_page("t", str(tmp_path))
    row = next(ln for ln in page.splitlines() if ln.startswith("| MobileNetV2 (baseline)"))
    assert "81.25" in row and "2,228,996" in row and "`03_eca`" in row
    row5 = next(ln for ln in page.splitlines() if ln.startswith("| Model 5"))
    assert MISSING in row5 and "0.00" not in row5
    assert f"| `01_dataset` | {MISSING}" in page


def test_results_page_peers_section(tmp_path):
    page = render_results_page("t", str(tmp_path))
    assert f"Peers (chapter `03_eca`'s `peers`): {MISSING}." in page
    fake_chapter(tmp_path, "03_eca", {"models": {"shufflenet_v2_x0_5": {
        "accuracy": 0.75, "params": 345892}}})
    fake_chapter(tmp_path, "07_quantization", {"models": {"shufflenet_v2_x0_5_int8": {
        "accuracy": 0.5, "tflite_size_bytes": 600_000}}})
    fake_chapter(tmp_path, "08_benchmark", {"models": {}, "input_path_ratios": {"jpeg_224": {
        "end-to-end median": 0.25, "end-to-end mean": 0.3, "inference": 0.2}}})
    fake_chapter(tmp_path, "09_confusion", {"recipe_verdict": "No peer is both at least ..."})
    page = render_results_page("t", str(tmp_path))
    row = next(ln for ln in page.splitlines() if ln.startswith("| ShuffleNetV2 x0.5 |"))
    assert "345,892" in row and "75.00" in row and "50.00" in row and "0.60" in row
    assert MISSING in row  # no latency measured
    assert "Chapter 09: No peer is both at least ..." in page
    assert "| jpeg at 224 px | 0.250 | 0.300 | 0.200 |" in page
    assert "MobileNetV3" not in page  # only the peers that ran


def test_stage_book_copies_executed_notebooks_and_marks_the_rest(tmp_path):
    d = fake_chapter(tmp_path, "01_dataset", {"source": "generated"})
    cells = [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "a = 1"},
             {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": "a = 2"}]
    (d / "01_dataset.ipynb").write_text(json.dumps({"cells": cells}))
    stage = stage_book("t", str(tmp_path), stage=tmp_path / "stage")
    staged = json.loads((stage / "01_dataset.ipynb").read_text())["cells"]
    assert staged[0]["metadata"]["tags"] == ["parameters", "hide-input"]
    assert staged[1]["metadata"]["tags"] == ["injected-parameters"]
    assert "has not been run" in (stage / "03_eca.md").read_text()
    assert (stage / "results.md").exists()


def make_graph(tmp_path) -> dict[str, tuple[set[str], set[str]]]:
    """{chapter: (prerequisite chapters, order-only prerequisite chapters)} from make's own
    database (``make -qp``), i.e. the graph make really builds."""
    out = make_database(tmp_path, "-qp", "PROFILE=smoke", "chapters")
    prefix = f"{tmp_path}/smoke/"
    graph: dict[str, tuple[set[str], set[str]]] = {}
    for line in out.splitlines():
        if not line.startswith(prefix) or ".ipynb:" not in line:
            continue
        target, deps = line.split(":", 1)
        chapter = target[len(prefix):].split("/")[0]
        normal, _, order = deps.partition("|")

        def chapters(words: str) -> set[str]:
            return {w[len(prefix):].split("/")[0] for w in words.split()
                    if w.startswith(prefix) and w.endswith(".ipynb")}

        n, o = graph.get(chapter, (set(), set()))
        graph[chapter] = (n | chapters(normal), o | chapters(order))
    return graph


def test_makefile_graph_is_the_books_table(tmp_path):
    from roadlite import book

    db = make_database(tmp_path, "-qp", "PROFILE=smoke", "chapters")
    # make's chapter list is the book's, in the book's order, and every chapter's prerequisites
    # come before it (the order `make book` and the table of contents follow)
    chapters = next(ln for ln in db.splitlines() if ln.startswith("CHAPTERS := "))
    assert chapters.split(":= ")[1].split() == list(book.SLUGS)
    graph = make_graph(tmp_path)
    assert set(graph) == set(book.SLUGS)
    for c in book.CHAPTERS:
        normal, order = graph[c.slug]
        assert normal == set(c.reads), c.slug
        assert order == {u for _, _, u in c.reads_when} - set(c.reads), c.slug
        assert all(book.SLUGS.index(u) < book.SLUGS.index(c.slug) for u in normal | order)


def make_database(tmp_path, *args: str) -> str:
    """make's output for ``args``, with the artifacts under tmp_path; with ``-p``, the last
    database it prints (make prints one before it remakes a stale .chapters.mk and restarts)."""
    out = subprocess.run(["make", "-o", ".venv/.roadlite-setup", f"ARTIFACTS={tmp_path}", *args],
                         cwd=ROOT, capture_output=True, text=True).stdout
    return out.rpartition("\n# Make data base, printed on")[2]


def lib_prerequisites(db: str, folder: str) -> dict[str, set[str]]:
    """{chapter: the lib/ files make's database gives as its notebook's prerequisites}."""
    out: dict[str, set[str]] = {}
    for line in db.splitlines():
        if line.startswith(folder) and ".ipynb:" in line:
            target, deps = line.split(":", 1)
            chapter = target[len(folder):].split("/")[0]
            out.setdefault(chapter, set()).update(
                w for w in deps.partition("|")[0].split() if w.startswith("lib/"))
    return out


def test_each_chapter_depends_on_the_lib_files_its_run_imports(tmp_path):
    from roadlite import book

    deps = lib_prerequisites(make_database(tmp_path, "-qp", "PROFILE=smoke", "chapters"),
                             f"{tmp_path}/smoke/")
    assert set(deps) == set(book.SLUGS)
    for slug in book.SLUGS:
        assert deps[slug] == set(book.chapter_sources(slug)), slug
    losses = "lib/roadlite/segmentation/losses.py"
    assert [s for s in book.SLUGS if losses in deps[s]] == ["11_crack_segmentation"]
    assert "lib/roadlite/pipeline.py" in deps["01_dataset"]  # the runner: every chapter
    assert "lib/roadlite/results.py" not in deps["01_dataset"]  # not the results page
    assert "lib/roadlite/data/manifests/deepcrack.sha256" in deps["01_dataset"]  # data files


def finished_chapters(root: Path, profile: str = "default") -> None:
    """Every chapter's notebook under root, newer than anything (make -n sees a finished book)."""
    import os
    import time

    from roadlite import book

    t = time.time() + 3600
    for i, slug in enumerate(book.SLUGS):
        nb = root / profile / slug / f"{slug}.ipynb"
        nb.parent.mkdir(parents=True, exist_ok=True)
        nb.touch()
        os.utime(nb, (t + i, t + i))


def reruns(tmp_path, *args: str) -> list[str]:
    out = make_database(tmp_path, "-n", "book", *args)
    return [ln.split(" run ")[1].split()[0] for ln in out.splitlines()
            if "roadlite.pipeline run" in ln]


@pytest.mark.parametrize("module, chapter", [
    ("segmentation/losses.py", "11_crack_segmentation"),
    ("gan/wgan_gp.py", "02_gan"),
])
def test_editing_a_module_reruns_only_the_chapters_that_import_it(tmp_path, module, chapter):
    """make's own answer (-n, -W: as if the file had just been edited) on a finished book: the
    chapter that imports the module, and the chapters that read its results (chapter 12 reads
    chapter 11's student), nothing else."""
    from roadlite import book

    downstream = [c for c in book.SLUGS if chapter in book.chapter(c).reads]
    assert chapter != "11_crack_segmentation" or downstream == ["12_field_test"]
    finished_chapters(tmp_path)
    assert reruns(tmp_path) == []
    assert reruns(tmp_path, "-W", f"lib/roadlite/{module}") == [chapter, *downstream]

    assert reruns(tmp_path, "-W", "lib/roadlite/params/schema.py") == list(book.SLUGS)  # the runner's
    assert reruns(tmp_path, "-W", "notebooks/09_confusion.ipynb") == ["09_confusion"]


def test_the_import_closure_follows_every_form_of_import(tmp_path, monkeypatch):
    from roadlite import book

    pkg = tmp_path / "roadlite"
    files = {
        "__init__.py": "",
        "a.py": "from roadlite.b import thing\n",
        "b.py": "from . import c\nfrom .sub import e\n",
        "c.py": "def f():\n    import roadlite.d  # a function-local import\n",
        "d.py": "FOLDER = 'tables'\n",
        "tables/x.csv": "1\n",
        "sub/__init__.py": "_EXPORTS = {'lazy': 'g'}\n",
        "sub/e.py": "from ..lone import h\n",
        "sub/g.py": "",
        "lone.py": "",
        "unused.py": "",
        "other.py": "from roadlite.sub import lazy\n",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    monkeypatch.setattr(book, "LIB", tmp_path)
    got = {p.relative_to(pkg).as_posix() for p in book.import_closure(["roadlite.a"])}
    assert got == {"__init__.py", "a.py", "b.py", "c.py", "d.py", "tables/x.csv",
                   "sub/__init__.py", "sub/e.py", "lone.py"}
    got = {p.relative_to(pkg).as_posix() for p in book.import_closure(["roadlite.other"])}
    assert got == {"__init__.py", "other.py", "sub/__init__.py", "sub/g.py"}
    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps({"cells": [
        {"cell_type": "code", "source": ["%matplotlib inline\n", "import numpy\n",
                                         "from roadlite import a, lone\n"]},
        {"cell_type": "markdown", "source": "from roadlite import unused"}]}))
    assert book.notebook_modules(nb) == {"roadlite", "roadlite.a", "roadlite.lone"}
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "from roadlite import"}]}))
    with pytest.raises(SyntaxError, match="n.ipynb \\(code cell 0\\)"):
        book.notebook_modules(nb)


def test_the_closure_holds_every_module_a_chapters_imports_load():
    """Python's own answer: importing what each notebook imports and the runner (its results
    page left out) loads only modules of the chapter's closure (a missed import form would
    leave a module out)."""
    from roadlite import book

    script = """
import json, sys, types
from roadlite import book
out = {}
for slug in book.SLUGS:
    for name in [m for m in sys.modules if m == "roadlite" or m.startswith("roadlite.")]:
        del sys.modules[name]
    results = types.ModuleType("roadlite.results")  # stage-book's page, not a chapter's run
    results.render_results_page = None
    sys.modules["roadlite.results"] = results
    import roadlite.pipeline  # the runner
    del sys.modules["roadlite.results"]
    for name in sorted(book.notebook_modules(book.ROOT / "notebooks" / f"{slug}.ipynb")):
        __import__(name)
    out[slug] = sorted(book.module_file(m).relative_to(book.ROOT).as_posix()
                       for m in sys.modules if m == "roadlite" or m.startswith("roadlite."))
print(json.dumps(out))
"""
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "lib")})
    assert r.returncode == 0, r.stderr
    loaded = json.loads(r.stdout.splitlines()[-1])
    for slug in book.SLUGS:
        missing = set(loaded[slug]) - set(book.chapter_sources(slug))
        assert not missing, (slug, missing)


def test_toc_lists_the_books_chapters_in_order():
    import yaml

    from roadlite import book

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [ch["file"].rsplit("/", 1)[1] for part in toc["parts"] for ch in part["chapters"]
             if ch["file"].startswith("book/_chapters/")]
    assert files == [*book.SLUGS, "results"]
    assert toc["parts"][-1]["chapters"] == [{"file": "book/teachers_guide"}]  # not a chapter
    captions = {ch["file"].rsplit("/", 1)[1]: part["caption"] for part in toc["parts"]
                for ch in part["chapters"]}
    for c in book.CHAPTERS:
        assert c.paper.split()[0] in captions[c.slug], (c.slug, captions[c.slug])


def test_every_chapter_of_the_table_has_a_schema_and_a_notebook():
    from roadlite import book

    for slug in book.SLUGS:
        assert (ROOT / "notebooks" / f"{slug}.ipynb").exists(), slug
    for m in book.MODELS + book.VARIANTS + book.PEERS + book.PEERS_INT8:
        assert m.chapter in book.SLUGS, m.key
    # roadlite.params refuses to import when its schemas and the book's chapters differ, so
    # that importing it here proves nothing: try the guard on a table with one chapter more and
    # one less, in a fresh interpreter
    for change in ("book.SLUGS + ('12_extra',)", "book.SLUGS[:-1]"):
        r = subprocess.run([sys.executable, "-c", "from roadlite import book\n"
                            f"book.SLUGS = {change}\nimport roadlite.params"],
                           cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT / "lib")})
        assert r.returncode != 0, change
        assert "ImportError: roadlite.params: the schemas" in r.stderr, r.stderr[-2000:]
        assert "do not match the book's chapters" in r.stderr


def test_seed_runs_have_the_books_graph_and_chapter_09_reads_them(tmp_path):
    from roadlite import book

    out = make_database(tmp_path, "-qp", "PROFILE=smoke", "SEEDS=3", "chapters")
    main = f"{tmp_path}/smoke/"
    deps: dict[str, set[str]] = {}
    for line in out.splitlines():
        if line.startswith(main) and ".ipynb:" in line:
            target, rest = line.split(":", 1)
            deps.setdefault(target[len(main):], set()).update(
                w[len(main):] for w in rest.replace("|", " ").split()
                if w.startswith(main) and w.endswith(".ipynb"))
    for k in (1, 2):
        for slug in book.SEEDED:
            c = book.chapter(slug)
            want = {(f"seeds/{k}/{u}/{u}.ipynb" if book.chapter(u).seeded else f"{u}/{u}.ipynb")
                    for u in c.reads + tuple(u for _, _, u in c.reads_when)}
            assert deps[f"seeds/{k}/{slug}/{slug}.ipynb"] == want, (k, slug)
    assert "seeds/3/03_eca/03_eca.ipynb" not in deps  # seeds 0, 1 and 2
    reads_seeds = {f"seeds/{k}/{s}/{s}.ipynb" for k in (1, 2) for s in book.SEEDED}
    assert reads_seeds <= deps["09_confusion/09_confusion.ipynb"]
    assert not reads_seeds & deps["08_benchmark/08_benchmark.ipynb"]


@pytest.mark.parametrize("bad", ["0", "11", "two"])
def test_make_refuses_a_bad_number_of_seeds(tmp_path, bad):
    r = subprocess.run(["make", "PROFILE=smoke", f"ARTIFACTS={tmp_path}", f"SEEDS={bad}",
                        "chapters"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode != 0 and f"SEEDS={bad}: expected a number of seeds from 1 to 10" in r.stderr
    r = subprocess.run(["make", "PROFILE=smoke", f"ARTIFACTS={tmp_path}", "SEEDS=2", "SEED=4",
                        "chapters"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode != 0 and "SEED and SEEDS together" in r.stderr


def test_results_page_shows_the_seeds_or_says_there_is_one(tmp_path):
    fake_chapter(tmp_path, "09_confusion", {"seed_ablation": None})
    assert "This run has one seed" in render_results_page("t", str(tmp_path))
    (tmp_path / "t" / "09_confusion" / "metrics.json").write_text(json.dumps({"seed_ablation": {
        "seeds": [0, 1, 2], "models": {"model5_int8": {"n": 3, "mean": 0.8, "std": 0.015,
                                                       "values": [0.78, 0.81, 0.81]}}}}))
    page = render_results_page("t", str(tmp_path))
    assert "| Model 5 (+INT8) | 3 | 80.0 ± 1.5 | 96.38 ± 0.15 |" in page


def test_make_passes_override_values_as_typed_and_runs_none_of_them(tmp_path):
    """make would expand 'CROP=$(shell ...)' as make code: the value must reach the chapter's
    parameter check as typed (which refuses it, before any work) and run nothing."""
    probe = tmp_path / "ran"
    value = f"$(shell touch {probe}) $$HOME $(PROFILE)"
    for target in (["nb", "NB=11_crack_segmentation"], ["-n", "11_crack_segmentation"]):
        r = subprocess.run(["make", "-o", ".venv/.roadlite-setup", *target, "PROFILE=smoke",
                            f"ARTIFACTS={tmp_path / 'a'}", f"CROP={value}"],
                           cwd=ROOT, capture_output=True, text=True)
        assert not probe.exists(), target
    assert r.returncode == 0
    assert (tmp_path / "a" / "smoke" / ".overrides").read_text() == f"CROP={value}\n"
    r = subprocess.run(["make", "-o", ".venv/.roadlite-setup", "nb", "NB=11_crack_segmentation",
                        "PROFILE=smoke", f"ARTIFACTS={tmp_path / 'a'}", f"CROP={value}"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode != 0 and f"'crop' = {value!r} has type str" in r.stderr
    assert not probe.exists()


@pytest.mark.parametrize("name", ["ARTIFACTS", "PROFILE"])
def test_make_refuses_a_path_that_would_be_make_code(tmp_path, name):
    probe = tmp_path / "ran"
    values = {"ARTIFACTS": str(tmp_path), "PROFILE": "smoke"}
    values[name] = f"{values[name]}$(shell touch {probe})"
    r = subprocess.run(["make", "-o", ".venv/.roadlite-setup", "-n", "03_eca",
                        *(f"{k}={v}" for k, v in values.items())],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode != 0 and f"{name}={values[name]}: " in r.stderr
    assert not probe.exists()


def test_a_space_in_artifacts_works_for_chapter_targets(tmp_path):
    art = tmp_path / "a b"
    r = subprocess.run(["make", "-o", ".venv/.roadlite-setup", "-n", "03_eca", "PROFILE=smoke",
                        f"ARTIFACTS={art}"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "circular" not in r.stderr, r.stderr
    runs = [ln.split(" run ")[1].split()[0] for ln in r.stdout.splitlines()
            if "roadlite.pipeline run" in ln]
    assert runs == ["01_dataset", "02_gan", "03_eca"]
    assert (art / "smoke" / ".overrides").exists() and not (tmp_path / "a").exists()
    finished_chapters(art, "smoke")
    r = subprocess.run(["make", "-o", ".venv/.roadlite-setup", "-n", "chapters", "PROFILE=smoke",
                        f"ARTIFACTS={art}"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "roadlite.pipeline run" not in r.stdout, r.stdout + r.stderr
