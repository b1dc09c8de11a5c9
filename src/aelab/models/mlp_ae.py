"""`mlp-ae`: a fully-connected autoencoder of any depth (seed 003).

    encoder: flatten -> [dense -> act] per encoder_widths -> dense latent_dim -> latent_activation
    decoder: [dense -> act] per decoder_widths -> dense C*H*W -> output_activation -> reshape

`decoder_widths = None` mirrors the encoder; `()` gives a single-layer decoder,
whose weight matrix (C*H*W, latent_dim) has one column per code unit that can be
shown as an image (`aelab.inspect.decoder_atoms`). Seed 003 asks to compare
output activations, so `output_activation` is a plain option (sigmoid, relu, linear).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from aelab.checks import PositiveInt, Widths
from aelab.models.base import Autoencoder, LossOutput, ModelConfig
from aelab.models.capabilities import Capabilities
from aelab.models.layers import Activation, mlp
from aelab.models.losses import ReconstructionLoss, reconstruction_loss
from aelab.models.registry import register_model
from aelab.terms import MetricTerm, per_pixel_terms


@dataclass
class MLPAEConfig(ModelConfig):
    name: str = "mlp-ae"
    encoder_widths: Widths = (256,)  # hidden layers before the code
    latent_dim: PositiveInt = 32
    decoder_widths: Widths | None = None  # None mirrors the encoder; () is one dense layer
    activation: Activation = "relu"
    latent_activation: Activation = "linear"
    output_activation: Activation = "sigmoid"
    loss: ReconstructionLoss = "mse"


@register_model("mlp-ae")
class MLPAutoencoder(Autoencoder):
    config_class = MLPAEConfig
    capabilities = Capabilities()  # a plain autoencoder

    def __init__(self, config: MLPAEConfig):
        super().__init__(config)
        pixels = math.prod(config.input_shape)
        hidden = config.encoder_widths[::-1] if config.decoder_widths is None else config.decoder_widths
        # (B, C, H, W) -> (B, K) -> (B, C, H, W)
        self.encoder = nn.Sequential(
            nn.Flatten(),
            *mlp([pixels, *config.encoder_widths, config.latent_dim], config.activation, config.latent_activation),
        )
        self.decoder = nn.Sequential(
            *mlp([config.latent_dim, *hidden, pixels], config.activation, config.output_activation),
            nn.Unflatten(1, tuple(config.input_shape)),
        )

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        value = reconstruction_loss(self(x), x, self.config.loss)
        return LossOutput(value, {self.config.loss: value.detach()})

    def metric_terms(self) -> list[MetricTerm]:
        return per_pixel_terms(self.config.loss)
