"""Diagonal Gaussians, written once: sampling by reparameterisation, the log-density and the KL.

Shapes: `mu` and `logvar` are (..., K); every function reduces over the last
(latent) dimension only, so (B, K) gives (B,) and (S, B, K) gives (S, B).
The prior is the standard normal N(0, I).
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I): a sample of N(mu, sigma^2) that is a
    differentiable function of (mu, logvar), so gradients reach the encoder."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def log_normal_pdf(x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(x; mu, diag(exp(logvar))), summed over the last dimension: (..., K) -> (...).

    Derivation, per dimension, with sigma^2 = exp(logvar):
        log[(2 pi sigma^2)^(-1/2) exp(-(x - mu)^2 / (2 sigma^2))]
          = -1/2 [log(2 pi) + logvar + (x - mu)^2 * exp(-logvar)]
    """
    return -0.5 * (LOG_2PI + logvar + (x - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dimension (the prior's density)."""
    return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


def kl_normal_analytic(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) in closed form, in nats: (..., K) -> (...).

    Per dimension: 1/2 (mu^2 + sigma^2 - 1 - log sigma^2).
    """
    return 0.5 * (mu.pow(2) + torch.exp(logvar) - 1 - logvar).sum(-1)


def kl_monte_carlo(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """One-sample estimate log q(z|x) - log p(z) of the same KL, with z ~ q(z|x): (..., K) -> (...).

    Unbiased but noisy; it is what the TensorFlow CVAE tutorial (seed 002) uses,
    and it needs no closed form, so it also works for other posteriors and priors.
    """
    return log_normal_pdf(z, mu, logvar) - log_standard_normal(z)
