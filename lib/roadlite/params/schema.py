"""The parameter schema: every chapter's parameters, their types, ranges and meaning.

:data:`SHARED` holds the parameters every chapter accepts, :data:`CHAPTER_PARAMS` each chapter's
own; :func:`check_value` checks one value against them. Each :class:`Param` carries a one-line
``help``: the generated parameters cell of each notebook shows it beside the default
(:mod:`roadlite.params.cells`). A new parameter is one entry here and one line of
``params/default.yaml``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from roadlite import book
from roadlite.data.catalogue import DATASETS
from roadlite.data.locate import DataNotFoundError, resolve_data_root
from roadlite.data.validate import DataError
from roadlite.imaging import GAN_SIZES


class ParameterError(ValueError):
    """A chapter parameter is unknown, of the wrong type or out of range."""


class UpstreamMissingError(FileNotFoundError):
    """A chapter needs an artifact that an earlier chapter has not written yet."""


@dataclass(frozen=True)
class Param:
    """One parameter of a chapter: its type, allowed values and meaning."""

    type: type | tuple[type, ...]
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    nullable: bool = False
    check: Callable[[Any], str | None] | None = None  # returns an error text or None

    def describe(self) -> str:
        names = self.type if isinstance(self.type, tuple) else (self.type,)
        text = " or ".join(t.__name__ for t in names)
        if self.nullable:
            text += " or None"
        if self.choices is not None:
            text += f", one of {list(self.choices)}"
        if self.min is not None or self.max is not None:
            lo = "-inf" if self.min is None else f"{self.min:g}"
            hi = "inf" if self.max is None else f"{self.max:g}"
            text += f", in [{lo}, {hi}]"
        return text


def _multiple_of(n: int) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if v % n == 0 else f"must be a multiple of {n}"

    return check


def _existing_folder(v: Any) -> str | None:
    """A folder, or the name of a registered data set found in ``data/`` or ``../shared/data``
    (:func:`roadlite.data.locate.resolve_data_root`)."""
    try:
        resolve_data_root(v)
    except DataError as e:
        text = str(e)
        prefix = f"data_root {v!r}: "
        return "cannot be used: " + (text[len(prefix):] if text.startswith(prefix) else text)
    return None


# A profile name is a folder name under the artifacts root and a file name under params/:
# letters, digits, '_', '-' and '.', not starting with '.' (so never '..', a path or a hidden name).
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def profile_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a profile name (None when it can): a profile names the folder
    ``<artifacts_root>/<name>/`` that a run writes, so it must be a plain name."""
    if isinstance(name, str) and PROFILE_NAME.fullmatch(name):
        return None
    return ("must be a plain name (letters, digits, '_', '-' and '.', starting with a letter or "
            "digit; no '/', no '..'): results go to <artifacts_root>/<profile>/")


# Parameters every chapter accepts.
SHARED: dict[str, Param] = {
    "profile": Param(str, "name of the parameter profile; artifacts go to artifacts/<profile>/",
                     check=profile_name_problem),
    "artifacts_root": Param(str, "folder that holds artifacts/<profile>/<chapter>/ (relative to "
                                 "the repository root unless absolute)"),
    "seed": Param(int, "random seed of the run", min=0, max=2**31 - 1),
    "img_size": Param(int, "input size (pixels) the models see", min=32, max=1024,
                      check=_multiple_of(32)),
    "num_threads": Param(int, "CPU threads for torch (0 = torch's default)", min=0, max=256),
    "device": Param(str, "where to train", choices=("cpu", "cuda", "auto")),
    "progress": Param(bool, "show progress bars"),
}

def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be > 0"


def _open_unit_interval(v: Any) -> str | None:
    return None if 0.0 < v < 1.0 else "must lie strictly between 0 and 1"


def _ratios(v: Any) -> str | None:
    if not v:
        return "must be a non-empty list"
    bad = [r for r in v if isinstance(r, bool) or not isinstance(r, (int, float))
           or not 0.0 < r < 1.0]
    return f"has values outside (0, 1): {bad}" if bad else None


