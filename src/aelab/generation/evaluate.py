"""Generation scores of a trained model: its test reconstructions and each sampler's samples,
against the test split, in the dataset's own feature space (`aelab evaluate RUN --generation`).

Training images are scored too, as the floor: what a sampler that drew the data itself would get
with this many images (FID has a positive bias that shrinks with the count).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import torch

from aelab.data import ImageDataset, Split, batches
from aelab.data.checksums import file_digest
from aelab.generation.features import FeatureNetConfig, FeatureSpace, feature_space
from aelab.generation.samplers import MixtureConfig, available_samplers, sample, saved_or_fitted
from aelab.generation.scores import score
from aelab.models import Autoencoder
from aelab.run_files import RunFiles

Log = Callable[[str], None]
NOT_COMPARABLE = ("measured in the features of a small CNN trained on this dataset (its test accuracy is given), not "
                  "Inception-v3: comparable between aelab runs on the same dataset, never with Inception-FID figures from papers")
SET_TITLES = {"train_images": "training images (the floor)", "reconstructions": "test reconstructions",
              "prior": "samples from the prior", "gmm": "samples from the code mixture"}


@dataclass(frozen=True)
class GenerationConfig:
    count: int = 10_000  # images per set, and reference (test) images; at most the test split's size
    k: int = 5  # neighbours that define the k-NN manifolds of precision, recall, density and coverage
    kid_subsets: int = 10  # disjoint subsets whose spread gives KID's standard error
    seed: int = 0  # samples, the mixture's fit and KID's subsets
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    feature_net: FeatureNetConfig = field(default_factory=FeatureNetConfig)


@torch.inference_mode()
def encode_flat(model: Autoencoder, split: Split, device: torch.device, batch_size: int = 1000) -> torch.Tensor:
    """(N, D) float64 codes on the CPU (posterior means for VAEs)."""
    model.eval()
    codes = [model.encode(x).flatten(1).double().cpu() for x, _ in batches(split, batch_size, device=device)]
    return torch.cat(codes)


@torch.inference_mode()
def reconstruct(model: Autoencoder, images: torch.Tensor, device: torch.device, batch_size: int = 1000) -> torch.Tensor:
    model.eval()
    parts = [model(images[i : i + batch_size].to(device)).float().clamp(0, 1).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(parts)


def image_sets(model: Autoencoder, train: Split, reference: torch.Tensor, run: RunFiles, config: GenerationConfig,
               device: torch.device, log: Log = print, train_codes: Callable[[], torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """name -> (n, C, H, W) images in [0, 1]: training images, reconstructions and every sampler's samples.

    The code mixture is read from the run folder, or fitted on `train_codes()` (default: encode `train`) and saved there.
    """
    n = len(reference)
    sets = {"train_images": train.images[:n].float().div(255), "reconstructions": reconstruct(model, reference, device)}
    for name in available_samplers(model):
        mixture = None
        if name == "gmm":
            codes = train_codes or (lambda: encode_flat(model, train, device))
            mixture = saved_or_fitted(run.code_mixture, codes, config.mixture, file_digest(run.weights, "sha256"), log)
        sets[name] = sample(model, n, name, mixture=mixture, generator=torch.Generator().manual_seed(config.seed))
    return sets


def generation_scores(model: Autoencoder, dataset: ImageDataset, train: Split, test: Split, run: RunFiles,
                      config: GenerationConfig = GenerationConfig(), *, device: torch.device | str = "cpu",
                      log: Log = print) -> dict:
    """The scores of every image set against the first `config.count` test images, with what they mean."""
    space = feature_space(dataset, config.feature_net, device=device, log=log)
    reference = test.images[: config.count].float().div(255)
    return scored(space, reference, image_sets(model, train, reference, run, config, device, log), config)


def scored(space: FeatureSpace, reference: torch.Tensor, sets: dict[str, torch.Tensor], config: GenerationConfig) -> dict:
    """Every set's scores against `reference` in `space`, with the feature network, the counts and the caveat."""
    reference_features = space.embed(reference)
    scores = {name: score(reference_features, space.embed(images), k=config.k, kid_subsets=config.kid_subsets,
                          seed=config.seed).to_dict() for name, images in sets.items()}
    return {"feature_network": space.describe(), "reference": f"the first {len(reference):,} test images",
            "images_per_set": len(reference), "note": NOT_COMPARABLE, "config": dataclasses.asdict(config), "scores": scores}


def format_scores(result: dict) -> str:
    """The scores as a text table, with the feature network's accuracy and the caveat."""
    net = result["feature_network"]
    lines = [f"generation scores against {result['reference']}, {result['images_per_set']:,} images per set; "
             f"feature network test accuracy {net['test_accuracy']:.2%}",
             f"  {'set':<30} {'FID':>9} {'KID':>16} {'precision':>9} {'recall':>7} {'density':>7} {'coverage':>8}"]
    for name, s in result["scores"].items():
        kid = f"{s['kid']:.4g} ± {s['kid_se']:.2g}"
        lines.append(f"  {SET_TITLES.get(name, name):<30} {s['fid']:>9.3f} {kid:>16} {s['precision']:>9.3f} "
                     f"{s['recall']:>7.3f} {s['density']:>7.3f} {s['coverage']:>8.3f}")
    lines.append(f"  ({result['note']})")
    return "\n".join(lines)
