"""Chapter parameters: profiles, schemas and validation (taught in the book's introduction).

Every chapter notebook has one cell tagged ``parameters``, generated from the ``default``
profile (:mod:`roadlite.params.cells`, ``make params-cells``); papermill (or ``make``) injects
other values after it. The first thing each notebook does is::

    P = validate_params("03_eca", globals())

which checks every parameter against the chapter's schema (:mod:`roadlite.params.schema`), the
parameters together (:mod:`roadlite.params.checks`) and the upstream chapters: an unknown name, a
wrong type, an out-of-range value, a bad combination or a missing upstream artifact stops the run
with one message that names the parameter (or file) and what was expected.

Profiles live in ``params/<profile>.yaml``: ``default.yaml`` holds every parameter's default
once, and every other profile says which profile it ``extends`` and lists only what differs
(:mod:`roadlite.params.profiles`). :func:`resolve_params` merges ``shared`` + chapter section
+ command-line overrides of the profile with what it extends. A new parameter is one entry of
the schema, one line of ``params/default.yaml`` and ``make params-cells``.
"""

from __future__ import annotations

from .cells import check_cells, parameters_cell, write_cells
from .checks import check_data, check_together
from .profiles import (
    BASE_PROFILE,
    ProfileFile,
    chapter_values,
    load_profile,
    merge_sections,
    parse_override,
    profile_files,
    profile_path,
    redundant_entries,
    resolve_params,
    resolve_sections,
)
from .schema import (
    CHAPTER_PARAMS,
    CHAPTERS,
    PROFILE_NAME,
    SEED_RUN,
    SHARED,
    TRAIN_DATA,
    TRAINING,
    Param,
    ParameterError,
    UpstreamMissingError,
    check_value,
    profile_name_problem,
    schema,
)
from .validate import (
    Params,
    parameters_from_namespace,
    require_upstream,
    run_dir,
    validate_params,
)

__all__ = [
    "BASE_PROFILE", "CHAPTERS", "CHAPTER_PARAMS", "PROFILE_NAME", "SEED_RUN", "SHARED",
    "TRAINING", "TRAIN_DATA", "Param", "ParameterError", "Params", "ProfileFile",
    "UpstreamMissingError", "chapter_values", "check_cells", "check_data", "check_together",
    "check_value", "load_profile", "merge_sections", "parameters_cell", "parameters_from_namespace",
    "parse_override", "profile_files", "profile_name_problem", "profile_path",
    "redundant_entries", "require_upstream", "resolve_params", "resolve_sections", "run_dir",
    "schema", "validate_params", "write_cells",
]
