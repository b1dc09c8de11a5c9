"""beta-TCVAE: the decomposition sums to the KL, and minibatch-weighted sampling by hand."""

from __future__ import annotations

import math

import torch
from torch.distributions import Normal

from aelab.models import create_model
from aelab.models.beta_tcvae import tc_decomposition
from aelab.models.gaussian import kl_monte_carlo


def posteriors(batch=6, dims=3):
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(batch, dims, generator=g), torch.randn(batch, dims, generator=g) * 0.5
    return mu + torch.exp(0.5 * logvar) * torch.randn(batch, dims, generator=g), mu, logvar


def test_the_three_terms_sum_to_the_monte_carlo_kl():
    z, mu, logvar = posteriors()
    parts = tc_decomposition(z, mu, logvar, dataset_size=1000)
    torch.testing.assert_close(parts.mi + parts.tc + parts.dim_kl, kl_monte_carlo(z, mu, logvar))


def test_minibatch_weighted_sampling_by_hand():
    """log q(z_i) = log (1/(N M)) sum_j q(z_i|x_j), and per dimension, written with loops and torch.distributions."""
    z, mu, logvar = posteriors(batch=4, dims=2)
    n, m = 50, len(z)
    q = [[Normal(mu[j], torch.exp(0.5 * logvar[j])).log_prob(z[i]) for j in range(m)] for i in range(m)]  # (K,) each
    log_qz = torch.stack([torch.log(sum(q[i][j].sum().exp() for j in range(m)) / (n * m)) for i in range(m)])
    log_qzk = torch.stack([torch.log(sum(q[i][j].exp() for j in range(m)) / (n * m)).sum() for i in range(m)])
    log_qz_x = torch.stack([q[i][i].sum() for i in range(m)])
    parts = tc_decomposition(z, mu, logvar, dataset_size=n)
    torch.testing.assert_close(parts.mi, log_qz_x - log_qz)
    torch.testing.assert_close(parts.tc, log_qz - log_qzk)
    torch.testing.assert_close(parts.dim_kl, log_qzk - Normal(0.0, 1.0).log_prob(z).sum(1))


def test_unit_weights_give_the_monte_carlo_elbo_and_dataset_size_counts():
    torch.manual_seed(0)
    x = torch.rand(8, 1, 28, 28).round()
    model = create_model("beta-tcvae", channels=(4, 8), latent_dim=3, beta=1.0, kl_estimator="monte-carlo", train_images=100)
    out = model.loss(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.total, out.terms["nelbo"])  # alpha = beta = gamma = 1
    torch.testing.assert_close(out.terms["mi"] + out.terms["tc"] + out.terms["dim_kl"], out.terms["kl"])
    bigger = create_model("beta-tcvae", channels=(4, 8), latent_dim=3, train_images=10_000)
    bigger.load_state_dict(model.state_dict())
    other = bigger.loss(x, torch.Generator().manual_seed(0)).terms
    # a larger N lowers log q(z) by log(100), raising MI by it; TC rises by (K - 1) log(100)
    assert math.isclose(other["mi"] - out.terms["mi"], math.log(100), rel_tol=1e-4)
    assert math.isclose(other["tc"] - out.terms["tc"], 2 * math.log(100), rel_tol=1e-4)
    assert model.capabilities.batch_coupled
