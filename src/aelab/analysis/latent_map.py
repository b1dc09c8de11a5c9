"""3. The latent map: a 2-D code drawn as itself (seed 001), otherwise t-SNE of the
first test codes (seed 000) beside PCA of all of them. VAEs use posterior means."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from aelab.analysis.base import Analysis, AnalysisResult, register_analysis
from aelab.analysis.figures import class_legend, figure, range_of, scatter_by_class
from aelab.checks import NonNegativeInt, PositiveFloat, PositiveInt, Seed
from aelab.errors import ConfigError

EXACT_NEIGHBOURS = 20000  # below this, exact neighbours beat approximate ones (benchmarks/latent_speed.py)
FFT_ABOVE = 5000  # above this, FFT gradients on a coarser grid beat Barnes-Hut (benchmarks/latent_speed.py)
MIN_POINTS = 4  # t-SNE and a 2-D PCA of fewer points say nothing
SILHOUETTE_SAMPLE = 2000  # silhouette is O(n^2): a fixed random sample keeps it fast


def tsne(codes: np.ndarray, perplexity: float, seed: int) -> np.ndarray:
    """openTSNE: Barnes-Hut gradients for a few thousand points, FFT-interpolated ones above.

    The FFT grid has one interval per 2 embedding units instead of openTSNE's 1: about three
    times faster at 10,000 codes for a slightly lower silhouette of the classes (figures in
    docs/performance.md, from benchmarks/latent_speed.py). One thread: on a small shared
    machine more threads only wait for each other.
    """
    from openTSNE import TSNE

    perplexity = min(perplexity, max(1.0, (len(codes) - 1) / 3))
    neighbors = "exact" if len(codes) <= EXACT_NEIGHBOURS else "auto"
    gradient = {"negative_gradient_method": "fft", "ints_in_interval": 2} if len(codes) > FFT_ABOVE else {"negative_gradient_method": "bh"}
    tsne = TSNE(perplexity=perplexity, random_state=seed, n_jobs=1, neighbors=neighbors, verbose=False, **gradient)
    return np.asarray(tsne.fit(codes.astype(np.float32)))


def separation(xy: np.ndarray, labels: np.ndarray | None, seed: int) -> float | None:
    """Silhouette of the classes in `xy` (-1..1; higher: classes form tighter, apart clusters)."""
    if labels is None or len(np.unique(labels)) < 2:
        return None
    size = min(SILHOUETTE_SAMPLE, len(xy))
    return float(silhouette_score(xy, labels, sample_size=size, random_state=seed))


@register_analysis
class LatentMap(Analysis):
    name, title, order = "latent_map", "Latent map", 30
    note = ("Each dot is one test image's code, coloured by its class (never used in training): separate clusters "
            "mean the code captures the class; in t-SNE only neighbourhoods count, not distances or cluster sizes.")

    def run(self, ctx, *, tsne_count: PositiveInt = 1000, perplexity: PositiveFloat = 30.0, max_points: PositiveInt = 10000,
            thumbnails: NonNegativeInt = 14, seed: Seed = 0) -> AnalysisResult:
        codes = ctx.test_codes.numpy()[:max_points]
        labels = None if ctx.test.labels is None else ctx.test.labels.numpy()[: len(codes)]
        what = "posterior means" if ctx.variational else "codes"
        if ctx.code_dim == 2:
            return self.plane(ctx, codes, labels, what, seed, thumbnails)
        if len(codes) < MIN_POINTS:
            raise ConfigError(f"a map of {ctx.code_dim}-D codes needs at least {MIN_POINTS} test images; this run has {len(codes)}.")
        n = min(tsne_count, len(codes))
        embedded = tsne(codes[:n], perplexity, seed)
        pca = PCA(n_components=min(10, ctx.code_dim, len(codes)), random_state=seed).fit(codes)  # fewer images than dims, too
        projected = pca.transform(codes)[:, :2]
        panels = [(f"t-SNE of the first {n} test {what}", embedded, None if labels is None else labels[:n], ("t-SNE 1", "t-SNE 2")),
                  (f"PCA of {len(codes)} test {what}", projected, labels, ("PC 1", "PC 2"))]
        numbers = {
            "code_dim": ctx.code_dim, "tsne_points": n, "tsne_perplexity": perplexity, "pca_points": len(codes),
            "pca_explained_variance_ratio": [float(v) for v in pca.explained_variance_ratio_],
            "silhouette_tsne": separation(embedded, panels[0][2], seed),
            "silhouette_pca": separation(projected, labels, seed),
        }
        data = {"kind": "embedding", "panels": panels, "class_names": ctx.class_names,
                "tsne": embedded, "tsne_labels": panels[0][2], "pca": projected, "labels": labels}  # (n, 2), (N, 2) coordinates
        figures = [("map", draw(panels, ctx.class_names))]
        if thumbnails:
            figures.append(("thumbnails", thumbnail_map(embedded, ctx, thumbnails, f"test images at their t-SNE positions ({what})")))
        return AnalysisResult(numbers, figures, data=data)

    def plane(self, ctx, codes, labels, what, seed, thumbnails: int = 0) -> AnalysisResult:
        at_zero = (codes == 0).mean(0)
        title = f"{len(codes)} test {what} (the code itself)"
        if at_zero.max() > 0.01:
            title += f"\n{100 * at_zero.max():.0f}% lie exactly on zero on one axis: clipped by a ReLU"
        panels = [(title, codes, labels, ("z1", "z2"))]
        numbers = {
            "code_dim": 2, "points": len(codes), "fraction_at_zero": [float(v) for v in at_zero],
            "z_min": [float(v) for v in codes.min(0)], "z_max": [float(v) for v in codes.max(0)],
            "silhouette_code": separation(codes, labels, seed),
        }
        figures = [("map", draw(panels, ctx.class_names))]
        if thumbnails:
            figures.append(("thumbnails", thumbnail_map(codes, ctx, thumbnails, f"test images at their {what}", ("z1", "z2"))))
        return AnalysisResult(numbers, figures, data={"kind": "code", "panels": panels, "class_names": ctx.class_names})

    def combine(self, results):
        """2-D codes of several runs on shared axes, so their scales compare (AE vs VAE, seed 001).

        Embeddings (t-SNE, PCA) have no common scale: the runs' own figures sit side by side.
        """
        if len(results) < 2 or any(r.data["kind"] != "code" for _, r in results):
            return []
        panels = [(f"{label}: {p[0]}", *p[1:]) for label, r in results for p in r.data["panels"]]
        return [("map", draw(panels, results[0][1].data["class_names"], shared=True))]


def draw(panels, class_names, ncols: int | None = None, shared: bool = False):
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    fig = figure(4.8 * ncols + 1.6, 4.6 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    lims = [range_of(np.concatenate([p[1][:, d] for p in panels])) for d in (0, 1)] if shared else None
    for ax, (title, xy, labels, (xlabel, ylabel)) in zip(axes, panels):
        scatter_by_class(ax, xy, labels, class_names, size=5 if len(xy) > 2000 else 9)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if lims:
            ax.set_xlim(*lims[0])
            ax.set_ylim(*lims[1])
        if xlabel.startswith("t-SNE"):
            ax.set_xticks([])
            ax.set_yticks([])
        ax.grid(alpha=0.2)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    class_legend(fig, axes[0])
    return fig


def thumbnail_cells(xy: np.ndarray, cells: int) -> list[int]:
    """Indices of the points to show as images: in each cell of a cells x cells grid over `xy`,
    the point nearest the cell's centre, so that no two images overlap and every region shows one."""
    low, high = xy.min(0), xy.max(0)
    size = np.where(high > low, (high - low) / cells, 1.0)
    cell = np.minimum(((xy - low) / size).astype(int), cells - 1)
    centre = low + (cell + 0.5) * size
    distance = (((xy - centre) / size) ** 2).sum(1)
    chosen: dict[tuple[int, int], int] = {}
    for i in np.argsort(distance, kind="stable"):
        chosen.setdefault((int(cell[i, 0]), int(cell[i, 1])), int(i))
    return sorted(chosen.values())


