"""The generation analysis: grids per sampler, the scores table, the memorisation check, and
the side-by-side figure of `aelab compare`."""

from __future__ import annotations

import json

from aelab.analysis import ANALYSES
from aelab.analysis.runner import jsonable

QUICK = {"images": 60, "memory_sample": 20, "components": 3}


def test_a_plain_autoencoder_samples_from_its_code_mixture(contexts):
    ctx = contexts["vector"]
    result = ANALYSES.get("generation").run(ctx, **QUICK)
    assert [name for name, _ in result.figures] == ["samples_gmm", "nearest_training"]
    assert set(result.numbers["fid"]) == {"train_images", "reconstructions", "gmm"}
    assert result.numbers["images_per_set"] == 60
    assert set(result.numbers["nearest_training_distance"]) == {"reconstructions", "gmm", "test images"}
    assert result.tables[0].columns[:3] == ["images", "FID", "KID"] and len(result.tables[0].rows) == 3
    assert "accuracy" in result.tables[0].title
    assert ctx.run.code_mixture.is_file()  # the sampler's fit is kept in the run folder
    json.dumps(jsonable(result.numbers), allow_nan=False)


def test_a_model_with_a_prior_gets_both_samplers_and_compare_draws_them_side_by_side(variational_context, contexts):
    analysis = ANALYSES.get("generation")
    with_prior = analysis.run(variational_context, **QUICK)
    assert [name for name, _ in with_prior.figures] == ["samples_prior", "samples_gmm", "nearest_training"]
    assert set(with_prior.numbers["precision"]) == {"train_images", "reconstructions", "prior", "gmm"}
    plain = analysis.run(contexts["map"], **QUICK)  # feature-map codes: the mixture is fitted on flattened maps
    figures = analysis.combine([("vae", with_prior), ("ae", plain)])
    assert [name for name, _ in figures] == ["scores"]
    assert len(figures[0][1].axes[0].patches) == 4 + 3  # one FID bar per scored set of each run
