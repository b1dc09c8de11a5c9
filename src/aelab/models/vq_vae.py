"""`vq-vae` (van den Oord et al., "Neural Discrete Representation Learning", NeurIPS 2017).

    encoder: the conv stack of `vae` (stride-2 convs) -> 1x1 conv to D -> z_e (B, D, h, w)
             -> each position replaced by its nearest of K codebook vectors: z_q (B, D, h, w)
    decoder: transposed convs from z_q back to the image, sigmoid
The code analyses see is z_q (the chosen codebook vectors, so decode(encode(x)) is the
model); `code_indices(x)` gives the grid of indices (B, h, w).

Loss = MSE (mean per pixel) + ||sg(z_e) - z_q||^2 (codebook) + commitment * ||z_e - sg(z_q)||^2,
the last two means over positions and D. The decoder's gradient reaches the encoder by the
straight-through estimator z_e + sg(z_q - z_e). With `ema = true` (the default) the codebook
follows exponential moving averages of the vectors assigned to it (the paper's appendix)
instead of the codebook loss, which is then only logged; that update is a side effect of the training loss on shared state, so
such a model is never split over threads or processes (`capabilities.batch_coupled`).

Codebook usage is logged per batch and so averaged per epoch: `perplexity` = exp(entropy
of the batch's code frequencies), K when all are used alike; `codes_used`, the share of
the K codes the batch uses.

Training has two stages, as in the paper: `train.epochs` epochs of the autoencoder, then
`prior_epochs` more in which the autoencoder is frozen (no gradient, no EMA update) and a
small PixelCNN (pixelcnn.py) learns a prior over the index grids it now produces; each
stage's loss is its own objective (the second's is the prior's NLL per pixel value, so the
loss curve steps there). `prior_nll` (nats per grid) is logged on held-out splits in both
stages and on the training split in the second. `sample(n)` draws an index grid from the
prior and decodes it.
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aelab.checks import Channels, NonNegativeFloat, PositiveInt, UnitInterval
from aelab.models.base import Autoencoder, LossOutput, ModelConfig
from aelab.models.capabilities import Capabilities
from aelab.models.layers import Activation, conv_decoder, conv_encoder
from aelab.models.losses import reconstruction_loss
from aelab.models.pixelcnn import PixelCNNPrior
from aelab.models.registry import register_model
from aelab.terms import LOSS, RECONSTRUCTION_TERMS, MetricTerm


@dataclass
class VQVAEConfig(ModelConfig):
    name: str = "vq-vae"
    channels: Channels = (32, 64)
    kernel_size: PositiveInt = 3
    activation: Activation = "relu"
    code_dim: PositiveInt = 16  # D, the length of each codebook vector
    codebook_size: PositiveInt = 64  # K
    commitment: NonNegativeFloat = 0.25  # the paper's beta
    ema: bool = True  # the loss version's codebook and encoder chase each other at Adam's lr 3e-3 on small batches
    ema_decay: UnitInterval = 0.99
    prior_width: PositiveInt = 64
    prior_layers: PositiveInt = 3
    prior_epochs: PositiveInt = 5  # the prior's stage, after the autoencoder's train.epochs

    def second_stage_epochs(self) -> int:
        return self.prior_epochs


class VectorQuantizer(nn.Module):
    """z_e (B, D, h, w) -> z_q: every position's vector replaced by the nearest codebook entry."""

    def __init__(self, codes: int, dim: int, ema: bool):
        super().__init__()
        vectors = torch.empty(codes, dim).uniform_(-1 / codes, 1 / codes)  # the reference implementation's start
        if ema:  # updated by `ema_update`, not by the optimizer
            self.register_buffer("codebook", vectors)
            self.register_buffer("cluster_size", torch.ones(codes))
            self.register_buffer("cluster_sum", vectors.clone())
        else:
            self.codebook = nn.Parameter(vectors)

    def indices(self, z_e: torch.Tensor) -> torch.Tensor:
        flat = z_e.permute(0, 2, 3, 1).flatten(0, 2)  # (B*h*w, D)
        nearest = torch.cdist(flat.detach(), self.codebook.detach()).argmin(1)
        return nearest.view(z_e.shape[0], *z_e.shape[2:])  # (B, h, w)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        return self.codebook[indices].permute(0, 3, 1, 2)  # (B, h, w) -> (B, D, h, w)

    def forward(self, z_e: torch.Tensor) -> torch.Tensor:
        return self.lookup(self.indices(z_e))

    @torch.no_grad()
    def ema_update(self, z_e: torch.Tensor, indices: torch.Tensor, decay: float, eps: float = 1e-5) -> None:
        onehot = F.one_hot(indices.flatten(), len(self.codebook)).to(z_e.dtype)  # (N, K)
        flat = z_e.detach().permute(0, 2, 3, 1).flatten(0, 2)  # (N, D)
        self.cluster_size.mul_(decay).add_(onehot.sum(0), alpha=1 - decay)
        self.cluster_sum.mul_(decay).add_(onehot.T @ flat, alpha=1 - decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + eps) / (n + len(self.codebook) * eps) * n  # Laplace smoothing: no division by 0
        self.codebook.copy_(self.cluster_sum / smoothed[:, None])