def _peers(v: Any) -> str | None:
    """Chapter 03_eca: names of the book's peers (:data:`roadlite.book.PEERS`), each once."""
    known = [m.key for m in book.PEERS]
    bad = [x for x in v if x not in known]
    if bad:
        return f"has {bad}, which are not peers of the book (known: {', '.join(known)})"
    if len(set(v)) != len(v):
        return "names a peer twice"
    return None


# The training parameters of every chapter that trains a classifier (roadlite.training.fit).
TRAINING: dict[str, Param] = {
    "epochs": Param(int, "training epochs per model", min=1, max=1000),
    "batch_size": Param(int, "mini-batch size", min=1, max=4096),
    "optimizer": Param(str, "optimizer (authors' code: sgd; paper text: rmsprop)",
                       choices=("sgd", "rmsprop", "adam")),
    "lr": Param(float, "initial learning rate", min=1e-7, max=10.0),
    "momentum": Param(float, "SGD/RMSProp momentum", min=0.0, max=0.999),
    "weight_decay": Param(float, "L2 weight decay", min=0.0, max=1.0),
    "scheduler": Param(str, "learning-rate schedule (authors' code: plateau on val accuracy)",
                       choices=("plateau", "cosine", "none")),
    "plateau_patience": Param(int, "epochs without improvement tolerated before the LR drops "
                              "(PyTorch's count: it drops after patience + 1)",
                              min=0, max=100),
    "warmup_epochs": Param(int, "epochs of linear learning-rate warm-up", min=0, max=100),
    "augment": Param(bool, "random flips during training (the authors' code: none)"),
    "channels_last": Param(bool, "channels_last memory format (faster on CPU)"),
}

# Chapters 03-06 can train on chapter 02's augmented training set instead of chapter 01's.
# The seeded chapters (roadlite.book.SEEDED): a seed run of `make book SEEDS=N`.
SEED_RUN = {"seed_run": Param(bool, "one of the extra seed runs of `make book SEEDS=N`: results go "
                                    "to artifacts/<profile>/seeds/<seed>/, the data comes from "
                                    "the main run")}

TRAIN_DATA = {"train_data": Param(str, "training images: 'original' (chapter 01) or 'gan' "
                                       "(chapter 01 + chapter 02's synthetic images)",
                                  choices=("original", "gan"))}


def _gan_size(v: Any) -> str | None:
    return None if v in GAN_SIZES else (
        f"cannot be produced by the generator; it makes {list(GAN_SIZES)} pixels")


def _folder_or_dataset(v: Any) -> str | None:
    """Chapter 10_crack_classifier: a folder, or a registered data set's name (``data/<name>``
    or ``<name>``, :data:`roadlite.data.DATASETS`). A registered set that is not downloaded
    passes here; the chapter says where to get it (or skips it) when it runs."""
    try:
        resolve_data_root(v)
    except DataNotFoundError:
        parts = PurePath(str(v)).parts
        named = not PurePath(str(v)).is_absolute() and (
            len(parts) == 1 or (len(parts) == 2 and parts[0] == "data"))
        if named and any(parts[-1] in (d.name, d.shared_folder) for d in DATASETS.values()):
            return None
        return (f"is neither a folder nor a registered data set (data/<name>; known: "
                f"{', '.join(sorted(DATASETS))})")
    return None


def _folders_or_datasets(v: Any) -> str | None:
    bad = [x for x in v if not isinstance(x, str) or not x]
    if bad:
        return f"must list folder or data set names, got {bad}"
    for x in v:
        problem = _folder_or_dataset(x)
        if problem:
            return f"has {x!r}, which {problem}"
    return None


