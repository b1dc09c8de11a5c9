"""Reparameterisation, log-density and the two KL estimators."""

from __future__ import annotations

import math

import torch

from aelab.models.gaussian import kl_monte_carlo, kl_normal_analytic, log_normal_pdf, log_standard_normal, reparameterize


def test_log_normal_pdf_matches_torch_distributions():
    mu, logvar, x = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 3)
    expected = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(x).sum(-1)
    torch.testing.assert_close(log_normal_pdf(x, mu, logvar), expected)
    torch.testing.assert_close(log_standard_normal(x), log_normal_pdf(x, torch.zeros(3), torch.zeros(3)))


def test_analytic_kl_matches_torch_and_is_zero_at_the_prior():
    mu, logvar = torch.randn(4, 6), torch.randn(4, 6)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(6), torch.ones(6))
    torch.testing.assert_close(kl_normal_analytic(mu, logvar), torch.distributions.kl_divergence(q, p).sum(-1))
    assert kl_normal_analytic(torch.zeros(2, 6), torch.zeros(2, 6)).abs().max() == 0


def test_monte_carlo_kl_agrees_with_analytic_in_expectation():
    torch.manual_seed(0)
    mu, logvar = torch.randn(8, 4), 0.5 * torch.randn(8, 4)
    draws = 20_000
    z = reparameterize(mu.expand(draws, 8, 4), logvar.expand(draws, 8, 4))  # (S, B, K)
    estimates = kl_monte_carlo(z, mu, logvar)  # (S, B)
    mean, stderr = estimates.mean(0), estimates.std(0) / math.sqrt(draws)
    analytic = kl_normal_analytic(mu, logvar)
    assert ((mean - analytic).abs() < 5 * stderr + 1e-3).all()


def test_reparameterised_samples_have_the_right_moments():
    mu, logvar = torch.tensor([1.0, -2.0]), torch.tensor([0.0, math.log(4.0)])
    z = reparameterize(mu.expand(50_000, 2), logvar.expand(50_000, 2), torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), mu, atol=0.05, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 2.0]), atol=0.05, rtol=0)


def test_gradients_flow_through_the_reparameterisation():
    mu = torch.randn(3, 2, requires_grad=True)
    logvar = torch.randn(3, 2, requires_grad=True)
    reparameterize(mu, logvar).pow(2).sum().backward()
    assert mu.grad is not None and mu.grad.abs().sum() > 0
    assert logvar.grad is not None and logvar.grad.abs().sum() > 0


def test_same_generator_gives_same_sample():
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    a = reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    b = reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
