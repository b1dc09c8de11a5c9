"""Looking inside a trained model (seed 003): first-layer filters, decoder atoms, feature maps.

Each function returns data (tensors scaled to [0, 1] for display, or arrays from
`aelab.plots.image_grid`); `save_grid` writes any of them as a PNG.

    filters = first_layer_filters(model)          # (N, C, k, k) or (N, C, H, W) for a dense layer
    atoms = decoder_atoms(model)                  # one image per code unit (single-layer decoder)
    maps = feature_maps(model, image)             # [(layer name, (C, h, w)), ...]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aelab.errors import ConfigError
from aelab.models import Autoencoder
from aelab.models.layers import ACTIVATION_TYPES
from aelab.models.sparsity import SpatialSparsity
from aelab.plots import image_grid, save_png

WEIGHTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def normalise_each(tiles: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> the same with each tile min-max scaled to [0, 1] (flat tiles become 0.5)."""
    flat = tiles.detach().float().flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    scaled = torch.where(high > low, (flat - low) / (high - low).clamp_min(1e-12), torch.full_like(flat, 0.5))
    return scaled.view_as(tiles)


def weighted_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, WEIGHTED)]


def first_layer_filters(model: Autoencoder) -> torch.Tensor:
    """The encoder's first layer as images, each scaled to [0, 1]: a conv gives its kernels
    (N, C_in, k, k); a dense layer its weight rows as images (N, C, H, W) (seed 003)."""
    layers = weighted_layers(model.encoder)
    if not layers:
        raise ConfigError(f"{model.config.name}'s encoder has no layer with weights to show.")
    first = layers[0]
    weight = first.weight.detach()
    if isinstance(first, nn.Linear):
        weight = weight.view(weight.shape[0], *model.config.input_shape)
    return normalise_each(weight)


def decoder_atoms(model: Autoencoder) -> torch.Tensor:
    """What each code unit paints, for a decoder with one weighted layer: a dense decoder's
    weight (C*H*W, K) gives K images (K, C, H, W) (seed 003); a single transposed conv
    (Conv-WTA) gives one filter per code map (K, C, k, k). Each scaled to [0, 1]."""
    layers = weighted_layers(model.decoder)
    if len(layers) != 1:
        raise ConfigError(
            f"{model.config.name}'s decoder has {len(layers)} layers with weights; decoder atoms need exactly one "
            "(e.g. mlp-ae with model.decoder_widths=[], fc-wta-ae or conv-wta-ae)."
        )
    (layer,) = layers
    weight = layer.weight.detach()
    if isinstance(layer, nn.Linear):
        weight = weight.T.reshape(weight.shape[1], *model.config.input_shape)
    return normalise_each(weight)


def feature_maps(model: Autoencoder, image: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """The maps of one image (C, H, W) in [0, 1] after each activation (and sparsity) of the
    encoder and decoder: [(name, (channels, h, w)), ...] in forward order. Dense layers,
    whose outputs are not maps, are left out."""
    return [(name, maps[0]) for name, maps in batch_feature_maps(model, image.unsqueeze(0))]


@torch.no_grad()
def batch_feature_maps(model: Autoencoder, images: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """`feature_maps` for a batch (B, C, H, W): [(name, (B, channels, h, w)), ...]."""
    records: list[tuple[str, torch.Tensor]] = []
    hooks = []
    for part in ("encoder", "decoder"):
        for name, module in getattr(model, part).named_modules():
            if isinstance(module, (*ACTIVATION_TYPES, SpatialSparsity)):
                label = f"{part}.{name}"
                hooks.append(module.register_forward_hook(
                    lambda _m, _i, out, label=label: records.append((label, out.detach().float().cpu())) if out.dim() == 4 else None
                ))
    was_training = model.training
    try:
        model.eval()
        model.decode(model.encode(images.to(next(model.parameters()).device)))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return records


def tiles_grid(tiles: torch.Tensor, ncols: int | None = None, scale: int = 2) -> np.ndarray:
    """(N, C, h, w) in [0, 1] -> one image array; tiles with C not in (1, 3) are shown channel by channel."""
    if tiles.shape[1] not in (1, 3):
        tiles = tiles.flatten(0, 1).unsqueeze(1)
    ncols = ncols or math.ceil(math.sqrt(len(tiles)))
    return image_grid(tiles, ncols, scale=scale)


def maps_grid(maps: torch.Tensor, ncols: int | None = None, scale: int = 2) -> np.ndarray:
    """One layer's maps (C, h, w) as a grid, each map scaled to [0, 1]."""
    return tiles_grid(normalise_each(maps).unsqueeze(1), ncols, scale)


def save_grid(array: np.ndarray, path: str | Path) -> Path:
    save_png(array, Path(path))
    return Path(path)
