"""Where the time goes inside a ``.tflite`` model, operator by operator (Chapter 08_benchmark).

LiteRT's C++ ``benchmark_model`` tool has an op profiler (``--enable_op_profiling``); the
Python interpreter of ``ai-edge-litert`` exposes none. This module gets the same kind of table
another way: it cuts the model's flatbuffer into one single-operator model per operator (the
operator, its tensors and its constant buffers; every non-constant input becomes a model
input), runs each in the same interpreter (XNNPACK, ``num_threads``) on random inputs of the
right shape and type, and times ``invoke``. The sum of the parts is not the whole: a
single-operator model pays the interpreter's per-call overhead once per operator and misses
what the delegate gains across operators (fusions, memory reuse), so the table shows the whole
model's time beside the sum, and its use is to compare operators and models, not to add up
to the millisecond.

:func:`op_profile` gives one row per operator, :func:`op_summary` the total per operator type,
:func:`compare_profiles` several models side by side per operator type (e.g. MobileNetV3 in
float32, in INT8 with the fused ``HARD_SWISH`` and with it written out).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from roadlite.measure import time_callable

__all__ = ["OpModel", "compare_profiles", "hardswish_finding", "op_profile", "op_summary",
           "op_total", "single_op_models"]


@dataclass(frozen=True)
class OpModel:
    """One operator of a ``.tflite`` model as a model of its own (Chapter 08_benchmark)."""

    index: int  # position in the original subgraph's execution order
    op: str  # builtin operator name, e.g. "CONV_2D", "HARD_SWISH"
    inputs: tuple[int, ...]  # original tensor indices of the non-constant inputs
    outputs: tuple[int, ...]  # original tensor indices of the outputs
    output_shape: tuple[int, ...]
    output_dtype: str
    content: bytes  # the single-operator .tflite flatbuffer


def _has_data(buffer) -> bool:
    return buffer is not None and buffer.data is not None and len(buffer.data) > 0


def single_op_models(data: bytes | os.PathLike | str) -> list[OpModel]:
    """One single-operator model per operator of the first subgraph (Chapter 08_benchmark).

    ``data`` is a ``.tflite`` file's bytes or its path. Each model keeps the operator code
    table, the operator with its options, the tensors it reads and writes (shapes, types,
    quantization) and the constant buffers it reads; inputs without data become the model's
    inputs, the operator's outputs its outputs.
    """
    from ai_edge_litert import schema_py_generated as fb
    from ai_edge_litert.tools import flatbuffer_utils as fu

    if not isinstance(data, bytes | bytearray):
        data = Path(data).read_bytes()
    model = fu.read_model_from_bytearray(bytearray(data))
    graph = model.subgraphs[0]
    type_names = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
    out: list[OpModel] = []
    for i, op in enumerate(graph.operators):
        op_inputs = [t for t in op.inputs if t >= 0]
        used = list(dict.fromkeys([*op_inputs, *op.outputs]))
        remap = {t: j for j, t in enumerate(used)}
        buffers, tensors, inputs = [fb.BufferT()], [], []
        for t in used:
            tensor = copy.copy(graph.tensors[t])
            source = model.buffers[tensor.buffer]
            constant = _has_data(source)
            buffers.append(source if constant else fb.BufferT())
            tensor.buffer = len(buffers) - 1
            if not constant and t not in op.outputs:
                inputs.append(t)
            tensors.append(tensor)
        single = copy.copy(op)
        single.inputs = [remap[t] if t >= 0 else -1 for t in op.inputs]
        single.outputs = [remap[t] for t in op.outputs]
        sub = fb.SubGraphT()
        sub.tensors, sub.operators, sub.name = tensors, [single], f"op{i}"
        sub.inputs, sub.outputs = [remap[t] for t in inputs], list(single.outputs)
        m = fb.ModelT()
        m.version, m.operatorCodes, m.description = model.version, model.operatorCodes, "op"
        m.subgraphs, m.buffers = [sub], buffers
        first = graph.tensors[op.outputs[0]]
        out.append(OpModel(
            index=i, op=str(fu.opcode_to_name(model, op.opcodeIndex)), inputs=tuple(inputs),
            outputs=tuple(op.outputs),
            output_shape=tuple(int(v) for v in (first.shape if first.shape is not None else ())),
            output_dtype=type_names.get(first.type, str(first.type)).lower(),
            content=bytes(fu.convert_object_to_bytearray(m))))
    return out


def _random_inputs(interpreter, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for d in interpreter.get_input_details():
        dtype = np.dtype(d["dtype"])
        shape = tuple(int(v) for v in d["shape"])
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            x = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
        else:
            x = rng.standard_normal(shape).astype(dtype)
        interpreter.set_tensor(d["index"], x)


def _interpreter(content: bytes, num_threads: int):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=content, num_threads=num_threads)
    it.allocate_tensors()
    _random_inputs(it)
    return it


def op_profile(path: str | os.PathLike, num_threads: int = 1, warmup: int = 5,
               runs: int = 30) -> pd.DataFrame:
    """Per-operator latency of a ``.tflite`` file in the LiteRT interpreter (Chapter 08_benchmark).

    One row per operator in execution order: ``op`` (type), ``output shape``, ``output dtype``,
    ``median (ms)`` of ``invoke`` of its single-operator model (:func:`single_op_models`; after
    ``warmup`` untimed calls, ``runs`` timed ones) and ``share (%)`` of the sum. ``attrs``:
    ``whole_ms`` (median ``invoke`` of the whole model, same settings), ``sum_ms`` and ``path``.
    """
    path = Path(path)
    data = path.read_bytes()
    rows = []
    for m in single_op_models(data):
        it = _interpreter(m.content, num_threads)
        stats = time_callable(it.invoke, warmup=warmup, runs=runs)
        rows.append({"index": m.index, "op": m.op, "output shape": "x".join(map(str, m.output_shape)),
                     "output dtype": m.output_dtype, "median (ms)": stats.median_ms})
    table = pd.DataFrame(rows, columns=["index", "op", "output shape", "output dtype",
                                        "median (ms)"]).set_index("index")
    total = float(table["median (ms)"].sum())
    table["share (%)"] = 100 * table["median (ms)"] / total if total > 0 else np.nan
    whole = time_callable(_interpreter(data, num_threads).invoke, warmup=warmup, runs=runs)
    table.attrs.update(whole_ms=whole.median_ms, sum_ms=total, path=str(path))
    return table


def op_summary(profile: pd.DataFrame) -> pd.DataFrame:
    """:func:`op_profile`'s rows summed per operator type, slowest first (Chapter 08_benchmark):
    ``count``, ``total (ms)``, ``share (%)`` of the sum and ``per op (ms)``."""
    g = profile.groupby("op")["median (ms)"]
    table = pd.DataFrame({"count": g.size(), "total (ms)": g.sum()})
    total = float(table["total (ms)"].sum())
    table["share (%)"] = 100 * table["total (ms)"] / total if total > 0 else np.nan
    table["per op (ms)"] = table["total (ms)"] / table["count"]
    table = table.sort_values("total (ms)", ascending=False)
    table.attrs.update(profile.attrs)
    return table


def compare_profiles(profiles: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Several models' :func:`op_profile` side by side (Chapter 08_benchmark): one row per
    operator type, one column per model with its total milliseconds (0 where the model has no
    such operator), slowest types first; the last two rows are the sum over operators and the
    whole model's ``invoke``."""
    cols = {name: op_summary(p)["total (ms)"] for name, p in profiles.items()}
    table = pd.DataFrame(cols).fillna(0.0)
    table = table.loc[table.max(axis=1).sort_values(ascending=False).index]
    table.loc["sum over operators"] = [p.attrs["sum_ms"] for p in profiles.values()]
    table.loc["whole model"] = [p.attrs["whole_ms"] for p in profiles.values()]
    return table


