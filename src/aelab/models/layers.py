"""Building blocks shared by the models: activations by name, and conv stacks whose
shapes are derived from the input size rather than written in by hand."""

from __future__ import annotations

from typing import Literal, Sequence

from torch import nn

from aelab.errors import ConfigError

Activation = Literal["relu", "leaky-relu", "elu", "tanh", "sigmoid", "linear"]
Downsample = Literal["stride", "pool"]
Upsample = Literal["transpose", "interpolate"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky-relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}


def activation(name: str) -> nn.Module:
    return _ACTIVATIONS[name]()


def halved(size: tuple[int, int]) -> tuple[int, int]:
    """Spatial size after a stride-2 'same' convolution or a ceil-mode 2x pooling."""
    return (size[0] + 1) // 2, (size[1] + 1) // 2


def conv_encoder(
    in_channels: int,
    channels: Sequence[int],
    kernel_size: int,
    downsample: Downsample,
    act: str,
    size: tuple[int, int],
) -> tuple[nn.Sequential, list[tuple[int, int]]]:
    """Convolutions that halve the image each layer: (B, C, H, W) -> (B, channels[-1], h, w).

    Returns the stack and the spatial size before each layer and after the last,
    which the decoder mirrors to land exactly on the input size.
    """
    if kernel_size % 2 == 0:
        raise ConfigError(f"model.kernel_size must be odd for 'same' padding; got {kernel_size}.")
    layers: list[nn.Module] = []
    sizes = [size]
    padding = kernel_size // 2
    for c_in, c_out in zip([in_channels, *channels], channels):
        if downsample == "stride":
            layers += [nn.Conv2d(c_in, c_out, kernel_size, stride=2, padding=padding), activation(act)]
        else:
            layers += [
                nn.Conv2d(c_in, c_out, kernel_size, padding=padding),
                activation(act),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
        sizes.append(halved(sizes[-1]))
    return nn.Sequential(*layers), sizes


def conv_decoder(
    channels: Sequence[int],
    out_channels: int,
    kernel_size: int,
    upsample: Upsample,
    act: str,
    output_act: str,
    sizes: Sequence[tuple[int, int]],
) -> nn.Sequential:
    """The mirror of `conv_encoder`: `channels` and `sizes` are given from the code upwards.

    A stride-2 transposed convolution gives 2n - 1 or 2n pixels; `output_padding`
    picks the one the encoder came from, so odd sizes (7 -> 4 -> 7) round-trip.
    """
    layers: list[nn.Module] = []
    padding = kernel_size // 2
    widths = [*channels, out_channels]
    for i, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
        (h, w), target = sizes[i], sizes[i + 1]
        if upsample == "transpose":
            natural = (2 * h - 1, 2 * w - 1)
            extra = (target[0] - natural[0], target[1] - natural[1])
            layers.append(
                nn.ConvTranspose2d(c_in, c_out, kernel_size, stride=2, padding=padding, output_padding=extra)
            )
        else:
            layers += [nn.Upsample(size=target), nn.Conv2d(c_in, c_out, kernel_size, padding=padding)]
        last = i == len(widths) - 2
        layers.append(activation(output_act if last else act))
    return nn.Sequential(*layers)
