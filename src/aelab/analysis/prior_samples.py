"""9. Samples from the prior: images decoded from z ~ N(0, I), for models that can
sample (`capabilities.sample`: VAEs, the VQ-VAE's PixelCNN)."""

from __future__ import annotations

import math

import torch

from aelab.analysis.base import Analysis, AnalysisResult, register_analysis
from aelab.analysis.figures import grid_figure, mosaic, show
from aelab.analysis.needs import Needs
from aelab.checks import PositiveInt, Seed


@register_analysis
class PriorSamples(Analysis):
    name, title, order = "prior_samples", "Samples from the prior", 90
    note = ("New images decoded from random codes drawn from the prior: blurry but varied samples are typical "
            "of a VAE; samples that all look alike, or like noise, mean the posterior and the prior disagree.")
    needs = Needs(sample=True)

    def run(self, ctx, *, n: PositiveInt = 64, per_class: PositiveInt = 8, seed: Seed = 0) -> AnalysisResult:
        torch.manual_seed(seed)
        with torch.inference_mode():
            images = ctx.model.sample(n).float().clamp(0, 1).cpu()
        cols = math.ceil(math.sqrt(n))
        fig = grid_figure(cols, math.ceil(n / cols), ctx.image_shape, width=7.5, extra=0.4)
        ax = fig.add_subplot()
        show(ax, mosaic(images, cols, pad=2))
        ax.set_title(f"{n} samples decoded from z ~ N(0, I)", fontsize=11)
        pixels = images.flatten(1)
        numbers = {"samples": n, "seed": seed, "mean_pixel": float(pixels.mean()),
                   "diversity": float(torch.pdist(pixels).mean() / math.sqrt(pixels.shape[1]))}
        figures = [("samples", fig)]
        if ctx.model.capabilities.labels:  # a class-conditional model: samples of each class, one row a class
            figures.append(("per_class", per_class_figure(ctx, per_class, seed)))
            numbers["samples_per_class"] = per_class
        return AnalysisResult(numbers, figures)


def per_class_figure(ctx, per_class: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        rows = [ctx.model.sample(per_class, generator, label=c).float().clamp(0, 1).cpu() for c in range(ctx.n_classes)]
    fig = grid_figure(per_class, len(rows), ctx.image_shape, width=0.9 * per_class + 1.5, extra=0.4)
    ax = fig.add_subplot()
    show(ax, mosaic(torch.cat(rows), per_class, pad=2))
    h = ctx.image_shape[1] + 2  # one row of the mosaic, with its gap
    ax.set_yticks([h * c + h / 2 for c in range(len(rows))], ctx.class_names, fontsize=8)
    ax.set_title(f"{per_class} samples of each class, z ~ N(0, I)", fontsize=11)
    return fig
