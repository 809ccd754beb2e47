"""Latency of one image end to end: preprocessing, inference, result (Chapter 08_benchmark).

MobiLiteNet reports the time a phone needs per image from the photo to the answer. The book
measures the same pipeline on the host CPU with :mod:`roadlite.measure` (the three timed stages
preprocess, inference, postprocess, and the timer; chapters 10 and 11 use it too; this module
hands its names on).

This module adds the benchmark matrix (every model, runtime and thread count:
:func:`benchmark_matrix`, :func:`matrix_table`, :func:`time_reductions`, :func:`cost_table`),
the command line, and the machine: :func:`peak_matmul_gflops` gives the machine's dense
float32 matrix-multiply rate, an upper bound for what any network can reach on it (time >= 2 *
MACs / peak), and :func:`environment_info` records what the numbers depend on (CPU, ISA
extensions, thread counts, library versions).

Command line (any ``.tflite`` file; random images of the model's input size unless ``--image``)::

    python -m roadlite.latency model.tflite --threads 1 --runs 50 --warmup 10 --json out.json
    roadlite latency model.tflite --image photo.jpg
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from roadlite.artifacts import atomic_write_json, cpu_info
from roadlite.export import TFLiteModelError
from roadlite.measure import (
    STAGES,
    LatencyStats,
    TFLiteFileNotFoundError,
    benchmark_tflite,
    benchmark_torch,
    decode_image,
    input_layout,
    load_tflite,
    postprocess,
    preprocess,
    random_images,
    time_callable,
)

__all__ = [
    "MATRIX_COLUMNS",
    "RUNTIMES",
    "STAGES",
    "LatencyStats",
    "TFLiteFileNotFoundError",
    "benchmark_matrix",
    "benchmark_tflite",
    "benchmark_torch",
    "cost_table",
    "decode_image",
    "environment_info",
    "format_table",
    "load_tflite",
    "main",
    "matrix_table",
    "median_ms",
    "peak_bound_ms",
    "peak_matmul_gflops",
    "postprocess",
    "preprocess",
    "random_images",
    "time_callable",
    "time_reductions",
]

ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16")


# --------------------------------------------------------------------------- the machine


def peak_matmul_gflops(num_threads: int, n: int = 1024, runs: int = 10) -> float:
    """Dense float32 matmul rate of this CPU in GFLOP/s (Chapter 08_benchmark).

    Times ``runs`` products of two n x n float32 matrices in torch (after two warm-up products)
    with ``torch.set_num_threads(num_threads)``, and returns 2 n^3 / (fastest time) / 1e9: the
    practical peak of dense math here (torch's previous thread count is restored). A network of M
    multiply-accumulates needs at least 2 M / peak seconds, so the ratio says how far a model's
    latency is from the CPU's limit (small, depthwise-heavy networks are far from it: memory-bound).
    """
    import torch

    if n < 1 or runs < 1:
        raise ValueError(f"n and runs must be >= 1, got n={n}, runs={runs}")
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(num_threads)
        g = torch.Generator().manual_seed(0)
        a = torch.randn(n, n, generator=g)
        b = torch.randn(n, n, generator=g)
        out = torch.empty(n, n)
        for _ in range(2):
            torch.mm(a, b, out=out)
        best = min(_timed_ns(lambda: torch.mm(a, b, out=out)) for _ in range(runs))
    finally:
        torch.set_num_threads(previous)
    return 2.0 * n**3 / max(best, 1)  # FLOP / ns = GFLOP / s


def _timed_ns(fn: Callable[[], Any]) -> int:
    t0 = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t0


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment_info() -> dict[str, Any]:
    """What a latency figure depends on (Chapter 08_benchmark).

    CPU model, logical cores (and those this process may use), the ISA extensions that matter for
    inference kernels (``isa``: AVX2, AVX-512, VNNI, BF16, AMX flags from ``/proc/cpuinfo``;
    empty where that file does not exist), torch's version, thread count and the CPU code path
    it picked (``torch_cpu_capability``), and the versions of ai-edge-litert, litert-torch and
    numpy, plus the 1-minute load average at the time of the call.
    """
    import torch

    cpu, flags = cpu_info()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        capability = None
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    return {
        "cpu": cpu or platform.processor() or platform.machine(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "isa": {f: f in flags for f in ISA_FLAGS},
        "torch": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "torch_cpu_capability": capability,
        "ai_edge_litert": _version("ai-edge-litert"),
        "litert_torch": _version("litert-torch"),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_1min": load,
    }


# --------------------------------------------------------------------------- the benchmark matrix

RUNTIMES = {"litert": "LiteRT", "torch": "PyTorch"}  # runtime -> the name the tables use
# The benchmark table's columns: (column, stage, statistic of LatencyStats).
MATRIX_COLUMNS = (("end-to-end median (ms)", "end_to_end", "median_ms"),
                  ("end-to-end IQR (ms)", "end_to_end", "iqr_ms"),
                  ("inference median (ms)", "inference", "median_ms"),
                  ("inference IQR (ms)", "inference", "iqr_ms"),
                  ("preprocess median (ms)", "preprocess", "median_ms"))
_STAGE_COLUMNS = {"end_to_end": "end-to-end median (ms)", "inference": "inference median (ms)",
                  "preprocess": "preprocess median (ms)"}


def benchmark_matrix(tflite_files: Mapping[str, str | os.PathLike], torch_models: Mapping[str, Any],
                     image_bytes: Sequence[bytes], threads: Sequence[int], *, warmup: int = 10,
                     runs: int = 50, img_size: int | Sequence[int],
                     labels: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every model in every runtime at every thread count (Chapter 08_benchmark).

    ``tflite_files`` maps a model key to its ``.tflite`` file (timed by :func:`benchmark_tflite`),
    ``torch_models`` a key to its PyTorch model (:func:`benchmark_torch`); each runs at each
    of ``threads``, LiteRT files first, in the order given. Returns one row per measurement:
    ``{"model", "runtime" ("LiteRT" or "PyTorch"), "threads", "result"}``, ``result`` being the
    benchmark's dict. :func:`matrix_table` makes the table of it.
    """
    rows = []
    for key, path in tflite_files.items():
        for t in threads:
            r = benchmark_tflite(path, image_bytes, num_threads=t, warmup=warmup, runs=runs,
                                 img_size=img_size, labels=labels)
            rows.append({"model": key, "runtime": RUNTIMES["litert"], "threads": t, "result": r})
    for key, model in torch_models.items():
        for t in threads:
            r = benchmark_torch(model, img_size, image_bytes, num_threads=t, warmup=warmup,
                                runs=runs, labels=labels)
            rows.append({"model": key, "runtime": RUNTIMES["torch"], "threads": t, "result": r})
    return rows


def matrix_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The rows of :func:`benchmark_matrix` as a table (Chapter 08_benchmark): model, runtime,
    threads, then the medians and IQRs of :data:`MATRIX_COLUMNS` in milliseconds."""
    return pd.DataFrame([{"model": r["model"], "runtime": r["runtime"], "threads": r["threads"],
                          **{col: getattr(r["result"][stage], stat)
                             for col, stage, stat in MATRIX_COLUMNS}} for r in rows])


def median_ms(table: pd.DataFrame, model: str, runtime: str, threads: int,
              stage: str = "end_to_end") -> float:
    """One median of :func:`matrix_table`'s table: ``model`` in ``runtime`` at ``threads``
    threads, for ``stage`` ("end_to_end", "inference" or "preprocess") (Chapter 08_benchmark)."""
    sel = table[(table.model == model) & (table.runtime == runtime) & (table.threads == threads)]
    if sel.empty:
        raise KeyError(f"no measurement of {model!r} in {runtime} at {threads} thread(s)")
    return float(sel[_STAGE_COLUMNS[stage]].iloc[0])


def time_reductions(table: pd.DataFrame, threads: Sequence[int], final: str = "model5_int8",
                    references: Mapping[str, str] | None = None, runtime: str = "LiteRT"
                    ) -> dict[str, dict[str, float]]:
    """How much less end-to-end time ``final`` takes than each reference model, in % (Chapter
    08_benchmark): 100 (1 - t(final) / t(reference)).

    ``references`` maps a name to a model key (default: MobileNetV2 and ResNet, as the paper
    compares). One row per thread count in ``runtime`` (``"<runtime>, <t> thread(s)"``), each
    ``{"vs <name> (%)": reduction}``; :func:`roadlite.paper_vs_run.time_reductions_vs_paper`
    adds the paper's rows.
    """
    references = references or {"MobileNetV2": "mobilenet_v2", "ResNet": "resnet18"}
    out: dict[str, dict[str, float]] = {}
    for t in threads:
        mine = median_ms(table, final, runtime, t)
        out[f"{runtime}, {t} thread(s)"] = {
            f"vs {name} (%)": 100 * (1 - mine / median_ms(table, ref, runtime, t))
            for name, ref in references.items()}
    return out


def cost_table(table: pd.DataFrame, macs: Mapping[str, float], size_mb: Mapping[str, float],
               peak_gflops: float, runtime: str = "LiteRT", threads: int = 1) -> pd.DataFrame:
    """Latency against cost (Chapter 08_benchmark): the rows of ``runtime`` at ``threads``
    threads, indexed by model, with ``macs`` (MACs per image) and ``size_mb`` (file size) of
    each, the lower bound ``bound (ms)`` = 2 MACs / peak (``peak_gflops``, a dense matmul's
    GFLOP/s: see :func:`peak_matmul_gflops`) and ``share of peak (%)`` = bound / inference
    median."""
    sel = table[(table.runtime == runtime) & (table.threads == threads)].set_index("model")
    sel = sel.assign(macs=[macs[k] for k in sel.index], size_mb=[size_mb[k] for k in sel.index])
    sel["bound (ms)"] = peak_bound_ms(sel["macs"], peak_gflops)
    sel["share of peak (%)"] = 100 * sel["bound (ms)"] / sel["inference median (ms)"]
    return sel


def peak_bound_ms(macs: Any, peak_gflops: float) -> Any:
    """The fastest a network of ``macs`` multiply-accumulates can run at ``peak_gflops``
    (2 FLOPs per MAC), in milliseconds (Chapter 08_benchmark)."""
    return 2 * macs / (peak_gflops * 1e9) * 1e3


# --------------------------------------------------------------------------- reporting


def format_table(result: Mapping[str, Any]) -> str:
    """The four stages of a benchmark result as a fixed-width text table (Chapter 08_benchmark)."""
    head = f"{'stage':<12} {'median':>9} {'q1':>9} {'q3':>9} {'iqr':>9} {'min':>9} {'mean':>9}  n"
    lines = [head + "   (ms)", "-" * (len(head) + 5)]
    for stage in STAGES:
        s = result[stage]
        if isinstance(s, Mapping):
            s = LatencyStats(**s)
        lines.append(f"{stage:<12} {s.median_ms:9.3f} {s.q1_ms:9.3f} {s.q3_ms:9.3f} "
                     f"{s.iqr_ms:9.3f} {s.min_ms:9.3f} {s.mean_ms:9.3f}  {s.n_runs}")
    return "\n".join(lines)


def _at_least(lo: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="roadlite latency",
        description="End-to-end latency (preprocess + inference + postprocess) of a .tflite "
                    "image classifier in the LiteRT interpreter (Chapter 08_benchmark).")
    p.add_argument("model", help="path to a .tflite file with input (1,3,H,W) or (1,H,W,3)")
    p.add_argument("--threads", type=_at_least(1), default=1, help="interpreter threads (default 1)")
    p.add_argument("--runs", type=_at_least(1), default=50, help="timed runs (default 50)")
    p.add_argument("--warmup", type=_at_least(0), default=10, help="untimed warm-up runs (default 10)")
    p.add_argument("--image", nargs="+", default=None, metavar="IMG",
                   help="PNG/JPEG files to use in turn (default: random images of the "
                        "model's input size)")
    p.add_argument("--n-random", type=_at_least(1), default=4,
                   help="number of random images when no --image is given (default 4)")
    p.add_argument("--labels", nargs="+", default=None, help="class names, one per output")
    p.add_argument("--json", default=None, metavar="OUT",
                   help="also write the result and the environment to this JSON file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m roadlite.latency`` / ``roadlite latency`` (Chapter 08_benchmark)."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        model = load_tflite(args.model, num_threads=args.threads)
        _, h, w = input_layout(model.input_shape)
        del model
        if args.image:
            images = [Path(f).read_bytes() for f in args.image]
        else:
            images = random_images(h, w, n=args.n_random)
        result = benchmark_tflite(args.model, images, num_threads=args.threads,
                                  warmup=args.warmup, runs=args.runs, labels=args.labels)
    except (TFLiteModelError, OSError, ValueError, TypeError) as exc:
        print(f"roadlite latency: error: {exc}", file=sys.stderr)
        return 1
    env = environment_info()
    src = ", ".join(args.image) if args.image else f"{len(images)} random images"
    print(f"{result['path']}: input {tuple(result['input_shape'])} {result['input_dtype']}, "
          f"{result['size_bytes'] / 1e6:.3f} MB, {args.threads} thread(s), images: {src}")
    print(f"CPU: {env['cpu']} ({env['usable_cores']} usable cores), "
          f"ai-edge-litert {env['ai_edge_litert']}")
    print(format_table(result))
    if args.json:


        atomic_write_json(args.json, {"result": result, "environment": env,
                                      "images": args.image or f"random:{len(images)}"})
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
