"""`contractive-ae` (Rifai et al., ICML 2011): the `conv-ae` network, its encoder's Jacobian penalised.

Loss = MSE (mean per pixel) + weight * ||J(x)||_F^2, J = dz/dx (K x C*H*W per image), the
squared Frobenius norm averaged over the batch. It makes the code insensitive to small
moves of the input, except along the directions the data varies in.

Rifai et al. have a closed form for one sigmoid layer; for a conv encoder the norm is
computed by automatic differentiation, one of two ways (`jacobian`):
    exact      K vector-Jacobian products, one per code unit (row j of J is dz_j/dx):
               exact, K backward passes per step; fine for small codes (the default, K = 10)
    estimate   Hutchinson's estimator: E_v ||v^T J||^2 = ||J||_F^2 for v ~ N(0, I_K), with
               `projections` draws of v from the loss's generator; unbiased, one pass per draw
Images are independent (no batch norm), so the gradient of sum_b z_bj is every image's row j.
The penalty is computed at evaluation too (val/test losses track the objective): there
it is the norm alone, with no graph kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from aelab.checks import NonNegativeFloat, PositiveInt
from aelab.models.base import LossOutput
from aelab.models.capabilities import Capabilities
from aelab.models.conv_ae import ConvAEConfig, ConvAutoencoder
from aelab.models.losses import reconstruction_loss
from aelab.models.registry import register_model
from aelab.terms import LOSS, RECONSTRUCTION_TERMS, MetricTerm, per_pixel_terms

JacobianMethod = Literal["exact", "estimate"]


@dataclass
class ContractiveAEConfig(ConvAEConfig):
    name: str = "contractive-ae"
    contraction_weight: NonNegativeFloat = 1e-3  # lambda; the MSE is a mean per pixel, so it is small
    jacobian: JacobianMethod = "exact"
    projections: PositiveInt = 1  # random projections per image for `jacobian = "estimate"`

    def __post_init__(self) -> None:
        if self.latent_dim is None:
            raise ValueError("contractive-ae penalises a dense code's Jacobian: set model.latent_dim to a number (e.g. 10)")


def jacobian_frobenius(encoder: nn.Module, x: torch.Tensor, method: JacobianMethod = "exact", projections: int = 1,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """||dz/dx||_F^2 per image (B,), and the code z (B, K) it was taken at.

    Differentiable (for training) when grad mode is on; under `torch.inference_mode`
    (evaluation) it leaves that mode to differentiate, and returns detached values."""
    training = torch.is_grad_enabled()
    with torch.inference_mode(False), torch.enable_grad():
        x = x.clone().requires_grad_(True)  # a normal tensor, even when x was made in inference mode
        z = encoder(x).flatten(1)  # (B, K)
        if method == "exact":
            directions = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)[:, None, :].expand(-1, len(z), -1)
        else:
            directions = torch.randn((projections, *z.shape), generator=generator, dtype=z.dtype, device=z.device)
        norm = torch.zeros(len(z), dtype=z.dtype, device=z.device)
        for v in directions:  # (B, K): one vector-Jacobian product v^T J per image
            (vjp,) = torch.autograd.grad(z, x, v, create_graph=training, retain_graph=True)
            norm = norm + vjp.pow(2).flatten(1).sum(1)
        if method == "estimate":
            norm = norm / projections
    return (norm, z) if training else (norm.detach(), z.detach())


@register_model("contractive-ae")
class ContractiveAutoencoder(ConvAutoencoder):
    config_class = ContractiveAEConfig
    capabilities = Capabilities()  # the Jacobian penalty is per image

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        cfg = self.config
        norm, z = jacobian_frobenius(self.encoder, x, cfg.jacobian, cfg.projections, generator)
        rec = reconstruction_loss(self.decode(z), x, cfg.loss)
        penalty = norm.mean()
        return LossOutput(rec + cfg.contraction_weight * penalty, {cfg.loss: rec.detach(), "jacobian_frobenius": penalty.detach()})

    def metric_terms(self) -> list[MetricTerm]:
        cfg = self.config
        total = MetricTerm(LOSS, f"{RECONSTRUCTION_TERMS[cfg.loss].label} per pixel + {cfg.contraction_weight:g} × ||dz/dx||_F^2")
        return per_pixel_terms(cfg.loss, MetricTerm("jacobian_frobenius", "contraction ||dz/dx||_F^2"), loss=total)

    def loss_description(self) -> str:
        cfg = self.config
        how = (f"exactly, {cfg.latent_dim} backward passes" if cfg.jacobian == "exact"
               else f"estimated from {cfg.projections} random projection(s) (Hutchinson)")
        return (f"loss: {cfg.loss} (mean per pixel) + {cfg.contraction_weight:g} * ||dz/dx||_F^2 "
                f"(the encoder's Jacobian, computed {how}; mean over the batch)")
