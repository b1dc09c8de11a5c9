"""The `scoreboard` evidence: one table comparing a study's runs on every number that applies.

    { scoreboard = { nll_samples = 100, nll_subset = 1000 }, runs = ["ae", "vae", ...] }

Per run: test MSE per pixel; the test ELBO and the importance-sampled log p(x) (nats per
image, K = nll_samples) where the model has a likelihood; FID and precision/recall of test
reconstructions and of samples (the prior where the model has one, else the code mixture,
named in the table); 1-NN and linear-probe accuracy on the codes (the `knn` analysis, which
the study must also cite for these runs); mean training seconds per epoch; parameters.
"—" marks a number that is not defined for the model, never a missing run.
"""

from __future__ import annotations

from statistics import mean

from aelab.documents import EvidenceBlock, Table
from aelab.study.evidence import EVALUATE_KEYS, check_evaluate, evidence, panel

COLUMNS = ["run", "model", "test MSE", "test ELBO", "log p(x)", "FID rec.", "sampler", "FID samples",
           "precision", "recall", "1-NN", "linear probe", "s / epoch", "parameters"]


def check_scoreboard(item: dict, where: str) -> None:
    check_evaluate({"evaluate": item["scoreboard"]}, where)


def run_row(runner, run: str, options: dict) -> list:
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
    history = runner.metrics(run)
    number = lambda value, digits: "—" if value is None else round(value, digits)  # noqa: E731
    return [runner.label(run), model.config.name, number(metrics.mse_per_pixel, 5), number(metrics.elbo, 2),
            number(metrics.log_px_iwae, 2), number(scores["reconstructions"]["fid"], 2), sampler,
            number(scores[sampler]["fid"], 2), number(scores[sampler]["precision"], 3), number(scores[sampler]["recall"], 3),
            number(knn_numbers.get("1nn_on_codes"), 4), number(knn_numbers.get("linear_probe_on_codes"), 4),
            number(mean(r["seconds"] for r in history) if history else None, 1), sum(p.numel() for p in model.parameters())]


@evidence("scoreboard", check=check_scoreboard)
def scoreboard_block(runner, item, runs) -> EvidenceBlock:
    options = dict(item["scoreboard"] or {})
    rows = [run_row(runner, run, options) for run in runs if run not in runner.skipped]
    return EvidenceBlock(title="The families side by side", panels=[panel(runner, r) for r in runs if r in runner.skipped],
                         note="One row per run, same backbone and training budget. ELBO and log p(x) in nats per image (higher is "
                              "better), only for models with a likelihood; FID in the dataset's own feature space (lower is better); "
                              "1-NN and linear probe: test accuracy of classifiers on the codes.",
                         tables=[Table("Test split", COLUMNS, rows)])
