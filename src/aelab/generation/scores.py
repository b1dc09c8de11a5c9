"""How far a set of images is from the reference set, computed on their features (N, F).

- FID: Fréchet distance of Gaussians fitted to the two sets (torchmetrics, in float64).
- KID: the unbiased estimate of the squared MMD with the cubic polynomial kernel
  (Bińkowski et al. 2018; torchmetrics' kernel), averaged over disjoint subsets so that
  their spread gives an honest standard error.
- Precision and recall (Kynkäänniemi et al. 2019): the share of samples inside the
  reference set's k-NN manifold, and of reference images inside the samples'.
- Density and coverage (Naeem et al. 2020): how many reference k-NN balls hold each
  sample on average (divided by k; 1 for a perfect sampler), and the share of reference
  balls that hold at least one sample. torchmetrics has none of these four; they follow
  the authors' reference code (clovaai/generative-evaluation-prdc), with k = 5 as there.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import poly_mmd

CHUNK_ELEMENTS = 2**24  # entries of one block of the distance matrix (64 MiB of float32)


@dataclass(frozen=True)
class Scores:
    fid: float
    kid: float
    kid_se: float  # standard error of `kid` over `kid_subsets` disjoint subsets
    precision: float
    recall: float
    density: float
    coverage: float
    samples: int
    reference: int

    def to_dict(self) -> dict:
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}


def score(reference: torch.Tensor, samples: torch.Tensor, *, k: int = 5, kid_subsets: int = 10, seed: int = 0) -> Scores:
    """Every score of `samples` against `reference`, both (N, F) features."""
    reference, samples = reference.double(), samples.double()
    kid, kid_se = kernel_distance(reference, samples, kid_subsets, seed)
    return Scores(fid=frechet_distance(reference, samples), kid=kid, kid_se=kid_se,
                  **manifold_scores(reference.float(), samples.float(), k), samples=len(samples), reference=len(reference))


class _GivenFeatures(nn.Identity):
    """The 'feature network' torchmetrics is given: features are computed once, before."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features


@torch.no_grad()
def frechet_distance(reference: torch.Tensor, samples: torch.Tensor) -> float:
    metric = FrechetInceptionDistance(feature=_GivenFeatures(reference.shape[1]))
    metric.update(reference, real=True)
    metric.update(samples, real=False)
    return max(float(metric.compute()), 0.0)  # the trace of the matrix square root may round a hair above


@torch.no_grad()
def kernel_distance(reference: torch.Tensor, samples: torch.Tensor, subsets: int, seed: int) -> tuple[float, float]:
    """(mean, standard error) of the unbiased squared MMD on `subsets` disjoint random subsets."""
    size = min(len(reference), len(samples)) // subsets
    if size < 2:
        raise ValueError(f"KID needs at least {2 * subsets} images in each set for {subsets} subsets")
    generator = torch.Generator().manual_seed(seed)
    pick = lambda x: x[torch.randperm(len(x), generator=generator)[: subsets * size]].view(subsets, size, -1)  # noqa: E731
    values = torch.stack([poly_mmd(r, s) for r, s in zip(pick(reference), pick(samples))])
    return float(values.mean()), float(values.std() / math.sqrt(subsets))


def kth_neighbour_distance(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N,) distance from each point to its k-th nearest other point of `x`."""
    chunk = max(1, CHUNK_ELEMENTS // len(x))
    # index 0 of each row is the point itself, at distance 0
    return torch.cat([torch.cdist(x[i : i + chunk], x).topk(k + 1, dim=1, largest=False).values[:, k] for i in range(0, len(x), chunk)])


@torch.no_grad()
def manifold_scores(reference: torch.Tensor, samples: torch.Tensor, k: int) -> dict[str, float]:
    """Precision, recall, density and coverage, from one pass over sample-reference distances."""
    if min(len(reference), len(samples)) <= k:
        raise ValueError(f"precision and recall with k = {k} need more than {k} images in each set")
    radius_ref, radius_smp = kth_neighbour_distance(reference, k), kth_neighbour_distance(samples, k)
    in_reference_balls = torch.zeros(len(samples))  # per sample: how many reference balls hold it
    reference_recalled = torch.zeros(len(reference), dtype=torch.bool)  # inside some sample's ball
    nearest_sample = torch.full((len(reference),), math.inf)  # per reference image
    chunk = max(1, CHUNK_ELEMENTS // len(reference))
    for i in range(0, len(samples), chunk):
        d = torch.cdist(samples[i : i + chunk], reference)  # (chunk, N_reference)
        in_reference_balls[i : i + chunk] = (d < radius_ref).sum(1).float()
        reference_recalled |= (d < radius_smp[i : i + chunk, None]).any(0)
        nearest_sample = torch.minimum(nearest_sample, d.min(0).values)
    return {"precision": float((in_reference_balls > 0).float().mean()), "recall": float(reference_recalled.float().mean()),
            "density": float(in_reference_balls.sum() / (k * len(samples))),
            "coverage": float((nearest_sample < radius_ref).float().mean())}
