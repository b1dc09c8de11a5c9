"""The scores on features whose answer is known: references computed by their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from aelab.generation.scores import frechet_distance, kernel_distance, manifold_scores, score


def gaussian(n: int, dim: int = 8, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def fid_by_definition(a: np.ndarray, b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2), with scipy's matrix square root."""
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(sa @ sb).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(sa + sb - 2 * root))


def test_frechet_distance_matches_its_definition():
    a, b = gaussian(500, seed=1), gaussian(400, shift=0.3, seed=2) * 1.5
    assert frechet_distance(a, b) == pytest.approx(fid_by_definition(a.numpy(), b.numpy()), rel=1e-6)


def test_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    a = gaussian(1000)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    shifts = [frechet_distance(a, gaussian(1000, shift=s, seed=3)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert shifts == sorted(shifts) and shifts[-1] == pytest.approx(8 * 4, rel=0.1)  # |shift|^2 summed over 8 dimensions


def test_kid_is_unbiased_near_zero_for_one_distribution_and_its_standard_error_is_honest():
    same = [kernel_distance(gaussian(2000, seed=s), gaussian(2000, seed=100 + s), 10, seed=0) for s in range(5)]
    for kid, se in same:
        assert abs(kid) < 4 * se  # an unbiased estimate scatters around 0, also below it
    kid, se = kernel_distance(gaussian(2000), gaussian(2000, shift=0.5, seed=1), 10, seed=0)
    assert kid > 10 * se > 0


def test_kid_is_deterministic_for_a_seed():
    a, b = gaussian(300), gaussian(300, shift=0.2, seed=1)
    assert kernel_distance(a, b, 5, seed=7) == kernel_distance(a, b, 5, seed=7)
    with pytest.raises(ValueError, match="at least"):
        kernel_distance(a[:5], b[:5], 5, seed=0)


def manifold_by_definition(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Naeem et al.'s definitions, written as loops over the pairwise distances."""
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=2)
    d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=2)
    d_fr = np.linalg.norm(fake[:, None] - real[None], axis=2)
    r_real, r_fake = np.sort(d_rr, 1)[:, k], np.sort(d_ff, 1)[:, k]
    return {"precision": np.mean([any(d_fr[j, i] < r_real[i] for i in range(len(real))) for j in range(len(fake))]),
            "recall": np.mean([any(d_fr[j, i] < r_fake[j] for j in range(len(fake))) for i in range(len(real))]),
            "density": sum(d_fr[j, i] < r_real[i] for j in range(len(fake)) for i in range(len(real))) / (k * len(fake)),
            "coverage": np.mean([d_fr[:, i].min() < r_real[i] for i in range(len(real))])}


def test_precision_recall_density_coverage_match_their_definitions():
    real, fake = gaussian(60, dim=3).float(), (gaussian(45, dim=3, seed=4) * 1.3 + 0.4).float()
    expected = manifold_by_definition(real.numpy(), fake.numpy(), k=3)
    assert manifold_scores(real, fake, 3) == pytest.approx(expected)


def test_mode_collapse_keeps_precision_and_loses_recall_and_coverage():
    real = gaussian(500).float()
    collapsed = real[:1].repeat(500, 1) + 1e-3 * gaussian(500, seed=5).float()  # every sample is one real image
    out = manifold_scores(real, collapsed, 5)
    assert out["precision"] == 1.0 and out["recall"] < 0.05 and out["coverage"] < 0.05
    far = manifold_scores(real, real + 100, 5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_score_gathers_every_score_with_the_counts():
    out = score(gaussian(200), gaussian(150, seed=1), k=5, kid_subsets=5).to_dict()
    assert set(out) == {"fid", "kid", "kid_se", "precision", "recall", "density", "coverage", "samples", "reference"}
    assert (out["samples"], out["reference"]) == (150, 200)
