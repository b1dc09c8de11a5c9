"""`aelab evaluate --generation` and `aelab.evaluate(..., generation=...)` on a tiny trained run."""

from __future__ import annotations

import json

import pytest

from aelab.cli import main
from aelab.config import make_config
from aelab.documents import EvaluationDocument
from aelab.generation import GenerationConfig, MixtureConfig, load_mixture
from aelab.pipeline import evaluate, train
from tests.generation.conftest import TINY_NET

SETS = {"conv-ae": {"train_images", "reconstructions", "gmm"}, "vae": {"train_images", "reconstructions", "prior", "gmm"}}


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    from tests.conftest import make_blobs_npz

    root = tmp_path_factory.mktemp("gen-runs")
    data = make_blobs_npz(root / "blobs.npz", n_train=256, n_test=96)
    return {name: train(make_config({"model.name": name, "model.latent_dim": 3, "data.name": str(data), "data.val_fraction": 0.0,
                                     "train.epochs": 1, "train.batch_size": 32, "train.device": "cpu"}),
                        root / name, progress=False, log=lambda _: None) for name in SETS}


@pytest.mark.parametrize("name", SETS)
def test_every_set_is_scored_into_evaluation_json(tiny_runs, name):
    options = GenerationConfig(count=60, kid_subsets=5, feature_net=TINY_NET, mixture=MixtureConfig(components=3))
    metrics = evaluate(tiny_runs[name], device="cpu", generation=options)
    written = EvaluationDocument.read(tiny_runs[name] / "evaluation.json")
    assert written.generation == json.loads(json.dumps(metrics.generation))
    generation = written.generation
    assert set(generation["scores"]) == SETS[name]
    assert generation["images_per_set"] == 60 and "not Inception" in generation["note"]
    assert 0 <= generation["feature_network"]["test_accuracy"] <= 1
    floor, gmm = generation["scores"]["train_images"], generation["scores"]["gmm"]
    assert floor["fid"] < gmm["fid"]  # a one-epoch model generates worse than the data itself
    assert load_mixture(tiny_runs[name] / "code_mixture.safetensors").means.shape == (3, 3)
    assert evaluate(tiny_runs[name], device="cpu", generation=options).generation["scores"] == generation["scores"]  # repeatable


def test_the_cli_prints_the_scores_table_with_the_caveat(tiny_runs, capsys):
    assert main(["evaluate", str(tiny_runs["vae"]), "--device", "cpu", "--generation", "--generation-images", "50"]) == 0
    printed = capsys.readouterr().out
    assert "feature network test accuracy" in printed and "samples from the prior" in printed and "Inception-FID" in printed
    assert "mse_per_pixel" in printed
    assert main(["evaluate", str(tiny_runs["vae"]), "--device", "cpu"]) == 0
    assert EvaluationDocument.read(tiny_runs["vae"] / "evaluation.json").generation is None
