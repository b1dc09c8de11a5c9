"""Paired A/B timing of training steps in one process, for effects smaller than this machine's noise.

    python benchmarks/step_ab.py --model conv-ae --a "fused=0" --b "fused=1" [--blocks 15]

Two copies of the model train on the same random batches of 64, alternating blocks of 40 steps
(A, B, A, B, ...), so a slow spell of the machine hits both alike; prints the median images/s of
each and the median of the per-pair ratios B/A. Knobs: shards (parts per batch, default one per
core), parallel (threads or processes), precision (fp32 or bf16), fused (Adam, 1 or 0),
channels_last (1 or 0). A whole run's speed
is `train_speed.py`; this is for deciding whether one change in the step is worth keeping.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from aelab.models import create_model
from aelab.part_worker import SPIN_SECONDS
from aelab.step import ShardedStep, auto_shards, intra_op_threads

DEFAULTS = {"shards": 0, "precision": "fp32", "fused": 1, "channels_last": 1, "parallel": "threads"}


def parse(spec: str) -> dict:
    knobs = dict(DEFAULTS)
    for item in spec.split():
        key, _, value = item.partition("=")
        if key not in knobs:
            raise SystemExit(f"unknown knob {key!r}: use {', '.join(DEFAULTS)}")
        knobs[key] = value if key in ("precision", "parallel") else int(value)
    return knobs


def make_step(model_name: str, knobs: dict) -> ShardedStep:
    torch.manual_seed(0)
    model = create_model(model_name, input_shape=(1, 28, 28))
    if knobs["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3, fused=bool(knobs["fused"]) or None)
    shards = knobs["shards"] or auto_shards(model, 64, torch.device("cpu"))
    return ShardedStep(model, optimizer, shards, knobs["precision"], knobs["parallel"])


def images_per_s(step: ShardedStep, data: torch.Tensor, steps: int = 40) -> float:
    """As training runs it: one intra-op thread when the parts already use every core. First a
    pause, so that the other step's idle worker processes have stopped spinning (SPIN_SECONDS)."""
    time.sleep(2 * SPIN_SECONDS)
    with intra_op_threads(1 if step.shards > 1 else torch.get_num_threads()):
        start = time.perf_counter()
        for i in range(steps):
            step(data[i * 64 : (i + 1) * 64])
        return steps * 64 / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="conv-ae")
    parser.add_argument("--a", default="", help="knobs of A, e.g. 'fused=0'")
    parser.add_argument("--b", default="", help="knobs of B, e.g. 'precision=bf16'")
    parser.add_argument("--blocks", type=int, default=15)
    args = parser.parse_args()
    a, b = make_step(args.model, parse(args.a)), make_step(args.model, parse(args.b))
    data = torch.rand(64 * 40, 1, 28, 28)
    images_per_s(a, data), images_per_s(b, data)  # warm-up
    pairs = [(images_per_s(a, data), images_per_s(b, data)) for _ in range(args.blocks)]
    print(f"{args.model}: A ({args.a or 'defaults'}) {statistics.median(p[0] for p in pairs):,.0f} img/s, "
          f"B ({args.b or 'defaults'}) {statistics.median(p[1] for p in pairs):,.0f} img/s, "
          f"median B/A {statistics.median(p[1] / p[0] for p in pairs):.3f} over {args.blocks} pairs")


if __name__ == "__main__":
    main()
