"""One rank of a DistributedDataParallel run.

Every rank walks the same shuffled order and trains its slice of each global batch
(`distributed.ranks_part`); DDP averages the ranks' gradients during backward. Each
rank's loss is weighted by its slice's share of the batch times the world size, so the
average is the gradient of the global batch's mean loss: the one-process step.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from aelab.engine.distributed import World
from aelab.engine.step import Step
from aelab.models import Autoencoder


class LossOf(nn.Module):
    """The model's loss as `forward`, the call DDP wraps to synchronise gradients."""

    def __init__(self, model: Autoencoder):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, generator: torch.Generator | None, labels: torch.Tensor | None = None):
        out = self.model.batch_loss(x, labels, generator)
        return out.total, out.terms


class DDPStep(Step):
    def __init__(self, model: Autoencoder, optimizer: torch.optim.Optimizer, world: World, precision: str = "fp32"):
        super().__init__(model, optimizer, precision)
        self.world = world
        device = next(model.parameters()).device
        # a staged model (the VQ-VAE: its autoencoder, then its prior) leaves some parameters without a gradient in each stage
        staged = model.config.second_stage_epochs() > 0
        self.ddp = DistributedDataParallel(LossOf(model), device_ids=[device] if device.type == "cuda" else None,
                                           find_unused_parameters=staged)
        self.filler = torch.zeros(1, *model.config.input_shape, device=device)

    def backward(self, x: torch.Tensor, generator: torch.Generator | None, weight: float,
                 labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if len(x) == 0:  # a batch smaller than the world: this rank still joins the all-reduce, adding nothing
            x, weight = self.filler, 0.0
            labels = None if labels is None else labels.new_zeros(1)
        with self.autocast():
            total, terms = self.ddp(x, generator, labels)
        self.scaler.scale(total * (weight * self.world.size)).backward()
        return {"loss": total.detach(), **terms}