class VQEncoder(nn.Module):
    """x -> z_q; `continuous(x)` gives z_e, the encoder's output before quantisation."""

    def __init__(self, body: nn.Module, quantizer: VectorQuantizer):
        super().__init__()
        self.body, self.quantizer = body, quantizer

    def continuous(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantizer(self.body(x))


def codebook_usage(indices: torch.Tensor, codes: int) -> dict[str, torch.Tensor]:
    """Perplexity exp(H(frequencies)) and the share of codes used, for a batch of index grids."""
    p = torch.bincount(indices.flatten(), minlength=codes).double() / indices.numel()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return {"perplexity": entropy.exp().float(), "codes_used": (p > 0).float().mean()}


@register_model("vq-vae")
class VQVAE(Autoencoder):
    config_class = VQVAEConfig
    # samples from the PixelCNN prior over index grids; the code is a grid of codebook vectors, so walking or
    # mixing its numbers leaves the codebook; batch-coupled with EMA updates: set in __init__
    capabilities = Capabilities(sample=True, discrete_code=True)

    def __init__(self, config: VQVAEConfig):
        super().__init__(config)
        self.capabilities = dataclasses.replace(self.capabilities, batch_coupled=config.ema)  # the EMA update is a side effect on shared buffers
        c, h, w = config.input_shape
        convs, sizes = conv_encoder(c, config.channels, config.kernel_size, "stride", config.activation, (h, w))
        body = nn.Sequential(convs, nn.Conv2d(config.channels[-1], config.code_dim, 1))
        self.encoder = VQEncoder(body, VectorQuantizer(config.codebook_size, config.code_dim, config.ema))
        deconvs = conv_decoder(config.channels[::-1], c, config.kernel_size, "transpose", config.activation, "sigmoid", sizes[::-1])
        self.decoder = nn.Sequential(nn.Conv2d(config.code_dim, config.channels[-1], 1), nn.ReLU(), deconvs)
        self.prior = PixelCNNPrior(config.codebook_size, tuple(sizes[-1]), config.prior_width, config.prior_layers)
        self.prior_stage = False  # set by the training loop (enter_stage)

    def enter_stage(self, second: bool) -> None:
        self.prior_stage = second

    @property
    def quantizer(self) -> VectorQuantizer:
        return self.encoder.quantizer

    def code_indices(self, x: torch.Tensor) -> torch.Tensor:
        """The grid of codebook indices (B, h, w) an image is encoded to."""
        return self.quantizer.indices(self.encoder.continuous(x))

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        cfg = self.config
        with torch.no_grad() if self.prior_stage else nullcontext():  # the second stage freezes the autoencoder
            z_e = self.encoder.continuous(x)
            indices = self.quantizer.indices(z_e)
            z_q = self.quantizer.lookup(indices)
            rec = reconstruction_loss(self.decode(z_e + (z_q - z_e).detach()), x, "mse")  # straight-through
            commitment = F.mse_loss(z_e, z_q.detach())
            codebook = F.mse_loss(z_q, z_e.detach())  # no gradient with EMA: the codebook is a buffer
            if cfg.ema and self.training and torch.is_grad_enabled():
                self.quantizer.ema_update(z_e, indices, cfg.ema_decay)
        terms = {"mse": rec.detach(), "codebook": codebook.detach(), "commitment": commitment.detach(),
                 **codebook_usage(indices, cfg.codebook_size)}
        if self.prior_stage or not self.training:  # the first stage's training batches skip the prior: it is not trained yet
            terms["prior_nll"] = (prior_nll := self.prior.nll(indices).mean()).detach()
        if self.prior_stage:
            return LossOutput(prior_nll / math.prod(x.shape[1:]), terms)
        return LossOutput(rec + (0 if cfg.ema else codebook) + cfg.commitment * commitment, terms)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.decode(self.quantizer.lookup(self.prior.sample(n, generator)))

    def decode_entries(self, entries: torch.Tensor) -> torch.Tensor:
        """Each codebook entry alone: a grid filled with entry k, decoded, for k in `entries` -> (len, C, H, W)."""
        grid = entries[:, None, None].expand(-1, *self.prior.grid)
        return self.decode(self.quantizer.lookup(grid))

    def metric_terms(self) -> list[MetricTerm]:
        return [MetricTerm(LOSS, "autoencoder loss, then prior NLL", "per pixel value"), RECONSTRUCTION_TERMS["mse"],
                MetricTerm("codebook", "codebook loss"), MetricTerm("commitment", "commitment loss"),
                MetricTerm("prior_nll", "prior NLL of the index grid", "nats per image"),
                MetricTerm("perplexity", "codebook perplexity"), MetricTerm("codes_used", "share of codes used")]

    def loss_description(self) -> str:
        cfg = self.config
        book = "EMA codebook updates" if cfg.ema else "codebook loss ||sg(z_e) - z_q||^2"
        return (f"loss: mse (mean per pixel) + {book} + {cfg.commitment:g} * commitment ||z_e - sg(z_q)||^2; K = {cfg.codebook_size}, "
                f"D = {cfg.code_dim}, grid {self.prior.grid[0]}x{self.prior.grid[1]}; straight-through gradients. Then {cfg.prior_epochs} "
                "epoch(s) of the PixelCNN prior alone on the frozen autoencoder's index grids: its NLL (nats) / pixels")
