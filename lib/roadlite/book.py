"""The book as data: its chapters and the models of MobiLiteNet's ladder (book introduction).

This table is the one place that says which chapters exist, in which order, what each reads and
which models it makes. The Makefile's chapter graph (``python -m roadlite.book makefile``), the
parameter checks of :mod:`roadlite.params` (which upstream chapters must have finished), the
loader of earlier chapters' results in chapters 02-11 (:mod:`roadlite.upstream`) and the
results page all follow it. Adding a chapter means one :class:`Chapter` entry here and one
notebook.

This module imports nothing heavier than the standard library, so that ``make`` can read it
before the environment is installed.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Chapter:
    """One chapter: ``notebooks/<slug>.ipynb``, ``artifacts/<profile>/<slug>/``."""

    slug: str
    title: str
    reads: tuple[str, ...] = ()  # chapters whose results it reads (their metrics.json)
    # (parameter, value, chapter): chapters it reads only when a parameter has that value; in
    # the Makefile an order-only prerequisite (a new run of it does not rerun this chapter).
    reads_when: tuple[tuple[str, str, str], ...] = ()
    modules: tuple[str, ...] = ()  # the roadlite modules that hold what the chapter teaches
    paper: str = "MobiLiteNet"
    # Seeded: its results depend on the training seed, so `make book SEEDS=N` reruns it with
    # seeds 1..N-1 into artifacts/<profile>/seeds/<seed>/ (its `seed_run` parameter).
    seeded: bool = False
    # Reads the seed runs (its `seeds` parameter): chapter 09's mean ± std over seeds.
    reads_seeds: bool = False


@dataclass(frozen=True)
class Model:
    """One model of the book: its key (``metrics["models"][key]``), the chapter that makes it,
    its architecture (``roadlite.models.build_model`` name), and how the book labels it."""

    key: str
    chapter: str
    architecture: str
    label: str
    # Where its saved weights are: "checkpoint" (models/<key>.pt), "tflite" (only a .tflite
    # file of chapter 07) .
    kind: str = "checkpoint"


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("01_dataset", "The data: a generated road-distress set, or a real one",
            modules=("data.synthetic", "data.real", "data.validate", "data.manifest",
                     "data.catalogue", "data.download", "colour_baseline")),
    Chapter("02_gan", "WGAN-GP augmentation", reads=("01_dataset",),
            modules=("gan.networks", "gan.wgan_gp", "gan.frechet", "gan.augmented_set")),
    Chapter("03_eca", "Baseline MobileNetV2 and Model 1: efficient channel attention",
            reads=("01_dataset",), reads_when=(("train_data", "gan", "02_gan"),),
            modules=("models.eca", "models.mobilenet", "models.peers", "training", "classification",
                     "export", "checkers.eca"), seeded=True),
    Chapter("04_refinement", "Model 2: structural refinement",
            reads=("01_dataset", "03_eca"), reads_when=(("train_data", "gan", "02_gan"),),
            modules=("models.mobilenet", "models.summary", "models.registry",
                     "checkers.refinement"), seeded=True),
    Chapter("05_distillation", "Model 3: sparse knowledge distillation",
            reads=("01_dataset", "04_refinement"), reads_when=(("train_data", "gan", "02_gan"),),
            modules=("distill", "models.resnet", "checkers.distillation"), seeded=True),
    Chapter("06_pruning", "Model 4: structured pruning",
            reads=("01_dataset", "05_distillation"),
            reads_when=(("train_data", "gan", "02_gan"),),
            modules=("prune", "models.layer_plan", "checkers.pruning"), seeded=True),
    Chapter("07_quantization", "Model 5: INT8 quantization and LiteRT export",
            reads=("01_dataset", "03_eca", "04_refinement", "05_distillation", "06_pruning"),
            modules=("export", "checkers.quantization"), seeded=True),
    Chapter("08_benchmark", "Latency on the device: LiteRT and PyTorch",
            reads=("01_dataset", "03_eca", "04_refinement", "05_distillation", "06_pruning",
                   "07_quantization"),
            modules=("measure", "latency", "op_profile", "input_pipeline")),
    Chapter("09_confusion", "Confusion matrices, the ablation table and the Pareto front",
            reads=("03_eca", "04_refinement", "05_distillation", "06_pruning",
                   "07_quantization", "08_benchmark"),
            modules=("evaluation.metrics", "evaluation.tables", "evaluation.figures",
                     "checkers.mcnemar"), reads_seeds=True),
    Chapter("10_crack_classifier",
            "Crack or no crack: MobileNetV2 transfer learning with Grad-CAM",
            reads=("01_dataset", "03_eca"),
            modules=("crack_classifier.model", "crack_classifier.train", "crack_classifier.data",
                     "crack_classifier.patches", "crack_classifier.metrics",
                     "crack_classifier.figures", "localisation"),
            paper="Polat"),
    Chapter("11_crack_segmentation",
            "Pixel-wise cracks by self-derived distillation (LR-CrackNet)",
            reads=("01_dataset",),
            modules=("segmentation.networks", "segmentation.dmia", "segmentation.losses",
                     "segmentation.discriminator", "segmentation.metrics",
                     "segmentation.data", "segmentation.train", "segmentation.speed",
                     "checkers.dmia"),
            paper="LR-CrackNet"),
    # Ours: no paper composes the three papers' models on whole photos.
    Chapter("12_field_test", "The field test: the three papers' models as one road inspector",
            reads=("01_dataset", "07_quantization", "10_crack_classifier",
                   "11_crack_segmentation"),
            modules=("field.data", "field.tiling", "field.measure", "field.pipeline",
                     "field.report", "field.figures", "field.command"),
            paper="Ours"),
)

# MobiLiteNet's ladder (Fig. 5b of the paper), in the paper's order. The paper's numbers for
# each key are in roadlite.paper_numbers.MOBILITENET.
MODELS: tuple[Model, ...] = (
    Model("resnet18", "05_distillation", "resnet18", "ResNet (teacher)"),
    Model("mobilenet_v2", "03_eca", "mobilenet_v2", "MobileNetV2 (baseline)"),
    Model("model1_eca", "03_eca", "eca_mobilenet_v2", "Model 1 (+ECA)"),
    Model("model2_refined", "04_refinement", "refined_mobilenet_v2", "Model 2 (+refinement)"),
    Model("model3_kd", "05_distillation", "refined_mobilenet_v2", "Model 3 (+sparse KD)"),
    Model("model4_pruned", "06_pruning", "refined_mobilenet_v2", "Model 4 (+pruning)"),
    Model("model5_int8", "07_quantization", "model4_pruned", "Model 5 (+INT8)", kind="tflite"),
)
# Variants that are not rungs of the ladder but that chapters report beside it.
VARIANTS: tuple[Model, ...] = (
    Model("model5_int8_dynamic", "07_quantization", "model4_pruned",
          "Model 5, dynamic-range INT8 (the authors' code's kind)", kind="tflite"),
    # Ours, not the paper's: Model 3 pruned harder for speed (chapter 06's fast_ratio), and its
    # INT8 file; chapters 06-09 report it beside Model 4 / 5 when it was made.
    Model("model4_fast", "06_pruning", "refined_mobilenet_v2", "Model 4, pruned for speed"),
    Model("model5_fast_int8", "07_quantization", "model4_fast", "Model 5, pruned for speed",
          kind="tflite"),
)
FAST: tuple[str, str] = ("model4_fast", "model5_fast_int8")

# The peers: torchvision's small networks that a practitioner would pick instead of the ladder,
# trained by chapter 03 on the baseline's data, recipe and budget (its ``peers`` parameter says
# which), exported and quantized by chapter 07 like Model 5 (``<key>_int8``), timed by 08 and
# compared by 09. The key is torchvision's constructor name.
PEERS: tuple[Model, ...] = tuple(
    Model(key, "03_eca", key, label) for key, label in (
        ("mobilenet_v3_small", "MobileNetV3-small"),
        ("shufflenet_v2_x0_5", "ShuffleNetV2 x0.5"),
        ("shufflenet_v2_x1_0", "ShuffleNetV2 x1.0"),
        ("mobilenet_v3_large", "MobileNetV3-large"),
        ("mnasnet0_5", "MNASNet 0.5"),
        ("efficientnet_b0", "EfficientNet-B0"),
        ("squeezenet1_1", "SqueezeNet 1.1")))
PEERS_INT8: tuple[Model, ...] = tuple(
    Model(f"{m.key}_int8", "07_quantization", m.key, f"{m.label} INT8", kind="tflite")
    for m in PEERS)

SLUGS: tuple[str, ...] = tuple(c.slug for c in CHAPTERS)
_BY_SLUG = {c.slug: c for c in CHAPTERS}
_MODELS = {m.key: m for m in MODELS + VARIANTS + PEERS + PEERS_INT8}


def chapter(slug: str) -> Chapter:
    """The :class:`Chapter` called ``slug``; a clear error for an unknown one."""
    try:
        return _BY_SLUG[slug]
    except KeyError:
        raise KeyError(f"unknown chapter {slug!r}; the book has {', '.join(SLUGS)}") from None


def model(key: str) -> Model:
    """The :class:`Model` called ``key``; a clear error for an unknown one."""
    try:
        return _MODELS[key]
    except KeyError:
        raise KeyError(f"unknown model {key!r}; the book has {', '.join(_MODELS)}") from None


def label(key: str) -> str:
    """How the book labels model ``key``; a key the book does not have is its own label."""
    return _MODELS[key].label if key in _MODELS else key


def ladder(kind: str | None = None, include_variants: bool = False) -> list[Model]:
    """The ladder's models in order (optionally only those of ``kind``, and the variants)."""
    models = list(MODELS) + (list(VARIANTS) if include_variants else [])
    return [m for m in models if kind is None or m.kind == kind]


