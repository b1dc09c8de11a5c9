"""10. Filters and feature maps (seed 003): the first convolution's filters, every
convolution's feature maps for one test image, and the weights of a single dense
layer next to the image (a single-layer decoder's rows; an MLP encoder's first layer)
drawn as images.

Layers are found by walking the modules, so any model works; this may later share
helpers with `aelab.inspect`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aelab.analysis.base import Analysis, AnalysisResult, register_analysis
from aelab.analysis.figures import grid_figure, labelled_grid

CONVS = (nn.Conv2d, nn.ConvTranspose2d)
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Tanh, nn.Sigmoid)


def leaves(module: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in module.named_modules() if not list(m.children())]


def map_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Each convolution, or the activation right after it (its feature maps as used)."""
    items = leaves(model)
    out = []
    for i, (name, m) in enumerate(items):
        if isinstance(m, CONVS):
            after = items[i + 1] if i + 1 < len(items) and isinstance(items[i + 1][1], ACTIVATIONS) else None
            out.append((name, after[1] if after else m))
    return out


def image_linears(model, n_pixels: int) -> list[tuple[str, torch.Tensor]]:
    """(name, (units, n_pixels)) for dense layers reading or writing whole images."""
    found = []
    for part in ("encoder", "decoder"):
        for name, m in leaves(getattr(model, part, nn.Identity())):
            if isinstance(m, nn.Linear) and n_pixels in (m.in_features, m.out_features):
                weight = m.weight.detach().float().cpu()
                found.append((f"{part}.{name}", weight if m.in_features == n_pixels else weight.T))
    return found


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Scale each item of (N, ...) to [0, 1] on its own."""
    flat = x.flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).reshape(x.shape)


@torch.inference_mode()
def feature_maps(model, layers, x: torch.Tensor) -> list[torch.Tensor]:
    """Outputs of `layers` for the batch x, via forward hooks."""
    outputs: list[torch.Tensor] = [None] * len(layers)
    hooks = [m.register_forward_hook(lambda _m, _i, out, k=k: outputs.__setitem__(k, out.detach().float().cpu()))
             for k, (_, m) in enumerate(layers)]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return outputs


@register_analysis
class Filters(Analysis):
    name, title, order = "filters", "Filters and feature maps", 100
    note = ("Filters of an unregularised conv AE often look like noise or copies of one pattern, and many feature "
            "maps stay blank ('dead'); sparse or well-trained models show edge and stroke detectors.")

    def applies(self, ctx) -> bool:
        n_pixels = math.prod(ctx.image_shape)
        return bool(map_layers(ctx.model) or image_linears(ctx.model, n_pixels))

    def run(self, ctx, *, image: int = 0, max_maps: int = 16, max_filters: int = 64, dead_images: int = 64) -> AnalysisResult:
        figures, numbers = [], {}
        c, h, w = ctx.image_shape
        convs = [(n, m) for n, m in leaves(ctx.model) if isinstance(m, CONVS)]
        if convs:
            name, first = convs[0]
            weight = first.weight.detach().float().cpu()  # Conv2d: (out, in, k, k)
            tiles = weight if weight.shape[1] == 3 else weight.mean(1, keepdim=True)
            tiles = normalise(tiles[:max_filters])
            fig = grid_figure(8, math.ceil(len(tiles) / 8), tiles.shape[1:], width=6, extra=0.4)
            labelled_grid(fig.add_subplot(), tiles, 8, pad=1)
            fig.axes[0].set_title(f"first convolution {name}: {weight.shape[0]} filters {weight.shape[2]}x{weight.shape[3]}", fontsize=11)
            figures.append(("first_filters", fig))
            numbers["first_conv"] = {"layer": name, "weight_shape": list(weight.shape)}
        layers = map_layers(ctx.model)
        if layers:
            x = ctx.test_images(slice(0, max(dead_images, image + 1))).to(ctx.device)
            maps = feature_maps(ctx.model, layers, x)
            rows = [normalise(F.interpolate(m[image : image + 1].transpose(0, 1)[:max_maps], size=(h, w), mode="nearest")) for m in maps]
            rows = [torch.cat([r, torch.ones(max_maps - len(r), 1, h, w)]) for r in rows]
            fig = grid_figure(max_maps, len(rows), ctx.image_shape, width=11, extra=0.7)
            labelled_grid(fig.add_subplot(), torch.cat(rows), max_maps, left=[n for n, _ in layers],
                          right=[f"{tuple(m.shape[1:])}" for m in maps], fontsize=8)
            fig.axes[0].set_title(f"feature maps of test image #{image} (first {max_maps} channels per layer)", fontsize=11)
            figures.append(("feature_maps", fig))
            numbers["dead_channel_fraction"] = {n: float((m.flatten(2).amax(2).amax(0) <= 0).float().mean()) for (n, _), m in zip(layers, maps)}
            numbers["feature_map_shapes"] = {n: list(m.shape[1:]) for (n, _), m in zip(layers, maps)}
        for name, weight in image_linears(ctx.model, c * h * w):
            tiles = normalise(weight[:max_filters].reshape(-1, c, h, w))
            fig = grid_figure(8, math.ceil(len(tiles) / 8), ctx.image_shape, width=7, extra=0.4)
            labelled_grid(fig.add_subplot(), tiles, 8, pad=2)
            fig.axes[0].set_title(f"{name}: each unit's {c * h * w} weights as an image", fontsize=11)
            figures.append((f"weights_{name.replace('.', '_')}", fig))
            numbers.setdefault("image_sized_dense_layers", []).append(name)
        return AnalysisResult(numbers, figures)
