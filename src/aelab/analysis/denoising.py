"""What a denoising autoencoder does with the noise it was trained on: corrupted test images
(the model's own `corrupt`), its outputs and the clean targets, and how far each is from the
clean image, so that the network's error can be read against the noise's own."""

from __future__ import annotations

import torch

from aelab.analysis.base import Analysis, AnalysisResult, register_analysis
from aelab.analysis.figures import grid_figure, mosaic, show
from aelab.analysis.needs import Needs
from aelab.checks import PositiveInt, Seed


@register_analysis
class Denoising(Analysis):
    name, title, order = "denoising", "Denoising", 12
    note = ("Top row: the corrupted input the model was trained to clean; middle: its output; bottom: the clean image. "
            "The network earns its keep where its error is well below the corrupted input's own.")
    needs = Needs(denoise=True)

    def run(self, ctx, *, n: PositiveInt = 10, images: PositiveInt = 1000, seed: Seed = 0) -> AnalysisResult:
        images = min(images, len(ctx.test))
        clean = ctx.test_images(slice(0, images))
        noisy = ctx.model.corrupt(clean, torch.Generator().manual_seed(seed))  # one fixed draw: the figure repeats
        output = torch.cat([ctx.reconstruct(noisy[i : i + ctx.batch_size]) for i in range(0, images, ctx.batch_size)])
        shown = min(n, images)
        fig = grid_figure(shown, 3, ctx.image_shape, width=1.1 * shown, extra=0.5)
        ax = fig.add_subplot()
        show(ax, mosaic(torch.cat([noisy[:shown], output[:shown], clean[:shown]]), shown, pad=2))
        ax.set_title("corrupted input | output | clean target", fontsize=11)
        error = lambda a: float((a - clean).pow(2).mean())  # noqa: E731
        numbers = {"images": images, "seed": seed, "noise": ctx.model.config.noise, "noise_level": ctx.model.config.noise_level,
                   "input_mse_per_pixel": error(noisy), "output_mse_per_pixel": error(output)}
        return AnalysisResult(numbers, [("rows", fig)])