def peers(keys: Iterable[str], int8: bool | None = None) -> list[Model]:
    """The peers named by ``keys`` (chapter 03's ``peers`` parameter), in the book's order: the
    float32 networks (``int8=False``), their INT8 files (``True``) or both, each float one
    followed by its INT8 one (``None``). An unknown key is an error naming the known ones."""
    keys = list(keys)
    known = [m.key for m in PEERS]
    bad = [k for k in keys if k not in known]
    if bad:
        raise KeyError(f"unknown peer(s) {bad}; the book has {', '.join(known)}")
    out = []
    for fp32, int8_model in zip(PEERS, PEERS_INT8, strict=True):
        if fp32.key in keys:
            out += [m for m, q in ((fp32, False), (int8_model, True)) if int8 is None or int8 == q]
    return out


def upstream(slug: str, params: dict | None = None) -> tuple[str, ...]:
    """The chapters ``slug`` reads; with ``params``, also those its parameter values add."""
    c = chapter(slug)
    extra = tuple(up for name, value, up in c.reads_when
                  if params is not None and params.get(name) == value)
    return c.reads + tuple(u for u in extra if u not in c.reads)


SEEDED: tuple[str, ...] = tuple(c.slug for c in CHAPTERS if c.seeded)


def seed_folder(chapter_slug: str, params: Mapping[str, Any]) -> int | None:
    """The seed whose folder (``artifacts/<profile>/seeds/<seed>/``) holds ``chapter_slug``'s
    results for a run with ``params``, or None for the main run's folder: a seed run
    (``seed_run`` true) keeps its seeded chapters apart and reads the others (the data) from
    the main run."""
    if params.get("seed_run") and chapter(chapter_slug).seeded:
        return int(params["seed"])
    return None