def thumbnail_map(xy: np.ndarray, ctx, cells: int, title: str, axes_labels: tuple[str, str] | None = None):
    """The map with a test image drawn at the position of one point per grid cell (thumbnail_cells)."""
    chosen = thumbnail_cells(xy, cells)
    images = ctx.test_images(chosen).permute(0, 2, 3, 1).numpy()  # (n, H, W, C) in [0, 1]
    low, high = xy.min(0), xy.max(0)
    size = np.where(high > low, (high - low) / cells, 1.0)
    fig = figure(7.5, 7.5)
    ax = fig.add_subplot()
    ax.scatter(xy[:, 0], xy[:, 1], s=2, c="0.8", linewidths=0)
    for i, image in zip(chosen, images):
        (x, y), (w, h) = xy[i], 0.92 * size
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1,
                  extent=(x - w / 2, x + w / 2, y - h / 2, y + h / 2), interpolation="nearest", zorder=2)
    ax.set_xlim(low[0] - size[0], high[0] + size[0])
    ax.set_ylim(low[1] - size[1], high[1] + size[1])
    ax.set_aspect("auto")
    ax.set_title(title, fontsize=10)
    if axes_labels:
        ax.set_xlabel(axes_labels[0])
        ax.set_ylabel(axes_labels[1])
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
