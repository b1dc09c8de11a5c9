"""The `scoreboard` evidence: one table comparing a study's runs on every number that applies.

    { scoreboard = { nll_samples = 100, nll_subset = 1000 }, runs = ["ae", "vae", ...] }

Per run: test MSE per pixel; the test ELBO and the importance-sampled log p(x) (nats per
image, K = nll_samples) where the model has a likelihood; FID and precision/recall of test
reconstructions and of samples (the prior where the model has one, else the code mixture,
named in the table); 1-NN and linear-probe accuracy on the codes (the `knn` analysis, which
the study must also cite for these runs); mean training seconds per epoch of the
autoencoder (a second stage, the VQ-VAE's prior, not counted); parameters. With
`aelab study --seeds N` every number is the mean ± the standard deviation over the N
copies of the run. "—" marks a number that is not defined for the model, never a missing run.
"""

from __future__ import annotations

from statistics import mean, stdev

from aelab.config import load_config_file
from aelab.documents import EvidenceBlock, Table
from aelab.run_files import RunFiles
from aelab.study.evidence import EVALUATE_KEYS, check_evaluate, evidence, panel

# (column, digits it is shown with; None: not a number to average)
COLUMNS = [("run", None), ("model", None), ("test MSE", 5), ("test ELBO", 2), ("log p(x)", 2), ("FID rec.", 2), ("sampler", None),
           ("FID samples", 2), ("precision", 3), ("recall", 3), ("1-NN", 4), ("linear probe", 4), ("s / epoch", 1), ("parameters", 0)]


def check_scoreboard(item: dict, where: str) -> None:
    check_evaluate({"evaluate": item["scoreboard"]}, where)


def run_numbers(runner, run: str, options: dict) -> list:
    """One run's row, unrounded: None where a number is not defined for its model."""
    from aelab.loading import load_model

    model = load_model(runner.run_dir(run), "cpu")
    params = {"generation": True, **{k: v for k, v in options.items() if k in EVALUATE_KEYS and k != "generation"}}
    if not model.capabilities.likelihood:
        params.pop("nll_samples", None), params.pop("nll_subset", None)
    metrics = runner.evaluate(run, params)
    scores = metrics.generation["scores"]
    sampler = "prior" if "prior" in scores else "gmm"
    analyzed = runner.analysis(run)
    knn = analyzed.entry("knn") if analyzed else None
    knn_numbers = knn.numbers if knn and not knn.error else {}
    first_stage = runner.metrics(run)[: load_config_file(RunFiles(runner.run_dir(run)).config).train.epochs]  # then a second stage's
    return [runner.label(run), model.config.name, metrics.mse_per_pixel, metrics.elbo, metrics.log_px_iwae,
            scores["reconstructions"]["fid"], sampler, scores[sampler]["fid"], scores[sampler]["precision"],
            scores[sampler]["recall"], knn_numbers.get("1nn_on_codes"), knn_numbers.get("linear_probe_on_codes"),
            mean(r["seconds"] for r in first_stage) if first_stage else None, sum(p.numel() for p in model.parameters())]


def shown(values: list, digits: int | None):
    """A column's cell over a run's seeds: the value (one seed), or 'mean ± sd' (several); '—' if undefined."""
    if digits is None:
        return values[0]
    if any(v is None for v in values):
        return "—"
    if len(set(values)) == 1:  # one seed, or a number the seed does not change (parameters)
        return round(values[0], digits) if digits else values[0]
    return f"{mean(values):.{digits}f} ± {stdev(values):.{digits}f}"


def run_row(runner, run: str, options: dict) -> list:
    rows = [run_numbers(runner, copy, options) for copy in runner.replicas(run)]
    cells = [shown([row[i] for row in rows], digits) for i, (_, digits) in enumerate(COLUMNS)]
    cells[0] = runner.label(run)
    return cells


@evidence("scoreboard", check=check_scoreboard)
def scoreboard_block(runner, item, runs) -> EvidenceBlock:
    options = dict(item["scoreboard"] or {})
    rows = [run_row(runner, run, options) for run in runs if run not in runner.skipped]
    seeds = (f" Each number is the mean ± the standard deviation over {runner.seeds} seeds (train.seed and the next "
             f"{runner.seeds - 1}; their runs are in seed-S/ beside the first)." if runner.seeds > 1 else "")
    return EvidenceBlock(title="The families side by side", panels=[panel(runner, r) for r in runs if r in runner.skipped],
                         note="One row per run, same backbone and training budget. ELBO and log p(x) in nats per image (higher is "
                              "better), only for models with a likelihood; FID in the dataset's own feature space (lower is better); "
                              "1-NN and linear probe: test accuracy of classifiers on the codes; s / epoch: the autoencoder's "
                              "epochs (the VQ-VAE's prior epochs after them are not counted)." + seeds,
                         tables=[Table("Test split", [name for name, _ in COLUMNS], rows)])
