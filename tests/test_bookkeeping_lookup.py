"""roadlite.bookkeeping: outputs_written (the skip rule chapter 10 uses) and glue_lookup."""

import math

import pytest

from roadlite.bookkeeping import glue_lookup, outputs_written


def test_output_files_lists_files_relative_and_sorted(tmp_path):
    for rel in ("metrics.json", "figures/b.png", "figures/a.png", "checkpoints/v/last.pt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "empty_folder").mkdir()
    assert outputs_written(tmp_path) == ["checkpoints/v/last.pt", "figures/a.png", "figures/b.png",
                                      "metrics.json"]
    assert outputs_written(tmp_path, skip=("checkpoints",)) == [
        "figures/a.png", "figures/b.png", "metrics.json"]


def test_output_files_names_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        outputs_written(tmp_path / "nowhere")


def test_glue_number_scales_looks_up_and_glues():
    glued = {}

    def fake_glue(name, value, display):
        assert display is False
        glued[name] = value

    assert glue_lookup("acc", {"test": {"accuracy": 0.25}}, "test", "accuracy", scale=100,
                       glue=fake_glue) == 25.0
    assert glued == {"acc": 25.0} and type(glued["acc"]) is float
    assert glue_lookup("plain", 3, glue=fake_glue) == 3.0


@pytest.mark.parametrize("value, keys", [(None, ()), (None, ("a",)), ({}, ("a",)),
                                         ({"a": {}}, ("a", "b")), ({"a": None}, ("a", "b"))])
def test_glue_number_is_nan_when_a_measure_is_missing(value, keys):
    glued = {}
    out = glue_lookup("x", value, *keys, scale=100,
                      glue=lambda name, v, display: glued.update({name: v}))
    assert math.isnan(out) and math.isnan(glued["x"])


def test_glue_number_names_what_it_cannot_look_into():
    with pytest.raises(TypeError, match="'b'.*float"):
        glue_lookup("x", {"a": 1.5}, "a", "b", glue=lambda *a, **k: None)
