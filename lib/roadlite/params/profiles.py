"""Profiles: ``params/<profile>.yaml`` files, each an overlay on the profile it extends.

``params/default.yaml`` holds every parameter's default once: a ``shared`` section (values for
every chapter that has the parameter) and one section per chapter. Another profile starts with
``extends: <profile>`` and lists only what differs; its sections are laid over those of the
profile it extends, key by key (a list is replaced, not merged). A chapter then gets::

    shared (the parameters it has) + its own section + overrides (command line, papermill)

so a chapter section wins over ``shared`` in the same merged profile. A profile without
``extends`` stands alone and must set everything.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from roadlite.paths import repo_root

from .checks import check_data, check_together
from .schema import (
    CHAPTER_PARAMS,
    CHAPTERS,
    SHARED,
    ParameterError,
    check_value,
    profile_name_problem,
    schema,
)

BASE_PROFILE = "default"
EXTENDS = "extends"


@dataclass(frozen=True)
class ProfileFile:
    """One profile file as written: the profile it extends (or None) and its sections."""

    name: str
    path: Path
    extends: str | None
    sections: dict[str, dict[str, Any]]

    def entries(self) -> list[tuple[str, str]]:
        """Its (section, name) entries in file order."""
        return [(s, k) for s, body in self.sections.items() for k in body]


def _params_dir(root: Path | None) -> Path:
    return Path(root if root is not None else repo_root()) / "params"


def known_profiles(root: Path | None = None) -> list[str]:
    """The profiles in ``params/``."""
    return sorted(p.stem for p in _params_dir(root).glob("*.yaml"))


def profile_path(profile: str, root: Path | None = None) -> Path:
    """``params/<profile>.yaml``; a name that is not a plain name is a :class:`ParameterError`
    (it would name a file outside ``params/`` and a folder outside the artifacts root)."""
    problem = profile_name_problem(profile)
    if problem:
        raise ParameterError(f"profile {profile!r} {problem}")
    return _params_dir(root) / f"{profile}.yaml"


def _did_you_mean(name: Any, known: Any) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _check_names(path: Path, section: str, body: Mapping[str, Any]) -> None:
    if section == "shared":
        everywhere = set(SHARED).union(*CHAPTER_PARAMS.values())
        for name in body:
            if name not in everywhere:
                raise ParameterError(f"{path}: shared parameter {name!r} belongs to no "
                                     f"chapter.{_did_you_mean(name, everywhere)}")
        return
    known = schema(section)
    for name in body:
        if name not in known:
            raise ParameterError(f"{path}: section {section}: unknown parameter {name!r}."
                                 f"{_did_you_mean(name, known)} "
                                 f"Known parameters: {', '.join(sorted(known))}.")


def read_profile_file(profile: str, root: Path | None = None) -> ProfileFile:
    """Read and check the structure of ``params/<profile>.yaml`` (not what it extends)."""
    path = profile_path(profile, root)
    if not path.is_file():
        raise ParameterError(f"no profile {profile!r}: {path} does not exist "
                             f"(known: {known_profiles(root)})")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise ParameterError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected a mapping of sections")
    extends = data.pop(EXTENDS, None)
    if extends is not None:
        problem = profile_name_problem(extends)
        if problem:
            raise ParameterError(f"{path}: {EXTENDS}: {extends!r} {problem}")
    sections: dict[str, dict[str, Any]] = {}
    for section, body in data.items():
        if section != "shared" and section not in CHAPTER_PARAMS:
            raise ParameterError(f"{path}: unknown section {section!r} (expected {EXTENDS!r}, "
                                 f"'shared' or one of {list(CHAPTERS)})")
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise ParameterError(f"{path}: section {section!r} must be a mapping of "
                                 f"name: value, not {type(body).__name__}")
        _check_names(path, section, body)
        sections[section] = dict(body)
    return ProfileFile(profile, path, extends, sections)


def profile_files(profile: str, root: Path | None = None) -> list[ProfileFile]:
    """``params/<profile>.yaml`` and the files it extends, the profile's own first."""
    chain: list[ProfileFile] = []
    name: str | None = profile
    while name is not None:
        names = [f.name for f in chain]
        if name in names:
            raise ParameterError(f"{chain[-1].path}: {EXTENDS}: {name!r} makes a cycle "
                                 f"({' -> '.join([*names, name])})")
        if chain and not profile_path(name, root).is_file():
            raise ParameterError(f"{chain[-1].path} extends {name!r}, but "
                                 f"{profile_path(name, root)} does not exist "
                                 f"(known: {known_profiles(root)})")
        chain.append(read_profile_file(name, root))
        name = chain[-1].extends
    return chain


