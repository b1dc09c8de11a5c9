"""`beta-tcvae` (Chen et al., "Isolating Sources of Disentanglement in VAEs", NeurIPS 2018).

The VAE's networks; the KL of the ELBO split in three, with z ~ q(z|x) one sample per image:
    KL(q(z|x) || p(z))  =  [log q(z|x) - log q(z)]                 index-code mutual information (mi)
                         + [log q(z) - sum_k log q(z_k)]            total correlation (tc)
                         + [sum_k log q(z_k) - log p(z)]            dimension-wise KL (dim_kl)
Loss = rec + alpha * mi + beta * tc + gamma * dim_kl, nats per image (alpha = gamma = 1,
beta = 6: the paper's penalty on the TC alone). With alpha = beta = gamma = 1 it is the
Monte-Carlo negative ELBO.

q(z) = (1/N) sum_n q(z|x_n) is the aggregate posterior over all N training images; it is
estimated on the batch of B images, log q(z_i) ~ logsumexp_j [log q(z_i | x_j) + log w_ij],
and per dimension alike, by one of the paper's two estimators (`estimator`):
    mss  minibatch stratified sampling (the default, as pythae's): w_ii = 1/N for the image's
         own posterior, (N - M)/(N M) for one other (the next in the batch), 1/M for the
         remaining M - 1, with M = B - 1; the weights sum to one.
    mws  minibatch-weighted sampling: w_ij = 1/(N B) for every j. The weights sum to 1/N, which
         biases log q(z) low by about log N and the product of marginals by about K log N, so the
         logged TC carries about (K - 1) log N (164 nats for K = 16, N = 54,000) and the
         dimension-wise KL goes negative; the gradients still train.
N is the training split's size, which a run sets (`train_images`); a model built by hand
uses the batch size. The estimate compares every code with every posterior in the batch,
so the loss couples the batch. `nelbo` is the plain ELBO (the config's KL estimator).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch

from aelab.checks import NonNegativeFloat, PositiveInt
from aelab.models.base import LossOutput
from aelab.models.capabilities import Capabilities
from aelab.models.gaussian import log_normal_pdf, log_standard_normal
from aelab.models.registry import register_model
from aelab.models.vae import VAE, VAEConfig, elbo_terms
from aelab.terms import MetricTerm


@dataclass
class BetaTCVAEConfig(VAEConfig):
    name: str = "beta-tcvae"
    latent_dim: PositiveInt = 10  # the decomposition is about many dimensions
    alpha: NonNegativeFloat = 1.0  # weight of the mutual information
    beta: NonNegativeFloat = 6.0  # weight of the total correlation
    gamma: NonNegativeFloat = 1.0  # weight of the dimension-wise KL
    estimator: Literal["mss", "mws"] = "mss"  # how q(z) is estimated on a batch (see above)


class TCParts(NamedTuple):
    mi: torch.Tensor  # (B,) nats
    tc: torch.Tensor  # (B,)
    dim_kl: torch.Tensor  # (B,)


def log_weights(batch: int, dataset_size: int, estimator: str) -> torch.Tensor:
    """log w_ij (B, B): the weight of posterior j in the estimate of q(z_i)."""
    if estimator == "mws" or batch < 3:  # stratification needs an own, a stratum and another image
        return torch.full((batch, batch), -math.log(dataset_size * batch))
    n, m = dataset_size, batch - 1
    weights = torch.full((batch, batch), 1 / m)
    weights[torch.arange(batch), (torch.arange(batch) + 1) % batch] = (n - m) / (n * m)
    weights.fill_diagonal_(1 / n)
    return weights.log()


def tc_decomposition(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, dataset_size: int,
                     estimator: str = "mss") -> TCParts:
    """The three KL terms per image, from one sample z (B, K) of each posterior N(mu, exp(logvar)) (B, K)."""
    # log q(z_i,k | x_j) for every pair (i, j) and dimension k: (B, B, K); a trailing axis of
    # one makes log_normal_pdf's sum over its last dimension a no-op, so it stays per dimension
    per_dim = log_normal_pdf(z[:, None, :, None], mu[None, :, :, None], logvar[None, :, :, None])
    log_w = log_weights(len(z), max(dataset_size, len(z)), estimator).to(z)
    log_qz = torch.logsumexp(per_dim.sum(2) + log_w, dim=1)  # (B,)
    log_prod_qzk = torch.logsumexp(per_dim + log_w[:, :, None], dim=1).sum(1)  # (B,)
    log_qz_x = log_normal_pdf(z, mu, logvar)
    return TCParts(log_qz_x - log_qz, log_qz - log_prod_qzk, log_prod_qzk - log_standard_normal(z))


@register_model("beta-tcvae")
class BetaTCVAE(VAE):
    config_class = BetaTCVAEConfig
    # q(z) is estimated from the whole batch's posteriors
    capabilities = Capabilities(sample=True, posterior=True, likelihood=True, batch_coupled=True)

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        cfg = self.config
        parts = self.elbo_parts(x, generator)
        tc = tc_decomposition(parts.z, parts.mu, parts.logvar, cfg.train_images or len(x), cfg.estimator)
        total = (parts.rec + cfg.alpha * tc.mi + cfg.beta * tc.tc + cfg.gamma * tc.dim_kl).mean()
        return LossOutput(total, elbo_terms(parts) | {name: value.detach().mean() for name, value in tc._asdict().items()})

    def metric_terms(self) -> list[MetricTerm]:
        return [*super().metric_terms(), MetricTerm("mi", "index-code mutual information", "nats per image"),
                MetricTerm("tc", "total correlation", "nats per image"), MetricTerm("dim_kl", "dimension-wise KL", "nats per image")]

    def objective_name(self) -> str:
        return "beta-TCVAE objective"

    def objective_formula(self) -> str:
        cfg = self.config
        return (f"rec + {cfg.alpha:g} * MI + {cfg.beta:g} * TC + {cfg.gamma:g} * dimension-wise KL "
                f"({ {'mss': 'minibatch stratified', 'mws': 'minibatch-weighted'}[cfg.estimator]} sampling over "
                f"N = {cfg.train_images or 'the batch size'} training images)")
