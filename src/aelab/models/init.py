"""Weight initialisation by name, and a decoder whose output starts at the data's mean.

Why the second: a decoder that starts far from the data (a sigmoid at 0.5 on mostly
black MNIST) spends its first steps darkening every output, and that large, shared
gradient also flows into the code. In a tiny ReLU bottleneck (seed 001's two numbers)
it drives the code or the decoder's ReLUs below zero for every image, where they stay:
the network then draws one average digit or a black square. Starting the output
layer's bias at the mean pixel value removes that first push (Karpathy's "init well").
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import nn

# pytorch: PyTorch's defaults; glorot: Keras's defaults (Glorot-uniform weights, zero biases);
# kaiming: He-normal weights for ReLU networks, zero biases.
Init = Literal["pytorch", "glorot", "kaiming"]
_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def initialize(module: nn.Module, scheme: Init) -> None:
    """Re-initialise every conv, transposed-conv and dense layer of `module` by `scheme`."""
    if scheme == "pytorch":
        return
    for layer in module.modules():
        if not isinstance(layer, _LAYERS):
            continue
        if scheme == "glorot":
            nn.init.xavier_uniform_(layer.weight)
        else:  # a transposed conv's fan-out is the fan-in of the layer it inverts
            mode = "fan_out" if isinstance(layer, nn.ConvTranspose2d) else "fan_in"
            nn.init.kaiming_normal_(layer.weight, mode=mode, nonlinearity="relu")
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def start_output_at_mean(decoder: nn.Module, output_activation: str, channel_means: Sequence[float]) -> None:
    """Set the bias of the decoder's last layer so an all-zero input decodes to `channel_means`.

    The bias is the inverse of the output activation at the mean (the logit for a
    sigmoid). Activations with no inverse worth using (tanh, elu) leave it unchanged.
    """
    last = [m for m in decoder.modules() if isinstance(m, _LAYERS) and m.bias is not None][-1]
    means = torch.tensor([float(m) for m in channel_means])
    if output_activation == "sigmoid":
        means = torch.logit(means.clamp(1e-3, 1 - 1e-3))
    elif output_activation not in ("linear", "relu", "leaky-relu"):
        return
    with torch.no_grad():
        if isinstance(last, nn.Linear):  # dense output: one unit per pixel, channel-major
            last.bias.copy_(means.repeat_interleave(last.bias.numel() // len(means)))
        else:
            last.bias.copy_(means)
