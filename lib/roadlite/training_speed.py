"""Training speed (``make bench``): is the data pipeline the bottleneck? (Chapter 03_eca's training core)

Measures, on this machine:

* the generator's images/s (chapter 01);
* the *bare* model: forward + backward + SGD step on a pre-built float batch, images/s;
* the book's training loop (:func:`roadlite.training.fit`) on in-memory uint8 images at the same
  batch size and image size, images/s over its training phase.

The loop should reach at least 90 % of the bare figure: the per-batch work of the loop (indexing,
normalising, flips, bookkeeping) must not slow training. Bare and loop runs alternate and the
medians are compared, so that a load change on the machine hits both. Results go to
``artifacts/bench/bench.json``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence

import torch

from roadlite.artifacts import atomic_write_json, machine_info
from roadlite.data.synthetic import CLASSES_5, CONDITIONS, generate_sample
from roadlite.models import build_model
from roadlite.paths import repo_root
from roadlite.training import TrainConfig, fit


def generator_images_per_s(size: int, n: int = 200, seed: int = 0) -> float:
    """Images/s of :func:`roadlite.data.synthetic.generate_sample` in one process."""
    t0 = time.perf_counter()
    for i in range(n):
        generate_sample(CLASSES_5[i % len(CLASSES_5)], CONDITIONS[(i // 5) % 4], size, seed + i)
    return n / (time.perf_counter() - t0)


def bare_images_per_s(model_name: str, size: int, batch: int, steps: int,
                      channels_last: bool = True) -> float:
    """Forward + backward + SGD step on one fixed batch: the model's own training speed."""
    torch.manual_seed(0)
    model = build_model(model_name, num_classes=4).train()
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, 4, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    for _ in range(3):  # warm-up
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t0)


def loop_images_per_s(model_name: str, size: int, batch: int, steps: int,
                      channels_last: bool = True) -> float:
    """The book's :func:`fit` on random uint8 images: the second of two epochs of ``steps``
    batches (the first one warms up, as the bare measurement's warm-up steps do)."""
    torch.manual_seed(0)
    n = steps * batch
    x = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8)
    y = torch.randint(0, 4, (n,))
    val = (x[:batch], y[:batch])
    cfg = TrainConfig(epochs=2, batch_size=batch, lr=0.01, augment=True,
                      channels_last=channels_last, progress=False)
    with tempfile.TemporaryDirectory() as d:
        res = fit(build_model(model_name, num_classes=4), (x, y), val, cfg, d,
                  log=lambda s: None)
    return res.history[1]["train_images_per_s"]


def run(size: int = 96, batch: int = 32, steps: int = 20, repeats: int = 3,
        model_name: str = "mobilenet_v2") -> dict:
    gen = generator_images_per_s(size)
    print(f"generator: {gen:.0f} images/s at {size} px (one process)")
    bare, loop = [], []
    for r in range(repeats):
        bare.append(bare_images_per_s(model_name, size, batch, steps))
        loop.append(loop_images_per_s(model_name, size, batch, steps))
        print(f"repeat {r + 1}/{repeats}: bare {bare[-1]:.1f}, loop {loop[-1]:.1f} images/s")
    result = {
        "model": model_name, "img_size": size, "batch_size": batch, "steps": steps,
        "threads": torch.get_num_threads(), "machine": machine_info(),
        "generator_images_per_s": gen,
        "bare_images_per_s": statistics.median(bare), "loop_images_per_s": statistics.median(loop),
        "bare_runs": bare, "loop_runs": loop,
    }
    result["loop_over_bare"] = result["loop_images_per_s"] / result["bare_images_per_s"]
    verdict = "OK" if result["loop_over_bare"] >= 0.9 else "BELOW the 90 % target"
    print(f"training loop / bare model = {result['loop_over_bare']:.1%} ({verdict})")
    path = atomic_write_json(repo_root() / "artifacts" / "bench" / "bench.json", result)
    print(f"wrote {path}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m roadlite.training_speed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="mobilenet_v2")
    a = ap.parse_args(argv)
    run(a.size, a.batch, a.steps, a.repeats, a.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
