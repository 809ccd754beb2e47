"""Parameter validation: unknown names, wrong types, out-of-range values, missing upstream."""

import pytest

from roadlite.params import (
    CHAPTERS,
    ParameterError,
    UpstreamMissingError,
    check_value,
    parse_override,
    resolve_params,
    validate_params,
)
from roadlite.paths import shared_data_dir
from roadlite.pipeline import split_overrides


def good(chapter="03_eca", tmp_path=None, **changes):
    p = resolve_params(chapter, "smoke")
    if tmp_path is not None:
        p["artifacts_root"] = str(tmp_path)
    p.update(changes)
    return p


@pytest.mark.parametrize("profile", ["smoke", "default", "paper", "demo", "classroom"])
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_profile_resolves(profile, chapter):
    if profile == "demo" and not shared_data_dir().is_dir():
        pytest.skip("../shared/data not present (the demo profile reads it)")
    if profile == "paper" and chapter == "01_dataset":  # needs the downloaded real dataset
        with pytest.raises(ParameterError, match=r"'data_root' = 'data/mobilitenet' cannot be used"):
            resolve_params(chapter, profile)
        return
    p = resolve_params(chapter, profile)
    assert p["profile"] == profile


def test_data_root_must_exist(tmp_path):
    p = good("01_dataset", data_root=str(tmp_path))
    assert validate_params("01_dataset", p, check_upstream=False).data_root == str(tmp_path)
    with pytest.raises(ParameterError, match=r"'data_root' = .*no' cannot be used: .*no is not a folder"):
        validate_params("01_dataset", good("01_dataset", data_root=str(tmp_path / "no")),
                        check_upstream=False)


def test_valid_parameters_pass(tmp_path):
    (tmp_path / "smoke" / "01_dataset").mkdir(parents=True)
    (tmp_path / "smoke" / "01_dataset" / "metrics.json").write_text("{}")
    P = validate_params("03_eca", good(tmp_path=tmp_path))
    assert P.epochs == 1 and P.chapter == "03_eca"
    assert P.out_dir == tmp_path / "smoke" / "03_eca"


def test_unknown_name_is_named_with_a_suggestion():
    with pytest.raises(ParameterError, match=r"unknown parameter 'epoch'.*Did you mean 'epochs'"):
        validate_params("03_eca", good(epoch=3), check_upstream=False)


@pytest.mark.parametrize("name,value,pattern", [
    ("epochs", "5", r"'epochs' = '5' has type str; expected int"),
    ("epochs", 2.5, r"'epochs' = 2.5 has type float"),
    ("epochs", True, r"'epochs' = True has type bool"),
    ("epochs", 0, r"'epochs' = 0 must be >= 1"),
    ("lr", "1e-4", r"'lr' = '1e-4' has type str.*1.0e-4"),
    ("optimizer", "adagrad", r"'optimizer' = 'adagrad' must be one of"),
    ("img_size", 100, r"'img_size' = 100 must be a multiple of 32"),
    ("img_size", None, r"'img_size' = None has type NoneType"),
])
def test_bad_values_are_named(name, value, pattern):
    with pytest.raises(ParameterError, match=pattern):
        validate_params("03_eca", good(**{name: value}), check_upstream=False)


def test_int_is_accepted_for_float():
    P = validate_params("03_eca", good(lr=1), check_upstream=False)
    assert isinstance(P.lr, float)


def test_nullable_parameter():
    P = validate_params("01_dataset", good("01_dataset", data_root=None), check_upstream=False)
    assert P.data_root is None


def test_missing_upstream_names_the_file(tmp_path):
    with pytest.raises(UpstreamMissingError, match=r"01_dataset.*metrics.json.*make 01_dataset"):
        validate_params("03_eca", good(tmp_path=tmp_path))


def test_modules_and_functions_in_globals_are_not_parameters():
    import math

    ns = good(check=lambda: 1, math=math, In=[], _private=3)
    validate_params("03_eca", ns, check_upstream=False)


