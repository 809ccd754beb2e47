"""Profiles as overlays: default.yaml holds every default once, the others extend it and list
only what differs; `roadlite params` prints what a chapter resolves to."""

import shutil
from pathlib import Path

import pytest
import yaml

from roadlite import cli, pipeline
from roadlite.params import (
    CHAPTER_PARAMS,
    CHAPTERS,
    SHARED,
    Param,
    ParameterError,
    check_cells,
    load_profile,
    parameters_cell,
    profile_files,
    redundant_entries,
    resolve_params,
    write_cells,
)
from roadlite.paths import shared_data_dir

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted(p.stem for p in (ROOT / "params").glob("*.yaml"))
OVERLAYS = [p for p in PROFILES if p != "default"]


def read(name, root=ROOT):
    return yaml.safe_load((Path(root) / "params" / f"{name}.yaml").read_text())


def test_default_extends_nothing_and_sets_every_parameter_of_every_chapter():
    assert "extends" not in read("default")
    for chapter in CHAPTERS:
        assert set(resolve_params(chapter, "default")) == {*SHARED, *CHAPTER_PARAMS[chapter]}


@pytest.mark.parametrize("profile", OVERLAYS)
def test_every_other_profile_extends_default(profile):
    assert [f.name for f in profile_files(profile)][-1] == "default"
    assert read(profile)["extends"] == "default"


@pytest.mark.parametrize("profile", OVERLAYS)
def test_no_overlay_entry_repeats_what_it_extends(profile):
    """Each entry changes some chapter's value: without it, a chapter would resolve to
    something else (type included). The issue's count -- entries equal to default.yaml's word
    for word, 354 of 608 before -- is part of this."""
    assert redundant_entries(profile) == []
    default, own = read("default"), read(profile)
    same = [(s, k) for s, body in own.items() if s != "extends" for k, v in body.items()
            if k in (default.get(s) or {}) and default[s][k] == v
            and type(default[s][k]) is type(v)]
    assert same == []


def test_redundant_entries_finds_an_entry_that_changes_nothing(tmp_path):
    (tmp_path / "params").mkdir()
    shutil.copy(ROOT / "params" / "default.yaml", tmp_path / "params")
    (tmp_path / "params" / "p.yaml").write_text(
        "extends: default\nshared:\n  img_size: 64\n  num_threads: 2\n"
        "03_eca:\n  epochs: 12\n  lr: 2\n11_crack_segmentation:\n  num_threads: 1\n"
        "  img_size: 64\n")
    # num_threads 2 and 03's epochs 12 repeat the default; chapter 11's num_threads is its
    # own section's 1 anyway; lr 2 (an int) is 2.0 after the check, not default's 0.002
    assert redundant_entries("p", tmp_path) == [
        ("shared", "num_threads"), ("03_eca", "epochs"), ("11_crack_segmentation", "num_threads")]


def write_profiles(root, **texts):
    (root / "params").mkdir(exist_ok=True)
    for name, text in texts.items():
        (root / "params" / f"{name}.yaml").write_text(text)


def test_an_overlay_is_laid_over_what_it_extends_section_by_section(tmp_path):
    write_profiles(tmp_path, default=(ROOT / "params" / "default.yaml").read_text(),
                   mine="extends: classroom\nshared:\n  seed: 7\n03_eca:\n  peers: []\n",
                   classroom=(ROOT / "params" / "classroom.yaml").read_text())
    p = resolve_params("03_eca", "mine", root=tmp_path)
    assert p["seed"] == 7 and p["peers"] == [] and p["profile"] == "mine"
    assert p["epochs"] == resolve_params("03_eca", "classroom")["epochs"]  # from classroom
    assert p["lr"] == resolve_params("03_eca", "default")["lr"]  # from default, two levels up
    # a chapter's own section wins over shared within the merged profile: default.yaml's
    # chapter 11 sets num_threads 1, so an overlay's shared num_threads does not reach it
    write_profiles(tmp_path, mine="extends: default\nshared:\n  num_threads: 4\n")
    assert resolve_params("03_eca", "mine", root=tmp_path)["num_threads"] == 4
    assert resolve_params("11_crack_segmentation", "mine", root=tmp_path)["num_threads"] == 1
    assert load_profile("mine", tmp_path)["shared"]["num_threads"] == 4


