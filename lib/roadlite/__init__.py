"""RoadLite: the helper package of the RoadLite study book.

Every chapter notebook imports its logic from here; each helper's docstring names the chapter
that teaches it.
"""

__version__ = "0.1.0"
