"""8. Classification in latent space: 1-NN of each test code among the training codes,
accuracy per class and overall against chance (seed 001, exercise 3); also k-NN and a
linear probe, and the same three on raw pixels for reference.

Neighbours are found in one search for both 1-NN and k-NN: scikit-learn's k-d tree
for short codes, a chunked distance matrix and top-k in torch for wide feature-map
codes and pixels (see `nearest`). The raw-pixel neighbours use the same images as the
codes (every training and test image: the figure a student compares with the
literature); only the pixel linear probe is fitted on a stated subset of the training
images, because a logistic regression on 784 pixels of 60,000 images takes minutes on 2 cores.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from aelab.analysis.base import Analysis, AnalysisResult, Table, register_analysis
from aelab.analysis.figures import RUN_COLOURS, figure
from aelab.analysis.needs import Needs
from aelab.analysis.reconstructions import per_class_means
from aelab.checks import PositiveInt, Seed
from aelab.errors import ConfigError

KD_TREE_MAX_DIM = 15
CHUNK_ELEMENTS = 2**25  # distance-matrix entries per chunk (128 MiB of float32)


def nearest(train: torch.Tensor, test: torch.Tensor, k: int) -> torch.Tensor:
    """(N_test, k) indices of the k nearest training points (Euclidean), nearest first.

    Codes of up to KD_TREE_MAX_DIM numbers go to scikit-learn's k-d tree, longer ones to a
    chunked brute-force search: the tree is far faster on 2-d codes and faster on a conv AE's
    10-d codes; only its worst case, 10-d codes spread like a Gaussian, is slower than brute force
    (benchmarks/latent_speed.py; figures in docs/performance.md). 15 is scikit-learn's own limit
    for choosing a tree.
    """
    train, test = train.float(), test.float()
    if train.shape[1] <= KD_TREE_MAX_DIM:
        from sklearn.neighbors import KDTree

        return torch.from_numpy(KDTree(train.numpy()).query(test.numpy(), k=min(k, len(train)), return_distance=False)).long()
    train_sq, train_t = train.pow(2).sum(1), train.T.contiguous()
    chunk = max(1, CHUNK_ELEMENTS // max(len(train), 1))
    out = []
    for start in range(0, len(test), chunk):
        dist = torch.addmm(train_sq, test[start : start + chunk], train_t, alpha=-2)  # |x|^2 - 2 x.q (+ |q|^2, same for all)
        out.append(dist.topk(min(k, len(train)), dim=1, largest=False).indices)
    return torch.cat(out)


def vote(neighbour_labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(N, k) labels -> (N,) the most frequent; ties go to the lowest label (as scikit-learn)."""
    return torch.nn.functional.one_hot(neighbour_labels, n_classes).sum(1).argmax(1)


def knn_predict(train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor, k: int) -> torch.Tensor:
    return vote(train_labels[nearest(train, test, k)], int(train_labels.max()) + 1)


def linear_probe(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, max_iter: int, seed: int) -> np.ndarray:
    """Multinomial logistic regression (lbfgs) on standardised features.

    Runs on one BLAS/OpenMP thread: at this size (thousands of images, 784 pixels) threads
    only wait for each other, many times slower on a busy 2-core machine.
    """
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, random_state=seed))
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)  # a capped probe is still a fair reference; max_iter is reported
        return probe.fit(train, train_labels).predict(test)


def evaluate(name: str, predictions, labels: np.ndarray, n_classes: int) -> dict:
    correct = (np.asarray(predictions) == labels).astype(np.float64)
    return {"method": name, "accuracy": float(correct.mean()), "per_class": per_class_means(correct, labels, n_classes)}


def three_ways(prefix: str, train, train_labels, test, test_labels, n_classes: int, k: int, max_iter: int, seed: int,
               seconds: dict[str, float], probe_train: int | None = None) -> list[dict]:
    """1-NN and k-NN (from one neighbour search) and the linear probe (fitted on the first
    `probe_train` training points, all if None); times go into `seconds`."""
    start = time.perf_counter()
    neighbours = train_labels[nearest(train, test, k)]
    seconds[f"neighbour search {prefix}"] = time.perf_counter() - start
    y = test_labels.numpy()
    results = [evaluate(f"1-NN {prefix}", neighbours[:, 0].numpy(), y, n_classes),
               evaluate(f"{k}-NN {prefix}", vote(neighbours, n_classes).numpy(), y, n_classes)]
    start = time.perf_counter()
    fit = slice(0, probe_train)
    predictions = linear_probe(train[fit].numpy(), train_labels[fit].numpy(), test.numpy(), max_iter, seed)
    seconds[f"linear probe {prefix}"] = time.perf_counter() - start
    subset = f" (fitted on {min(probe_train, len(train)):,})" if probe_train is not None and probe_train < len(train) else ""
    return results + [evaluate(f"linear probe {prefix}{subset}", predictions, y, n_classes)]


