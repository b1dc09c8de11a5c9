"""CPU: each batch cut into parts, each part's forward and backward on its own core.

In one process, PyTorch's intra-op threads put a second core to poor use on small
convolutions; training the parts side by side on threads keeps both busy
(benchmarks/train_speed.py measures whether it pays). The parts' gradients add up
in `.grad`, each part's mean loss weighted by its share of the batch, so the step
is the whole-batch step up to float rounding. Each part draws its noise from its own
generator, seeded from the step's generator, so results never depend on thread timing.
Models whose loss couples a batch (`capabilities.batch_coupled`) are never split.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator

import torch

from aelab.engine.step import Step
from aelab.models import Autoencoder

MIN_PART = 16  # images per part below which splitting costs more than it gains
SEED_RANGE = 2**62


def auto_parts(model: Autoencoder, batch_size: int, cores: int) -> int:
    """One part per CPU core, each of at least MIN_PART images; 1 for batch-coupled losses."""
    if model.capabilities.batch_coupled:
        return 1
    return max(1, min(cores, batch_size // MIN_PART))


class ThreadSplitStep(Step):
    def __init__(self, model: Autoencoder, optimizer: torch.optim.Optimizer, parts: int, precision: str = "fp32"):
        super().__init__(model, optimizer, precision)
        self.parts = parts
        self.pool = ThreadPoolExecutor(parts - 1, thread_name_prefix="aelab-part")

    def backward(self, x: torch.Tensor, generator: torch.Generator | None, weight: float,
                 labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        pieces = [p for p in x.tensor_split(self.parts) if len(p)]
        label_pieces = [None] * len(pieces) if labels is None else labels.tensor_split(self.parts)[: len(pieces)]
        seeds = torch.randint(SEED_RANGE, (len(pieces),), generator=generator).tolist()
        jobs = [(p, y, len(p) / len(x) * weight, len(p) / len(x), s) for p, y, s in zip(pieces, label_pieces, seeds)]
        futures = [self.pool.submit(self._part, *job) for job in jobs[1:]]
        results = [self._part(*jobs[0])] + [f.result() for f in futures]
        return {k: sum(r[k] for r in results) for k in results[0]}

    def _part(self, x: torch.Tensor, labels: torch.Tensor | None, weight: float, share: float, seed: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator(x.device).manual_seed(seed)
        with self.autocast():
            out = self.model.batch_loss(x, labels, generator)
        self.scaler.scale(out.total * weight).backward()
        return {k: v.detach() * share for k, v in {"loss": out.total, **out.terms}.items()}

    @contextmanager
    def training_pass(self) -> Iterator[None]:
        """One intra-op thread while the parts run (they already use every core), then restore."""
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def close(self) -> None:
        self.pool.shutdown()