@pytest.mark.parametrize("text,pattern", [
    ("extends: nope\n", r"mine.yaml extends 'nope', but .*nope.yaml does not exist"),
    ("extends: mine\n", r"mine.yaml: extends: 'mine' makes a cycle \(mine -> mine\)"),
    ("extends: ../default\n", r"mine.yaml: extends: '../default' must be a plain name"),
    ("extends: default\n03_eca:\n  epoch: 3\n",
     r"mine.yaml: section 03_eca: unknown parameter 'epoch'. Did you mean 'epochs'\?"),
    ("extends: default\n03_eca: [1, 2]\n", r"mine.yaml: section '03_eca' must be a mapping"),
    ("extends: default\n12_more:\n  x: 1\n", r"mine.yaml: unknown section '12_more'"),
    ("extends: default\n03_eca:\n  epochs: [1\n", r"mine.yaml is not valid YAML: while parsing"),
    ("extends: default\nshared:\n  epoch: 3\n",
     r"mine.yaml: shared parameter 'epoch' belongs to no chapter. Did you mean 'epochs'\?"),
])
def test_a_broken_profile_file_is_named(tmp_path, text, pattern):
    write_profiles(tmp_path, default=(ROOT / "params" / "default.yaml").read_text(), mine=text)
    with pytest.raises(ParameterError, match=pattern):
        resolve_params("03_eca", "mine", root=tmp_path)


def test_a_bad_value_names_the_file_that_sets_it(tmp_path):
    write_profiles(tmp_path, default=(ROOT / "params" / "default.yaml").read_text(),
                   mine="extends: default\n03_eca:\n  epochs: 0\n")
    with pytest.raises(ParameterError, match=r"'epochs' = 0 must be >= 1 .* It is set in "
                                             r".*mine.yaml, section 03_eca.$"):
        resolve_params("03_eca", "mine", root=tmp_path)
    write_profiles(tmp_path, mine="extends: default\nshared:\n  seed: -1\n")
    with pytest.raises(ParameterError, match=r"'seed' = -1 .* It is set in .*mine.yaml, "
                                             r"section shared.$"):
        resolve_params("01_dataset", "mine", root=tmp_path)
    with pytest.raises(ParameterError, match=r"'epochs' = -2 must be >= 1 \(.*\)\.$"):
        resolve_params("03_eca", "default", {"epochs": -2}, root=tmp_path)  # an override


def test_a_cycle_through_two_files_is_named(tmp_path):
    write_profiles(tmp_path, a="extends: b\n", b="extends: a\n")
    with pytest.raises(ParameterError, match=r"b.yaml: extends: 'a' makes a cycle \(a -> b -> a\)"):
        load_profile("a", tmp_path)


def test_a_new_parameter_is_the_schema_and_one_line_of_default_yaml(tmp_path, monkeypatch):
    """Two edits and `make params-cells`: every profile has the parameter, and the chapter's
    generated parameters cell shows it with its help."""
    shutil.copytree(ROOT / "params", tmp_path / "params")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    chapter = "08_benchmark"
    monkeypatch.setitem(CHAPTER_PARAMS, chapter, {  # edit 1: the schema
        **CHAPTER_PARAMS[chapter], "new_knob": Param(int, "a knob added by this test", min=0)})
    default = tmp_path / "params" / "default.yaml"  # edit 2: one line of default.yaml
    default.write_text(default.read_text().replace(f"{chapter}:\n", f"{chapter}:\n  new_knob: 3\n"))
    for profile in PROFILES:
        if profile in ("demo", "paper"):
            continue  # their data folders are not in tmp_path; the merge is the same
        assert resolve_params(chapter, profile, root=tmp_path)["new_knob"] == 3
    assert check_cells(tmp_path) == [f"notebooks/{chapter}.ipynb: its parameters cell is not "
                                     "params/default.yaml's"]
    assert write_cells(tmp_path) == [tmp_path / "notebooks" / f"{chapter}.ipynb"]
    assert "new_knob = 3  # a knob added by this test" in parameters_cell(chapter, root=tmp_path)
    assert check_cells(tmp_path) == []


@pytest.mark.parametrize("profile", ["smoke", "classroom", "default"])
def test_roadlite_params_prints_the_resolved_values(profile, capsys):
    chapter = "11_crack_segmentation"
    assert cli.main(["params", chapter, "--profile", profile, "--artifacts", "artifacts"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed == resolve_params(chapter, profile, artifacts_root="artifacts")
    assert printed["profile"] == profile


def test_roadlite_params_with_an_override(capsys):
    assert pipeline.main(["params", "06_pruning", "--profile", "classroom", "epochs=5"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["epochs"] == 5 and printed["sensitivity_ratios"] == [0.3, 0.7]


def test_the_demo_profile_names_its_data_sets():
    """Other code reads demo.yaml's data_root directly (tests/test_dataset_checksums.py)."""
    demo = read("demo")
    assert demo["01_dataset"]["data_root"] == "data/mobilitenet-demo"
    if shared_data_dir().is_dir():
        assert resolve_params("01_dataset", "demo")["data_root"] == "data/mobilitenet-demo"
