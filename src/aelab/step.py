"""One optimisation step, with the batch split across CPU cores on threads.

In one process, PyTorch's intra-op threads put a second CPU core to poor use on
small convolutions (the seed-004 conv AE: 5,300 images/s on one thread, 6,500 on
two). Here each batch is cut into `shards` parts and each part's forward and
backward pass runs on its own thread, one core each; the parts' gradients add
up in the shared `.grad` tensors (autograd's accumulation is thread-safe). Each
part's mean loss is weighted by its share of the batch, so the step is the
full-batch step up to float rounding, and with two parts it is exactly
reproducible (a + b = b + a).

Noise drawn inside a loss comes from a generator per part, seeded from the
global RNG (see `models.noise`). Models whose loss couples the images of a
batch (`batch_coupled`) always see whole batches.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator

import torch

from aelab.models import Autoencoder
from aelab.models.noise import thread_generator

MIN_SHARD = 16  # images per part below which splitting costs more than it gains
SEED_RANGE = 2**62


def auto_shards(model: Autoencoder, batch_size: int, device: torch.device) -> int:
    """One part per CPU core the process may use, each of at least MIN_SHARD images."""
    if device.type != "cpu" or model.batch_coupled:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), batch_size // MIN_SHARD))


def uses_convolutions(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.conv._ConvNd) for m in model.modules())


class ShardedStep:
    """`step(x)` -> the batch's loss terms (detached); zero_grad, backward and optimizer step included.

    `precision="bf16"` runs the loss under bfloat16 autocast (weights and the
    optimizer stay float32): faster on CPUs with AVX512-BF16 and on GPUs, but
    it changes results slightly, so it is an option, never the default.
    """

    def __init__(self, model: Autoencoder, optimizer: torch.optim.Optimizer, shards: int, precision: str = "fp32"):
        self.model, self.optimizer, self.shards = model, optimizer, shards
        self.pool = ThreadPoolExecutor(shards - 1, thread_name_prefix="aelab-shard") if shards > 1 else None
        self.device_type = next(model.parameters()).device.type
        self.bf16 = precision == "bf16"

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        if self.pool is None:
            with self.autocast():
                out = self.model.loss(x)
            out.total.backward()
            terms = {"loss": out.total.detach(), **out.terms}
        else:
            parts = [p for p in x.tensor_split(self.shards) if len(p)]
            seeds = torch.randint(SEED_RANGE, (len(parts),)).tolist()  # from the global RNG
            futures = [self.pool.submit(self._part, p, len(p) / len(x), s) for p, s in zip(parts[1:], seeds[1:])]
            results = [self._part(parts[0], len(parts[0]) / len(x), seeds[0])] + [f.result() for f in futures]
            terms = {k: sum(r[k] for r in results) for k in results[0]}
        self.optimizer.step()
        return terms

    def _part(self, x: torch.Tensor, weight: float, seed: int) -> dict[str, torch.Tensor]:
        with thread_generator(torch.Generator().manual_seed(seed)):
            with self.autocast():
                out = self.model.loss(x)
            (out.total * weight).backward()
        return {k: v.detach() * weight for k, v in {"loss": out.total, **out.terms}.items()}

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


@contextmanager
def intra_op_threads(n: int) -> Iterator[None]:
    """Run with `n` intra-op threads (the parts already use every core), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
