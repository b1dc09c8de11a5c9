"""IWAE: its bound against likelihood.py's importance-sampled estimator, and k = 1 is the ELBO."""

from __future__ import annotations

import math

import pytest
import torch

from aelab.errors import ConfigError
from aelab.likelihood import log_weights
from aelab.models import create_model


def iwae(**options):
    torch.manual_seed(0)
    return create_model("iwae", channels=(4, 8), latent_dim=3, binarize="static", **options)


def test_the_bound_is_likelihood_py_estimate_on_the_same_draws():
    model, x = iwae(samples=7), torch.rand(5, 1, 28, 28)
    out = model.loss(x, torch.Generator().manual_seed(1))
    w = log_weights(model, x, 7, torch.Generator().manual_seed(1), max_decodes=10_000)  # (k, B)
    expected = -(torch.logsumexp(w, 0) - math.log(7)).mean()
    torch.testing.assert_close(out.total, expected)
    torch.testing.assert_close(out.terms["nelbo"], -w.mean())


def test_one_sample_is_the_monte_carlo_elbo_and_more_samples_tighten_it():
    x = torch.rand(16, 1, 28, 28)
    one = iwae(samples=1)
    vae = create_model("vae", channels=(4, 8), latent_dim=3, binarize="static", kl_estimator="monte-carlo")
    vae.load_state_dict(one.state_dict())
    torch.testing.assert_close(one.loss(x, torch.Generator().manual_seed(2)).total, vae.loss(x, torch.Generator().manual_seed(2)).total)
    many = iwae(samples=50)
    out = many.loss(x, torch.Generator().manual_seed(2))
    assert out.terms["iwae"] < out.terms["nelbo"]  # L_k >= the ELBO on the same draws


def test_beta_is_refused():
    with pytest.raises(ConfigError, match="beta"):
        iwae(beta=4.0)
