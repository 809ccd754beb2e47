"""``roadlite inspect PHOTO_OR_FOLDER --out DIR``: the road inspector on a user's photos, with
the models of a finished run (Chapter 12_field_test).

Writes ``DIR/report.html`` (each photo with its crack mask overlaid, the measurements, the time
of each stage) and ``DIR/measurements.csv``; a line per photo on the console. A file that is not
an image, a folder without images or a model that has not been made is a one-line error (exit
status 2); the last names the ``make`` command that makes the model.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from roadlite.upstream import Upstream

from .data import PhotoError, load_user_photos, user_photos
from .pipeline import MissingModelError, inspect_photos, load_models
from .report import write_report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="roadlite inspect", description=__doc__.split("\n\n")[0])
    p.add_argument("path", help="a photo, or a folder of photos (not recursive)")
    p.add_argument("--out", required=True, help="folder for report.html and measurements.csv")
    p.add_argument("--artifacts", default=None,
                   help="the run's artifacts folder (default: the checkout's artifacts/, or "
                        "$ROADLITE_ARTIFACTS)")
    p.add_argument("--profile", default="default", help="the run's profile (default: default)")
    p.add_argument("--overlap", type=int, default=16, help="pixels shared by neighbouring tiles")
    p.add_argument("--gate-threshold", type=float, default=0.5,
                   help="classifier probability from which a tile is segmented")
    p.add_argument("--mm-per-pixel", type=float, default=None,
                   help="pixel size on the road (mm), for millimetres in the report")
    p.add_argument("--min-crack-pixels", type=int, default=20,
                   help="regions smaller than this are specks, not cracks")
    p.add_argument("--max-side", type=int, default=None,
                   help="scale photos whose longer side is longer down to this many pixels "
                        "first (the models saw cracks a few pixels wide; --mm-per-pixel stays "
                        "the original photo's)")
    p.add_argument("--no-type", action="store_true", help="skip Model 5 (the distress type)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        files = user_photos(args.path)
        if args.artifacts is not None:
            root = str(Path(args.artifacts).resolve())
        else:
            root = os.environ.get("ROADLITE_ARTIFACTS", "artifacts")
        models = load_models(Upstream.at(root, args.profile), with_type=not args.no_type)
        if not 0 <= args.overlap < models.segmenter.size:
            raise PhotoError(f"--overlap {args.overlap} must lie in [0, "
                             f"{models.segmenter.size}) (the segmenter's input size)")
        print(f"inspecting {len(files)} photo(s) with the {args.profile!r} run's models "
              f"({models.segmenter.size} px tiles, overlap {args.overlap})", flush=True)
        results = inspect_photos(list(load_user_photos(files)), models, progress=True,
                                 overlap=args.overlap, gate_threshold=args.gate_threshold,
                                 compare_all=False, mm_per_pixel=args.mm_per_pixel,
                                 min_crack_pixels=args.min_crack_pixels,
                                 max_side=args.max_side)
        html_path, csv_path = write_report(results, args.out, models.labels(),
                                           args.mm_per_pixel)
    except (PhotoError, MissingModelError) as e:
        print(f"roadlite inspect: error: {e}", file=sys.stderr)
        return 2
    print(f"report: {html_path}\nmeasurements: {csv_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
