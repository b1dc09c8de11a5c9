"""5. The decoder grid: a 15x15 grid over a plane of the latent space, decoded, drawn on
the same axes as the codes' scatter (seed 001, exercise 5).

The plane is the code itself for a 2-D code; otherwise two chosen dimensions
(others at the mean code) or the top two principal directions. Its range is where
the test codes are, their smallest to largest value on each axis, for every model: a
VAE's codes are not bound to its prior's quantiles (a 5%..95% grid left a quarter of
them outside), and the figure says the range it drew.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.decomposition import PCA

from aelab.analysis.base import Analysis, AnalysisResult, register_analysis
from aelab.analysis.figures import class_legend, figure, mosaic, scatter_by_class, show
from aelab.analysis.needs import Needs
from aelab.checks import NonNegativeInt, PositiveInt

SCATTER_POINTS = 5000


@dataclass
class Plane:
    """z = origin + u * axes[0] + v * axes[1]; (u, v) are the plotted coordinates."""

    origin: np.ndarray  # (D,)
    axes: np.ndarray  # (2, D)
    labels: tuple[str, str]
    description: str

    def project(self, codes: np.ndarray) -> np.ndarray:
        return (codes - self.origin) @ self.axes.T  # axes are orthonormal

    def lift(self, uv: np.ndarray) -> np.ndarray:
        return self.origin + uv @ self.axes


def choose_plane(codes: np.ndarray, variational: bool, dims: list[int] | None) -> Plane:
    d = codes.shape[1]
    if dims is None and (d == 2 or variational):
        dims = [0, 1] if d == 2 else list(np.argsort(codes.var(0))[::-1][:2])
    if dims is not None:
        axes = np.eye(d)[list(dims)]
        origin = np.zeros(d) if variational else np.where(axes.sum(0) > 0, 0.0, codes.mean(0))
        rest = "others at 0 (the prior mean)" if variational else "others at the mean test code"
        return Plane(origin, axes, (f"z{dims[0] + 1}", f"z{dims[1] + 1}"),
                     f"dimensions {dims[0] + 1} and {dims[1] + 1}" + ("" if d == 2 else f", {rest}"))
    pca = PCA(n_components=2).fit(codes)
    share = 100 * pca.explained_variance_ratio_.sum()
    return Plane(pca.mean_, pca.components_, ("PC 1", "PC 2"), f"top two principal directions ({share:.0f}% of the variance), centred on the mean code")


@register_analysis
class DecoderGrid(Analysis):
    name, title, order = "decoder_grid", "Decoder grid", 50
    note = ("The decoder as a generator: each tile decodes the point of the plane under it, on the same axes "
            "as the codes on the left; tiles far from any code (empty areas) rarely look like real images.")
    needs = Needs(continuous_code=True)  # moving along code numbers leaves a codebook (see codebook.py)

    def run(self, ctx, *, size: PositiveInt = 15, dims: list[NonNegativeInt] | None = None) -> AnalysisResult:
        codes = ctx.test_codes.numpy().astype(np.float64)
        plane = choose_plane(codes, ctx.variational, dims)
        uv = plane.project(codes)
        ranges = [(float(uv[:, k].min()), float(uv[:, k].max())) for k in (0, 1)]
        ranges = [(lo, hi) if hi > lo else (lo - 0.5, hi + 0.5) for lo, hi in ranges]  # a collapsed axis still gets a plane
        source = (f"the test codes' smallest to largest values, {plane.labels[0]} {ranges[0][0]:.2g}..{ranges[0][1]:.2g}, "
                  f"{plane.labels[1]} {ranges[1][0]:.2g}..{ranges[1][1]:.2g}")
        us, vs = (np.linspace(*ranges[k], size) for k in (0, 1))
        grid = np.array([[u, v] for v in vs[::-1] for u in us])  # rows from top (high v) to bottom
        images = ctx.decode(torch.from_numpy(plane.lift(grid)).float())
        du, dv = (np.diff(ranges[k])[0] / max(size - 1, 1) for k in (0, 1))
        extent = [ranges[0][0] - du / 2, ranges[0][1] + du / 2, ranges[1][0] - dv / 2, ranges[1][1] + dv / 2]
        labels = None if ctx.test.labels is None else ctx.test.labels.numpy()
        fig = figure(11.5, 5.8)
        left, right = fig.subplots(1, 2, sharex=True, sharey=True)
        scatter_by_class(left, uv[:SCATTER_POINTS], None if labels is None else labels[:SCATTER_POINTS], ctx.class_names, size=5)
        show(right, mosaic(images, size), extent=extent, ticks=True)
        for ax, title in ((left, "test codes"), (right, f"decoded {size}x{size} grid")):
            ax.set_xlim(extent[:2])
            ax.set_ylim(extent[2:])
            ax.set_xlabel(plane.labels[0])
            ax.set_title(title, fontsize=11)
        left.set_ylabel(plane.labels[1])
        left.grid(alpha=0.25)
        class_legend(fig, left)
        fig.suptitle(f"plane: {plane.description}\nrange: {source}", fontsize=10)
        inside = ((uv[:, 0] >= extent[0]) & (uv[:, 0] <= extent[1]) & (uv[:, 1] >= extent[2]) & (uv[:, 1] <= extent[3])).mean()
        numbers = {"size": size, "plane": plane.description, "range_source": source,
                   "u_range": list(ranges[0]), "v_range": list(ranges[1]), "fraction_of_test_codes_inside": float(inside)}
        return AnalysisResult(numbers, [("grid", fig)])
