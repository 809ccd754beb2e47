"""The three papers' models as one road inspector on whole photos (Chapter 12_field_test).

* :mod:`.data` -- whole photos: generated ones (several distresses, masks and types known),
  DeepCrack's / CFD's full-size test photos, a user's files;
* :mod:`.tiling` -- tiles at the models' input size with an overlap, stitched back;
* :mod:`.measure` -- crack length (skeleton), width (distance transform), area share, count;
* :mod:`.pipeline` -- chapter 10's classifier as a gate, chapter 11's student, Model 5 for the
  type, each stage timed on one thread;
* :mod:`.report` -- the HTML report and the CSV (``roadlite inspect``);
* :mod:`.figures` -- the chapter's figures.
"""

from .data import (
    Photo,
    PhotoError,
    folder_photos,
    generate_photo,
    generated_photos,
    type_photos,
    user_photos,
)
from .measure import measure_mask, skeletonize
from .pipeline import (
    Inspection,
    MissingModelError,
    Models,
    TileModel,
    classify_types,
    headline_numbers,
    inspect_photo,
    inspect_photos,
    load_models,
    summarize,
)
from .report import write_report
from .tiling import Grid, cut_tiles, stitch, tile_grid

__all__ = ["Grid", "Inspection", "MissingModelError", "Models", "Photo", "PhotoError",
           "TileModel", "classify_types", "cut_tiles", "folder_photos", "generate_photo", "generated_photos", "headline_numbers",
           "inspect_photo", "inspect_photos", "load_models", "measure_mask", "skeletonize",
           "stitch", "summarize", "tile_grid", "type_photos", "user_photos", "write_report"]
