"""The data layer's error (Chapter 01_dataset)."""

from __future__ import annotations


class DataError(ValueError):
    """A problem with the data: a bad file, a leak between splits, an unknown layout.

    Chapter 01_dataset. The message always names the file, folder or class concerned.
    """
