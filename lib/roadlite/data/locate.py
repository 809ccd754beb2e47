"""Where a real data set lives: ``data/<name>``, else the shared reference copy (Chapter 01).

A profile names a real data set as ``data_root: data/<name>`` (``params/demo.yaml``:
``data/mobilitenet-demo``). :func:`resolve_data_root` finds it:

1. the path itself (relative to the repository root) when it is a folder: a user's download
   (``roadlite download NAME`` / ``make data``) or any folder they point at;
2. for ``data/<name>`` (or a bare ``<name>``) of a registered data set that is not there: the
   read-only reference copy ``../shared/data/<folder>`` beside the checkout (CI has it);
3. otherwise a :class:`DataNotFoundError` that says which command fetches it.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

from roadlite.paths import repo_root

from .catalogue import DATASETS
from .validate import DataError


class DataNotFoundError(DataError):
    """A data set named by ``data_root`` is neither downloaded nor in ``../shared/data``."""


def _registered(name: str):
    for info in DATASETS.values():
        if name in (info.name, info.shared_folder):
            return info
    return None


def resolve_data_root(value: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """The folder a ``data_root`` value names (see the module's docstring).

    ``root`` is the repository root (default: :func:`roadlite.paths.repo_root`); the shared
    copies are looked for in ``<root>/../shared/data``. Returns an absolute path.
    """
    if root is None:
        root = repo_root()
    root = Path(root).resolve()
    text = os.fspath(value)
    given = Path(text).expanduser()
    path = given if given.is_absolute() else root / given
    if path.is_dir():
        return path.resolve()
    parts = PurePath(text).parts
    named = not given.is_absolute() and (len(parts) == 1 or (len(parts) == 2
                                                             and parts[0] == "data"))
    info = _registered(parts[-1]) if named and parts else None
    if info is None:
        raise DataNotFoundError(f"data_root {text!r}: {path} is not a folder")
    local = root / "data" / info.name
    if local.is_dir():
        return local
    shared = root.parent / "shared" / "data"
    for folder in dict.fromkeys(f for f in (info.shared_folder, info.name) if f):
        if (shared / folder).is_dir():
            return (shared / folder).resolve()
    if info.urls:
        how = (f"run `roadlite download {info.name}` (or `make data`) to fetch it into "
               f"{local}")
    else:
        how = f"it cannot be downloaded automatically: {info.instructions} Put it in {local}"
    raise DataNotFoundError(
        f"data_root {text!r}: data set {info.name!r} is not in {local} nor in "
        f"{shared / (info.shared_folder or info.name)}; {how}"
    )
