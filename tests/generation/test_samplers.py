"""The samplers: a code mixture fitted, saved without pickle and reloaded; the prior where declared."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from aelab.errors import AelabError, ConfigError
from aelab.generation.samplers import (
    FULL_COVARIANCE_UP_TO,
    WIDEST_CODE,
    MixtureConfig,
    available_samplers,
    fit_mixture,
    load_mixture,
    sample,
    save_mixture,
    saved_or_fitted,
)
from aelab.models import create_model


def two_clusters(n: int = 400) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-5.0, 0.0, 1.0], [5.0, 2.0, -1.0]])
    return centres[torch.arange(n) % 2] + 0.3 * torch.randn(n, 3, generator=g)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_the_mixture_finds_the_clusters_and_draws_from_them(covariance):
    mixture = fit_mixture(two_clusters(), MixtureConfig(components=2, covariance=covariance))
    assert sorted(mixture.means[:, 0].round().tolist()) == [-5.0, 5.0]
    draws = mixture.draw(2000, torch.Generator().manual_seed(1))
    assert draws.shape == (2000, 3) and draws.dtype == torch.float32
    near = torch.cdist(draws, torch.tensor([[-5.0, 0.0, 1.0], [5.0, 2.0, -1.0]])).min(1).values
    assert near.max() < 2.5 and abs((draws[:, 0] > 0).float().mean() - 0.5) < 0.05
    assert draws[draws[:, 0] > 0].std(0) == pytest.approx(torch.full((3,), 0.3), rel=0.15)  # each cluster's own spread
    assert torch.equal(draws, mixture.draw(2000, torch.Generator().manual_seed(1)))


def test_the_mixture_round_trips_through_safetensors(tmp_path):
    mixture = dataclasses.replace(fit_mixture(two_clusters(), MixtureConfig(components=3)), fitted_for="abc")
    save_mixture(mixture, tmp_path / "m.safetensors")
    assert (tmp_path / "m.safetensors").read_bytes()[:8] != b"\x80\x04"  # not a pickle
    again = load_mixture(tmp_path / "m.safetensors")
    assert again.config == mixture.config and again.fitted_for == "abc"
    assert all(torch.equal(getattr(again, f), getattr(mixture, f)) for f in ("weights", "means", "covariances"))
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    with pytest.raises(AelabError, match="delete it"):
        load_mixture(tmp_path / "bad.safetensors")


def test_a_saved_fit_is_reused_only_for_the_same_config_and_weights(tmp_path):
    path, calls = tmp_path / "m.safetensors", []
    codes = lambda: calls.append(1) or two_clusters()  # noqa: E731
    quiet = lambda _: None  # noqa: E731
    first = saved_or_fitted(path, codes, MixtureConfig(components=2), "w1", quiet)
    saved_or_fitted(path, codes, MixtureConfig(components=2), "w1", quiet)
    assert len(calls) == 1
    assert saved_or_fitted(path, codes, MixtureConfig(components=3), "w1", quiet).means.shape[0] == 3
    saved_or_fitted(path, codes, MixtureConfig(components=3), "w2", quiet)  # the run was trained further
    assert len(calls) == 3 and first.fitted_for == "w1"


def test_bad_mixture_options_are_config_errors():
    with pytest.raises(ConfigError, match="components"):
        fit_mixture(two_clusters(5), MixtureConfig(components=6))
    with pytest.raises(ConfigError, match="'full' or 'diag'"):
        fit_mixture(two_clusters(5), MixtureConfig(components=2, covariance="tied"))
    with pytest.raises(ConfigError, match="16,385 numbers.*smaller code"):
        fit_mixture(torch.zeros(4, WIDEST_CODE + 1), MixtureConfig(components=2))


def test_auto_covariance_is_full_for_narrow_codes_and_diagonal_for_wide_ones():
    narrow = fit_mixture(two_clusters(), MixtureConfig(components=2))
    assert narrow.covariances.shape == (2, 3, 3)
    wide_codes = torch.randn(300, FULL_COVARIANCE_UP_TO + 1, generator=torch.Generator().manual_seed(0)) * 2 + 1
    wide = fit_mixture(wide_codes, MixtureConfig(components=1))
    assert wide.covariances.shape == (1, FULL_COVARIANCE_UP_TO + 1)  # variances, not a 257x257 matrix
    draws = wide.draw(4000, torch.Generator().manual_seed(1))
    assert draws.mean().item() == pytest.approx(1.0, abs=0.05) and draws.std(0).mean().item() == pytest.approx(2.0, rel=0.05)


def test_every_model_samples_from_its_code_mixture_and_only_vaes_from_a_prior():
    torch.manual_seed(0)
    ae, vae = create_model("conv-ae", channels=[4, 4], latent_dim=3), create_model("vae", latent_dim=3)
    assert available_samplers(ae) == ["gmm"] and available_samplers(vae) == ["prior", "gmm"]
    mixture = fit_mixture(two_clusters(), MixtureConfig(components=2))
    for model in (ae, vae):
        images = sample(model, 25, "gmm", mixture=mixture, generator=torch.Generator().manual_seed(0), batch_size=10)
        assert images.shape == (25, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
        assert torch.equal(images, sample(model, 25, "gmm", mixture=mixture, generator=torch.Generator().manual_seed(0)))
    prior = sample(vae, 7, "prior", generator=torch.Generator().manual_seed(0))
    assert prior.shape == (7, 1, 28, 28)
    with pytest.raises(ConfigError, match="not available"):
        sample(ae, 4, "prior")
    with pytest.raises(ConfigError, match="needs the code mixture"):
        sample(ae, 4, "gmm")
    with pytest.raises(ConfigError, match="another model"):
        sample(create_model("conv-ae", channels=[4, 4], latent_dim=5), 4, "gmm", mixture=mixture)
