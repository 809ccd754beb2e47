"""Run bookkeeping that several chapter notebooks repeat.

* :func:`output_files` -- the list of files a run wrote, shown at the end of chapters 07-12
  (the "Outputs written" section);
* :func:`glue_number` -- a number glued into the prose that may be missing in this run (no test
  masks, no patch set, no export): chapter 10_crack_classifier glues NaN instead of failing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["glue_number", "output_files"]


def output_files(run_dir: str | os.PathLike, exclude: Iterable[str] = ()) -> list[str]:
    """The files under ``run_dir``, as sorted paths relative to it (chapters 07_quantization to
    12_field_test end with this list).

    A file is left out when one of its path parts (a folder name) is in ``exclude``: chapter
    10_crack_classifier leaves out ``checkpoints``.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"output_files: run folder {root} does not exist")
    skip = set(exclude)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and not skip.intersection(p.relative_to(root).parts))


def _lookup(value: Any, keys: tuple) -> Any:
    for key in keys:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise TypeError(f"glue_number: cannot look up {key!r} in a {type(value).__name__}")
        value = value.get(key)
    return value


def glue_number(name: str, value: Any, *keys: Any, scale: float = 1.0,
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