@register_analysis
class LatentClassification(Analysis):
    name, title, order = "knn", "Classification in latent space", 80
    note = ("The code was learned without labels, yet nearby codes often share a class. Solid bars: classifiers on the codes "
            "(one run: 1-NN, k-NN and a linear probe; runs compared: each run's 1-NN); hatched: 1-NN on the raw pixels of the "
            "same images, which the code should approach with far fewer numbers; dashed line: chance. The numbers have every "
            "classifier on codes and on pixels.")
    needs = Needs(labels=True, train_labels=True)

    def run(
        self, ctx, *, k: PositiveInt = 5, probe_max_iter: PositiveInt = 100, pixel_train: PositiveInt | None = None,
        pixel_test: PositiveInt | None = None, pixel_probe_train: PositiveInt = 5000, seed: Seed = 0
    ) -> AnalysisResult:
        """`pixel_train`, `pixel_test`: the raw-pixel reference on the first so many images (None: the same
        images as the codes); `pixel_probe_train`: the training images the pixel probe is fitted on."""
        n_classes, names = ctx.n_classes, ctx.class_names
        y_train, y_test = ctx.train.labels, ctx.test.labels
        if len(y_train.unique()) < 2 or not len(y_test):
            raise ConfigError(f"classifying codes needs training images of at least 2 classes and a test image; this run has "
                              f"{len(y_train.unique())} class(es) in {len(y_train)} training and {len(y_test)} test images.")
        seconds: dict[str, float] = {}
        rows = three_ways("on codes", ctx.train_codes, y_train, ctx.test_codes, y_test, n_classes, k, probe_max_iter, seed, seconds)
        n_tr, n_te = min(pixel_train or len(ctx.train), len(ctx.train)), min(pixel_test or len(ctx.test), len(ctx.test))
        pixels = lambda split, n: split.images[:n].flatten(1).float().div(255)  # noqa: E731
        rows += three_ways("on pixels", pixels(ctx.train, n_tr), y_train[:n_tr], pixels(ctx.test, n_te), y_test[:n_te],
                           n_classes, k, probe_max_iter, seed, seconds, probe_train=pixel_probe_train)
        same = n_tr == len(ctx.train) and n_te == len(ctx.test)
        counts = np.bincount(y_test.numpy(), minlength=n_classes)
        numbers = {
            "chance": 1 / n_classes, "majority_class_rate": float(counts.max() / counts.sum()),
            "train_codes": len(ctx.train), "test_codes": len(ctx.test), "k": k,
            "pixel_images": "the same images as the codes" if same else f"first {n_tr:,} training and first {n_te:,} test images",
            "pixel_probe_images": f"first {min(pixel_probe_train, n_tr):,} training images",
            "linear_probe": f"logistic regression (lbfgs, at most {probe_max_iter} iterations) on standardised features",
            **{r["method"].replace(" ", "_").replace("-", "").lower(): r["accuracy"] for r in rows},
            "per_class_1nn_codes": dict(zip(names, map(float, rows[0]["per_class"]))),
            "seconds": {name: round(v, 3) for name, v in seconds.items()},
        }
        table = Table("Accuracy per class (%)", ["class", *(r["method"] for r in rows)],
                      [[n, *(f"{100 * r['per_class'][c]:.1f}" for r in rows)] for c, n in enumerate(names)]
                      + [["all", *(f"{100 * r['accuracy']:.1f}" for r in rows)]])
        shown = rows[:4]  # on codes: 1-NN, k-NN, probe; on pixels: 1-NN (the rest is in the table)
        fig = accuracy_bars([(r["method"], r["per_class"], r["accuracy"]) for r in shown], names, 1 / n_classes)
        data = {"one_nn": rows[0], "one_nn_pixels": rows[3], "names": names, "chance": 1 / n_classes,
                "per_class_1nn": numbers["per_class_1nn_codes"], "methods": rows}
        return AnalysisResult(numbers, [("accuracy", fig)], [table], data)

    def combine(self, results):
        if len(results) < 2:
            return []
        bars = [(f"{label}: 1-NN on codes", r.data["one_nn"]["per_class"], r.data["one_nn"]["accuracy"]) for label, r in results]
        pixels = results[0][1].data["one_nn_pixels"]  # the runs share their data: one pixel reference
        bars.append(("1-NN on pixels", pixels["per_class"], pixels["accuracy"]))
        fig = accuracy_bars(bars, results[0][1].data["names"], results[0][1].data["chance"], title="1-NN per class: codes of each run, and raw pixels")
        return [("accuracy", fig)]


def accuracy_bars(bars: list[tuple[str, np.ndarray, float]], names: list[str], chance: float, title: str = "accuracy per class"):
    fig = figure(10.5, 4.2)
    ax = fig.add_subplot()
    x = np.arange(len(names))
    width = 0.84 / len(bars)
    for i, (label, per_class, overall) in enumerate(bars):
        hatch = "//" if "pixels" in label else None
        ax.bar(x + (i - (len(bars) - 1) / 2) * width, 100 * per_class, width, color=RUN_COLOURS[i % len(RUN_COLOURS)],
               hatch=hatch, edgecolor="white", linewidth=0.3, label=f"{label}: {100 * overall:.1f}%")
    ax.axhline(100 * chance, ls="--", color="0.3", lw=1.2, label=f"chance: {100 * chance:.0f}%")
    long = max(map(len, names)) > 3
    ax.set_xticks(x, names, rotation=30 if long else 0, ha="right" if long else "center")
    ax.set_ylabel("correct (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", frameon=False, fontsize=9)
    return fig