# --- what each chapter's run reads of lib/ (the Makefile's prerequisites) ----------------------
# A chapter's result depends on the roadlite modules its notebook imports, their imports, and so
# on (function-local and relative imports included), and on the runner (roadlite.pipeline) that
# executes it, less the results page that the runner's stage-book renders (the book's recipe
# always renders it anew). Computed from the code with ``ast``, so that editing one module reruns
# only the chapters that import it.

LIB = Path(__file__).resolve().parent.parent  # the folder that holds the roadlite package
ROOT = LIB.parent
RUNNER = "roadlite.pipeline"
NOT_A_CHAPTERS_RUN = ("roadlite.results",)


def module_file(name: str) -> Path | None:
    """The source file of module ``name`` (``roadlite.x.y``) under :data:`LIB`, or None."""
    base = LIB.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _parse(source: str, where: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise SyntaxError(f"{where}: cannot read its imports: {exc}") from None


def _lazy_exports(name: str) -> dict[str, str]:
    """A package's lazily imported names (a module-level ``{"name": "submodule"}`` dict whose
    values are its submodules, as ``roadlite.data``'s ``__getattr__`` reads): name -> module."""
    path = module_file(name)
    if path is None or path.name != "__init__.py":
        return {}
    out: dict[str, str] = {}
    for node in _parse(path.read_text(encoding="utf-8"), str(path)).body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if not isinstance(value, ast.Dict) or not value.keys:
            continue
        pairs = [(k.value, v.value) for k, v in zip(value.keys, value.values, strict=True)
                 if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)]
        if len(pairs) == len(value.keys) and all(
                isinstance(k, str) and isinstance(v, str) and module_file(f"{name}.{v}")
                for k, v in pairs):
            out.update({k: f"{name}.{v}" for k, v in pairs})
    return out


