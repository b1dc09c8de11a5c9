"""6. Class means and mixtures: each class's mean test code decoded, and the matrix of
decoded pairwise means (seed 004, tasks 7 and 8)."""

from __future__ import annotations

import numpy as np
import torch

from aelab.analysis.base import Analysis, AnalysisResult, Table, register_analysis
from aelab.analysis.figures import figure, grid_figure, labelled_grid
from aelab.analysis.needs import Needs

HEATMAP_MAX_DIMS = 64  # wider codes make an unreadable heatmap


def class_means(codes: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(n_classes, D): mean code of each class (zeros for a class with no image)."""
    sums = torch.zeros(n_classes, codes.shape[1]).index_add_(0, labels, codes)
    counts = torch.bincount(labels, minlength=n_classes).clamp_min(1)
    return sums / counts.unsqueeze(1)


@register_analysis
class ClassMeans(Analysis):
    name, title, order = "class_means", "Class means and mixtures", 60
    note = ("The diagonal decodes each class's average code (a 'typical' item); off the diagonal, the average "
            "of two classes' means: blends that look like a real item show a smooth, well-organised code.")
    needs = Needs(labels=True)

    def run(self, ctx) -> AnalysisResult:
        means = class_means(ctx.test_codes, ctx.test.labels, ctx.n_classes)
        k, names = ctx.n_classes, ctx.class_names
        mixtures = (means.unsqueeze(0) + means.unsqueeze(1)) / 2  # (K, K, D); the diagonal is the means
        images = ctx.decode(mixtures.flatten(0, 1))
        fig = grid_figure(k, k, ctx.image_shape, width=min(11, 1.0 * k + 2), extra=0.3)
        ax = fig.add_subplot()
        short = [n[:12] for n in names]
        labelled_grid(ax, images, k, left=short, top=short)
        ax.set_title("decoded (mean of row class + mean of column class) / 2", fontsize=11)
        figures = [("mixtures", fig)]
        distances = torch.cdist(means, means)
        off = distances + torch.diag(torch.full((k,), float("inf")))
        a, b = divmod(int(off.argmin()), k)
        numbers = {"class_mean_codes": {n: [float(v) for v in m] for n, m in zip(names, means)},
                   "closest_class_means": [names[a], names[b]], "closest_distance": float(off.min()),
                   "mean_distance_between_classes": float(distances.sum() / max(k * (k - 1), 1))}
        if ctx.code_dim <= HEATMAP_MAX_DIMS:
            figures.append(("mean_codes", heatmap(means.numpy(), names)))
        table = Table("Distance between class-mean codes", ["", *short], [[n, *(f"{v:.2f}" for v in row)] for n, row in zip(short, distances.tolist())])
        return AnalysisResult(numbers, figures, [table], data={"class_means": means.numpy(), "class_names": names})  # (K, D)


def heatmap(means: np.ndarray, names: list[str]):
    k, d = means.shape
    fig = figure(min(12, 0.45 * d + 3.5), 0.32 * k + 1.4)
    ax = fig.add_subplot()
    limit = float(np.abs(means).max()) or 1.0
    im = ax.imshow(means, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_yticks(range(k), names, fontsize=9)
    ax.set_xticks(range(d), [str(i + 1) for i in range(d)], fontsize=8)
    ax.set_xlabel("code dimension")
    ax.set_title("mean code of each class", fontsize=11)
    fig.colorbar(im, ax=ax, shrink=0.9)
    return fig
