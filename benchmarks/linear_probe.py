"""Linear probes on autoencoder codes, and encoder-initialised vs scratch classifiers (issue 4).

    python benchmarks/linear_probe.py --data-dir ../shared/datasets --out /tmp/probe-bench

On Fashion-MNIST, trains three autoencoders with the one training loop on the
first `--train-subset` training images for `--epochs` epochs: the plain conv AE
(`conv-ae`, seed 004's defaults), `conv-wta-ae` and `fc-wta-ae`. Then:

1. Linear probe: multinomial logistic regression (scikit-learn, standardised
   inputs) on each model's features (`feature_extractor()`: the 10-d code,
   Conv-WTA's max-pooled dense maps, FC-WTA's dense hidden code), fitted on the
   same training images, scored on the full test set; and the same regression
   on raw pixels (the Fashion-MNIST paper reports 84.2% with all 60,000 images).
2. `aelab classify` on the conv AE run: fine-tuned from the encoder vs the same
   network from random weights, same epochs, same data (test accuracy of the
   last epoch; nothing is selected on test data).

Prints a table and writes results.json into --out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import aelab
from aelab.classify import ClassifyConfig, classify
from aelab.data import Split, batches
from aelab.loading import prepare_data


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="runs/linear-probe-bench")
    parser.add_argument("--train-subset", type=int, default=6000, help="first N training images (all: 60000)")
    parser.add_argument("--epochs", type=int, default=3, help="autoencoder epochs")
    parser.add_argument("--classify-epochs", type=int, default=3)
    parser.add_argument("--wta-maps", type=int, default=64, help="conv-WTA feature maps (the paper: 128)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


MODELS = {
    "conv-ae": {},
    "conv-wta-ae": {},  # channels set from --wta-maps
    "fc-wta-ae": {},
}


@torch.inference_mode()
def features(extractor: torch.nn.Module, split: Split) -> np.ndarray:
    return torch.cat([extractor(x) for x, _ in batches(split, 500)]).numpy()


def probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, seed: int) -> float:
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, random_state=seed))
    clf.fit(train_x, train_y)
    return float(clf.score(test_x, test_y))


def main() -> None:
    args = parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = {"data.name": "fashion-mnist", "data.data_dir": args.data_dir, "data.val_fraction": 0.0,
            "data.train_subset": args.train_subset, "train.epochs": args.epochs, "train.seed": args.seed,
            "train.strip_images": 0, "train.device": "cpu"}
    results: dict = {"args": vars(args), "probe_test_accuracy": {}, "ae_seconds": {}}
    _, splits = prepare_data(aelab.make_config(base).data, args.seed)
    y_train, y_test = splits.train.labels.numpy(), splits.test.labels.numpy()
    runs = {}
    for name in MODELS:
        options = {"model.channels": [args.wta_maps]} if name == "conv-wta-ae" else {}
        run_dir = out / name
        start = time.perf_counter()
        if not (run_dir / "model.safetensors").exists():
            aelab.train(aelab.make_config({**base, "model.name": name, **options}), run_dir, progress=False)
        results["ae_seconds"][name] = round(time.perf_counter() - start, 1)
        runs[name] = run_dir
        extractor = aelab.load_model(run_dir).feature_extractor().eval()
        acc = probe(features(extractor, splits.train), y_train, features(extractor, splits.test), y_test, args.seed)
        results["probe_test_accuracy"][name] = acc
        print(f"probe on {name} features: {acc:.2%}")
    pixels = lambda s: s.images.flatten(1).float().div(255).numpy()  # noqa: E731
    results["probe_test_accuracy"]["raw pixels"] = probe(pixels(splits.train), y_train, pixels(splits.test), y_test, args.seed)
    for mode in ("fine-tune", "scratch"):
        summary = classify(runs["conv-ae"], ClassifyConfig(mode=mode, epochs=args.classify_epochs, seed=args.seed, device="cpu"), progress=False)
        results[f"classifier_{mode}_test_accuracy"] = summary["test_accuracy"]
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nFashion-MNIST, {len(splits.train):,} training images, AE {args.epochs} epochs; test on {len(splits.test):,}")
    for name, acc in results["probe_test_accuracy"].items():
        print(f"  linear probe  {name:<12} {acc:.2%}")
    print("  (Fashion-MNIST paper: logistic regression on raw pixels, 60,000 images: 84.2%)")
    for mode in ("fine-tune", "scratch"):
        print(f"  classifier {mode:<10} {results[f'classifier_{mode}_test_accuracy']:.2%}  ({args.classify_epochs} epochs)")


if __name__ == "__main__":
    main()
