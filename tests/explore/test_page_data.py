"""What the page is given: the map, the order and activity of code dimensions, the code budget."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from aelab.data import Split
from aelab.explore.page_data import (
    CODE_BUDGET_BYTES,
    ExploreOptions,
    _counts,
    dimension_scores,
    latent_map,
)


def test_a_two_number_code_is_its_own_map():
    codes = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    kind, xy, pca = latent_map(codes, ExploreOptions())
    assert kind == "code" and pca is None and np.array_equal(xy, codes)


def test_a_wider_code_maps_by_pca_whose_inverse_recovers_the_plane():
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 6)) + 3.0  # codes on a 2-D plane in 6-D
    kind, xy, pca = latent_map(plane.astype(np.float32), ExploreOptions())
    assert kind == "pca"
    assert np.abs(pca.inverse_transform(xy) - plane).max() < 1e-4


def test_wide_codes_get_fewer_points_within_the_budget():
    n, t = _counts(100_352, 10_000, 60_000, ExploreOptions())
    assert 4 * 100_352 * (n + t) <= CODE_BUDGET_BYTES and n >= 1
    assert _counts(10, 10_000, 60_000, ExploreOptions()) == (10_000, 2_000)


def test_an_autoencoder_orders_by_variance_and_marks_constant_dimensions_inactive():
    codes = np.stack([np.linspace(-1, 1, 40), np.zeros(40), 3 * np.linspace(-1, 1, 40)], 1).astype(np.float32)
    score, inactive = dimension_scores(SimpleNamespace(variational=False), None, codes)
    assert list(np.argsort(-score)) == [2, 0, 1]
    assert inactive.tolist() == [False, True, False]


def test_a_vae_orders_by_kl_and_marks_collapsed_dimensions_inactive():
    points = Split(torch.zeros(8, 1, 2, 2, dtype=torch.uint8))
    mu = torch.tensor([[0.0, 2.0]]).repeat(8, 1)  # dim 1: far from the prior (large KL), but constant
    mu[:, 0] = torch.linspace(-1, 1, 8)
    model = SimpleNamespace(encode_distribution=lambda x: (mu[: len(x)], torch.zeros(len(x), 2)))
    ctx = SimpleNamespace(variational=True, model=model, batch_size=8, device="cpu")
    score, inactive = dimension_scores(ctx, points, mu.numpy())
    assert score == pytest.approx(0.5 * (mu.numpy() ** 2).mean(0))  # KL per dim with unit variance: mu^2 / 2
    assert inactive.tolist() == [False, True]  # the posterior mean of dim 1 never moves
