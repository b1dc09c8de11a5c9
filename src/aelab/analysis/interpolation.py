"""4. Interpolation: decoded points on the straight line between two test codes (seed 000),
and walks from an image of one class to an image of another (seed 002)."""

from __future__ import annotations

import torch

from aelab.analysis.base import Analysis, AnalysisResult, register_analysis
from aelab.analysis.figures import grid_figure, labelled_grid
from aelab.analysis.needs import Needs
from aelab.checks import NonNegativeInt, PositiveInt


def line(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps, D): a, ..., b evenly spaced."""
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    return (1 - t) * a + t * b


def first_of_each_class(labels: torch.Tensor, n_classes: int) -> dict[int, int]:
    """class -> index of its first image in `labels` (classes that never occur are absent)."""
    first: dict[int, int] = {}
    for i, c in enumerate(labels.tolist()):
        first.setdefault(c, i)
        if len(first) == n_classes:
            break
    return first


@register_analysis
class Interpolation(Analysis):
    name, title, order = "interpolation", "Interpolation", 40
    note = ("Decoding points between two codes: a good latent space gives plausible images all the way "
            "(shapes morph); the cross-fade row below shows what plain pixel blending gives instead.")
    needs = Needs(continuous_code=True)  # moving along code numbers leaves a codebook (see codebook.py)

    def run(self, ctx, *, pair: list[NonNegativeInt] = (0, 1), steps: PositiveInt = 11, walks: list[list[NonNegativeInt]] | None = None) -> AnalysisResult:
        i, j = (int(k) for k in pair)
        codes = ctx.test_codes
        images = ctx.test_images([i, j])
        decoded = ctx.decode(line(codes[i], codes[j], steps))
        fade = line(images[0].flatten(), images[1].flatten(), steps).reshape(steps, *images.shape[1:])
        names = ctx.class_names
        tag = (lambda k: f"#{k} {names[int(ctx.test.labels[k])]}") if ctx.test.labels is not None else (lambda k: f"#{k}")
        fig = grid_figure(steps, 2, ctx.image_shape, extra=0.8)
        ax = fig.add_subplot()
        top = [f"{t:.1f}" for t in torch.linspace(0, 1, steps).tolist()]
        labelled_grid(ax, torch.cat([decoded, fade]), steps, left=["latent", "pixels"], right=[], top=top)
        ax.set_title(f"test image {tag(i)}  →  test image {tag(j)}", fontsize=11)
        numbers = {"pair": [i, j], "steps": steps}
        figures = [("line", fig)]
        if ctx.test.labels is not None:
            first = first_of_each_class(ctx.test.labels, ctx.n_classes)
            walks = walks or [[a, a + 1] for a in range(0, ctx.n_classes - 1, 2)][:5]
            walks = [[a, b] for a, b in walks if a in first and b in first]
            if walks:
                rows = torch.cat([ctx.decode(line(codes[first[a]], codes[first[b]], steps)) for a, b in walks])
                fig = grid_figure(steps, len(walks), ctx.image_shape, extra=0.5)
                ax = fig.add_subplot()
                labelled_grid(ax, rows, steps, left=[names[a] for a, _ in walks], right=[names[b] for _, b in walks])
                ax.set_title("class-to-class walks (first test image of each class)", fontsize=11)
                figures.append(("class_walk", fig))
                numbers["walks"] = [[names[a], names[b]] for a, b in walks]
        return AnalysisResult(numbers, figures)
