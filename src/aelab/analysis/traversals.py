"""7. Traversals: one code dimension at a time walked across its range, the others
fixed at one test image's code (seed 003, "walking the code space")."""

from __future__ import annotations

from statistics import NormalDist

import torch

from aelab.analysis.base import Analysis, AnalysisResult, Table, register_analysis
from aelab.analysis.figures import grid_figure, labelled_grid
from aelab.analysis.needs import Needs
from aelab.checks import NonNegativeInt, PositiveInt

PRIOR_QUANTILES = (0.05, 0.95)  # one dimension's walk: the prior's middle 90%


def walk_ranges(codes: torch.Tensor, variational: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(lo, hi), each (D,): the prior's quantiles for VAEs, else the test codes' observed range."""
    if variational:
        lo, hi = (NormalDist().inv_cdf(q) for q in PRIOR_QUANTILES)
        return torch.full((codes.shape[1],), lo), torch.full((codes.shape[1],), hi)
    return codes.min(0).values, codes.max(0).values


@register_analysis
class Traversals(Analysis):
    name, title, order = "traversals", "Traversals", 70
    note = ("Each row changes one code dimension from its low to its high value, keeping the rest of the image's "
            "code: look for rows that change one property (width, thickness, slant) and rows that change nothing.")
    needs = Needs(continuous_code=True)  # moving along code numbers leaves a codebook (see codebook.py)

    def run(
        self, ctx, *, image: NonNegativeInt = 0, steps: PositiveInt = 9, max_dims: PositiveInt = 10, dims: list[NonNegativeInt] | None = None
    ) -> AnalysisResult:
        codes = ctx.test_codes
        if dims is None:
            order = torch.argsort(codes.var(0), descending=True)
            dims = sorted(order[:max_dims].tolist())
        lo, hi = walk_ranges(codes, ctx.variational)
        t = torch.linspace(0, 1, steps)
        base = codes[image]
        walks = base.repeat(len(dims), steps, 1)  # (dims, steps, D)
        for r, d in enumerate(dims):
            walks[r, :, d] = lo[d] + t * (hi[d] - lo[d])
        images = ctx.decode(walks.flatten(0, 1))
        ends = images.reshape(len(dims), steps, -1)
        change = (ends[:, -1] - ends[:, 0]).abs().mean(1)  # mean pixel change from one end to the other
        fig = grid_figure(steps, len(dims), ctx.image_shape, extra=0.6)
        ax = fig.add_subplot()
        labelled_grid(ax, images, steps, left=[f"z{d + 1}" for d in dims],
                      right=[f"{lo[d]:.2g} … {hi[d]:.2g}  (own {base[d]:.2g})" for d in dims])
        tag = f" ({ctx.class_names[int(ctx.test.labels[image])]})" if ctx.test.labels is not None else ""
        what = "the prior's 5%..95% quantiles" if ctx.variational else "the test codes' range"
        ax.set_title(f"test image #{image}{tag}: each row walks one dimension over {what}", fontsize=11)
        extra = "" if len(dims) == ctx.code_dim else f" ({len(dims)} of {ctx.code_dim} dimensions: those that vary most)"
        numbers = {"image": image, "steps": steps, "dims": [d + 1 for d in dims], "note": f"dimensions numbered from 1{extra}",
                   "pixel_change": {f"z{d + 1}": float(c) for d, c in zip(dims, change)}}
        table = Table("How much each dimension changes the image (mean |pixel| change, end to end)", ["dimension", "low", "high", "change"],
                      [[f"z{d + 1}", f"{lo[d]:.3g}", f"{hi[d]:.3g}", f"{c:.4f}"] for d, c in zip(dims, change.tolist())])
        return AnalysisResult(numbers, [("traversals", fig)], [table])
