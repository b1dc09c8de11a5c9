"""The denoising AE: its corruptions, and noise drawn only from the loss's generator."""

from __future__ import annotations

import pytest
import torch

from aelab.errors import ConfigError
from aelab.models import create_model
from aelab.models.denoising_ae import corrupt


def test_each_corruption_does_what_it_says():
    x = torch.full((64, 1, 28, 28), 0.5)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    masked = corrupt(x, "masking", 0.3, g())
    assert set(masked.unique().tolist()) == {0.0, 0.5} and abs((masked == 0).float().mean() - 0.3) < 0.01
    salted = corrupt(x, "salt-pepper", 0.2, g())
    assert abs((salted == 1).float().mean() - 0.1) < 0.01 and abs((salted == 0).float().mean() - 0.1) < 0.01
    noisy = corrupt(x, "gaussian", 0.1, g())
    assert 0 <= noisy.min() and noisy.max() <= 1 and abs((noisy - x).std() - 0.1) < 0.01


def test_noise_comes_from_the_generator_and_the_target_is_clean():
    model = create_model("denoising-ae", channels=(4, 8), noise="masking", noise_level=0.5)
    x = torch.rand(4, 1, 28, 28)
    first = model.loss(x, torch.Generator().manual_seed(3))
    torch.manual_seed(99)  # the global RNG plays no part
    again = model.loss(x, torch.Generator().manual_seed(3))
    other = model.loss(x, torch.Generator().manual_seed(4))
    assert torch.equal(first.total, again.total) and not torch.equal(first.total, other.total)
    noisy = corrupt(x, "masking", 0.5, torch.Generator().manual_seed(3))
    torch.testing.assert_close(first.total, torch.nn.functional.mse_loss(model(noisy), x))
    torch.testing.assert_close(first.terms["input_mse"], torch.nn.functional.mse_loss(noisy, x))


def test_a_probability_level_must_be_below_one():
    with pytest.raises(ConfigError, match="noise_level"):
        create_model("denoising-ae", noise="masking", noise_level=1.5)
    create_model("denoising-ae", noise="gaussian", noise_level=1.5)  # a std may be anything positive
