"""Winner-take-all sparsity (Makhzani and Frey, "Winner-Take-All Autoencoders", NeurIPS 2015).

Each function keeps some activations and zeroes the rest by multiplying with a
0/1 mask, so the gradient flows only through the winners, as in the paper.
Ties are broken by `topk`/`argmax`, so exactly the stated number of winners is kept.
"""

from __future__ import annotations

import torch
from torch import nn


def winners_per_unit(batch_size: int, rate: float) -> int:
    """k = rate of the batch, rounded, at least 1: how many activations each unit keeps."""
    if not 0 < rate <= 1:
        raise ValueError(f"a sparsity rate must be in (0, 1]; got {rate}")
    return max(1, min(batch_size, round(rate * batch_size)))


def lifetime_mask(h: torch.Tensor, rate: float) -> torch.Tensor:
    """(B, K) -> 0/1 mask (B, K): per unit (column), its `rate` largest activations across the batch."""
    k = winners_per_unit(h.shape[0], rate)
    index = h.detach().topk(k, dim=0).indices
    return torch.zeros_like(h).scatter_(0, index, 1.0)


def lifetime_sparsity(h: torch.Tensor, rate: float) -> torch.Tensor:
    """FC-WTA: each hidden unit keeps its top `rate` activations over the mini-batch. (B, K) -> (B, K)."""
    return h * lifetime_mask(h, rate)


def spatial_mask(h: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> 0/1 mask: one winner, the largest activation, in each feature map of each image."""
    flat = h.detach().flatten(2)
    index = flat.argmax(dim=2, keepdim=True)
    return torch.zeros_like(flat).scatter_(2, index, 1.0).view_as(h)


def spatial_sparsity(h: torch.Tensor) -> torch.Tensor:
    """Conv-WTA: each feature map keeps only its largest activation. (B, C, H, W) -> same."""
    return h * spatial_mask(h)


def conv_lifetime_sparsity(h: torch.Tensor, rate: float) -> torch.Tensor:
    """Conv-WTA lifetime sparsity, applied after spatial sparsity: each feature map keeps its
    winner only in the `rate` of the batch's images where that winner is largest.
    (B, C, H, W) -> same."""
    winners = h.detach().flatten(2).amax(dim=2)  # (B, C)
    return h * lifetime_mask(winners, rate)[:, :, None, None]


class SpatialSparsity(nn.Module):
    """`spatial_sparsity` as a layer: per image, so it acts alike in training and at test time."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return spatial_sparsity(h)


def active_fraction(h: torch.Tensor) -> torch.Tensor:
    """Share of non-zero entries: a check that the sparsity did what it says."""
    return (h != 0).float().mean() if h.numel() else torch.zeros(())


__all__ = [
    "SpatialSparsity",
    "active_fraction",
    "conv_lifetime_sparsity",
    "lifetime_mask",
    "lifetime_sparsity",
    "spatial_mask",
    "spatial_sparsity",
    "winners_per_unit",
]
