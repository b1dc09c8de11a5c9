"""A decoder as data the page can run: a flat list of layer ops with their float32 weights.

Only layer types whose arithmetic `page/decoder.js` reproduces are exported, each named
exactly (a subclass may compute something else, so it is never assumed to match); any
other layer raises `UnsupportedLayer`, and `aelab explore --serve` decodes in Python instead.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from aelab.errors import AelabError
from aelab.models.vae import LogitDecoder


class UnsupportedLayer(AelabError):
    """The page's JavaScript decoder cannot run one of the decoder's layers."""


@dataclass
class DecoderSpec:
    """What decoder.js reads: ops in order, each a dict with `op` and its settings; weights by name."""

    ops: list[dict] = field(default_factory=list)
    weights: dict[str, np.ndarray] = field(default_factory=dict)

    def add_weight(self, tensor: torch.Tensor) -> str:
        name = f"w{len(self.weights)}"
        self.weights[name] = tensor.detach().float().cpu().contiguous().numpy()
        return name

    @property
    def weight_bytes(self) -> int:
        return sum(w.nbytes for w in self.weights.values())

    def to_json(self) -> dict:
        """Weights as base64 little-endian float32 with their shapes, for embedding in a page."""
        return {"ops": self.ops, "weights": {k: {"shape": list(w.shape), "data": b64_float32(w)} for k, w in self.weights.items()}}


def b64_float32(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


Exporter = Callable[[nn.Module, DecoderSpec], None]
_EXPORTERS: dict[type, Exporter] = {}


def exports(*types: type) -> Callable[[Exporter], Exporter]:
    def register(fn: Exporter) -> Exporter:
        for t in types:
            _EXPORTERS[t] = fn
        return fn

    return register


def export_decoder(decoder: nn.Module) -> DecoderSpec:
    spec = DecoderSpec()
    export(decoder, spec)
    return spec


def export(module: nn.Module, spec: DecoderSpec) -> None:
    exporter = _EXPORTERS.get(type(module))
    if exporter is None:
        raise UnsupportedLayer(
            f"the page cannot run the decoder layer {type(module).__name__} ({module}): "
            "open the run with `aelab explore RUN --serve`, which decodes in Python."
        )
    exporter(module, spec)


@exports(nn.Sequential)
def _sequential(module: nn.Sequential, spec: DecoderSpec) -> None:
    for child in module:
        export(child, spec)


@exports(LogitDecoder)
def _logits_then_sigmoid(module: LogitDecoder, spec: DecoderSpec) -> None:
    export(module.net, spec)
    spec.ops.append({"op": "sigmoid"})


@exports(nn.Linear)
def _linear(module: nn.Linear, spec: DecoderSpec) -> None:
    spec.ops.append({"op": "linear", "weight": spec.add_weight(module.weight), "bias": _bias(module, spec)})


@exports(nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Identity)
def _pointwise(module: nn.Module, spec: DecoderSpec) -> None:
    spec.ops.append({"op": type(module).__name__.lower()})


@exports(nn.LeakyReLU)
def _leaky_relu(module: nn.LeakyReLU, spec: DecoderSpec) -> None:
    spec.ops.append({"op": "leakyrelu", "slope": module.negative_slope})


@exports(nn.ELU)
def _elu(module: nn.ELU, spec: DecoderSpec) -> None:
    spec.ops.append({"op": "elu", "alpha": module.alpha})


@exports(nn.Unflatten)
def _unflatten(module: nn.Unflatten, spec: DecoderSpec) -> None:
    if module.dim != 1:
        raise UnsupportedLayer(f"the page unflattens dimension 1 only, not {module.dim}: use `aelab explore --serve`.")
    spec.ops.append({"op": "reshape", "shape": list(module.unflattened_size)})


@exports(nn.Flatten)
def _flatten(module: nn.Flatten, spec: DecoderSpec) -> None:
    if (module.start_dim, module.end_dim) != (1, -1):
        raise UnsupportedLayer(f"the page flattens whole images only, not dims {module.start_dim}..{module.end_dim}: use `--serve`.")
    spec.ops.append({"op": "flatten"})


@exports(nn.Conv2d, nn.ConvTranspose2d)
def _convolution(module: nn.Conv2d | nn.ConvTranspose2d, spec: DecoderSpec) -> None:
    if module.groups != 1 or module.dilation != (1, 1) or module.padding_mode != "zeros" or isinstance(module.padding, str):
        raise UnsupportedLayer(f"the page runs plain convolutions (groups 1, dilation 1, numeric zero padding), not {module}: use `--serve`.")
    transposed = isinstance(module, nn.ConvTranspose2d)
    spec.ops.append({
        "op": "conv_transpose2d" if transposed else "conv2d",
        "weight": spec.add_weight(module.weight), "bias": _bias(module, spec),
        "stride": list(module.stride), "padding": list(module.padding),
        "output_padding": list(module.output_padding) if transposed else [0, 0],
    })


@exports(nn.Upsample)
def _upsample(module: nn.Upsample, spec: DecoderSpec) -> None:
    if module.mode != "nearest" or module.size is None or isinstance(module.size, int):
        raise UnsupportedLayer(f"the page upsamples by 'nearest' to a given (h, w) only, not {module}: use `--serve`.")
    spec.ops.append({"op": "upsample_nearest", "size": list(module.size)})


def _bias(module: nn.Module, spec: DecoderSpec) -> str | None:
    return None if module.bias is None else spec.add_weight(module.bias)
