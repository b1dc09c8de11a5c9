"""Reconstruction losses, written once for every model.

Plain autoencoders report means per pixel (what `nn.MSELoss()` gives, and what
the course studies plot). Likelihood-based models sum over pixels instead; they
say so in their own loss terms.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

ReconstructionLoss = Literal["mse", "bce"]


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor, kind: ReconstructionLoss) -> torch.Tensor:
    """Mean over pixels and batch; `bce` expects `x_hat` in (0, 1)."""
    if kind == "mse":
        return F.mse_loss(x_hat, x)
    if kind == "bce":
        return F.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), x)
    raise ValueError(f"unknown reconstruction loss {kind!r}")
