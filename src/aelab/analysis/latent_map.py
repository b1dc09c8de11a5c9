"""3. The latent map: a 2-D code drawn as itself (seed 001), otherwise t-SNE of the
first test codes (seed 000) beside PCA of all of them. VAEs use posterior means."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from aelab.analysis.base import Analysis, AnalysisResult, register_analysis
from aelab.analysis.figures import class_legend, figure, range_of, scatter_by_class
from aelab.checks import PositiveFloat, PositiveInt, Seed
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

    def run(self, ctx, *, tsne_count: PositiveInt = 1000, perplexity: PositiveFloat = 30.0, max_points: PositiveInt = 10000, seed: Seed = 0) -> AnalysisResult:
        codes = ctx.test_codes.numpy()[:max_points]
        labels = None if ctx.test.labels is None else ctx.test.labels.numpy()[: len(codes)]
        what = "posterior means" if ctx.variational else "codes"
        if ctx.code_dim == 2:
            return self.plane(ctx, codes, labels, what, seed)
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
        return AnalysisResult(numbers, [("map", draw(panels, ctx.class_names))], data=data)

    def plane(self, ctx, codes, labels, what, seed) -> AnalysisResult:
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
        return AnalysisResult(numbers, [("map", draw(panels, ctx.class_names))], data={"kind": "code", "panels": panels, "class_names": ctx.class_names})

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