CHAPTER_PARAMS: dict[str, dict[str, Param]] = {
    "01_dataset": {
        "data_root": Param(str, "a real dataset to use instead of the generated one "
                                "(ImageFolder, Özgenel, DeepCrack or CFD layout); None = generate",
                           nullable=True, check=_existing_folder),
        "gen_size": Param(int, "size (pixels) of the generated images", min=32, max=1024),
        "n_train_per_class": Param(int, "generated training images per class", min=1),
        "n_val_per_class": Param(int, "generated validation images per class", min=1),
        "n_test_per_class": Param(int, "generated test images per class", min=1),
        "include_intact": Param(bool, "also generate the 'intact' class (binary and "
                                      "segmentation chapters)"),
        "on_bad_data": Param(str, "what to do with unreadable or inconsistent files",
                             choices=("raise", "skip")),
        "baseline_bins": Param(int, "bins per channel of the colour-histogram baseline",
                               min=2, max=256),
    },
    "02_gan": {
        **TRAINING,
        "gan_size": Param(int, "size (pixels) of the GAN's images", check=_gan_size),
        "gan_iterations": Param(int, "generator iterations (each after 5 critic iterations)",
                                min=1, max=10_000_000),
        "gan_batch_size": Param(int, "GAN mini-batch size", min=2, max=4096),
        "gan_base_channels": Param(int, "width of the generator and critic", min=4, max=1024),
        "n_synthetic_train_per_class": Param(int, "synthetic training images per class "
                                                  "(paper: 4000)", min=0, max=1_000_000),
        "n_synthetic_val_per_class": Param(int, "synthetic validation images per class "
                                                "(paper: 500)", min=0, max=1_000_000),
        "classifier": Param(str, "the classifier trained with and without the GAN images",
                            choices=("mobilenet_v2", "eca_mobilenet_v2", "refined_mobilenet_v2")),
    },
    "03_eca": {
        **TRAINING,
        **TRAIN_DATA,
        "eca_variant": Param(str, "'paper': baseline + ECA; 'authors': the authors' code "
                                  "(stem 24, head 640)", choices=("paper", "authors")),
        "export_tflite": Param(bool, "export both models to .tflite and compare with PyTorch"),
        "peers": Param(list, "torchvision's small networks trained beside the baseline on its "
                             "data, recipe and budget (exported, timed and compared by chapters "
                             "07-09); [] = none", check=_peers),
        **SEED_RUN,
    },
    "04_refinement": {**TRAINING, **TRAIN_DATA, **SEED_RUN},
    "05_distillation": {
        **TRAINING,
        **TRAIN_DATA,
        "teacher_epochs": Param(int, "training epochs of the ResNet-18 teacher", min=1, max=1000),
        "teacher_lr": Param(float, "initial learning rate of the teacher", min=1e-7, max=10.0),
        "teacher_pretrained": Param(bool, "start the teacher from ImageNet weights (needs "
                                          "internet; the authors' code's choice)"),
        "temperature": Param(float, "distillation temperature T", min=1e-3, max=100.0,
                             check=_positive),
        "alpha": Param(float, "weight alpha of the soft (teacher) term", min=0.0, max=1.0),
        "l1_lambda": Param(float, "weight lambda of the L1 sparsity term", min=0.0, max=1.0),
        "kd_without_l1": Param(bool, "also train the student with KD but without the L1 term"),
        **SEED_RUN,
    },
    "06_pruning": {
        **TRAINING,
        **TRAIN_DATA,
        "pruning_ratio": Param(float, "share of the channels removed from every convolution "
                                      "(paper: up to 0.3; authors' code: 0.3)",
                               check=_open_unit_interval),
        "pruning_steps": Param(int, "iterative pruning steps (each followed by fine-tuning; "
                                    "authors' code: 1)",
                               min=1, max=100),
        "temperature": Param(float, "distillation temperature T of the fine-tuning", min=1e-3,
                             max=100.0, check=_positive),
        "alpha": Param(float, "weight alpha of the soft term in the fine-tuning", min=0.0,
                       max=1.0),
        "sensitivity_ratios": Param(list, "ratios of the per-group sensitivity scan",
                                    check=_ratios),
        "fast_ratio": Param(float, "also prune Model 3 at this ratio into a faster Model 4 "
                                   "(ours: chapters 07-09 quantize, time and compare it); null: "
                                   "none", nullable=True, check=_open_unit_interval),
        "round_to": Param(int, "keep every pruned channel count a multiple of this (the SIMD "
                               "width a kernel works in; null: the ratio's exact counts, as the "
                               "authors' code)", min=1, max=256, nullable=True),
        **SEED_RUN,
    },
    "07_quantization": {
        "calibration_images": Param(int, "training images that calibrate static INT8",
                                    min=1, max=100_000),
        "eval_threads": Param(int, "interpreter threads for the accuracy runs", min=1, max=256),
        "deploy_size": Param(int, "second input size (pixels) of the pixel-input exports that "
                                  "chapter 08 times beside img_size (the authors' code: 224)",
                             min=32, max=1024, check=_multiple_of(32)),
        **SEED_RUN,
    },
    "08_benchmark": {
        "runs": Param(int, "timed runs per model, runtime and thread count", min=50,
                      max=100_000),
        "warmup": Param(int, "untimed warm-up runs before the timed ones", min=1, max=10_000),
        "all_threads": Param(int, "the 'all cores' thread count (0 = os.cpu_count())", min=0,
                             max=256),
        "n_images": Param(int, "test images the runs cycle through", min=1, max=10_000),
    },
    "09_confusion": {
        "n_boot": Param(int, "bootstrap resamples for intervals and the paired test", min=100,
                        max=1_000_000),
        "ci_level": Param(float, "confidence level of the intervals",
                          check=_open_unit_interval),
        "seeds": Param(int, "seeds 0..seeds-1 to average the ablation over (make book "
                            "SEEDS=N runs chapters 03-07 with the others); 1: this run only",
                       min=1, max=10),
    },
    "10_crack_classifier": {
        **TRAINING,
        "augment": Param(bool, "the paper's augmentation of the training images: flip, "
                               "rotation +-20 degrees, zoom 20 %, brightness"),
        "data_root": Param(str, "Özgenel's Positive/ + Negative/ folders to train and test on "
                                "(a folder, or data/ozgenel-40k once downloaded); None = "
                                "chapter 01's data, intact vs cracks", nullable=True,
                           check=_folder_or_dataset),
        "val_frac": Param(float, "validation share of a data_root's split (paper: 0.1)",
                          min=0.01, max=0.45),
        "test_frac": Param(float, "test share of a data_root's split (paper: 0.1)", min=0.01,
                           max=0.45),
        "loss": Param(str, "training loss (paper: dice)", choices=("dice", "bce")),
        "dropout": Param(float, "dropout before the sigmoid unit (paper: \"Dropout: 50%\", "
                                "placement ours)", min=0.0,
                         max=0.95),
        "monitor": Param(str, "what reduce-on-plateau and early stopping watch (Keras' "
                              "default: val_loss)", choices=("val_loss", "val_accuracy")),
        "early_stopping_patience": Param(int, "epochs without improvement of monitor before "
                                              "training stops (0 = off)", min=0, max=1000),
        "backbone_weights": Param(str, "the transferred backbone: 'chapter03' (chapter 03's "
                                       "MobileNetV2, offline) or 'imagenet' (torchvision's, as "
                                       "the paper; needs internet)",
                                  choices=("chapter03", "imagenet")),
        "patch_datasets": Param(list, "segmentation sets (folders or registered names) whose "
                                      "masks give crack / no-crack test patches; a set not "
                                      "found is skipped", check=_folders_or_datasets),
        "patch_size": Param(int, "side (pixels) of the patches cut from patch_datasets",
                            min=32, max=1024),
        "patch_source_images": Param(int, "images of each patch data set that are cut, at most",
                                     min=1, max=1_000_000),
        "max_patches_per_class": Param(int, "crack and no-crack patches per patch data set, "
                                            "at most", min=1, max=1_000_000),
        "cam_method": Param(str, "the CAM method shown beside Grad-CAM",
                            choices=("gradcam++", "eigencam")),
        "cam_images": Param(int, "images with a crack whose CAMs are measured, at most", min=1,
                            max=1_000_000),
        "mask_dilation": Param(int, "radius (pixels at img_size) by which crack masks are "
                                    "dilated for the localisation measures", min=0, max=64),
        "export_tflite": Param(bool, "export the classifier to INT8 .tflite and time it in "
                                     "LiteRT"),
        "calibration_images": Param(int, "training images that calibrate the INT8 export",
                                    min=1, max=100_000),
        "benchmark_runs": Param(int, "timed LiteRT runs per model", min=10, max=100_000),
    },
    "11_crack_segmentation": {
        "data_root": Param(str, "an image / mask folder pair to segment (DeepCrack's "
                                "{train,test}_img + _lab, CFD's image/ + masks_png/; a folder or "
                                "data/deepcrack); None = chapter 01's generated cracks",
                           nullable=True, check=_folder_or_dataset),
        "include_intact": Param(bool, "also use chapter 01's intact images (empty masks)"),
        "max_train": Param(int, "training images, at most (None = all)", min=1,
                           max=1_000_000, nullable=True),
        "max_val": Param(int, "validation images, at most (None = all)", min=1,
                         max=1_000_000, nullable=True),
        "max_test": Param(int, "test images, at most (None = all)", min=1, max=1_000_000,
                          nullable=True),
        "crop": Param(int, "side of the random training crops (pixels)", min=16, max=1024,
                      check=_multiple_of(16)),
        "batch_size": Param(int, "mini-batch size (the paper gives none)", min=1, max=4096),
        "optimizer": Param(str, "optimizer of every phase (the paper names none)",
                           choices=("adam", "sgd", "rmsprop")),
        "weight_decay": Param(float, "L2 weight decay", min=0.0, max=1.0),
        "scheduler": Param(str, "learning-rate decay within each phase",
                           choices=("cosine", "none")),
        "width": Param(int, "stem width w of teacher and student (the paper gives none; 30: "
                            "the book's fit to its 3.856 M parameters)", min=4, max=256,
                       check=_multiple_of(2)),
        "unet_base": Param(int, "base channels of the U-Net baseline (paper: 32)", min=4,
                           max=256, check=_multiple_of(2)),
        "disc_width": Param(int, "first width of the discriminator", min=4, max=256,
                            check=_multiple_of(4)),
        "teacher_image_epochs": Param(int, "phase 1 epochs (paper: 50)", min=1, max=10_000),
        "teacher_image_lr": Param(float, "phase 1 learning rate (paper: 1e-3)", min=1e-7,
                                  max=1.0),
        "teacher_boundary_epochs": Param(int, "phase 2 epochs (paper: 100)", min=1,
                                         max=10_000),
        "teacher_boundary_lr": Param(float, "phase 2 learning rate (paper: 1e-4)", min=1e-7,
                                     max=1.0),
        "student_epochs": Param(int, "phase 3 epochs, also of the student alone and the U-Net "
                                     "(paper: 200)", min=1, max=10_000),
        "student_lr": Param(float, "phase 3 learning rate (paper: 1e-4)", min=1e-7, max=1.0),
        "val_every": Param(int, "validate every this many epochs (paper: 5)", min=1,
                           max=10_000),
        "dmia_factor": Param(float, "DMIA: radius = factor x erosion count (the paper gives "
                                    "none)", min=0.01, max=100.0, check=_positive),
        "deepcrack_val": Param(int, "DeepCrack training images moved to validation (paper: "
                                    "90 for evaluation; taking them from the training folder is "
                                    "ours)", min=1, max=100_000),
        "ablations": Param(bool, "also train the paper's Table I and II ablations"),
        "speed_size": Param(int, "side of the input for parameters / MACs / FPS (paper: 320)",
                            min=32, max=2048, check=_multiple_of(32)),
        "speed_runs": Param(int, "timed runs per model and runtime", min=3, max=100_000),
        "export_tflite": Param(bool, "export to .tflite (fp32, INT8) and time LiteRT"),
        "calibration_images": Param(int, "training images that calibrate the INT8 export",
                                    min=1, max=100_000),
    },
    "12_field_test": {
        "data_root": Param(str, "DeepCrack's or CFD's folder (a folder or data/deepcrack) whose "
                                "full-size test photos and masks are inspected; None = "
                                "generated photos", nullable=True, check=_folder_or_dataset),
        "type_root": Param(str, "photos with a distress type and no mask (MobiLiteNet's demo "
                                "set's {train,val,test}/<Class>/ layout, its test split) for "
                                "Model 5 on whole photos; None = none", nullable=True,
                           check=_folder_or_dataset),
        "max_type_photos": Param(int, "photos of type_root, at most (None = all)", min=1,
                                 max=1_000_000, nullable=True),
        "n_photos": Param(int, "generated photos (without data_root)", min=1, max=100_000),
        "max_photos": Param(int, "photos of data_root, at most (None = all)", min=1,
                            max=1_000_000, nullable=True),
        "photo_width": Param(int, "width of the generated photos (pixels)", min=32, max=8192,
                             check=_multiple_of(2)),
        "photo_height": Param(int, "height of the generated photos (pixels)", min=32,
                              max=8192, check=_multiple_of(2)),
        "min_distresses": Param(int, "distresses per generated photo, at least", min=0,
                                max=100),
        "max_distresses": Param(int, "distresses per generated photo, at most", min=1,
                                max=100),
        "overlap": Param(int, "pixels shared by neighbouring tiles (less than the segmenter's "
                              "input size)", min=0, max=1024),
        "gate_threshold": Param(float, "classifier probability from which a tile is segmented",
                                min=0.0, max=1.0),
        "compare_all_tiles": Param(bool, "also run the segmenter on every tile (the gate's "
                                         "trade)"),
        "mm_per_pixel": Param(float, "pixel size on the road (mm), for lengths and widths in "
                                     "millimetres (an assumed value unless you know yours)",
                              min=1e-4, max=1000.0),
        "min_crack_pixels": Param(int, "connected crack regions smaller than this are specks, "
                                       "not cracks", min=1, max=1_000_000),
        "report_photos": Param(int, "photos in the chapter's HTML report", min=1,
                               max=100_000),
    },
}

