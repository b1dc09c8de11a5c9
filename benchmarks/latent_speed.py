"""Speed of the latent-space work that issue 7 names, against the usual way of doing each.

    python benchmarks/latent_speed.py RUN --data-dir ../shared/datasets [--repeat 3]

RUN is a trained Fashion-MNIST run (e.g. `aelab train --config recipes/default.toml --out
runs/default`). Times, median over --repeat, in one process, each pair back to back:
- encode all 70,000 images: aelab's analysis path (batches of 1,000 under inference mode)
  against a plain `torch.no_grad()` loop over batches of 64;
- 1-NN of the 10,000 test codes against the 60,000 training codes: aelab's chunked torch
  search against scikit-learn's KNeighborsClassifier (its default algorithm choice);
- t-SNE of the first 1,000 and of the first 10,000 test codes: aelab's openTSNE settings
  against scikit-learn's TSNE defaults (what the Keras/TF tutorials use).
Accuracy of the two 1-NN searches and the t-SNE silhouettes are printed as a check that
the fast path computes the same thing.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import torch  # noqa: E402


def timed(fn, repeat: int):
    """(median seconds, last result) over `repeat` calls."""
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tsne-repeat", type=int, default=1, help="t-SNE of 10,000 takes minutes with scikit-learn")
    args = parser.parse_args()

    from sklearn.manifold import TSNE as SklearnTSNE
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import KNeighborsClassifier

    from aelab.analysis.knn import nearest
    from aelab.analysis.latent_map import tsne
    from aelab.data import Split, batches, load_dataset
    from aelab.loading import load_model

    data = load_dataset("fashion-mnist", args.data_dir)
    model = load_model(args.run)
    plain_model = copy.deepcopy(model).to(memory_format=torch.contiguous_format)  # what a hand-written loop has
    everything = torch.cat([data.train.images, data.test.images])
    print(f"{args.run}: {model.config.name}, {len(everything):,} images, {torch.get_num_threads()} threads, "
          f"load {os.getloadavg()[0]:.1f}")
    rows = []

    def plain_encode():
        with torch.no_grad():
            return torch.cat([plain_model.encode(everything[i : i + 64].float().div(255)) for i in range(0, len(everything), 64)])

    def aelab_encode():  # AnalysisContext's path
        with torch.inference_mode():
            return torch.cat([model.encode(x) for x, _ in batches(Split(everything), 1000, device="cpu")])

    t_plain, codes_plain = timed(plain_encode, args.repeat)
    t_aelab, codes = timed(aelab_encode, args.repeat)
    assert torch.allclose(codes, codes_plain, atol=1e-4), "the two encodings differ"
    rows.append(("encode 70,000 images", t_plain, t_aelab, ""))

    train, test = codes[: len(data.train)], codes[len(data.train) :]
    y_train, y_test = data.train.labels, data.test.labels
    t_plain, sk = timed(lambda: KNeighborsClassifier(1).fit(train.numpy(), y_train.numpy()).predict(test.numpy()), args.repeat)
    t_aelab, ours = timed(lambda: y_train[nearest(train, test, 1)[:, 0]].numpy(), args.repeat)
    acc = lambda p: float((p == y_test.numpy()).mean())  # noqa: E731
    rows.append(("1-NN 10,000 vs 60,000 codes", t_plain, t_aelab, f"accuracy {acc(sk):.4f} vs {acc(ours):.4f}"))

    for n in (1000, 10000):
        x, labels = test[:n].numpy(), y_test[:n].numpy()
        t_plain, a = timed(lambda: SklearnTSNE(random_state=0).fit_transform(x), args.tsne_repeat)
        t_aelab, b = timed(lambda: tsne(x, 30.0, 0), args.tsne_repeat)
        rows.append((f"t-SNE of {n:,} codes", t_plain, t_aelab,
                     f"silhouette {silhouette_score(a, labels):.3f} vs {silhouette_score(b, labels):.3f}"))

    print(f"\n{'step':<30} {'usual way':>10} {'aelab':>9} {'speed-up':>9}  check")
    for name, plain, ours_s, note in rows:
        print(f"{name:<30} {plain:9.2f}s {ours_s:8.2f}s {plain / ours_s:8.1f}x  {note}")


if __name__ == "__main__":
    main()
