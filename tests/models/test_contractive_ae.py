"""The contractive AE's penalty against torch.autograd.functional.jacobian, both ways."""

from __future__ import annotations

import pytest
import torch

from aelab.models import create_model
from aelab.models.contractive_ae import jacobian_frobenius


@pytest.fixture
def model():
    torch.manual_seed(0)
    return create_model("contractive-ae", channels=(4, 8), latent_dim=3)


def full_jacobian_norms(model, x):
    return torch.stack([torch.autograd.functional.jacobian(lambda t: model.encoder(t[None])[0], image).pow(2).sum() for image in x])


def test_exact_norm_equals_the_full_jacobian(model):
    x = torch.rand(3, 1, 28, 28)
    norm, z = jacobian_frobenius(model.encoder, x, "exact")
    torch.testing.assert_close(norm, full_jacobian_norms(model, x))
    torch.testing.assert_close(z, model.encode(x))


def test_estimate_is_unbiased(model):
    x = torch.rand(2, 1, 28, 28)
    norm, _ = jacobian_frobenius(model.encoder, x, "estimate", projections=4000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(norm, full_jacobian_norms(model, x), rtol=0.1, atol=0)


def test_the_penalty_trains_and_is_scored_in_inference_mode(model):
    x = torch.rand(4, 1, 28, 28)
    out = model.loss(x)
    out.total.backward()  # the penalty's graph reaches the encoder's weights twice over (create_graph)
    assert model.encoder[0][0].weight.grad.abs().sum() > 0
    torch.testing.assert_close(out.total, out.terms["mse"] + 1e-3 * out.terms["jacobian_frobenius"])
    with torch.inference_mode():
        scored = model.loss(x)
    torch.testing.assert_close(scored.total, out.total.detach())
