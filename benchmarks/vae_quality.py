"""Quality of the conv VAE: test ELBO and importance-sampled NLL, latent 2 and 16.

    PYTHONPATH=src python benchmarks/vae_quality.py --data-dir /work/shared/datasets

Trains `vae` (the TensorFlow-tutorial conv net, Bernoulli likelihood, dynamic
binarisation) on Fashion-MNIST and on `mnist-test-split` (MNIST's official 10,000
test images: the first 8,000 train, the last 2,000 test, for machines without the
training images), then prints, per run, the test ELBO after the last epoch and the
IWAE estimate of log p(x) with K samples on the first N test images (fixed binarisation).
Nothing is selected on test data: the last epoch's weights are the ones scored.
The defaults fit a 2-core CPU in ~20 minutes; pass the full sizes on a bigger machine
(--fashion-train 60000 --fashion-epochs 30 --nll-subset 10000).
Anchors: pythae's VAE 89.8 nats NLL (binarised MNIST, 60,000 training images);
TensorFlow's CVAE tutorial, latent 2: test ELBO -155.9.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import aelab
from aelab import pipeline
from aelab.run_files import RunFiles


def run_one(dataset: str, latent: int, train_subset: int | None, epochs: int, args: argparse.Namespace, root: Path) -> dict:
    overrides = {
        "model.name": "vae", "model.latent_dim": latent, "data.name": dataset, "data.data_dir": args.data_dir,
        "data.val_fraction": 0.0, "data.train_subset": train_subset, "train.epochs": epochs,
        "train.batch_size": args.batch_size, "train.seed": args.seed, "train.strip_images": 0,
    }
    start = time.perf_counter()
    run = aelab.train(aelab.make_config(overrides), root / f"{dataset}-z{latent}", progress=False, log=lambda s: None)
    train_s = time.perf_counter() - start
    last = RunFiles(run).read_metrics()[-1]  # the last epoch: nothing is selected on test data
    prefix = "test" if "test_nelbo" in last else "val"  # val_fraction 0: the test split is logged as val
    result = pipeline.evaluate(run, device=args.device, nll_samples=args.nll_samples, nll_subset=args.nll_subset)
    return {"test_elbo": -last[f"{prefix}_nelbo"], "test_rec": last[f"{prefix}_rec"], "test_kl": last[f"{prefix}_kl"],
            "nll": result.nll_iwae, "elbo_same": result.elbo, "train_s": train_s, "total_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--latents", type=int, nargs="+", default=[2, 16])
    parser.add_argument("--fashion-train", type=int, default=12_000, help="first N Fashion-MNIST training images")
    parser.add_argument("--fashion-epochs", type=int, default=6)
    parser.add_argument("--mnist-epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--nll-samples", type=int, default=1000)
    parser.add_argument("--nll-subset", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=None, help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args()
    root = Path(args.out or tempfile.mkdtemp(prefix="vae-quality-"))
    plan = [("fashion-mnist", z, args.fashion_train, args.fashion_epochs) for z in args.latents]
    plan += [("mnist-test-split", z, None, args.mnist_epochs) for z in args.latents]
    print(f"runs in {root}; batch {args.batch_size}, seed {args.seed}, dynamic binarisation; "
          f"NLL: IWAE with K = {args.nll_samples} on the first {args.nll_subset} test images")
    header = (f"{'dataset':<17} {'z':>3} {'train imgs':>10} {'epochs':>6} {'test ELBO':>10} {'rec':>8} {'KL':>6} {'IS-NLL':>8} "
              f"{'ELBO same imgs':>14} {'train s':>7} {'total s':>7}")
    print(header)
    for dataset, latent, subset, epochs in plan:
        r = run_one(dataset, latent, subset, epochs, args, root)
        n_train = subset if subset is not None else 8000
        print(f"{dataset:<17} {latent:>3} {n_train:>10,} {epochs:>6} {r['test_elbo']:>10.2f} {r['test_rec']:>8.2f} {r['test_kl']:>6.2f} "
              f"{r['nll']:>8.2f} {r['elbo_same']:>14.2f} {r['train_s']:>7.0f} {r['total_s']:>7.0f}", flush=True)


if __name__ == "__main__":
    main()
