"""Named presets of `conv-ae` for the course's convolutional studies (seeds 001 and 003).

Each is the same network (conv_ae.py) with other defaults, so every option of
`conv-ae` still applies (`--set model.channels=[...]`).

`pooled-conv-ae` (seed 001, exercise 1): 3x3 convs with 16 filters, ReLU, 'same'
padding, each followed by pooling; the last conv has one filter and the last
pooling is chosen so the code is N x 1 x 2 x 1 (a ReLU-clipped 2-d code):
    28x28 -> 14x14 -> 7x7 -> 4x4 -(pool 2x4)-> 2x1
The decoder mirrors it: 2x upsampling (to the encoder's sizes) then a stride-1
transposed conv + ReLU per layer, the last with one filter and a sigmoid.
It starts from Keras's initialisation with the output at the data's mean pixel:
with PyTorch's defaults the code (or the decoder) died in every seed tried.

`all-conv-ae` (seed 003): strided convs down, stride-2 transposed convs up, no
pooling, no dense layer: the code is the last feature map.
`fully-conv-ae` (seed 003): unit strides throughout, so the code keeps the image size.
"""

from __future__ import annotations

from dataclasses import dataclass

from aelab.checks import Channels, ImageSize, PositiveInt
from aelab.models.capabilities import Capabilities
from aelab.models.conv_ae import ConvAEConfig, ConvAutoencoder
from aelab.models.init import Init
from aelab.models.layers import Downsample, Upsample
from aelab.models.registry import register_model


@dataclass
class PooledConvAEConfig(ConvAEConfig):
    name: str = "pooled-conv-ae"
    channels: Channels = (16, 16, 16, 1)
    kernel_size: PositiveInt = 3
    latent_dim: PositiveInt | None = None
    downsample: Downsample = "pool"
    upsample: Upsample = "upsample-transpose"
    code_size: ImageSize | None = (2, 1)
    # Keras's initialisation (the seed's framework), and the output started at the data's
    # mean: with PyTorch's defaults this tiny ReLU code died in every seed tried (issue 4)
    init: Init = "glorot"
    output_starts_at_mean: bool = True


@dataclass
class AllConvAEConfig(ConvAEConfig):
    name: str = "all-conv-ae"
    channels: Channels = (32, 32, 8)  # 28 -> 14 -> 7 -> 4: code (8, 4, 4)
    kernel_size: PositiveInt = 3
    latent_dim: PositiveInt | None = None
    downsample: Downsample = "stride"
    upsample: Upsample = "transpose"


@dataclass
class FullyConvAEConfig(ConvAEConfig):
    name: str = "fully-conv-ae"
    channels: Channels = (16, 16)  # code (16, 28, 28): no bottleneck but the channel count
    kernel_size: PositiveInt = 3
    latent_dim: PositiveInt | None = None
    downsample: Downsample = "none"
    upsample: Upsample = "transpose"


@register_model("pooled-conv-ae")
class PooledConvAutoencoder(ConvAutoencoder):
    config_class = PooledConvAEConfig
    capabilities = Capabilities()


@register_model("all-conv-ae")
class AllConvAutoencoder(ConvAutoencoder):
    config_class = AllConvAEConfig
    capabilities = Capabilities()


@register_model("fully-conv-ae")
class FullyConvAutoencoder(ConvAutoencoder):
    config_class = FullyConvAEConfig
    capabilities = Capabilities()
