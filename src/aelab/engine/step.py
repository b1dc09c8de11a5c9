"""One optimisation step, written plainly: what every strategy does with one batch."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

from aelab.models import Autoencoder

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Step:
    """`step(x, generator, weight, labels)` -> the mean loss terms over x (detached scalars).

    zero_grad; the model's loss under autocast where asked (bf16, or fp16 with a gradient
    scaler; weights and the optimizer stay float32); backward of `weight` times the loss,
    where `weight` is x's share of the global batch (1 in one process); the optimizer step.
    Noise the loss draws comes from `generator`, which the training loop seeds.
    """

    def __init__(self, model: Autoencoder, optimizer: torch.optim.Optimizer, precision: str = "fp32"):
        self.model, self.optimizer, self.precision = model, optimizer, precision
        self.device_type = next(model.parameters()).device.type
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=precision == "fp16")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None, weight: float = 1.0,
                 labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        terms = self.backward(x, generator, weight, labels)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return terms

    def backward(self, x: torch.Tensor, generator: torch.Generator | None, weight: float,
                 labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        with self.autocast():
            out = self.model.batch_loss(x, labels, generator)
        self.scaler.scale(out.total if weight == 1 else out.total * weight).backward()
        return {"loss": out.total.detach(), **out.terms}

    def autocast(self) -> torch.autocast:
        dtype = AUTOCAST_DTYPES.get(self.precision)
        return torch.autocast(self.device_type, dtype=dtype, enabled=dtype is not None)

    def training_pass(self) -> AbstractContextManager:
        """Entered around each epoch's training pass (not its evaluation)."""
        return nullcontext()

    def state_dict(self) -> dict[str, Any]:
        """What a resume needs besides model and optimizer: the fp16 gradient scale."""
        return self.scaler.state_dict() if self.scaler.is_enabled() else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state)

    def close(self) -> None:
        """Release threads or process-group handles; the plain step holds none."""
