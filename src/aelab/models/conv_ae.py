"""`conv-ae`: convolutional autoencoder with a dense embedding (seeds 000 and 004).

Defaults are seed 004's network (Q1 = Q2 = 32, K = 10):
    encoder: conv 5x5/2 -> ReLU -> conv 5x5/2 -> ReLU -> flatten -> dense K
    decoder: dense -> ReLU -> reshape -> convT 5x5/2 -> ReLU -> convT 5x5/2 -> sigmoid
With `latent_dim = None` there is no dense layer and the code is the last feature map.
Named presets of the same network (seeds 001 and 003) are in conv_presets.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from aelab.checks import Channels, ImageSize, PositiveInt
from aelab.models.base import Autoencoder, LossOutput, ModelConfig
from aelab.models.capabilities import Capabilities
from aelab.models.init import Init, initialize, start_output_at_mean
from aelab.models.layers import Activation, Downsample, Upsample, activation, conv_decoder, conv_encoder
from aelab.models.losses import ReconstructionLoss, reconstruction_loss
from aelab.models.registry import register_model
from aelab.terms import MetricTerm, per_pixel_terms


@dataclass
class ConvAEConfig(ModelConfig):
    name: str = "conv-ae"
    channels: Channels = (32, 32)  # one stride-2 (pooled, or unit-stride) conv per entry
    kernel_size: PositiveInt = 5
    latent_dim: PositiveInt | None = 10
    downsample: Downsample = "stride"
    upsample: Upsample = "transpose"
    activation: Activation = "relu"
    output_activation: Activation = "sigmoid"
    loss: ReconstructionLoss = "mse"
    code_size: ImageSize | None = None  # pooling only: the last pooling lands on this (h, w)
    init: Init = "pytorch"
    output_starts_at_mean: bool = False  # decoder bias from `pixel_mean` (models/init.py says why)


@register_model("conv-ae")
class ConvAutoencoder(Autoencoder):
    config_class = ConvAEConfig
    capabilities = Capabilities()  # a plain autoencoder: encode, decode, a per-image loss

    def __init__(self, config: ConvAEConfig):
        super().__init__(config)
        c, h, w = config.input_shape
        convs, sizes = conv_encoder(
            c, config.channels, config.kernel_size, config.downsample, config.activation, (h, w), config.code_size
        )
        feature_shape = (config.channels[-1], *sizes[-1])
        flat = math.prod(feature_shape)
        deconvs = conv_decoder(
            config.channels[::-1], c, config.kernel_size, config.upsample,
            config.activation, config.output_activation, sizes[::-1],
        )
        if config.latent_dim is None:
            self.encoder, self.decoder = convs, deconvs
        else:
            # (B, C, h, w) -> (B, K) and back
            self.encoder = nn.Sequential(convs, nn.Flatten(), nn.Linear(flat, config.latent_dim))
            self.decoder = nn.Sequential(
                nn.Linear(config.latent_dim, flat),
                activation(config.activation),
                nn.Unflatten(1, feature_shape),
                deconvs,
            )
        initialize(self, config.init)
        if config.output_starts_at_mean and config.pixel_mean is not None:
            start_output_at_mean(self.decoder, config.output_activation, config.pixel_mean)

    def loss_description(self) -> str:
        return f"loss: {self.config.loss}, the mean over pixels and over the batch"

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        value = reconstruction_loss(self(x), x, self.config.loss)
        return LossOutput(value, {self.config.loss: value.detach()})

    def metric_terms(self) -> list[MetricTerm]:
        return per_pixel_terms(self.config.loss)
