"""Building blocks shared by the models: activations by name, MLP stacks, and conv stacks
whose shapes are derived from the input size rather than written in by hand."""

from __future__ import annotations

import math
from typing import Literal, Sequence

from torch import nn

from aelab.errors import ConfigError

Activation = Literal["relu", "leaky-relu", "elu", "tanh", "sigmoid", "linear"]
# stride: stride-2 convs (all-convolutional); pool: conv + 2x max pooling; none: unit strides
Downsample = Literal["stride", "pool", "none"]
# transpose: stride-2 transposed convs; interpolate: upsample + conv;
# upsample-transpose: upsample + stride-1 transposed conv (seed 001's decoder)
Upsample = Literal["transpose", "interpolate", "upsample-transpose"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky-relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}
ACTIVATION_TYPES = tuple(_ACTIVATIONS.values())


def activation(name: str) -> nn.Module:
    return _ACTIVATIONS[name]()


def mlp(widths: Sequence[int], act: str, last_act: str) -> nn.Sequential:
    """Dense layers widths[0] -> widths[1] -> ... -> widths[-1], `act` between, `last_act` at the end."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        layers += [nn.Linear(n_in, n_out), activation(last_act if i == len(widths) - 2 else act)]
    return nn.Sequential(*layers)


def halved(size: tuple[int, int]) -> tuple[int, int]:
    """Spatial size after a stride-2 'same' convolution or a ceil-mode 2x pooling."""
    return (size[0] + 1) // 2, (size[1] + 1) // 2


def pool_to(size: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """The ceil-mode pooling window that turns `size` into `target`, e.g. (4, 4) -> (2, 1) needs (2, 4)."""
    window = tuple(math.ceil(s / t) for s, t in zip(size, target))
    reached = tuple(math.ceil(s / k) for s, k in zip(size, window))
    if min(target) < 1 or reached != tuple(target):
        raise ConfigError(
            f"model.code_size {tuple(target)} cannot be reached by pooling a {size[0]}x{size[1]} feature map: "
            "choose a code no larger than that map, or change model.channels (one pooling per entry)."
        )
    return window  # type: ignore[return-value]


def conv_encoder(
    in_channels: int,
    channels: Sequence[int],
    kernel_size: int,
    downsample: Downsample,
    act: str,
    size: tuple[int, int],
    code_size: tuple[int, int] | None = None,
) -> tuple[nn.Sequential, list[tuple[int, int]]]:
    """Convolutions that halve the image each layer (or keep it, with `downsample="none"`):
    (B, C, H, W) -> (B, channels[-1], h, w).

    With pooling, `code_size` replaces the last 2x pooling by the window that lands
    on exactly that size (seed 001's [2 x 1] code). Returns the stack and the spatial
    size before each layer and after the last, which the decoder mirrors.
    """
    if kernel_size % 2 == 0:
        raise ConfigError(f"model.kernel_size must be odd for 'same' padding; got {kernel_size}.")
    if code_size is not None and downsample != "pool":
        raise ConfigError(f"model.code_size needs model.downsample='pool'; got downsample={downsample!r}.")
    layers: list[nn.Module] = []
    sizes = [size]
    padding = kernel_size // 2
    for i, (c_in, c_out) in enumerate(zip([in_channels, *channels], channels)):
        stride = 2 if downsample == "stride" else 1
        layers += [nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding), activation(act)]
        if downsample == "pool":
            last = i == len(channels) - 1
            window = pool_to(sizes[-1], code_size) if last and code_size else (2, 2)
            layers.append(nn.MaxPool2d(window, ceil_mode=True))
            sizes.append(code_size if last and code_size else halved(sizes[-1]))
        else:
            sizes.append(sizes[-1] if downsample == "none" else halved(sizes[-1]))
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
    Where the encoder kept the size (unit strides), the transposed conv has stride 1.
    """
    layers: list[nn.Module] = []
    padding = kernel_size // 2
    widths = [*channels, out_channels]
    for i, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
        size, target = tuple(sizes[i]), tuple(sizes[i + 1])
        if upsample == "transpose":
            layers.append(_transposed(c_in, c_out, kernel_size, size, target))
        elif upsample == "interpolate":
            layers += [nn.Upsample(size=target), nn.Conv2d(c_in, c_out, kernel_size, padding=padding)]
        else:
            layers += [nn.Upsample(size=target), nn.ConvTranspose2d(c_in, c_out, kernel_size, padding=padding)]
        last = i == len(widths) - 2
        layers.append(activation(output_act if last else act))
    return nn.Sequential(*layers)


def _transposed(c_in: int, c_out: int, kernel_size: int, size: tuple, target: tuple) -> nn.ConvTranspose2d:
    padding = kernel_size // 2
    if size == target:
        return nn.ConvTranspose2d(c_in, c_out, kernel_size, padding=padding)
    extra = (target[0] - (2 * size[0] - 1), target[1] - (2 * size[1] - 1))
    if not all(e in (0, 1) for e in extra):
        raise ConfigError(
            f"a stride-2 transposed convolution cannot grow {size} into {target}: "
            "use model.upsample='upsample-transpose' or 'interpolate'."
        )
    return nn.ConvTranspose2d(c_in, c_out, kernel_size, stride=2, padding=padding, output_padding=extra)
