"""The sparse AE: both penalties against their formulas, and what its code looks like."""

from __future__ import annotations

import math

import torch

from aelab.models import create_model
from aelab.models.sparse_ae import kl_sparsity_penalty


def test_kl_penalty_is_the_bernoulli_kl_per_unit_of_the_mean_activation():
    z = torch.rand(32, 5)
    rho = 0.05
    expected = sum(
        torch.distributions.kl_divergence(torch.distributions.Bernoulli(rho), torch.distributions.Bernoulli(q)).item()
        for q in z.mean(0).tolist()
    )
    assert math.isclose(kl_sparsity_penalty(z, rho).item(), expected, rel_tol=1e-5)
    assert kl_sparsity_penalty(torch.full((8, 3), rho), rho).item() < 1e-6  # on target: no penalty


def test_l1_code_is_nonnegative_and_the_penalty_is_its_sum():
    model = create_model("sparse-ae", channels=(4, 8), latent_dim=16, penalty="l1", sparsity_weight=0.5)
    x = torch.rand(6, 1, 28, 28)
    z = model.encode(x)
    assert z.min() >= 0 and not model.capabilities.batch_coupled
    out = model.loss(x)
    torch.testing.assert_close(out.terms["sparsity"], z.sum(1).mean())
    torch.testing.assert_close(out.total, out.terms["mse"] + 0.5 * out.terms["sparsity"])
    torch.testing.assert_close(out.terms["active"], (z > 0).float().mean())


def test_kl_penalty_drives_the_mean_activation_to_the_target():
    torch.manual_seed(0)
    model = create_model("sparse-ae", channels=(4, 8), latent_dim=16, penalty="kl", sparsity_weight=1.0, target_rate=0.05)
    assert model.capabilities.batch_coupled and not type(model).capabilities.batch_coupled  # set per instance, by the penalty
    x = torch.rand(32, 1, 28, 28)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        out = model.loss(x)
        optimizer.zero_grad()
        out.total.backward()
        optimizer.step()
    assert abs(model.loss(x).terms["mean_activation"].item() - 0.05) < 0.03
