"""What the model generates: samples from each sampler, their scores against the test split, and
the nearest training image of some samples, to catch a model that only recalls its training set.

Every model samples through a Gaussian mixture fitted on its training codes; VAEs also through
their prior (aelab.generation.samplers). The scores are those of `aelab evaluate --generation`
with the same parameters; the features they are measured in come from a small CNN trained on
this dataset, so they are not comparable with Inception-FID figures from papers.
"""

from __future__ import annotations

import numpy as np
import torch

from aelab.analysis.base import Analysis, AnalysisResult, Table, register_analysis
from aelab.analysis.figures import RUN_COLOURS, figure, grid_figure, labelled_grid
from aelab.analysis.knn import nearest
from aelab.analysis.needs import Needs
from aelab.generation.evaluate import SET_TITLES, GenerationConfig, image_sets, scored
from aelab.generation.features import feature_space
from aelab.generation.samplers import WIDEST_CODE, MixtureConfig

SCORES = ("fid", "kid", "precision", "recall", "density", "coverage")


@register_analysis
class Generation(Analysis):
    name, title, order = "generation", "What the model generates", 95
    note = ("Lower FID and KID, and precision, recall, density and coverage near those of the training images (the floor), "
            "mean samples like the test set; a sample as close to its nearest training image as that image's twin would be "
            "is a memory, not a new image.")
    needs = Needs(labels=True, train_labels=True, code_numbers_at_most=WIDEST_CODE)  # the feature network is a classifier

    def run(self, ctx, *, images: int = 10_000, components: int = 10, covariance: str = "auto", grid: int = 8,
            memory_checks: int = 8, memory_sample: int = 200, seed: int = 0) -> AnalysisResult:
        config = GenerationConfig(count=images, seed=seed, mixture=MixtureConfig(components, covariance, seed=seed))
        space = feature_space(ctx.dataset, config.feature_net, device=ctx.device)
        reference = ctx.test_images(slice(0, images))
        sets = image_sets(ctx.model, ctx.train, reference, ctx.run, config, ctx.device, train_codes=lambda: ctx.train_codes)
        result = scored(space, reference, sets, config)
        samplers = [name for name in sets if name not in ("train_images", "reconstructions")]
        train_pixels = ctx.train.images.flatten(1).float().div(255)
        distances = {name: nearest_distances(train_pixels, sets[name][:memory_sample]) for name in ["reconstructions", *samplers]}
        distances["test images"] = nearest_distances(train_pixels, reference[:memory_sample])
        figures = [(f"samples_{name}", sample_grid(sets[name][: grid * grid], grid, SET_TITLES[name], ctx.image_shape)) for name in samplers]
        figures.append(("nearest_training", memory_figure(sets, samplers, train_pixels, memory_checks, ctx.image_shape)))
        scores = result["scores"]
        numbers = {"feature_network": result["feature_network"], "images_per_set": result["images_per_set"],
                   "reference": result["reference"], "note": result["note"],
                   **{key: {name: s[key] for name, s in scores.items()} for key in SCORES},
                   "kid_se": {name: s["kid_se"] for name, s in scores.items()},
                   "nearest_training_distance": {name: float(d.mean()) for name, d in distances.items()}}
        return AnalysisResult(numbers, figures, [scores_table(scores, space.test_accuracy)], {"scores": scores})

    def combine(self, results):
        return [("scores", scores_figure([(label, r.data["scores"]) for label, r in results]))]


def nearest_distances(train_pixels: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """(N,) root mean squared pixel difference between each image and its nearest training image."""
    flat = images.flatten(1)
    index = nearest(train_pixels, flat, 1)[:, 0]
    return (train_pixels[index] - flat).pow(2).mean(1).sqrt()


def scores_table(scores: dict[str, dict], accuracy: float) -> Table:
    rows = [[SET_TITLES.get(name, name), f"{s['fid']:.3f}", f"{s['kid']:.4g} ± {s['kid_se']:.2g}",
             *(f"{s[key]:.3f}" for key in SCORES[2:])] for name, s in scores.items()]
    return Table(f"Scores against the test split (feature network test accuracy {100 * accuracy:.2f}%; not Inception-FID)",
                 ["images", "FID", "KID", "precision", "recall", "density", "coverage"], rows)


def sample_grid(images: torch.Tensor, ncols: int, title: str, image_shape):
    fig = grid_figure(ncols, -(-len(images) // ncols), image_shape, width=6, extra=0.5)
    ax = fig.add_subplot()
    labelled_grid(ax, images, ncols)
    ax.set_title(title, fontsize=11)
    return fig


def memory_figure(sets: dict[str, torch.Tensor], samplers: list[str], train_pixels: torch.Tensor, n: int, image_shape):
    """Per sampler, a row of samples above a row of their nearest training images."""
    rows, labels = [], []
    for name in samplers:
        samples = sets[name][:n]
        match = train_pixels[nearest(train_pixels, samples.flatten(1), 1)[:, 0]].view_as(samples)
        rows += [samples, match]
        labels += [f"{name} samples", "nearest training"]
    fig = grid_figure(n, len(rows), image_shape, width=8, extra=0.6)
    ax = fig.add_subplot()
    labelled_grid(ax, torch.cat(rows), n, left=labels)
    ax.set_title("each sample above its nearest training image (pixel distance)", fontsize=11)
    return fig


def scores_figure(runs: list[tuple[str, dict[str, dict]]]):
    """FID of every image set of every run (bars, log scale) and precision against recall."""
    fig = figure(12, 4.2)
    bars, scatter = fig.subplots(1, 2, width_ratios=[1.6, 1])
    names = list(dict.fromkeys(name for _, scores in runs for name in scores))
    x = np.arange(len(names))
    width = 0.84 / len(runs)
    for i, (label, scores) in enumerate(runs):
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        present = [j for j, n in enumerate(names) if n in scores]  # a model without a prior leaves a gap
        bars.bar(x[present] + (i - (len(runs) - 1) / 2) * width, [scores[names[j]]["fid"] for j in present], width,
                 color=colour, label=label)
        for marker, name in zip("osD^v", names):
            if name in scores:
                scatter.scatter(scores[name]["recall"], scores[name]["precision"], color=colour, marker=marker, s=40)
    bars.set_xticks(x, [SET_TITLES.get(n, n) for n in names], rotation=15, ha="right")
    bars.set_yscale("log")
    bars.set_ylabel("FID (lower is better; log scale)")
    bars.legend(frameon=False, fontsize=9)
    for marker, name in zip("osD^v", names):
        scatter.scatter([], [], color="0.4", marker=marker, label=SET_TITLES.get(name, name))
    scatter.set(xlim=(-0.03, 1.03), ylim=(-0.03, 1.03), xlabel="recall", ylabel="precision")
    fig.legend(*scatter.get_legend_handles_labels(), loc="outside right center", frameon=False, fontsize=8)
    scatter.grid(alpha=0.3)
    return fig
