"""10. Filters and feature maps (seed 003): the encoder's first layer as images (a
convolution's kernels, or a dense layer's rows), every layer's feature maps for one
test image, and, for a decoder with a single weighted layer, what each code unit
paints. The layers are found by `aelab.inspect`, so any model works.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from aelab.analysis.base import Analysis, AnalysisResult, register_analysis
from aelab.analysis.figures import grid_figure, labelled_grid
from aelab.analysis.needs import Needs
from aelab.checks import NonNegativeInt, PositiveInt
from aelab.errors import ConfigError
from aelab.inspect import batch_feature_maps, decoder_atoms, first_layer_filters, normalise_each, weighted_layers


def as_tiles(weights: torch.Tensor, max_tiles: int) -> torch.Tensor:
    """Kernels or images (N, C, h, w) -> at most `max_tiles` displayable tiles (grey unless RGB)."""
    tiles = weights if weights.shape[1] in (1, 3) else weights.mean(1, keepdim=True)
    return normalise_each(tiles[:max_tiles].float().cpu())


def tile_figure(tiles: torch.Tensor, title: str, width: float, pad: int):
    fig = grid_figure(8, math.ceil(len(tiles) / 8), tiles.shape[1:], width=width, extra=0.4)
    labelled_grid(fig.add_subplot(), tiles, 8, pad=pad)
    fig.axes[0].set_title(title, fontsize=11)
    return fig


def single_layer_decoder_atoms(model) -> torch.Tensor | None:
    try:
        return decoder_atoms(model)
    except ConfigError:  # a deeper decoder: its units paint nothing on their own
        return None


@register_analysis
class Filters(Analysis):
    name, title, order = "filters", "Filters and feature maps", 100
    note = ("Filters of an unregularised conv AE often look like noise or copies of one pattern, and many feature "
            "maps stay blank ('dead'); sparse or well-trained models show edge and stroke detectors.")
    needs = Needs(encoder_weights=True)

    def run(
        self, ctx, *, image: NonNegativeInt = 0, max_maps: PositiveInt = 16, max_filters: PositiveInt = 64, dead_images: PositiveInt = 64
    ) -> AnalysisResult:
        figures, numbers = [], {}
        first = weighted_layers(ctx.model.encoder)[0]
        filters = first_layer_filters(ctx.model)
        kind = "convolution" if filters.shape[-2:] != ctx.image_shape[-2:] else "dense layer"
        title = f"the encoder's first {kind}: {len(filters)} {'filters' if kind == 'convolution' else 'weight rows as images'}"
        figures.append(("first_filters", tile_figure(as_tiles(filters, max_filters), title, 6, 1)))
        numbers["first_layer"] = {"kind": kind, "weight_shape": list(first.weight.shape)}
        atoms = single_layer_decoder_atoms(ctx.model)
        if atoms is not None:
            title = f"the single-layer decoder: what each of its {len(atoms)} code units paints"
            figures.append(("decoder_atoms", tile_figure(as_tiles(atoms, max_filters), title, 7, 2)))
            numbers["decoder_atoms"] = len(atoms)
        x = ctx.test_images(slice(0, max(dead_images, image + 1)))
        layers = batch_feature_maps(ctx.model, x)
        if layers:
            figures.append(("feature_maps", self.maps_figure(layers, image, max_maps, ctx.image_shape)))
            numbers["dead_channel_fraction"] = {n: float((m.flatten(2).amax(2).amax(0) <= 0).float().mean()) for n, m in layers}
            numbers["feature_map_shapes"] = {n: list(m.shape[1:]) for n, m in layers}
        return AnalysisResult(numbers, figures)

    @staticmethod
    def maps_figure(layers, image: int, max_maps: int, image_shape):
        _, h, w = image_shape
        rows = [normalise_each(F.interpolate(m[image : image + 1].transpose(0, 1)[:max_maps], size=(h, w), mode="nearest")) for _, m in layers]
        rows = [torch.cat([r, torch.ones(max_maps - len(r), 1, h, w)]) for r in rows]
        fig = grid_figure(max_maps, len(rows), image_shape, width=11, extra=0.7)
        labelled_grid(fig.add_subplot(), torch.cat(rows), max_maps, left=[n for n, _ in layers],
                      right=[f"{tuple(m.shape[1:])}" for _, m in layers], fontsize=8)
        fig.axes[0].set_title(f"feature maps of test image #{image} (first {max_maps} channels per layer)", fontsize=11)
        return fig
