"""Every registered analysis over every registered model: each runs, giving JSON-ready numbers and
figures, or is skipped with the reason that its `needs` and the model's declared `capabilities`
give. Parametrised over both registries, so a new model or analysis needs no test edit."""

from __future__ import annotations

import json

import pytest
import torch
from matplotlib.figure import Figure

from aelab.analysis import ANALYSES, AnalysisContext, analyze, ordered_analyses
from aelab.analysis.runner import jsonable, skip_reason
from aelab.config import make_config
from aelab.models import Capabilities, create_model, list_models
from aelab.pipeline import train
from tests.conftest import make_blobs_npz

# small settings for the analyses whose defaults take seconds; an analysis not named runs with its defaults
SMALL = {"reconstructions": {"n": 8}, "latent_map": {"tsne_count": 40}, "interpolation": {"steps": 5},
         "decoder_grid": {"size": 4}, "traversals": {"steps": 5, "max_dims": 3}, "prior_samples": {"n": 9, "per_class": 2}, "denoising": {"n": 3, "images": 20},
         "knn": {"pixel_train": 60, "pixel_test": 30, "probe_max_iter": 20, "pixel_probe_train": 60},
         "generation": {"images": 40, "memory_sample": 10, "memory_checks": 2, "components": 2, "grid": 3},
         "filters": {"max_maps": 4, "max_filters": 8, "dead_images": 8}, "codebook": {"max_entries": 8}}
REPRESENTATIVE = "vq-vae"  # the fast case: a prior, a codebook, and walks that do not apply


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """model name -> the context of a one-epoch run of it (default options) on tiny blobs, built once."""
    data = make_blobs_npz(tmp_path_factory.mktemp("contract-data") / "blobs.npz", n_train=96, n_test=48)
    root, cache, contexts = tmp_path_factory.mktemp("contract-runs"), {}, {}

    def context(name: str) -> AnalysisContext:
        if name not in contexts:
            torch.manual_seed(0)
            config = make_config({"model.name": name, "data.name": str(data), "data.val_fraction": 0.0, "train.epochs": 1,
                                  "train.batch_size": 32, "train.device": "cpu"})
            contexts[name] = AnalysisContext(train(config, root / name, progress=False, log=lambda _: None), device="cpu", data_cache=cache)
        return contexts[name]

    return context


def check_outcome(ctx: AnalysisContext, name: str) -> None:
    analysis = ANALYSES.get(name)
    reason, model_reason = skip_reason(analysis, ctx), analysis.needs.model_unmet(ctx.model.capabilities)
    if model_reason:
        assert reason == model_reason
        return
    widest = analysis.needs.code_numbers_at_most
    if widest is not None and ctx.code_dim > widest:  # the one run need a tiny run can miss: conv-wta-ae's 100,352-number code
        assert reason is not None and f"{ctx.code_dim:,} numbers" in reason
        return
    assert reason is None, f"{name} skipped on a labelled run with a history: {reason}"  # the tiny run meets every other run need
    result = analysis.run(ctx, **SMALL.get(name, {}))
    json.dumps(jsonable(result.numbers), allow_nan=False)
    assert result.figures, f"{name} drew nothing on {ctx.config.model.name}"
    assert all(isinstance(fig, Figure) and fig_name.isidentifier() for fig_name, fig in result.figures)


def test_the_small_settings_name_real_parameters():
    for name, params in SMALL.items():
        ANALYSES.get(name).check_params(params)


@pytest.mark.slow
@pytest.mark.parametrize("analysis", [a.name for a in ordered_analyses()])
@pytest.mark.parametrize("model", list_models())
def test_every_analysis_runs_or_says_why_not_on_every_model(trained, model, analysis):
    check_outcome(trained(model), analysis)


def test_the_runner_runs_or_skips_each_analysis_with_its_reason(trained):
    """The fast representative: one model through `analyze`, as the CLI runs it."""
    ctx = trained(REPRESENTATIVE)
    lines: list[str] = []
    analyzed = analyze(ctx.run.root, skip=["generation"], params=SMALL, device="cpu", log=lines.append)  # generation: seconds
    summary = json.loads(analyzed.summary.read_text())
    skipped = {s["name"]: s["reason"] for s in summary["skipped"]}  # not those left out by `skip`: they were not asked for
    expected = {a.name: a.needs.model_unmet(ctx.model.capabilities) for a in ordered_analyses() if a.name != "generation"}
    assert skipped == {n: r for n, r in expected.items() if r} and not analyzed.errors
    assert [e["name"] for e in summary["analyses"]] == [n for n, r in expected.items() if not r]
    assert all(f"skipped {n}: {r}" in lines for n, r in skipped.items())


@pytest.mark.parametrize("name", list_models())
def test_what_a_model_declares_decides_the_analyses_it_gets(name):
    caps = create_model(name).capabilities
    fits = {a.name for a in ordered_analyses() if a.needs.model_unmet(caps) is None}
    assert ("prior_samples" in fits) == caps.sample
    assert ("codebook" in fits) == caps.discrete_code
    assert ("denoising" in fits) == caps.denoise
    assert all((walk in fits) != caps.discrete_code for walk in ("traversals", "interpolation", "decoder_grid"))
    assert {"reconstructions", "latent_map", "summary"} <= fits  # what every autoencoder has


def test_an_unmet_need_is_said_in_words():
    needs = ANALYSES.get("prior_samples").needs
    assert needs.model_unmet(Capabilities()) == "the model cannot sample from a prior"
    assert needs.model_unmet(Capabilities(sample=True)) is None