def op_total(profile: pd.DataFrame, op: str) -> tuple[int, float]:
    """(number, total milliseconds) of the operators of type ``op`` in an :func:`op_profile`
    (Chapter 08_benchmark); (0, 0.0) when the model has none."""
    sel = profile[profile["op"] == op]["median (ms)"]
    return int(sel.size), float(sel.sum())


def hardswish_finding(fp32: pd.DataFrame, fused: pd.DataFrame, written_out: pd.DataFrame) -> str:
    """What the profiles of one MobileNetV3 say about hard-swish (Chapter 08_benchmark), as a
    sentence of numbers: the ``HARD_SWISH`` operators' time in float32 and in INT8 (``fused``),
    their share of the INT8 operator time, and the whole models' ``invoke`` times, float32,
    INT8 with the fused operator, INT8 with it written out."""
    n, t32 = op_total(fp32, "HARD_SWISH")
    nq, tq = op_total(fused, "HARD_SWISH")
    if n == 0 or nq == 0:
        raise ValueError("the float32 and fused INT8 profiles must both have HARD_SWISH operators")
    share = 100 * tq / fused.attrs["sum_ms"]
    return (f"In float32 its {n} `HARD_SWISH` operators take {t32:.3f} ms together; in INT8 "
            f"the same {nq} operators take {tq:.3f} ms, {tq / t32:.0f} times as long and "
            f"{share:.0f} % of the INT8 model's operator time. Written out as x · relu6(x + 3) "
            f"/ 6, hard-swish becomes int8 `ADD`, `MUL` and clamp operators, and the whole INT8 "
            f"model's `invoke` goes from {fused.attrs['whole_ms']:.3f} ms to "
            f"{written_out.attrs['whole_ms']:.3f} ms (float32: {fp32.attrs['whole_ms']:.3f} ms).")