CHAPTERS: tuple[str, ...] = book.SLUGS
if tuple(CHAPTER_PARAMS) != CHAPTERS:  # the book's table and the schemas list the same chapters
    raise ImportError(f"roadlite.params: the schemas {list(CHAPTER_PARAMS)} do not match the "
                      f"book's chapters {list(CHAPTERS)}")


def schema(chapter: str) -> dict[str, Param]:
    """The full parameter schema (shared + chapter) of ``chapter``."""
    if chapter not in CHAPTER_PARAMS:
        raise ParameterError(f"unknown chapter {chapter!r}; known: {', '.join(CHAPTERS)}")
    return {**SHARED, **CHAPTER_PARAMS[chapter]}


def _type_ok(value: Any, p: Param) -> tuple[bool, Any]:
    if value is None:
        return p.nullable, value
    types_ = p.type if isinstance(p.type, tuple) else (p.type,)
    if bool in types_ and isinstance(value, bool):
        return True, value
    if isinstance(value, bool):  # bool is an int subclass: never accept it for numbers
        return False, value
    if float in types_ and isinstance(value, int):
        return True, float(value)
    return isinstance(value, types_), value


def check_value(chapter: str, name: str, value: Any) -> Any:
    """Validate one parameter value; return it (ints widened to float where a float is due)."""
    params = schema(chapter)
    if name not in params:
        close = difflib.get_close_matches(name.lower(), params, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParameterError(
            f"{chapter}: unknown parameter {name!r}.{hint} "
            f"Known parameters: {', '.join(sorted(params))}."
        )
    p = params[name]
    ok, value = _type_ok(value, p)
    if not ok:
        hint = ""
        if isinstance(value, str) and p.type in (float, int):
            hint = " (in YAML write floats as 1.0e-4, not 1e-4)"
        raise ParameterError(
            f"{chapter}: parameter {name!r} = {value!r} has type {type(value).__name__}; "
            f"expected {p.describe()}{hint}."
        )
    if value is None:
        return value
    problem = None
    if isinstance(value, float) and not math.isfinite(value):
        problem = "must be a finite number"
    elif p.choices is not None and value not in p.choices:
        problem = f"must be one of {list(p.choices)}"
    elif p.min is not None and value < p.min:
        problem = f"must be >= {p.min:g}"
    elif p.max is not None and value > p.max:
        problem = f"must be <= {p.max:g}"
    elif p.check is not None:
        problem = p.check(value)
    if problem:
        raise ParameterError(f"{chapter}: parameter {name!r} = {value!r} {problem} ({p.help}).")
    return value
