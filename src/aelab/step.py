"""One optimisation step, with the batch split across CPU cores.

In one process, PyTorch's intra-op threads put a second CPU core to poor use on
small convolutions (the seed-004 conv AE: 5,300 images/s on one thread, 6,500 on
two). Here each batch is cut into `shards` parts and each part's forward and
backward pass runs on its own core: on threads, or with `parallel="processes"`
(Linux) the first in this process and the others in forked worker processes that
share the model's memory (`aelab.part_worker`). The parts' gradients add up in
`.grad`. Each part's mean loss is weighted by its share of the batch, so the
step is the full-batch step up to float rounding; with two parts it is exactly
reproducible (a + b = b + a), and processes and threads give the same bits.

Noise drawn inside a loss comes from a generator per part, seeded from the
global RNG (see `models.noise`). Models whose loss couples the images of a
batch (`batch_coupled`) always see whole batches.
"""

from __future__ import annotations

import gc
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator

import torch

from aelab.config import Parallel
from aelab.models import Autoencoder
from aelab.models.noise import thread_generator
from aelab.part_worker import (
    PartWorker, SharedArena, can_fork, is_dense, move_to_arena, move_to_private, share_more_after_fork,
)

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

    With `parallel="processes"` the workers are forked at the first step, sized for
    its batch; a later batch with larger parts, or a worker that fails or cannot be
    started, is trained on threads instead (a failure is warned about once). Call
    `close()` when done: it stops the workers and moves the model back out of shared
    memory.
    """

    def __init__(
        self, model: Autoencoder, optimizer: torch.optim.Optimizer, shards: int,
        precision: str = "fp32", parallel: Parallel = "threads",
    ):
        self.model, self.optimizer, self.shards = model, optimizer, shards
        self.device_type = next(model.parameters()).device.type
        self.bf16 = precision == "bf16"
        self.use_processes = shards > 1 and parallel == "processes" and self.device_type == "cpu" and can_fork()
        self.workers: list[PartWorker] = []
        self.pool: ThreadPoolExecutor | None = None
        self._shared: list[torch.Tensor] = []  # the model's tensors while they live in shared memory
        self._gc_frozen = False  # share_more_after_fork froze the GC for the workers

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        if self.shards == 1:
            with self.autocast():
                out = self.model.loss(x)
            out.total.backward()
            terms = {"loss": out.total.detach(), **out.terms}
        else:
            parts = [p for p in x.tensor_split(self.shards) if len(p)]
            seeds = torch.randint(SEED_RANGE, (len(parts),)).tolist()  # from the global RNG
            jobs = [(p, len(p) / len(x), s) for p, s in zip(parts, seeds)]
            results = self._on_workers(jobs) if self._workers_fit(parts) else self._on_threads(jobs)
            terms = {k: sum(r[k] for r in results) for k in results[0]}
        self.optimizer.step()
        return terms

    def _part(self, x: torch.Tensor, weight: float, seed: int) -> dict[str, torch.Tensor]:
        with thread_generator(torch.Generator().manual_seed(seed)):
            with self.autocast():
                out = self.model.loss(x)
            (out.total * weight).backward()
        return {k: v.detach() * weight for k, v in {"loss": out.total, **out.terms}.items()}

    def _on_threads(self, jobs: list[tuple]) -> list[dict[str, torch.Tensor]]:
        if self.pool is None:
            self.pool = ThreadPoolExecutor(self.shards - 1, thread_name_prefix="aelab-shard")
        futures = [self.pool.submit(self._part, *job) for job in jobs[1:]]
        return [self._part(*jobs[0])] + [f.result() for f in futures]

    def _on_workers(self, jobs: list[tuple]) -> list[dict[str, torch.Tensor]]:
        for worker, job in zip(self.workers, jobs[1:]):
            worker.submit(*job)
        results, failures = [self._part(*jobs[0])], []
        for worker, job in zip(self.workers, jobs[1:]):
            reply = worker.collect()
            if isinstance(reply, str):  # its gradients were not added: train its part here
                failures.append(reply)
                reply = self._part(*job)
            results.append(reply)
        if failures:
            self._stop_workers()
            self.use_processes = False
            warnings.warn(f"aelab: a training worker process failed; training goes on with threads. {failures[0]}")
        return results

    def _workers_fit(self, parts: list[torch.Tensor]) -> bool:
        """Whether the workers (started here on the first call) can take these parts."""
        if not self.use_processes or len(parts) < 2:
            return False
        if not self.workers:
            self._start_workers(parts[0].contiguous())  # the first part is the largest
            if not self.workers:  # the model cannot be shared: threads it is
                return False
        slot = self.workers[0].inputs
        return all(p.shape[1:] == slot.shape[1:] and len(p) <= len(slot) and p.dtype == slot.dtype for p in parts[1:])

    def _start_workers(self, largest_part: torch.Tensor) -> None:
        params = list(self.model.parameters())
        tensors, n = params + list(self.model.buffers()), self.shards - 1
        if not all(is_dense(t) for t in tensors):
            self.use_processes = False
            return
        try:
            arena = SharedArena(SharedArena.bytes_for(tensors) + n * SharedArena.bytes_for(params + [largest_part]))
            self._shared = tensors
            move_to_arena(tensors, arena)
            self._gc_frozen = share_more_after_fork()
            for _ in range(n):
                grads = [arena.empty_like(p) for p in params]
                self.workers.append(PartWorker(params, grads, arena.empty_like(largest_part), self._part))
        except OSError as err:  # no shared memory, or no process to be had (fork: EAGAIN, ENOMEM)
            self._stop_workers()
            self.use_processes = False
            warnings.warn(
                f"aelab: could not start training worker processes ({err}); training goes on with threads "
                '(set train.parallel="threads" to use them from the start).'
            )

    def _stop_workers(self) -> None:
        for worker in self.workers:
            worker.close()
        self.workers = []
        if self._gc_frozen:
            gc.unfreeze()  # see share_more_after_fork
            self._gc_frozen = False
        move_to_private(self._shared)
        self._shared = []

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16)

    def close(self) -> None:
        self._stop_workers()
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None


@contextmanager
def intra_op_threads(n: int) -> Iterator[None]:
    """Run with `n` intra-op threads (the parts already use every core), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
