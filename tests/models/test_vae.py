"""The VAE family: loss scaling, beta, the likelihoods, binarisation, sampling, MMD-VAE."""

from __future__ import annotations

import math

import pytest
import torch

from aelab.data import Split
from aelab.errors import ConfigError
from aelab.models import create_model
from aelab.models.mmd_vae import MMDVAE
from aelab.models.vae import VAE

SMALL = {"channels": (4, 8)}


def vae(name: str = "vae", input_shape=(1, 28, 28), **options) -> VAE:
    torch.manual_seed(0)
    return create_model(name, input_shape=input_shape, **SMALL, **options)


def zero_logits(model: VAE) -> None:
    """Make the decoder output logits 0 everywhere (p = 1/2 per pixel)."""
    last = model.decoder.net[-1][-2]  # the last transposed conv, before its linear activation
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)


def test_binarize_default_follows_the_likelihood():
    assert vae().config.binarize == "dynamic"
    assert vae(likelihood="gaussian").config.binarize == "none"
    with pytest.raises(ConfigError, match="binarize"):
        vae(likelihood="gaussian", binarize="dynamic")
    with pytest.raises(ConfigError, match="gaussian"):
        vae(learn_sigma=True)


def test_reconstruction_is_summed_over_pixels_and_averaged_over_the_batch():
    model = vae()
    zero_logits(model)
    for batch in (1, 7):
        x = torch.rand(batch, 1, 28, 28).round()
        out = model.loss(x)
        torch.testing.assert_close(out.terms["rec"], torch.tensor(784 * math.log(2)))


def test_beta_weights_only_the_loss_and_the_elbo_stays_beta_one():
    x = torch.rand(8, 1, 28, 28).round()
    outs = {}
    for beta in (1.0, 4.0):
        model = vae(beta=beta)
        torch.manual_seed(1)
        outs[beta] = model.loss(x)
    one, four = outs[1.0], outs[4.0]
    torch.testing.assert_close(one.total, one.terms["nelbo"])
    torch.testing.assert_close(one.terms["nelbo"], one.terms["rec"] + one.terms["kl"])
    torch.testing.assert_close(four.terms["nelbo"], one.terms["nelbo"])
    torch.testing.assert_close(four.total, four.terms["rec"] + 4 * four.terms["kl"])
    assert "beta-VAE" in vae(beta=4.0).loss_description() and "beta-VAE" not in vae().loss_description()
    assert "summed over 784 pixel values" in vae().loss_description()


def test_gradients_reach_both_encoder_heads():
    model = vae(kl_estimator="monte-carlo")
    model.loss(torch.rand(4, 1, 28, 28)).total.backward()
    assert model.encoder.mean.weight.grad.abs().sum() > 0
    assert model.encoder.logvar.weight.grad.abs().sum() > 0


def test_encode_is_the_posterior_mean_and_deterministic():
    model = vae(latent_dim=3).eval()
    x = torch.rand(5, 1, 28, 28)
    mu, logvar = model.encode_distribution(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert torch.equal(model.encode(x), mu) and torch.equal(model.encode(x), model.encode(x))
    torch.testing.assert_close(model.decode(mu), torch.sigmoid(model.decode_logits(mu)))


def test_dynamic_binarisation_redraws_in_training_and_is_fixed_for_evaluation():
    model = vae()
    x = torch.full((2, 1, 28, 28), 0.5)
    a, b = model.targets(x), model.targets(x)
    assert set(a.unique().tolist()) <= {0.0, 1.0} and not torch.equal(a, b)
    split = Split((torch.rand(6, 1, 28, 28) * 255).to(torch.uint8))
    view = model.evaluation_view(split)
    assert torch.equal(view.images, model.evaluation_view(split).images)
    assert set(view.images.unique().tolist()) <= {0, 255}
    binary = view.images.float() / 255
    assert torch.equal(model.targets(binary), binary)  # already binary: scored as is


def test_static_binarisation_thresholds():
    model = vae(binarize="static")
    x = torch.tensor([0.2, 0.5, 0.7]).view(1, 1, 1, 3)
    assert model.targets(x).flatten().tolist() == [0.0, 0.0, 1.0]


def test_gaussian_likelihood_is_the_normal_density_and_sigma_can_learn():
    model = vae(likelihood="gaussian", sigma=0.2, learn_sigma=True, input_shape=(3, 32, 32))
    x, logits = torch.rand(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    expected = torch.distributions.Normal(torch.sigmoid(logits), 0.2).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(model.log_likelihood(x, logits), expected)
    model.loss(x).total.backward()
    assert model.log_sigma.grad is not None and model.log_sigma.grad != 0


def test_colour_images_and_prior_samples():
    model = vae(input_shape=(3, 32, 32), latent_dim=16, hidden=32, binarize="none").eval()
    x = torch.rand(2, 3, 32, 32)
    assert model(x).shape == x.shape and torch.isfinite(model.loss(x).total)
    images = model.sample(5, torch.Generator().manual_seed(0))
    assert images.shape == (5, 3, 32, 32) and images.min() >= 0 and images.max() <= 1
    assert torch.equal(images, model.sample(5, torch.Generator().manual_seed(0)))


def test_mmd_vae_reuses_the_vae_and_adds_the_mmd_term():
    model = vae("mmd-vae", mmd_weight=10.0)
    assert isinstance(model, MMDVAE) and isinstance(model, VAE)
    out = model.loss(torch.rand(16, 1, 28, 28).round())
    assert {"rec", "kl", "nelbo", "mmd"} <= out.terms.keys()
    torch.testing.assert_close(out.total, out.terms["rec"] + 10.0 * out.terms["mmd"])  # beta defaults to 0
    assert "MMD" in model.loss_description()
