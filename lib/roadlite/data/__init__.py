"""The data layer of the book (Chapter 01_dataset): generated and real data, manifests,
validation, in-memory loading, the catalogue of real sets and downloads.

The names below are imported lazily (on first use), so that ``import roadlite.data.synthetic``
does not pull in torch. ``roadlite.data.download`` is the download *module* (its function is
``roadlite.data.download.download``), so that ``python -m roadlite.data.download`` works.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "crack_mask_set": "real",
    "ChecksumError": "download",
    "DATASETS": "catalogue",
    "DatasetInfo": "catalogue",
    "DownloadError": "download",
    "default_dest": "download",
    "UnsafeArchiveError": "download",
    "fetch_dataset": "download",
    "safe_extract": "download",
    "DataNotFoundError": "locate",
    "resolve_data_root": "locate",
    "check_files": "checksums",
    "compute_checksums": "checksums",
    "load_checksums": "checksums",
    "pixel_sha256": "checksums",
    "verify_files": "checksums",
    "IMAGENET_MEAN": "loading",
    "IMAGENET_STD": "loading",
    "denormalize": "loading",
    "load_split": "loading",
    "normalize": "loading",
    "COLUMNS": "manifest",
    "empty_manifest": "manifest",
    "read_manifest": "manifest",
    "sha256_file": "manifest",
    "write_manifest": "manifest",
    "KNOWN_LAYOUTS": "real",
    "MOBILITENET_CLASS_MAP": "real",
    "OZGENEL_CLASS_MAP": "real",
    "detect_layout": "real",
    "list_images": "real",
    "prepare_cfd_masks": "real",
    "scan_cfd": "real",
    "scan_dataset": "real",
    "scan_deepcrack": "real",
    "scan_imagefolder": "real",
    "scan_ozgenel": "real",
    "split_by_seed": "real",
    "pixel_key": "real",
    "CLASSES_4": "synthetic",
    "CLASSES_5": "synthetic",
    "CLASSES_BINARY": "synthetic",
    "CONDITIONS": "synthetic",
    "CRACK_TYPES": "synthetic",
    "MASK_MEANING": "synthetic",
    "Sample": "synthetic",
    "generate_dataset": "synthetic",
    "generate_sample": "synthetic",
    "sample_seed": "synthetic",
    "DataError": "validate",
    "validate_manifest": "validate",
    "write_report": "validate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
