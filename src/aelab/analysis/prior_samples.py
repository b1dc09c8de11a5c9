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

    def run(self, ctx, *, n: PositiveInt = 64, seed: Seed = 0) -> AnalysisResult:
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
        return AnalysisResult(numbers, [("samples", fig)])
