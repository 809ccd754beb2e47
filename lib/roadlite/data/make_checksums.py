"""Maintainers' tool: write a data set's per-file checksum list from a verified copy (Chapter 01).

    python -m roadlite.data.make_checksums NAME FOLDER
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .catalogue import DATASETS
from .checksums import MANIFEST_DIR, checksum_file, compute_checksums, format_checksums


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m roadlite.data.make_checksums NAME FOLDER``: rewrite ``manifests/NAME.sha256``
    from a verified copy, with the file patterns of the data set's registry entry."""
    ap = argparse.ArgumentParser(prog="python -m roadlite.data.make_checksums")
    ap.add_argument("name", choices=sorted(n for n, d in DATASETS.items() if d.files))
    ap.add_argument("folder")
    args = ap.parse_args(list(argv) if argv is not None else None)
    info = DATASETS[args.name]
    entries = compute_checksums(args.folder, info.files, info.pixel_files)
    if not entries:
        print(f"no files matching {info.files} under {args.folder}", file=sys.stderr)
        return 1
    header = (f"{args.name}: per-file SHA-256 ('pixels:' = of the decoded image), "
              f"{len(entries)} files.\nFormat: sha256sum; see roadlite/data/checksums.py.")
    MANIFEST_DIR.mkdir(exist_ok=True)
    checksum_file(args.name).write_text(format_checksums(entries, header), encoding="utf-8")
    print(f"{checksum_file(args.name)}: {len(entries)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
