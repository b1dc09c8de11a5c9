"""The training engine: one step interface, the strategies behind it, and the process it runs in.

    with joined(device.type) as world, host_settings(device):  # one process, or a torchrun rank                  # process-wide settings, restored after
        step = make_step(model, optimizer, cfg, world)
        terms = step(x, generator, weight)       # zero_grad, forward + backward, optimizer step
        step.close()

`Step` (step.py) is the plain PyTorch step and the one to read first; `ThreadSplitStep`
(threads.py) cuts a batch over CPU cores in one process; `DDPStep` (ddp.py) is one rank of
a DistributedDataParallel run launched by torchrun (distributed.py).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Iterator

import torch

from aelab.config import TrainConfig
from aelab.engine.ddp import DDPStep
from aelab.engine.devices import cpu_cores, placed, resolve_device
from aelab.engine.distributed import World, joined
from aelab.engine.step import Step
from aelab.engine.threads import ThreadSplitStep, auto_parts
from aelab.errors import ConfigError
from aelab.models import Autoencoder

__all__ = [
    "DDPStep", "Step", "ThreadSplitStep", "World", "cpu_cores", "host_settings", "joined", "make_step",
    "placed", "resolve_device",
]


def make_step(model: Autoencoder, optimizer: torch.optim.Optimizer, cfg: TrainConfig, world: World) -> Step:
    """The step strategy for this model, device and world."""
    device = next(model.parameters()).device
    if world.size > 1:
        if model.capabilities.batch_coupled:
            raise ConfigError(
                f"model {model.config.name!r} computes its loss over a whole batch at once (it compares the batch's "
                "images or codes with each other), which data-parallel training would cut into per-process slices: "
                "train it in one process, without torchrun."
            )
        if cfg.shards not in (None, 1):
            raise ConfigError(
                f"train.shards={cfg.shards} splits a batch over threads of one process; under torchrun each process "
                "trains its own slice of the batch already: leave train.shards unset."
            )
        return DDPStep(model, optimizer, world, cfg.precision)
    if device.type == "cpu":
        parts = cfg.shards or auto_parts(model, cfg.batch_size, cpu_cores())
        if parts > 1:
            return ThreadSplitStep(model, optimizer, parts, cfg.precision)
    return Step(model, optimizer, cfg.precision)


@contextmanager
def host_settings(device: torch.device) -> Iterator[None]:
    """The process-wide settings training changes, set back when it ends (a library must
    not reconfigure its host): the intra-op thread count."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)

