"""The data layer's error (Chapter 01_dataset).

:class:`DataError` is defined in :mod:`roadlite.imaging` (the bottom layer, where the book's one
image and mask reader raises it) and is the same class here.
"""

from __future__ import annotations

from roadlite.imaging import DataError

__all__ = ["DataError"]