def test_parse_override():
    assert parse_override("EPOCHS=5") == ("epochs", 5)
    assert parse_override("lr=1e-4") == ("lr", 1e-4)
    assert parse_override("augment=false") == ("augment", False)
    assert parse_override("data_root=null") == ("data_root", None)
    with pytest.raises(ParameterError):
        parse_override("epochs")


def test_overrides_for_other_chapters_are_dropped_with_a_notice_but_typos_are_not(capsys):
    # make CHAPTER / make book: every override goes to every chapter, which uses its own
    assert split_overrides("01_dataset", {"epochs": 3, "seed": 1}, strict=False) == {"seed": 1}
    assert "not used here: 'epochs' belongs to 02_gan, 03_eca" in capsys.readouterr().out
    # make nb / roadlite run: one chapter, so an override it lacks is an error
    with pytest.raises(ParameterError, match=r"01_dataset has no parameter\(s\) \['epochs'\]"):
        split_overrides("01_dataset", {"epochs": 3})
    with pytest.raises(ParameterError, match="no chapter has them"):
        split_overrides("03_eca", {"epocs": 3}, strict=False)


@pytest.mark.parametrize("name", ["lr", "momentum", "weight_decay", "alpha", "l1_lambda",
                                  "temperature"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_are_rejected(name, bad):
    chapter = "05_distillation"
    with pytest.raises(ParameterError, match=f"'{name}' = {bad} must be a finite number"):
        check_value(chapter, name, bad)


def test_upper_case_names_are_parameters_and_unknown_ones_errors(tmp_path):
    ns = good("01_dataset", tmp_path)
    ns["BASELINE_BINS"] = 4  # papermill -p BASELINE_BINS 4, injected after the parameters cell
    assert validate_params("01_dataset", ns, check_upstream=False).baseline_bins == 4
    ns = good("01_dataset", tmp_path)
    ns["BASELINE_BIN"] = 4
    with pytest.raises(ParameterError, match="unknown parameter 'BASELINE_BIN'. Did you mean "
                                             "'baseline_bins'"):
        validate_params("01_dataset", ns, check_upstream=False)
    ns = good("01_dataset", tmp_path)
    ns["MOBILITENET"] = {"a table": 1}  # a notebook's constant, not a parameter
    assert validate_params("01_dataset", ns, check_upstream=False).seed == ns["seed"]


def test_missing_upstream_names_the_make_command_with_its_artifacts_folder(tmp_path):
    with pytest.raises(UpstreamMissingError,
                       match=f"make 01_dataset PROFILE=smoke ARTIFACTS={tmp_path}$"):
        validate_params("03_eca", good("03_eca", tmp_path))


def test_unknown_profile():
    with pytest.raises(ParameterError, match="no profile 'nope'"):
        resolve_params("03_eca", "nope")


def test_gan_size_lists_the_sizes_the_generator_can_make():
    with pytest.raises(ParameterError, match=r"'gan_size' = 48 cannot be produced.*\[16, 32, 64, 128, 256\]"):
        validate_params("02_gan", good("02_gan", gan_size=48), check_upstream=False)


def test_pruning_ratio_and_temperature_are_checked_before_any_work():
    with pytest.raises(ParameterError, match=r"'pruning_ratio' = 1.0 must lie strictly between"):
        validate_params("06_pruning", good("06_pruning", pruning_ratio=1.0), check_upstream=False)
    with pytest.raises(ParameterError, match=r"'temperature' = 0.0 must be >= 0.001"):
        validate_params("05_distillation", good("05_distillation", temperature=0.0),
                        check_upstream=False)
    with pytest.raises(ParameterError, match=r"'calibration_images' = 0 must be >= 1"):
        validate_params("07_quantization", good("07_quantization", calibration_images=0),
                        check_upstream=False)


def test_train_data_gan_needs_chapter_02(tmp_path):
    for up in ("01_dataset",):
        (tmp_path / "smoke" / up).mkdir(parents=True)
        (tmp_path / "smoke" / up / "metrics.json").write_text("{}")
    with pytest.raises(UpstreamMissingError, match="02_gan"):
        validate_params("03_eca", good(tmp_path=tmp_path, train_data="gan"))


# ---- seed runs (make book SEEDS=N) -------------------------------------------------------------

def test_a_seed_run_keeps_its_seeded_chapters_apart_and_reads_the_data_of_the_main_run(tmp_path):
    from roadlite.params import run_dir

    P = validate_params("05_distillation", good("05_distillation", tmp_path, seed=2,
                                                seed_run=True), check_upstream=False)
    assert P.out_dir == tmp_path / "smoke" / "seeds" / "2" / "05_distillation"
    assert P.upstream_dir("04_refinement") == tmp_path / "smoke" / "seeds" / "2" / "04_refinement"
    assert P.upstream_dir("01_dataset") == tmp_path / "smoke" / "01_dataset"  # the same data
    main = validate_params("05_distillation", good("05_distillation", tmp_path, seed=2),
                           check_upstream=False)
    assert main.out_dir == tmp_path / "smoke" / "05_distillation"  # seed alone: the main run
    assert run_dir({"artifacts_root": tmp_path, "profile": "p", "seed": 1, "seed_run": True},
                   "09_confusion") == tmp_path / "p" / "09_confusion"  # not seeded


def test_a_seed_run_with_a_missing_upstream_names_the_seeds_make_command(tmp_path):
    (tmp_path / "smoke" / "01_dataset").mkdir(parents=True)
    (tmp_path / "smoke" / "01_dataset" / "metrics.json").write_text("{}")
    (tmp_path / "smoke" / "03_eca").mkdir(parents=True)  # the main run's 03 is not seed 1's
    (tmp_path / "smoke" / "03_eca" / "metrics.json").write_text("{}")
    with pytest.raises(UpstreamMissingError,
                       match=r"seeds/1/03_eca/metrics.json does not exist.*make book "
                             r"PROFILE=smoke SEEDS=2"):
        validate_params("04_refinement", good("04_refinement", tmp_path, seed=1, seed_run=True))


def test_chapter_09_with_several_seeds_needs_every_seed_run(tmp_path):
    for up in ("03_eca", "04_refinement", "05_distillation", "06_pruning", "07_quantization",
               "08_benchmark"):
        (tmp_path / "smoke" / up).mkdir(parents=True)
        (tmp_path / "smoke" / up / "metrics.json").write_text("{}")
    validate_params("09_confusion", good("09_confusion", tmp_path, seeds=1))
    with pytest.raises(UpstreamMissingError, match=r"seeds=3 needs seed 1's run of chapter "
                                                   r"03_eca.*make book PROFILE=smoke SEEDS=3"):
        validate_params("09_confusion", good("09_confusion", tmp_path, seeds=3))
    with pytest.raises(ParameterError, match="'seeds' = 0 must be >= 1"):
        validate_params("09_confusion", good("09_confusion", tmp_path, seeds=0))


def test_round_to_is_checked():
    assert validate_params("06_pruning", good("06_pruning", round_to=None),
                           check_upstream=False).round_to is None
    with pytest.raises(ParameterError, match="'round_to' = 0 must be >= 1"):
        validate_params("06_pruning", good("06_pruning", round_to=0), check_upstream=False)


def test_fast_ratio_may_be_null_but_not_out_of_range():
    assert validate_params("06_pruning", good("06_pruning", fast_ratio=None),
                           check_upstream=False).fast_ratio is None
    with pytest.raises(ParameterError, match="'fast_ratio' = 1.5 must lie strictly between"):
        validate_params("06_pruning", good("06_pruning", fast_ratio=1.5), check_upstream=False)
