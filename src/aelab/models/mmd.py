"""Maximum mean discrepancy (MMD) between two samples, for InfoVAE / MMD-VAE.

MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y) with x, x' ~ P and y, y' ~ Q;
it is zero iff P = Q for a characteristic kernel. Both kernels take their scale
C = 2 * K * bandwidth^2 from the latent size K: for two independent draws of the
N(0, I) prior, E||x - y||^2 = 2K, so with bandwidth 1 the kernel is neither
saturated nor vanishing on prior-sized distances (the choice of the WAE paper,
Tolstikhin et al. 2018, and pythae).
"""

from __future__ import annotations

from typing import Callable, Literal

import torch

Kernel = Literal["rbf", "imq"]


def kernel_scale(latent_dim: int, bandwidth: float) -> float:
    return 2.0 * latent_dim * bandwidth**2


def rbf_kernel(x: torch.Tensor, y: torch.Tensor, bandwidth: float = 1.0) -> torch.Tensor:
    """exp(-||x - y||^2 / C): (N, K), (M, K) -> (N, M)."""
    return torch.exp(-torch.cdist(x, y).pow(2) / kernel_scale(x.shape[-1], bandwidth))


def imq_kernel(x: torch.Tensor, y: torch.Tensor, bandwidth: float = 1.0) -> torch.Tensor:
    """Inverse multiquadratic C / (C + ||x - y||^2): (N, K), (M, K) -> (N, M).

    Its heavy tails keep a gradient when the two samples are far apart, where
    the RBF kernel's vanishes.
    """
    scale = kernel_scale(x.shape[-1], bandwidth)
    return scale / (scale + torch.cdist(x, y).pow(2))


KERNELS: dict[str, Callable[..., torch.Tensor]] = {"rbf": rbf_kernel, "imq": imq_kernel}


def mmd(x: torch.Tensor, y: torch.Tensor, kernel: Kernel = "imq", bandwidth: float = 1.0) -> torch.Tensor:
    """Unbiased estimate of MMD^2 between samples x (N, K) and y (M, K); a scalar.

    The diagonal terms k(x_i, x_i) are left out (the U-statistic), so two samples
    of one distribution give zero in expectation; the estimate can be slightly negative.
    """
    k = KERNELS[kernel]
    n, m = len(x), len(y)
    k_xx, k_yy, k_xy = k(x, x, bandwidth), k(y, y, bandwidth), k(x, y, bandwidth)
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within_x + within_y - 2 * k_xy.mean()
