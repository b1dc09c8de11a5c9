"""Codebook usage, for models whose code is a grid of codebook entries (`capabilities.discrete_code`: VQ-VAE).

Walking single code numbers (traversals), mixing two codes (interpolation, the decoder
grid) leave the codebook, so those analyses do not apply to such models; this one shows
what does make sense for a discrete code: how often each entry is used on the test split
(perplexity, dead codes), and what each entry alone decodes to (a grid filled with it).
"""

from __future__ import annotations

import math

import torch

from aelab.analysis.base import Analysis, AnalysisResult, register_analysis
from aelab.analysis.figures import figure, grid_figure, mosaic, show
from aelab.analysis.needs import Needs
from aelab.checks import PositiveInt
from aelab.data import batches


@register_analysis
class Codebook(Analysis):
    name, title, order = "codebook", "Codebook usage and entries", 35
    note = ("How often each codebook entry is used on the test images, and each entry decoded alone: dead codes "
            "(never used) are capacity lost; a perplexity far below the codebook size means few entries do the work.")
    needs = Needs(discrete_code=True)

    def run(self, ctx, *, max_entries: PositiveInt = 64) -> AnalysisResult:
        model, size = ctx.model, ctx.model.config.codebook_size
        counts = torch.zeros(size, dtype=torch.long)
        with torch.inference_mode():
            for x, _ in batches(ctx.test, 500, device=ctx.device):
                counts += torch.bincount(model.code_indices(x).flatten().cpu(), minlength=size)
            by_use = torch.argsort(counts, descending=True)[:max_entries]
            entries = model.decode_entries(by_use.to(ctx.device)).float().clamp(0, 1).cpu()
        p = counts.double() / counts.sum()
        perplexity = math.exp(-(p[p > 0] * p[p > 0].log()).sum().item())
        usage = figure(7.5, 2.6)
        ax = usage.add_subplot()
        ax.bar(range(size), counts.sort(descending=True).values.numpy(), width=1.0, color="0.3")
        ax.set(xlabel="codebook entry, by use", ylabel="positions on the test images", yscale="log",
               title=f"perplexity {perplexity:.1f} of {size}; {(counts == 0).sum().item()} dead codes")
        cols = math.ceil(math.sqrt(len(by_use)))
        grid = grid_figure(cols, math.ceil(len(by_use) / cols), ctx.image_shape, width=7.5, extra=0.4)
        show(grid.add_subplot(), mosaic(entries, cols, pad=2))
        grid.axes[0].set_title("each entry alone, decoded (most used first)", fontsize=11)
        numbers = {"codebook_size": size, "perplexity": perplexity, "dead_codes": int((counts == 0).sum()),
                   "used_share": float((counts > 0).float().mean()), "positions": int(counts.sum())}
        return AnalysisResult(numbers, [("usage", usage), ("entries", grid)])
