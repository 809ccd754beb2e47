"""A chapter run's bookkeeping that every notebook repeats (book introduction; chapter
01_dataset uses each helper first).

* :func:`outputs_written` lists the files a run wrote, for the notebook's "Outputs written"
  section;
* :func:`glue_number` glues a number for the prose (myst-nb ``glue``) and glues ``"n/a"`` where
  the run has no number (None or NaN), so a page never shows ``nan %``;
* :func:`glue_lookup` glues a number found along a path of keys in a run's record, NaN where the
  run did not make it (chapter 10_crack_classifier's optional measures).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from numbers import Real
from pathlib import Path
from typing import Any

__all__ = ["glue_lookup", "glue_number", "outputs_written"]


def outputs_written(run_dir: Any, skip: Iterable[str] = (), top_level: bool = False) -> list[str]:
    """The outputs of a run, sorted, as paths relative to its folder (chapter 01_dataset).

    ``run_dir`` is the run's folder or the run itself (a :class:`roadlite.artifacts.Run`, whose
    ``dir`` is taken). Every file below the folder is listed, except those inside a folder named
    in ``skip`` (e.g. ``("checkpoints",)``). ``top_level=True`` lists the folder's own entries
    (files and folders) instead."""
    if not isinstance(run_dir, (str, os.PathLike)) and not hasattr(run_dir, "dir"):
        raise TypeError(f"run_dir must be a folder or a Run, not {type(run_dir).__name__}")
    folder = Path(getattr(run_dir, "dir", run_dir))
    if not folder.is_dir():
        raise FileNotFoundError(f"run_dir {folder} is not a folder")
    skip = set([skip] if isinstance(skip, str) else skip)
    if top_level:
        return sorted(str(p.relative_to(folder)) for p in folder.iterdir() if p.name not in skip)
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and not skip.intersection(p.relative_to(folder).parts[:-1]))


def glue_number(name: str, value: Any, scale: float = 1.0, fmt: str | None = None,
                missing: str = "n/a") -> float | str:
    """Glue ``scale * value`` under ``name`` for the prose of a chapter (chapter 01_dataset)
    and return what was glued.

    ``fmt`` (a format spec such as ``".1f"``) glues the formatted text; without it the number
    is glued as a float (the prose formats it: ``{glue:text}`name:.1f```). A value that is None
    or not finite glues ``missing`` instead. ``glue`` is myst-nb's, with ``display=False``."""
    from myst_nb import glue

    if value is not None and not isinstance(value, Real):
        raise TypeError(f"glue_number({name!r}): value must be a number or None, "
                        f"not {type(value).__name__}")
    if value is None or not math.isfinite(float(value)):
        glued: float | str = missing
    else:
        number = float(scale * value)
        glued = format(number, fmt) if fmt is not None else number
    glue(name, glued, display=False)
    return glued


def _lookup(value: Any, keys: tuple) -> Any:
    for key in keys:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise TypeError(f"glue_lookup: cannot look up {key!r} in a {type(value).__name__}")
        value = value.get(key)
    return value


def glue_lookup(name: str, value: Any, *keys: Any, scale: float = 1.0,
                glue: Callable[..., Any] | None = None) -> float:
    """Glue ``scale * float(value[keys[0]][keys[1]]...)`` under ``name`` (myst-nb's ``glue``,
    not displayed) and return it; NaN when ``value`` or a key along the way is missing (None or
    absent) -- chapter 10_crack_classifier's measures that a run may not make.

    ``glue`` replaces myst-nb's function (for tests).
    """
    found = _lookup(value, keys)
    number = math.nan if found is None else scale * float(found)
    if glue is None:
        from myst_nb import glue
    glue(name, number, display=False)
    return number
