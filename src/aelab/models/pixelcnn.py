"""A small PixelCNN (van den Oord et al. 2016) over a grid of code indices: the VQ-VAE's prior.

p(c) = prod_i p(c_i | c_<i), positions in raster order, each a categorical over K codes.
Masked convolutions see only earlier positions: the first (mask "A") not even its own,
the later ones (mask "B") their own position's features, which already exclude c_i.
Indices (B, H, W) int64 -> logits (B, K, H, W); sampling fills the grid one position at a time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskedConv2d(nn.Conv2d):
    """A 'same' convolution whose kernel is zero at and after the centre ("A") or after it ("B")."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, mask: str):
        super().__init__(c_in, c_out, kernel_size, padding=kernel_size // 2)
        keep = torch.ones_like(self.weight)
        centre = kernel_size // 2
        keep[:, :, centre, centre + (mask == "B"):] = 0
        keep[:, :, centre + 1:] = 0
        self.register_buffer("mask", keep, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNNPrior(nn.Module):
    def __init__(self, codes: int, grid: tuple[int, int], width: int = 64, layers: int = 3):
        super().__init__()
        self.codes, self.grid = codes, grid
        self.embed = nn.Embedding(codes, width)
        stack: list[nn.Module] = [MaskedConv2d(width, width, 5, "A"), nn.ReLU()]
        for _ in range(layers - 1):
            stack += [MaskedConv2d(width, width, 3, "B"), nn.ReLU()]
        self.net = nn.Sequential(*stack, nn.Conv2d(width, codes, 1))

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return self.net(self.embed(indices).permute(0, 3, 1, 2))  # (B, H, W) -> (B, K, H, W)

    def nll(self, indices: torch.Tensor) -> torch.Tensor:
        """-log p(c) in nats per grid, (B, H, W) -> (B,)."""
        return F.cross_entropy(self(indices), indices, reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, H, W) indices drawn position by position (H * W forward passes)."""
        device = self.embed.weight.device
        grid = torch.zeros(n, *self.grid, dtype=torch.long, device=device)
        for i in range(self.grid[0]):
            for j in range(self.grid[1]):
                probs = self(grid)[:, :, i, j].softmax(1).cpu()
                grid[:, i, j] = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(device)
        return grid
