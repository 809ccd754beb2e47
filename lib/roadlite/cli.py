"""The ``roadlite`` command: the pipeline, the benchmarks and the dataset downloads.

    roadlite run 03_eca --profile default epochs=5    # = python -m roadlite.pipeline run ...
    roadlite params 03_eca --profile smoke > p.yaml   # one chapter's parameters, for papermill -f
                                                      # (the profile with what it extends)
    roadlite stage-book --profile default
    roadlite bench                                    # = make bench
    roadlite latency FILE.tflite --threads 1          # LiteRT latency of any .tflite file
    roadlite download --list | NAME [DEST] | --all    # needs internet
    roadlite inspect PHOTO_OR_FOLDER --out DIR [--artifacts A] [--profile P]   # chapter 12
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd in ("run", "params", "stage-book", "chapters"):
        from roadlite.pipeline import main as pipeline_main

        return pipeline_main([cmd, *rest])
    if cmd == "bench":
        from roadlite.training_speed import main as bench_main

        return bench_main(rest)
    if cmd == "latency":
        from roadlite.latency import main as latency_main

        return latency_main(rest)
    if cmd == "download":
        from roadlite.data.download import main as download_main

        return download_main(rest)
    if cmd == "inspect":
        from roadlite.field.command import main as inspect_main

        return inspect_main(rest)
    print(f"roadlite: unknown command {cmd!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
