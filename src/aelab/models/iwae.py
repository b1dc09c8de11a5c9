"""`iwae` (Burda et al., "Importance Weighted Autoencoders", ICLR 2016): the VAE's networks, the k-sample bound.

With k draws z_s ~ q(z|x) and log-weights log w_s = log p(x|z_s) + log p(z_s) - log q(z_s|x):
    L_k = log (1/k) sum_s w_s  <=  log p(x),   L_1 = the ELBO,   L_k rises with k.
Loss = -L_k in nats per image, averaged over the batch. The gradient estimator is the
paper's: reparameterised draws (z_s = mu + sigma * eps_s), then autograd through the
logsumexp, which weights each draw's gradient by its normalised weight w_s / sum w.
(Rainforth et al. 2018 show the encoder's signal fades as k grows; k = 5 is the paper's
middle setting.) k draws cost k decoder passes per image.

Logged: `iwae` (-L_k), and `rec`, `kl` (Monte-Carlo), `nelbo` averaged over the k draws,
so runs compare with `vae` on the ELBO; at test, `aelab evaluate --nll-samples` gives the
same importance-sampled log p(x) as for every VAE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from aelab.checks import PositiveInt
from aelab.models.base import LossOutput
from aelab.models.capabilities import Capabilities
from aelab.models.gaussian import log_normal_pdf, log_standard_normal, reparameterize
from aelab.models.registry import register_model
from aelab.models.vae import VAE, VAEConfig
from aelab.terms import MetricTerm


@dataclass
class IWAEConfig(VAEConfig):
    name: str = "iwae"
    samples: PositiveInt = 5  # k

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta != 1:
            raise ValueError(f"the IWAE bound has no KL weight: leave model.beta at 1 (got {self.beta:g}), or use `vae` for a beta-VAE")


@register_model("iwae")
class IWAE(VAE):
    config_class = IWAEConfig
    capabilities = Capabilities(sample=True, posterior=True, likelihood=True)

    def log_weights(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(x|z_s) and log p(z_s) - log q(z_s|x) for k draws per image: x (B, C, H, W) -> (k, B) each."""
        k = self.config.samples
        target = self.targets(x, generator)
        mu, logvar = self.encode_distribution(x)  # (B, K)
        mu_k, logvar_k = mu.expand(k, *mu.shape), logvar.expand(k, *logvar.shape)
        z = reparameterize(mu_k, logvar_k, generator)  # (k, B, K)
        logits = self.decode_logits(z.flatten(0, 1))  # (k*B, C, H, W)
        log_px_z = self.log_likelihood(target.expand(k, *target.shape).flatten(0, 1), logits).view(k, len(x))
        return log_px_z, log_standard_normal(z) - log_normal_pdf(z, mu_k, logvar_k)

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        log_px_z, log_prior_ratio = self.log_weights(x, generator)
        bound = torch.logsumexp(log_px_z + log_prior_ratio, 0) - math.log(self.config.samples)  # (B,) L_k
        rec, kl = -log_px_z.detach().mean(), -log_prior_ratio.detach().mean()
        return LossOutput(-bound.mean(), {"iwae": -bound.detach().mean(), "rec": rec, "kl": kl, "nelbo": rec + kl})

    def metric_terms(self) -> list[MetricTerm]:
        """`iwae` is the negative bound -L_k, shown as the bound L_k (nats per image)."""
        return [*super().metric_terms(), MetricTerm("iwae", f"IWAE bound (k = {self.config.samples})", "nats per image", sign=-1)]

    def objective_name(self) -> str:
        return f"negative IWAE bound (k = {self.config.samples})"

    def objective_formula(self) -> str:
        return f"-log (1/{self.config.samples}) sum_s p(x|z_s) p(z_s) / q(z_s|x), z_s ~ q(z|x)"