def merge_sections(base: Mapping[str, Mapping[str, Any]],
                   overlay: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``overlay``'s sections laid over ``base``'s, key by key (new dicts; inputs unchanged)."""
    out = {s: dict(body) for s, body in base.items()}
    for s, body in overlay.items():
        out.setdefault(s, {}).update(body)
    return out


def _merged(files: list[ProfileFile]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for f in reversed(files):
        out = merge_sections(out, f.sections)
    return out


def load_profile(profile: str, root: Path | None = None) -> dict[str, dict[str, Any]]:
    """The sections of ``params/<profile>.yaml`` with what it extends applied: ``shared`` and
    one section per chapter, each a mapping of name: value."""
    return _merged(profile_files(profile, root))


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``name=value`` (``EPOCHS=5`` too: names are lower-cased; values read as YAML)."""
    if "=" not in text:
        raise ParameterError(f"override {text!r} is not of the form name=value")
    name, raw = text.split("=", 1)
    value = yaml.safe_load(raw) if raw != "" else None
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 (and nan) as a string; papermill, a float
        try:
            value = float(value)
        except ValueError:
            pass
    return name.strip().lower(), value


def chapter_values(chapter: str, sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What a profile's (merged) sections give ``chapter``, unchecked: ``shared`` (the
    parameters the chapter has) and then the chapter's own section."""
    known = schema(chapter)
    shared = {k: v for k, v in (sections.get("shared") or {}).items() if k in known}
    return {**shared, **(sections.get(chapter) or {})}


def _where(files: list[ProfileFile], chapter: str, name: str) -> str | None:
    """The file (and section) that gives ``chapter`` its value of ``name``."""
    for section in (chapter, "shared"):
        for f in files:
            if name in f.sections.get(section, {}):
                return f"{f.path}, section {section}"
    return None


def resolve_sections(chapter: str, profile: str, sections: Mapping[str, Mapping[str, Any]],
                     overrides: Mapping[str, Any] | None = None,
                     artifacts_root: str | None = None, data: bool = True,
                     files: list[ProfileFile] | None = None) -> dict[str, Any]:
    """:func:`resolve_params` from a profile's merged sections already read. With ``data``,
    the checks that read the data folders run too (:func:`roadlite.params.checks.check_data`);
    with ``files`` (:func:`profile_files`), a bad value from a file names the file."""
    merged = chapter_values(chapter, sections)
    merged["profile"] = profile
    if artifacts_root is not None:
        merged["artifacts_root"] = artifacts_root
    merged.setdefault("artifacts_root", os.environ.get("ROADLITE_ARTIFACTS", "artifacts"))
    for k, v in (overrides or {}).items():
        merged[k] = v
    for k in merged:
        try:
            merged[k] = check_value(chapter, k, merged[k])
        except ParameterError as e:
            where = None if k in (overrides or {}) else _where(files or [], chapter, k)
            if where is None:
                raise
            raise ParameterError(f"{e} It is set in {where}.") from None
    missing = [n for n in schema(chapter) if n not in merged]
    if missing:
        raise ParameterError(f"profile {profile!r}, chapter {chapter}: not set: {missing}")
    check_together(chapter, merged)
    if data:
        check_data(chapter, merged)
    return merged


def resolve_params(chapter: str, profile: str, overrides: Mapping[str, Any] | None = None,
                   artifacts_root: str | None = None, root: Path | None = None) -> dict[str, Any]:
    """Merge the profile (with what it extends) for ``chapter`` + overrides, and check them:
    each value (:func:`roadlite.params.schema.check_value`), then the values together and
    against the data folders they name (:mod:`roadlite.params.checks`).

    Overrides for names the chapter does not have are an error, so that a typo never passes
    silently; the pipeline drops overrides meant for other chapters before calling this.
    """
    files = profile_files(profile, root)
    return resolve_sections(chapter, profile, _merged(files), overrides, artifacts_root,
                            files=files)


def _normalized(chapter: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as the check leaves them (an int where a float is due becomes a float), so that
    ``1`` and ``1.0`` compare as the same resolved value."""
    known = schema(chapter)
    out = {}
    for k, v in values.items():
        p = known.get(k)
        widen = (p is not None and p.type is float and isinstance(v, int)
                 and not isinstance(v, bool))
        out[k] = float(v) if widen else v
    return out


def _typed(values: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    return {k: (type(v).__name__, v) for k, v in values.items()}


def redundant_entries(profile: str, root: Path | None = None) -> list[tuple[str, str]]:
    """The (section, name) entries of ``params/<profile>.yaml`` that change no chapter's value:
    without the entry every chapter resolves to the same values (type included). Empty for a
    profile that extends nothing."""
    files = profile_files(profile, root)
    if len(files) == 1:
        return []
    parent, own = _merged(files[1:]), files[0].sections

    def resolved(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, dict]:
        return {c: _typed(_normalized(c, chapter_values(c, sections))) for c in CHAPTERS}

    full = resolved(merge_sections(parent, own))
    out = []
    for section, name in files[0].entries():
        without = {s: {k: v for k, v in body.items() if (s, k) != (section, name)}
                   for s, body in own.items()}
        if resolved(merge_sections(parent, without)) == full:
            out.append((section, name))
    return out
