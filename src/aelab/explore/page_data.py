"""What the explorer page holds for one run: the map, codes, images and the decoder, built once.

Codes are flat, (N, D) with D = prod(code_shape), as in analysis/context.py. How a map
position becomes a code, per map kind (the page does the same arithmetic):
    code  the position is the code (2-D codes)
    pca   z = mean + x * PC1 + y * PC2 (the inverse projection; the other PCs at their mean)
    tsne  the mean code of the NEIGHBOURS map points nearest the position (t-SNE has no inverse)
Dimensions are ordered by their variance over the shown test codes, or by their mean KL
(nats) for variational models; a dimension is inactive when the variance of its code
(posterior mean for VAEs) is at most 1% of the largest one's, or 0.01 for VAEs (the
activity test of Burda et al. 2016, whose prior has unit variance).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from sklearn.decomposition import PCA

from aelab.analysis.context import AnalysisContext
from aelab.data import Split, batches
from aelab.errors import AelabError
from aelab.explore.decoder_spec import DecoderSpec, b64_float32, export_decoder
from aelab.models.gaussian import kl_normal_analytic

MapKind = Literal["auto", "pca", "tsne"]
NEIGHBOURS = 10  # t-SNE map position -> mean code of this many nearest points
CODE_BUDGET_BYTES = 32 * 2**20  # float32 codes the page may hold (map points + training points)
INACTIVE_RELATIVE_VARIANCE = 0.01
INACTIVE_VAE_VARIANCE = 0.01


@dataclass
class ExploreOptions:
    points: int = 10000  # test images on the map (fewer when their codes would pass CODE_BUDGET_BYTES)
    train_points: int = 2000  # training images searched for the nearest ones
    map: MapKind = "auto"  # auto: the code itself when 2-D, else PCA
    seed: int = 0
    device: str = "cpu"


@dataclass
class RunPage:
    """One run's part of the page; `to_json` is what explorer.js reads."""

    label: str
    ctx: AnalysisContext
    points: Split
    codes: np.ndarray  # (N, D) float32
    map_kind: str
    xy: np.ndarray  # (N, 2) map positions
    pca: PCA | None
    train: Split
    train_codes: np.ndarray  # (T, D)
    dim_score: np.ndarray  # (D,) variance or mean KL
    inactive: np.ndarray  # (D,) bool
    decoder: DecoderSpec | None  # None: the page asks the local server to decode

    def to_json(self) -> dict:
        ctx = self.ctx
        return {
            "label": self.label, "model": ctx.config.model.name, "dataset": ctx.dataset.name,
            "code_shape": list(ctx.code_shape), "image_shape": list(ctx.image_shape), "variational": ctx.variational,
            "class_names": ctx.class_names,
            "map": {"kind": self.map_kind, "xy": b64_float32(self.xy), "neighbours": NEIGHBOURS,
                    "mean": b64_float32(self.pca.mean_) if self.pca else None,
                    "components": b64_float32(self.pca.components_[:2]) if self.pca else None},
            "points": {"n": len(self.codes), "of": len(ctx.test), "codes": b64_float32(self.codes),
                       "labels": _labels(self.points), "images": _bytes(self.points.images)},
            "train": {"n": len(self.train_codes), "of": len(ctx.train), "codes": b64_float32(self.train_codes),
                      "images": _bytes(self.train.images)},
            "dims": {"score": self.dim_score.tolist(), "score_name": "mean KL (nats)" if ctx.variational else "variance",
                     "inactive": self.inactive.tolist(), "mean": self.codes.mean(0).tolist(), "std": self.codes.std(0).tolist()},
            "decoder": self.decoder.to_json() if self.decoder else None,
        }


def build_run_page(run_dir, label: str, options: ExploreOptions, *, in_page_decoder: bool = True) -> RunPage:
    ctx = AnalysisContext(run_dir, device=options.device)
    dim = ctx.code_dim
    n, t = _counts(dim, len(ctx.test), len(ctx.train), options)
    points, train = ctx.test.subset(slice(0, n)), ctx.train.subset(slice(0, t))
    codes, train_codes = encode(ctx, points), encode(ctx, train)
    kind, xy, pca = latent_map(codes, options)
    score, inactive = dimension_scores(ctx, points, codes)
    decoder = export_decoder(ctx.model.decoder) if in_page_decoder else None
    return RunPage(label, ctx, points, codes, kind, xy, pca, train, train_codes, score, inactive, decoder)


def _counts(dim: int, n_test: int, n_train: int, options: ExploreOptions) -> tuple[int, int]:
    """Map and training points, fewer where their codes would pass the page's budget."""
    fit = CODE_BUDGET_BYTES // (4 * dim)
    n = min(options.points, n_test, max(fit * 5 // 6, 1))
    t = min(options.train_points, n_train, max(fit - n, 0))
    if n < 1:
        raise AelabError("the run's test split is empty: the explorer maps test images; give the dataset a test split.")
    return n, t


@torch.inference_mode()
def encode(ctx: AnalysisContext, split: Split) -> np.ndarray:
    ctx.model.eval()
    out = [ctx.model.encode(x).flatten(1).float().cpu() for x, _ in batches(split, ctx.batch_size, device=ctx.device)]
    return torch.cat(out).numpy() if out else np.zeros((0, ctx.code_dim), np.float32)


def latent_map(codes: np.ndarray, options: ExploreOptions) -> tuple[str, np.ndarray, PCA | None]:
    if codes.shape[1] == 2 and options.map == "auto":
        return "code", codes.astype(np.float32), None
    if options.map == "tsne":
        from aelab.analysis.latent_map import tsne

        return "tsne", tsne(codes, perplexity=30.0, seed=options.seed).astype(np.float32), None
    if codes.shape[1] < 2 or len(codes) < 2:
        raise AelabError(f"a PCA map needs codes of 2 or more numbers and 2 or more test images; got {codes.shape}.")
    pca = PCA(n_components=2, random_state=options.seed).fit(codes)
    return "pca", pca.transform(codes).astype(np.float32), pca


@torch.inference_mode()
def dimension_scores(ctx: AnalysisContext, points: Split, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(D,) score the sliders are ordered by, and (D,) which dimensions are inactive."""
    variance = codes.var(0)
    if not ctx.variational:
        return variance, variance <= INACTIVE_RELATIVE_VARIANCE * max(float(variance.max()), 1e-12)
    kl = []
    for x, _ in batches(points, ctx.batch_size, device=ctx.device):
        mu, logvar = ctx.model.encode_distribution(x)
        kl.append(kl_normal_analytic(mu.unsqueeze(-1), logvar.unsqueeze(-1)).flatten(1).cpu())  # per dimension
    return torch.cat(kl).mean(0).numpy(), variance <= INACTIVE_VAE_VARIANCE


def _labels(split: Split) -> list[int] | None:
    return None if split.labels is None else split.labels.tolist()


def _bytes(images: torch.Tensor) -> str:
    return base64.b64encode(images.contiguous().numpy().tobytes()).decode("ascii")


def same_test_images(a: RunPage, b: RunPage) -> bool:
    """Whether two runs' map points are the same images, so a hovered image means one thing in both."""
    n = min(len(a.codes), len(b.codes))
    return a.points.images.shape[1:] == b.points.images.shape[1:] and bool(torch.equal(a.points.images[:n], b.points.images[:n]))
