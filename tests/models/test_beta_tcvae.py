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
    parts = tc_decomposition(z, mu, logvar, dataset_size=n, estimator="mws")
    torch.testing.assert_close(parts.mi, log_qz_x - log_qz)
    torch.testing.assert_close(parts.tc, log_qz - log_qzk)
    torch.testing.assert_close(parts.dim_kl, log_qzk - Normal(0.0, 1.0).log_prob(z).sum(1))


def test_minibatch_stratified_sampling_by_hand():
    """The paper's MSS weights written out: 1/N for the image's own posterior, (N - M)/(N M) for the
    next image's, 1/M for the rest, M = B - 1; with loops and torch.distributions."""
    z, mu, logvar = posteriors(batch=5, dims=2)
    n, b = 50, len(z)
    m = b - 1
    weight = lambda i, j: 1 / n if i == j else (n - m) / (n * m) if j == (i + 1) % b else 1 / m  # noqa: E731
    assert all(math.isclose(sum(weight(i, j) for j in range(b)), 1.0) for i in range(b))
    q = [[Normal(mu[j], torch.exp(0.5 * logvar[j])).log_prob(z[i]) for j in range(b)] for i in range(b)]
    log_qz = torch.stack([torch.log(sum(weight(i, j) * q[i][j].sum().exp() for j in range(b))) for i in range(b)])
    log_qzk = torch.stack([torch.log(sum(weight(i, j) * q[i][j].exp() for j in range(b))).sum() for i in range(b)])
    parts = tc_decomposition(z, mu, logvar, dataset_size=n)  # mss is the default
    torch.testing.assert_close(parts.tc, log_qz - log_qzk)
    torch.testing.assert_close(parts.dim_kl, log_qzk - Normal(0.0, 1.0).log_prob(z).sum(1))
    torch.testing.assert_close(parts.mi + parts.tc + parts.dim_kl, kl_monte_carlo(z, mu, logvar))


def test_stratified_sampling_removes_the_weighted_estimators_k_log_n_bias():
    """MWS weighs every posterior 1/(N B), so its TC grows with N by (K - 1) log N; MSS weighs the image's
    own posterior 1/N and the others as stand-ins for the rest of the dataset, so N moves its TC by log N at most."""
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(512, 8, generator=g)
    logvar = torch.full_like(mu, -4.0)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g)
    tc = {(e, n): tc_decomposition(z, mu, logvar, n, e).tc.mean().item() for e in ("mss", "mws") for n in (10_000, 1_000_000)}
    assert math.isclose(tc["mws", 1_000_000] - tc["mws", 10_000], 7 * math.log(100), rel_tol=0.01)
    assert abs(tc["mss", 1_000_000] - tc["mss", 10_000]) <= math.log(100) + 0.01
    assert tc["mss", 10_000] < tc["mws", 10_000] - 50


def test_unit_weights_give_the_monte_carlo_elbo_and_dataset_size_counts():
    torch.manual_seed(0)
    x = torch.rand(8, 1, 28, 28).round()
    model = create_model("beta-tcvae", channels=(4, 8), latent_dim=3, beta=1.0, kl_estimator="monte-carlo", train_images=100,
                         estimator="mws")
    out = model.loss(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.total, out.terms["nelbo"])  # alpha = beta = gamma = 1
    torch.testing.assert_close(out.terms["mi"] + out.terms["tc"] + out.terms["dim_kl"], out.terms["kl"])
    bigger = create_model("beta-tcvae", channels=(4, 8), latent_dim=3, train_images=10_000, estimator="mws")
    bigger.load_state_dict(model.state_dict())
    other = bigger.loss(x, torch.Generator().manual_seed(0)).terms
    # a larger N lowers log q(z) by log(100), raising MI by it; TC rises by (K - 1) log(100)
    assert math.isclose(other["mi"] - out.terms["mi"], math.log(100), rel_tol=1e-4)
    assert math.isclose(other["tc"] - out.terms["tc"], 2 * math.log(100), rel_tol=1e-4)
    assert model.capabilities.batch_coupled
