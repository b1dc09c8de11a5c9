"""Generation scores: the time to score 10,000 images, and the scores of the seed studies' models.

    PYTHONPATH=src python benchmarks/generation.py --data-dir /work/shared/datasets

1. The feature network of Fashion-MNIST (trained once and cached, or read from the cache:
   $AELAB_CACHE_DIR, default ~/.cache/aelab), then the time to embed 10,000 images and to
   compute every score (FID, KID, precision/recall, density/coverage) of 10,000 against 10,000.
2. (Trained first, scored last.) The fashion-ae-vs-vae study's conv AE and VAE (channels 32, 64; 3x3 kernels; a 10-d code;
   no binarisation) and the MMD-VAE on the same network, each trained briefly (--epochs, 3 by
   default, on the whole training split, nothing held out), then `aelab evaluate --generation`:
   training images (the floor), test reconstructions, and every sampler's samples, against the
   first 10,000 test images. Scores are in the feature network's space: not Inception-FID.
3. With --sanity, FID to the test images of copies of the test set damaged by Gaussian noise
   and by Gaussian blur of growing strength, and of uniform noise (tests/generation checks the
   same properties on small sets).
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import torch

import aelab
from aelab.data import load_dataset
from aelab.generation import GenerationConfig, feature_space, format_scores, score
from aelab.generation.features import cache_dir
from aelab.generation.scores import frechet_distance

NETWORK = {"channels": [32, 64], "kernel_size": 3, "latent_dim": 10}
MODELS = {"conv-ae": {}, "vae": {"binarize": "none"}, "mmd-vae": {"binarize": "none"}}


def time_scoring(data_dir: str | None, images: int) -> None:
    dataset = load_dataset("fashion-mnist", data_dir, download=False)
    start = time.perf_counter()
    space = feature_space(dataset)
    print(f"feature network: {time.perf_counter() - start:.1f} s to train or load ({space.path}); "
          f"test accuracy {space.test_accuracy:.2%}")
    test, train = (split.images[:images].float().div(255) for split in (dataset.test, dataset.train))
    start = time.perf_counter()
    reference = space.embed(test)
    embed_s = time.perf_counter() - start
    start = time.perf_counter()
    floor = score(reference, space.embed(train))
    total_s = time.perf_counter() - start
    print(f"scoring {images:,} images against {images:,}: embedding one set {embed_s:.2f} s; embedding the other and every "
          f"score {total_s:.2f} s. Training vs test images: FID {floor.fid:.3f}, KID {floor.kid:.5f} ± {floor.kid_se:.5f}, "
          f"precision {floor.precision:.3f}, recall {floor.recall:.3f}, density {floor.density:.3f}, coverage {floor.coverage:.3f}")


def blurred(images: torch.Tensor, sigma: float, radius: int = 3) -> torch.Tensor:
    """A separable Gaussian blur (as in tests/generation/test_features.py)."""
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).view(1, 1, 1, -1)
    out = torch.nn.functional.conv2d(images, kernel, padding=(0, radius))
    return torch.nn.functional.conv2d(out, kernel.transpose(2, 3), padding=(radius, 0))


def sanity(data_dir: str | None, images: int) -> None:
    dataset = load_dataset("fashion-mnist", data_dir, download=False)
    space = feature_space(dataset)
    test = dataset.test.images[:images].float().div(255)
    reference = space.embed(test)
    fid = lambda x: frechet_distance(reference, space.embed(x))  # noqa: E731
    generator = torch.Generator().manual_seed(0)
    print(f"FID to the first {images:,} test images: the first {images:,} training images {fid(dataset.train.images[:images].float().div(255)):.3f}")
    print("  noised (std " + ", ".join(f"{s}: {fid((test + s * torch.randn(test.shape, generator=generator)).clamp(0, 1)):.2f}"
                                     for s in (0.05, 0.1, 0.2, 0.4)) + ")")
    print("  blurred (sigma " + ", ".join(f"{s}: {fid(blurred(test, s)):.2f}" for s in (0.5, 1.0, 2.0, 4.0)) + ")")
    print(f"  uniform noise: {fid(torch.rand(test.shape, generator=generator)):.2f}", flush=True)


def train_model(name: str, args: argparse.Namespace, root: Path) -> tuple[Path, float]:
    overrides = {"model.name": name, **{f"model.{k}": v for k, v in {**NETWORK, **MODELS[name]}.items()},
                 "data.name": "fashion-mnist", "data.data_dir": args.data_dir, "data.download": False, "data.val_fraction": 0.0,
                 "train.epochs": args.epochs, "train.batch_size": args.batch_size, "train.seed": args.seed,
                 "train.device": args.device, "train.strip_images": 0}
    start = time.perf_counter()
    run = aelab.train(aelab.make_config(overrides), root / name, progress=False, log=lambda s: None)
    return run, time.perf_counter() - start


def score_model(name: str, run: Path, train_s: float, args: argparse.Namespace) -> None:
    start = time.perf_counter()
    metrics = aelab.evaluate(run, device=args.device, generation=GenerationConfig(count=args.images))
    print(f"\n{name}: {args.epochs} epochs in {train_s:.0f} s; test MSE per pixel {metrics.mse_per_pixel:.4f}; "
          f"evaluate --generation {time.perf_counter() - start:.0f} s")
    print(format_scores(metrics.generation), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS), help="none: skip part 2")
    parser.add_argument("--sanity", action="store_true", help="also FID of damaged copies of the test set and of noise")
    parser.add_argument("--out", default=None, help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {commit or '?'}; {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads; "
          f"cache {cache_dir()}")
    root = Path(args.out or tempfile.mkdtemp(prefix="generation-"))
    trained = {name: train_model(name, args, root) for name in args.models}  # first: they need no feature network
    time_scoring(args.data_dir, args.images)
    if args.sanity:
        sanity(args.data_dir, args.images)
    for name, (run, train_s) in trained.items():
        score_model(name, run, train_s, args)
    print(f"\nruns in {root}")


if __name__ == "__main__":
    main()
