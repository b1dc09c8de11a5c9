"""Tiny trained runs, built once per test session, that every analysis test reuses."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from aelab.analysis import AnalysisContext
from aelab.config import make_config
from aelab.pipeline import train
from tests.conftest import make_blobs_npz

CODES = {"vector": 6, "plane": 2, "map": None}  # model.latent_dim: (B, 6), (B, 2), (B, 4, 7, 7) codes


@pytest.fixture(scope="session")
def blobs_file(tmp_path_factory):
    return make_blobs_npz(tmp_path_factory.mktemp("data") / "blobs.npz", n_train=384, n_test=96)


@pytest.fixture(scope="session")
def runs(tmp_path_factory, blobs_file) -> dict:
    """name -> run folder of a 2-epoch conv AE on the blobs data."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, latent in CODES.items():
        torch.manual_seed(0)
        config = make_config({"data.name": str(blobs_file), "data.val_fraction": 0.0, "train.epochs": 2, "train.batch_size": 32,
                              "model.channels": [4, 4], "model.latent_dim": latent, "train.device": "cpu"})
        out[name] = train(config, root / name, progress=False, log=lambda _: None)
    return out


@pytest.fixture(scope="session")
def contexts(runs) -> dict:
    cache: dict = {}
    return {name: AnalysisContext(path, device="cpu", data_cache=cache) for name, path in runs.items()}


class PriorModel:
    """Gives a context's model the optional VAE capabilities, as the analyses look for them."""

    @staticmethod
    def attach(model) -> None:
        model.sample = lambda n, generator=None: model.decode(torch.randn(n, *model.code_shape, generator=generator))
        model.capabilities = dataclasses.replace(model.capabilities, sample=True, posterior=True)
        model.encode_distribution = lambda x: (model.encode(x), torch.zeros_like(model.encode(x)))

    @staticmethod
    def detach(model) -> None:
        del model.sample, model.encode_distribution, model.capabilities  # back to the class's


@pytest.fixture
def variational_context(contexts):
    ctx = contexts["vector"]
    PriorModel.attach(ctx.model)
    yield ctx
    PriorModel.detach(ctx.model)
