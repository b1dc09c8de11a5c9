"""0. The data: one training image per class (seed 002's first task) and how many
images each class has in each split, before anything the model did."""

from __future__ import annotations

import textwrap

import numpy as np

from aelab.analysis.base import Analysis, AnalysisResult, Table, register_analysis
from aelab.analysis.figures import grid_figure, labelled_grid
from aelab.analysis.interpolation import first_of_each_class
from aelab.checks import NonNegativeInt


@register_analysis
class ClassExamples(Analysis):
    name, title, order = "class_examples", "The data", 5
    note = ("What the model was given: the first training image of each class, and the class sizes; "
            "a class with far fewer images than the others is one the model will learn worst.")

    def run(self, ctx, *, unlabelled_count: NonNegativeInt = 10) -> AnalysisResult:
        train = ctx.train
        if train.labels is None:  # no classes: the first images instead
            count = min(unlabelled_count, len(train))
            images = train.images[:count].float().div(255)
            fig = grid_figure(count, 1, ctx.image_shape, width=min(10, 1.1 * count), extra=0.5)
            labelled_grid(fig.add_subplot(), images, count)
            fig.axes[0].set_title(fitted(f"the first {count} training images (no labels)", fig), fontsize=11)
            return AnalysisResult({"train_images": len(train), "test_images": len(ctx.test), "labelled": False},
                                  [("examples", fig)])
        names = ctx.class_names
        first = first_of_each_class(train.labels, len(names))  # class -> index; absent classes are left out
        shown = [(names[c], first[c]) for c in sorted(first)]
        images = train.images[[i for _, i in shown]].float().div(255)
        fig = grid_figure(len(shown), 1, ctx.image_shape, width=min(10, 1.1 * len(shown)), extra=0.6)
        labelled_grid(fig.add_subplot(), images, len(shown), top=[name for name, _ in shown])
        fig.axes[0].set_title(fitted("the first training image of each class", fig), fontsize=11, pad=18)
        train_counts = np.bincount(train.labels.numpy(), minlength=len(names))
        test_counts = np.bincount(ctx.test.labels.numpy(), minlength=len(names)) if ctx.test.labels is not None else None
        rows = [[name, int(train_counts[c]), "" if test_counts is None else int(test_counts[c])] for c, name in enumerate(names)]
        numbers = {"train_images": len(train), "test_images": len(ctx.test), "labelled": True,
                   "train_per_class": dict(zip(names, map(int, train_counts))),
                   "first_index_per_class": {name: i for name, i in shown}}
        return AnalysisResult(numbers, [("one_per_class", fig)],
                              [Table("Images per class", ["class", "train", "test"], rows)])


def fitted(title: str, fig) -> str:
    """The title wrapped to the figure's width (a figure of two or three images is narrow)."""
    return textwrap.fill(title, max(12, int(fig.get_figwidth() * 11)))