def imported_modules(tree: ast.AST, package: str = "") -> set[str]:
    """The roadlite modules that ``tree``'s import statements load (anywhere in it): for ``from
    a import b`` both ``a`` and, where ``b`` is a submodule (or a lazily exported name), it.
    ``package`` resolves relative imports (the importing module's package)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            lazy = _lazy_exports(base)
            for a in node.names:
                sub = f"{base}.{a.name}"
                if module_file(sub):
                    found.add(sub)
                elif a.name in lazy:
                    found.add(lazy[a.name])
    out = set()
    for name in found:
        if name == "roadlite" or name.startswith("roadlite."):
            parts = name.split(".")  # importing a.b.c runs a/__init__ and a/b/__init__ too
            out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {m for m in out if module_file(m)}


def notebook_modules(path: Path) -> set[str]:
    """The roadlite modules that the code cells of notebook ``path`` import (magics skipped)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    out: set[str] = set()
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln
                         for ln in source.splitlines())
        out |= imported_modules(_parse(code, f"{path} (code cell {i})"))
    return out


def import_closure(modules: Iterable[str], skip: Iterable[str] = ()) -> list[Path]:
    """The source files of ``modules`` and of everything they import, transitively (not
    following the modules of ``skip``); and the data folders a module names (a folder without
    ``__init__.py`` beside it whose name is a string in its code, e.g.
    ``roadlite/data/manifests``), file by file. Sorted."""
    seen: set[str] = set(skip)
    todo = list(modules)
    files: set[Path] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        if path is None:
            continue
        files.add(path)
        tree = _parse(path.read_text(encoding="utf-8"), str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        todo += imported_modules(tree, package) - seen
        strings = {n.value for n in ast.walk(tree)
                   if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        for folder in path.parent.iterdir():
            if (folder.is_dir() and folder.name in strings
                    and not (folder / "__init__.py").exists()):
                files.update(f for f in folder.rglob("*") if f.is_file())
    return sorted(files)


def chapter_sources(slug: str) -> list[str]:
    """What chapter ``slug``'s run reads of lib/ (paths relative to the repository): the import
    closure of its notebook's roadlite imports and of the runner (less the results page, unless
    the notebook imports it)."""
    modules = notebook_modules(ROOT / "notebooks" / f"{chapter(slug).slug}.ipynb")
    skip = [m for m in NOT_A_CHAPTERS_RUN if m not in modules]
    return [p.relative_to(ROOT).as_posix() for p in import_closure(modules | {RUNNER}, skip)]


def makefile_rules() -> str:
    """The chapter graph as Makefile text (``NBOUT`` is the Makefile's executed-notebook path,
    ``SNBOUT`` a seed run's).

    Each chapter depends on the chapters it reads; ``reads_when`` chapters are order-only.
    ``SEED_GRAPH`` (called with a seed) is the same graph for the seeded chapters of a seed
    run, whose unseeded upstream chapters are the main run's. ``SOURCES_<slug>`` lists the
    files of lib/ that the chapter's run reads (:func:`chapter_sources`)."""
    nb = "$(call NBOUT,{})".format
    lines = ["# Generated from roadlite.book by `python -m roadlite.book makefile`: do not edit.",
             f"CHAPTERS := {' '.join(SLUGS)}",
             f"SEEDED := {' '.join(SEEDED)}",
             f"READS_SEEDS := {' '.join(c.slug for c in CHAPTERS if c.reads_seeds)}"]
    for c in CHAPTERS:
        lines.append(f"SOURCES_{c.slug} := " + " \\\n\t".join(chapter_sources(c.slug)))
    for c in CHAPTERS:
        normal = " ".join(nb(u) for u in c.reads)
        order = " ".join(nb(u) for _, _, u in c.reads_when if u not in c.reads)
        if normal or order:
            lines.append(f"{nb(c.slug)}: {normal}" + (f" | {order}" if order else ""))

    def snb(slug: str) -> str:
        return f"$(call SNBOUT,$(1),{slug})" if chapter(slug).seeded else nb(slug)

    lines.append("define SEED_GRAPH")
    for c in CHAPTERS:
        if c.seeded:
            normal = " ".join(snb(u) for u in c.reads)
            order = " ".join(snb(u) for _, _, u in c.reads_when if u not in c.reads)
            lines.append(f"{snb(c.slug)}: {normal}" + (f" | {order}" if order else ""))
    lines.append("endef")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["makefile"]:
        sys.stdout.write(makefile_rules())
        return 0
    if args == ["chapters"]:
        print("\n".join(SLUGS))
        return 0
    print("usage: python -m roadlite.book makefile | chapters", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
