"""Validation of a chapter run's parameters (the notebook's first call) and where it writes.

The first thing each notebook does is::

    P = validate_params("03_eca", globals())

which checks every parameter against the chapter's schema (:mod:`roadlite.params.schema`), then
the parameters together and against the data folders they name
(:mod:`roadlite.params.checks`), then that the chapters it reads have run: an unknown name, a
wrong type, an out-of-range value, a bad combination or a missing upstream artifact stops the
run with one message that names the parameter (or file) and what was expected.
"""

from __future__ import annotations

import shlex
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roadlite import book
from roadlite.paths import artifact_dir

from .checks import check_data, check_together
from .schema import ParameterError, UpstreamMissingError, check_value, schema

_NOT_PARAMS = {"In", "Out", "exit", "quit", "get_ipython", "open"}


def parameters_from_namespace(ns: Mapping[str, Any], chapter: str | None = None
                              ) -> dict[str, Any]:
    """Pick the parameter-like names out of a notebook's ``globals()``.

    Modules, functions, classes, IPython's own names and ``_private`` names are left out; what
    remains is what the parameters cell (and papermill's injected cell) defined. Names are
    case-insensitive, as on the ``make`` command line: ``BASELINE_BINS = 4`` (papermill
    ``-p BASELINE_BINS 4``) sets ``baseline_bins``, and, because it comes later in the
    namespace than the parameters cell's value, wins. With ``chapter`` given, an upper-case
    name that is not a parameter but holds a plain value (a number, string, bool or None) is
    an error too: papermill would have injected it and the run would have ignored it.
    """
    known = schema(chapter) if chapter is not None else None
    out: dict[str, Any] = {}
    for k, v in ns.items():
        if k.startswith("_") or k in _NOT_PARAMS:
            continue  # private names, IPython's names
        if isinstance(v, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)):
            continue
        if callable(v):
            continue
        name = k.lower()
        if k != name:  # an upper- or mixed-case name: a parameter, or a notebook constant
            if known is not None and name not in known:
                if isinstance(v, (bool, int, float, str)) or v is None:
                    check_value(chapter, k, v)  # raises: unknown, with a suggestion
                continue  # a constant of the notebook (a table, a model, ...)
            if known is None:
                continue
        out[name] = v
    return out


class Params(dict):
    """Validated parameters of one chapter run; also readable as attributes (``P.epochs``)."""

    chapter: str

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(name) from e

    @property
    def out_dir(self) -> Path:
        return run_dir(self, self.chapter)

    def upstream_dir(self, chapter: str) -> Path:
        return run_dir(self, chapter)


def run_dir(params: Mapping[str, Any], chapter: str) -> Path:
    """Where ``chapter``'s results are for a run with ``params``: ``artifacts/<profile>/<chapter>``,
    or a seed run's own folder for the seeded chapters (:func:`roadlite.book.seed_folder`)."""
    return artifact_dir(params["artifacts_root"], params["profile"], chapter,
                        book.seed_folder(chapter, params))


def validate_params(chapter: str, namespace: Mapping[str, Any], check_upstream: bool = True
                    ) -> Params:
    """Validate a chapter's parameters (the notebook passes its ``globals()``).

    Raises :class:`ParameterError` naming the first bad parameter (or the parameters that do
    not go together), or :class:`UpstreamMissingError` naming the missing upstream file.
    """
    given = parameters_from_namespace(namespace, chapter)
    params = schema(chapter)
    for name in given:
        if name not in params:
            check_value(chapter, name, given[name])  # raises with a suggestion
    missing = [n for n in params if n not in given]
    if missing:
        raise ParameterError(f"{chapter}: parameters not set: {', '.join(missing)}.")
    out = Params({n: check_value(chapter, n, given[n]) for n in params})
    out.chapter = chapter
    check_together(chapter, out)
    check_data(chapter, out)
    if check_upstream:
        require_upstream(chapter, out)
    return out


def require_upstream(chapter: str, params: Mapping[str, Any]) -> None:
    """Raise :class:`UpstreamMissingError` when a chapter that ``chapter`` reads has not
    finished (no ``metrics.json``); the message says which ``make`` command makes it."""
    root, profile = params["artifacts_root"], params["profile"]
    for up in book.upstream(chapter, dict(params)):
        f = run_dir(params, up) / "metrics.json"
        if not f.exists():
            where = "" if str(root) == "artifacts" else f" ARTIFACTS={_shell_word(str(root))}"
            seed = book.seed_folder(up, params)
            how = (f"make book PROFILE={profile} SEEDS={seed + 1}{where}" if seed is not None
                   else f"make {up} PROFILE={profile}{where}")
            raise UpstreamMissingError(
                f"{chapter} needs the output of chapter {up}, but {f} does not exist. "
                f"Run it first: {how}"
            )
    for k in range(1, int(params.get("seeds") or 1)):  # the seed runs a chapter averages over
        for up in book.SEEDED:
            f = artifact_dir(root, profile, up, k) / "metrics.json"
            if not f.exists():
                raise UpstreamMissingError(
                    f"{chapter} with seeds={params['seeds']} needs seed {k}'s run of chapter "
                    f"{up}, but {f} does not exist. Run it first: make book PROFILE={profile} "
                    f"SEEDS={params['seeds']}")


def _shell_word(text: str) -> str:
    return shlex.quote(text)
