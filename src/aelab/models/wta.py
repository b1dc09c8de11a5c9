"""Winner-take-all autoencoders (Makhzani and Frey, NeurIPS 2015): `fc-wta-ae` and `conv-wta-ae`.

`fc-wta-ae`: a ReLU encoder (B, C, H, W) -> (B, K) and a single linear layer back
(the paper's "deep ReLU encoder, shallow linear decoder"). In the loss each
hidden unit keeps only its `lifetime_rate` largest activations across the
mini-batch (lifetime sparsity); the error flows back through those alone.

`conv-wta-ae`: ReLU convolutions with unit strides and no pooling, then spatial
sparsity (each feature map keeps only its largest activation per image), then,
in the loss, optional lifetime sparsity of those winners across the mini-batch;
the decoder is one linear transposed convolution (`decoder_kernel` x
`decoder_kernel`, 11 in the paper), so its filters are the learned dictionary.

What each method returns:
- `loss(x)`: the paper's training objective, sparsity included, on whatever batch it is given
  (evaluation batches too, so val/test losses track the objective).
- `encode(x)`: the code the decoder reads, computed per image: FC-WTA's dense hidden code
  (lifetime sparsity needs a batch, so it is off outside the loss, as at the paper's test
  time); Conv-WTA's spatially sparse maps (B, C, H, W).
- `feature_extractor()`: the paper's classification features, with sparsity off: FC-WTA's
  dense hidden code; Conv-WTA's dense last feature maps, max-pooled over
  `feature_pool` x `feature_pool` windows and flattened.

Departures from the paper (see docs): training is end to end on the one loop (Adam)
rather than the paper's layer-wise training of deep stacks; Conv-WTA's default encoder
is one 5x5 layer of 128 maps, to fit CPU budgets (set `model.channels` for deeper stacks);
k is `round(rate * batch)`, at least 1; FC-WTA's `forward` at test time decodes the dense
code, which the decoder never saw in training, so its reconstructions there are a
diagnostic, not the objective.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

from aelab.checks import Channels, PositiveInt, Rate, Widths
from aelab.models.base import Autoencoder, LossOutput, ModelConfig
from aelab.models.capabilities import Capabilities
from aelab.models.layers import Activation, activation, conv_encoder, mlp
from aelab.models.losses import ReconstructionLoss, reconstruction_loss
from aelab.models.registry import register_model
from aelab.models.sparsity import SpatialSparsity, active_fraction, conv_lifetime_sparsity, lifetime_sparsity
from aelab.terms import MetricTerm, per_pixel_terms

ACTIVE_TERM = MetricTerm("active", "share of code units active")  # logged by both winner-take-all models


@dataclass
class FCWTAConfig(ModelConfig):
    name: str = "fc-wta-ae"
    hidden_widths: Widths = ()  # ReLU layers before the code layer
    latent_dim: PositiveInt = 1000  # code units (ReLU)
    lifetime_rate: Rate = 0.05  # each unit keeps its top 5% activations per mini-batch
    output_activation: Activation = "linear"  # the paper's linear decoder
    loss: ReconstructionLoss = "mse"

    def __post_init__(self) -> None:
        _check_rate("lifetime_rate", self.lifetime_rate)


@register_model("fc-wta-ae")
class FCWTAAutoencoder(Autoencoder):
    config_class = FCWTAConfig
    capabilities = Capabilities(batch_coupled=True)  # lifetime sparsity ranks each unit across the batch

    def __init__(self, config: FCWTAConfig):
        super().__init__(config)
        pixels = math.prod(config.input_shape)
        # (B, C, H, W) -> (B, K) -> (B, C, H, W)
        self.encoder = nn.Sequential(nn.Flatten(), *mlp([pixels, *config.hidden_widths, config.latent_dim], "relu", "relu"))
        self.decoder = nn.Sequential(
            nn.Linear(config.latent_dim, pixels), activation(config.output_activation), nn.Unflatten(1, tuple(config.input_shape))
        )

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        code = lifetime_sparsity(self.encode(x), self.config.lifetime_rate)
        value = reconstruction_loss(self.decode(code), x, self.config.loss)
        return LossOutput(value, {self.config.loss: value.detach(), "active": active_fraction(code.detach())})

    def metric_terms(self) -> list[MetricTerm]:
        return per_pixel_terms(self.config.loss, ACTIVE_TERM)


@dataclass
class ConvWTAConfig(ModelConfig):
    name: str = "conv-wta-ae"
    channels: Channels = (128,)  # unit-stride ReLU convs; the last one's maps are the code
    kernel_size: PositiveInt = 5
    decoder_kernel: PositiveInt = 11  # one linear transposed conv back to the image
    lifetime_rate: Rate | None = 0.2  # None: spatial sparsity alone
    feature_pool: PositiveInt = 4  # max-pooling window (and stride) over the dense maps for features
    output_activation: Activation = "linear"
    loss: ReconstructionLoss = "mse"

    def __post_init__(self) -> None:
        if self.lifetime_rate is not None:
            _check_rate("lifetime_rate", self.lifetime_rate)
        if self.decoder_kernel % 2 == 0:
            raise ValueError(f"decoder_kernel must be odd for 'same' padding; got {self.decoder_kernel}")


@register_model("conv-wta-ae")
class ConvWTAAutoencoder(Autoencoder):
    config_class = ConvWTAConfig
    capabilities = Capabilities()  # batch-coupled with lifetime sparsity: set in __init__

    def __init__(self, config: ConvWTAConfig):
        super().__init__(config)
        self.capabilities = dataclasses.replace(self.capabilities, batch_coupled=config.lifetime_rate is not None)  # lifetime sparsity ranks the batch
        c, h, w = config.input_shape
        body, _ = conv_encoder(c, config.channels, config.kernel_size, "none", "relu", (h, w))
        # (B, C, H, W) -> (B, maps, H, W), one non-zero per map -> (B, C, H, W)
        self.encoder = nn.Sequential(body, SpatialSparsity())
        k = config.decoder_kernel
        self.decoder = nn.Sequential(nn.ConvTranspose2d(config.channels[-1], c, k, padding=k // 2), activation(config.output_activation))

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        code = self.encode(x)
        if self.config.lifetime_rate is not None:
            code = conv_lifetime_sparsity(code, self.config.lifetime_rate)
        value = reconstruction_loss(self.decode(code), x, self.config.loss)
        return LossOutput(value, {self.config.loss: value.detach(), "active": active_fraction(code.detach())})

    def metric_terms(self) -> list[MetricTerm]:
        return per_pixel_terms(self.config.loss, ACTIVE_TERM)

    def feature_extractor(self) -> nn.Module:
        """Dense maps (sparsity off), max-pooled: (B, C, H, W) -> (B, maps * ceil(H/p) * ceil(W/p))."""
        pool = self.config.feature_pool
        return nn.Sequential(self.encoder[0], nn.MaxPool2d(pool, ceil_mode=True), nn.Flatten())


def _check_rate(name: str, rate: float) -> None:
    if not 0 < rate <= 1:
        raise ValueError(f"{name} must be in (0, 1] (a fraction of the batch, e.g. 0.05); got {rate}")
