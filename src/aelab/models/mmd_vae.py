"""`mmd-vae` (InfoVAE, Zhao et al. 2019): the VAE's networks, with the KL replaced by an MMD.

Loss = rec + beta * KL + lambda * MMD^2(q(z), p(z)), nats per image for the first two:
rec and KL as in `vae` (beta defaults to 0 here: the optional KL weight), and the
MMD between the batch's posterior samples z ~ q(z|x) (B, K) and B prior draws.
Matching the aggregate posterior q(z) to the prior, rather than each q(z|x), does not
push every code to the prior, so the code keeps information even with a strong decoder.
The ELBO (beta = 1) is still logged as `nelbo`, so runs compare with `vae` on one scale.
lambda = 1000 is the InfoVAE paper's choice for a reconstruction summed over pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aelab.checks import NonNegativeFloat, PositiveFloat
from aelab.models.base import LossOutput
from aelab.models.capabilities import Capabilities
from aelab.models.mmd import Kernel, mmd
from aelab.models.registry import register_model
from aelab.models.vae import VAE, VAEConfig, elbo_terms
from aelab.terms import MetricTerm


@dataclass
class MMDVAEConfig(VAEConfig):
    name: str = "mmd-vae"
    beta: NonNegativeFloat = 0.0
    mmd_weight: NonNegativeFloat = 1000.0  # lambda
    kernel: Kernel = "imq"
    bandwidth: PositiveFloat = 1.0  # kernel scale C = 2 * latent_dim * bandwidth^2 (see aelab.models.mmd)


@register_model("mmd-vae")
class MMDVAE(VAE):
    config_class = MMDVAEConfig
    # MMD compares the whole batch with as many prior draws
    capabilities = Capabilities(sample=True, posterior=True, likelihood=True, batch_coupled=True)

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        parts = self.elbo_parts(x, generator)
        prior = torch.randn(parts.z.shape, generator=generator, dtype=parts.z.dtype, device=parts.z.device)
        penalty = mmd(parts.z, prior, self.config.kernel, self.config.bandwidth)
        total = (parts.rec + self.config.beta * parts.kl).mean() + self.config.mmd_weight * penalty
        return LossOutput(total, elbo_terms(parts) | {"mmd": penalty.detach()})

    def metric_terms(self) -> list[MetricTerm]:
        return [*super().metric_terms(), MetricTerm("mmd", "MMD² to the prior")]

    def objective_name(self) -> str:
        return "InfoVAE objective"

    def objective_formula(self) -> str:
        cfg = self.config
        kl = f" + {cfg.beta:g} * KL" if cfg.beta else ""
        return f"rec{kl} + {cfg.mmd_weight:g} * MMD^2 ({cfg.kernel} kernel, bandwidth {cfg.bandwidth:g}, batch vs prior draws)"
