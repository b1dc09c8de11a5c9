"""1. Reconstructions: the first N test images beside their reconstructions, and the
error per class (seed 004's 10x10 pairs, seed 001's first ten)."""

from __future__ import annotations

import numpy as np

from aelab.analysis.base import Analysis, AnalysisResult, Table, register_analysis
from aelab.analysis.figures import RUN_COLOURS, class_colours, figure, grid_figure, mosaic, show
from aelab.checks import PositiveInt
from aelab.plots import interleave


def per_class_means(values: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes,) mean of `values` over each class (NaN for an absent class)."""
    sums = np.bincount(labels, weights=values, minlength=n_classes)
    counts = np.bincount(labels, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


@register_analysis
class Reconstructions(Analysis):
    name, title, order = "reconstructions", "Reconstructions", 10
    note = ("Each original sits left of its reconstruction: fine detail (texture, thin strokes) is what a small "
            "code drops first; classes with high error are the ones the code describes worst.")

    def run(self, ctx, *, n: PositiveInt = 100, pairs_per_row: PositiveInt = 10) -> AnalysisResult:
        n = min(n, len(ctx.test))
        originals = ctx.test_images(slice(0, n))
        pairs = interleave(originals, ctx.reconstruct(originals))
        rows = -(-n // pairs_per_row)
        fig = grid_figure(2 * pairs_per_row, rows, ctx.image_shape, extra=0.4)
        ax = fig.add_subplot()
        show(ax, mosaic(pairs, 2 * pairs_per_row, pad=2))
        ax.set_title(f"first {n} test images: original | reconstruction", fontsize=11)
        errors = ctx.test_errors.numpy().astype(np.float64)
        numbers = {"images_shown": n, "test_mse_per_pixel": float(errors.mean()), "test_images": len(errors)}
        figures, tables = [("pairs", fig)], []
        data = {}
        if ctx.test.labels is not None:
            per_class = per_class_means(errors, ctx.test.labels.numpy(), ctx.n_classes)
            numbers["mse_per_class"] = dict(zip(ctx.class_names, map(float, per_class)))
            numbers["worst_class"] = ctx.class_names[int(np.nanargmax(per_class))]
            numbers["best_class"] = ctx.class_names[int(np.nanargmin(per_class))]
            figures.append(("error_per_class", error_bars([("", per_class)], ctx.class_names, colour_by_class=True)))
            tables.append(Table("Reconstruction error per class (MSE per pixel)", ["class", "MSE"],
                                [[c, f"{v:.5f}"] for c, v in zip(ctx.class_names, per_class)]))
            data = {"per_class": per_class, "class_names": ctx.class_names}
        return AnalysisResult(numbers, figures, tables, data)

    def combine(self, results):
        runs = [(label, r.data["per_class"]) for label, r in results if "per_class" in r.data]
        if len(runs) < 2:
            return []
        return [("error_per_class", error_bars(runs, results[0][1].data["class_names"], colour_by_class=False))]


def error_bars(runs: list[tuple[str, np.ndarray]], class_names: list[str], colour_by_class: bool):
    """Bars of the per-class error; one group per class, one bar per run."""
    fig = figure(max(6, 0.6 * len(class_names) * max(1, len(runs) / 2) + 2), 3.6)
    ax = fig.add_subplot()
    x = np.arange(len(class_names))
    width = 0.8 / len(runs)
    for i, (label, values) in enumerate(runs):
        colour = class_colours(len(class_names)) if colour_by_class else RUN_COLOURS[i % len(RUN_COLOURS)]
        ax.bar(x + (i - (len(runs) - 1) / 2) * width, values, width, color=colour, label=label or None)
    ax.set_xticks(x, class_names, rotation=30 if max(map(len, class_names)) > 3 else 0, ha="right" if max(map(len, class_names)) > 3 else "center")
    ax.set_ylabel("MSE per pixel")
    ax.set_title("reconstruction error per class (test set)", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    if len(runs) > 1:
        ax.legend(frameon=False)
    return fig
