"""Drawing helpers shared by the analyses: class colours, image mosaics, figure defaults.

One fixed qualitative palette keyed by class index, so class 3 has the same
colour in every figure of every run (and in `aelab compare`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from aelab.plots import image_grid

DPI = 110
RUN_COLOURS = colormaps["Dark2"].colors  # one colour per run in comparisons


def class_colours(n: int) -> np.ndarray:
    """(n, 4) RGBA: tab10 up to 10 classes, tab20 up to 20, then evenly spaced hues."""
    if n <= 10:
        return np.array(colormaps["tab10"].colors)[:n]
    if n <= 20:
        return np.array(colormaps["tab20"].colors)[:n]
    return colormaps["hsv"](np.linspace(0, 1, n, endpoint=False))


def figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def mosaic(images: torch.Tensor, ncols: int, pad: int = 1) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one image array with white gaps, for `imshow`."""
    return image_grid(images, ncols, pad=pad)


def show(ax: Axes, array: np.ndarray, extent: Sequence[float] | None = None, ticks: bool = False) -> None:
    """Draw an image array (grey or RGB) pixel-exact; no ticks unless asked."""
    ax.imshow(array, cmap="gray" if array.ndim == 2 else None, vmin=0, vmax=255,
              interpolation="nearest", extent=extent, aspect="equal" if extent is None else "auto")
    if not ticks:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)


def scatter_by_class(ax: Axes, xy: np.ndarray, labels: np.ndarray | None, class_names: Sequence[str], size: float = 6) -> None:
    """Points coloured by class with a legend of class names (grey when unlabelled)."""
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, c="0.4", alpha=0.6, linewidths=0)
        return
    colours = class_colours(len(class_names))
    order = np.random.default_rng(0).permutation(len(xy))  # no class is drawn over all the others
    ax.scatter(xy[order, 0], xy[order, 1], s=size, c=colours[labels[order]], alpha=0.7, linewidths=0)
    for c in np.unique(labels):  # legend entries only
        ax.scatter([], [], s=size, color=colours[c], label=class_names[c])


def class_legend(fig: Figure, ax: Axes) -> None:
    handles, names = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside right center", markerscale=2.5, frameon=False, fontsize=9)


def range_of(values: np.ndarray, margin: float = 0.05) -> tuple[float, float]:
    """(lo, hi) of `values` widened by `margin` of the span (never empty)."""
    lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo or 1.0
    return lo - margin * span, hi + margin * span


def grid_figure(ncols: int, nrows: int, image_shape: Sequence[int], width: float = 10, extra: float = 0.9) -> Figure:
    """A figure `width` inches wide whose height fits an ncols x nrows grid of images."""
    _, h, w = image_shape
    return figure(width, width * 0.88 * (nrows * h) / (ncols * w) + extra)


def labelled_grid(ax: Axes, images: torch.Tensor, ncols: int, left: Sequence[str] = (), right: Sequence[str] = (),
                  top: Sequence[str] = (), pad: int = 2, fontsize: float = 9) -> None:
    """A grid of images with text beside each row (left/right) and above each column (top).

    The texts are tick labels, so the figure's layout makes room for them.
    """
    _, _, h, w = images.shape
    show(ax, mosaic(images, ncols, pad=pad))
    rows = [r * (h + pad) + h / 2 for r in range(len(left) or len(right))]
    ax.tick_params(length=0, labelsize=fontsize)
    if left:
        ax.set_yticks(rows, left)
    if right:
        side = ax.secondary_yaxis("right")
        side.set_yticks(rows, right)
        side.tick_params(length=0, labelsize=fontsize)
        for spine in side.spines.values():
            spine.set_visible(False)
    if top:
        ax.xaxis.tick_top()
        ax.set_xticks([c * (w + pad) + w / 2 for c in range(len(top))], top, fontsize=fontsize - 1)
