"""MMD: near zero for two samples of one distribution, clearly positive for shifted ones."""

from __future__ import annotations

import pytest
import torch

from aelab.models.mmd import imq_kernel, mmd, rbf_kernel


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_mmd_separates_same_from_shifted(kernel):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(500, 8, generator=g), torch.randn(500, 8, generator=g)
    same = mmd(x, y, kernel)
    shifted = mmd(x, y + 1.0, kernel)
    assert abs(same) < 0.005
    assert shifted > 10 * max(abs(same.item()), 1e-4) and shifted > 0.02


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_mmd_grows_with_the_shift(kernel):
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(300, 4, generator=g), torch.randn(300, 4, generator=g)
    values = [mmd(x, y + shift, kernel).item() for shift in (0.5, 1.0, 2.0)]
    assert values == sorted(values)


def test_kernels_are_one_on_the_diagonal_and_fall_with_distance():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    for kernel in (rbf_kernel, imq_kernel):
        k = kernel(x, x)
        torch.testing.assert_close(k.diagonal(), torch.ones(3))
        assert k[0, 1] > k[0, 2] > 0


def test_bandwidth_scales_with_latent_size():
    """The same per-dimension offset looks alike in 2 and in 32 dimensions."""
    small = rbf_kernel(torch.zeros(1, 2), torch.full((1, 2), 0.5))
    large = rbf_kernel(torch.zeros(1, 32), torch.full((1, 32), 0.5))
    torch.testing.assert_close(small, large)


def test_mmd_has_gradients():
    x = torch.randn(32, 3, requires_grad=True)
    mmd(x, torch.randn(32, 3) + 1).backward()
    assert x.grad.abs().sum() > 0
