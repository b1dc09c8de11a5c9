"""`sparse-ae`: the `conv-ae` network with a sparsity penalty on its code.

Loss = MSE (mean per pixel) + weight * penalty, two penalties:
    l1   mean over the batch of sum_j |z_j|, on a ReLU code (so inactive units are exactly 0);
         weight 1e-4 by default (1e-3 kills every ReLU unit within a few steps)
    kl   the classic course version (Ng's CS294A notes): sigmoid code units, rho_hat_j the
         mean activation of unit j over the batch, penalty sum_j KL(rho || rho_hat_j) between
         Bernoulli(rho) and Bernoulli(rho_hat_j); rho = `target_rate`; weight 0.1 by default.
         rho_hat is a batch statistic, so this loss couples the batch (`capabilities.batch_coupled`).
The log shows how sparse the codes are: `active` is the share of code entries above
`active_threshold` (0 for l1's ReLU code), `mean_activation` the mean code value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from aelab.checks import NonNegativeFloat, PositiveInt, Rate
from aelab.models.base import LossOutput
from aelab.models.capabilities import Capabilities
from aelab.models.conv_ae import ConvAEConfig, ConvAutoencoder
from aelab.models.losses import reconstruction_loss
from aelab.models.registry import register_model
from aelab.terms import LOSS, RECONSTRUCTION_TERMS, MetricTerm, per_pixel_terms

Penalty = Literal["l1", "kl"]
DEFAULT_WEIGHTS = {"l1": 1e-4, "kl": 0.1}


@dataclass
class SparseAEConfig(ConvAEConfig):
    name: str = "sparse-ae"
    latent_dim: PositiveInt | None = 64  # a sparse code is usually wider than a dense one
    penalty: Penalty = "l1"
    sparsity_weight: NonNegativeFloat | None = None  # None: 1e-4 for l1, 0.1 for kl
    target_rate: Rate = 0.05  # rho, the kl penalty's wanted mean activation
    active_threshold: NonNegativeFloat = 0.0  # a unit counts as active above this (kl: e.g. 0.1)

    def __post_init__(self) -> None:
        if self.latent_dim is None:
            raise ValueError("sparse-ae needs a dense code: set model.latent_dim to a number (e.g. 64)")
        if self.sparsity_weight is None:
            self.sparsity_weight = DEFAULT_WEIGHTS[self.penalty]
        if self.penalty == "kl" and self.target_rate >= 1:
            raise ValueError(f"model.target_rate must be below 1 for the kl penalty, got {self.target_rate}")


def l1_penalty(z: torch.Tensor) -> torch.Tensor:
    """sum_j |z_j| per image, mean over the batch: (B, K) -> scalar."""
    return z.abs().sum(1).mean()


def kl_sparsity_penalty(z: torch.Tensor, rho: float, eps: float = 1e-6) -> torch.Tensor:
    """sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)), rho_hat = z.mean(0): (B, K) in (0, 1) -> scalar."""
    rho_hat = z.mean(0).clamp(eps, 1 - eps)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


@register_model("sparse-ae")
class SparseAutoencoder(ConvAutoencoder):
    config_class = SparseAEConfig
    capabilities = Capabilities()  # batch-coupled with the KL penalty: set in __init__

    def __init__(self, config: SparseAEConfig):
        super().__init__(config)
        self.capabilities = dataclasses.replace(self.capabilities, batch_coupled=config.penalty == "kl")  # rho_hat is a mean over the batch
        # (B, K) linear code -> ReLU (l1: exact zeros) or sigmoid (kl: a firing rate in (0, 1))
        self.encoder = nn.Sequential(self.encoder, nn.ReLU() if config.penalty == "l1" else nn.Sigmoid())

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        cfg = self.config
        z = self.encode(x)
        rec = reconstruction_loss(self.decode(z), x, cfg.loss)
        penalty = l1_penalty(z) if cfg.penalty == "l1" else kl_sparsity_penalty(z, cfg.target_rate)
        code = z.detach()
        return LossOutput(rec + cfg.sparsity_weight * penalty, {
            cfg.loss: rec.detach(), "sparsity": penalty.detach(),
            "active": (code > cfg.active_threshold).float().mean(), "mean_activation": code.mean(),
        })

    def metric_terms(self) -> list[MetricTerm]:
        cfg = self.config
        total = MetricTerm(LOSS, f"{RECONSTRUCTION_TERMS[cfg.loss].label} per pixel + {cfg.sparsity_weight:g} × sparsity penalty")
        return per_pixel_terms(cfg.loss, MetricTerm("sparsity", f"{cfg.penalty} sparsity penalty"),
                               MetricTerm("active", "share of code units active"), MetricTerm("mean_activation", "mean code activation"),
                               loss=total)

    def loss_description(self) -> str:
        cfg = self.config
        what = ("sum of |z| over the ReLU code" if cfg.penalty == "l1"
                else f"sum over units of KL(Bernoulli({cfg.target_rate:g}) || Bernoulli(mean sigmoid activation over the batch))")
        return f"loss: {cfg.loss} (mean per pixel) + {cfg.sparsity_weight:g} * sparsity, the {cfg.penalty} penalty: {what}"
