"""One tiny trained VAE run (codes with log-variances), shared by the export and encode tests."""

from __future__ import annotations

import pytest

from aelab.config import make_config
from aelab.pipeline import train
from tests.conftest import make_blobs_npz


@pytest.fixture(scope="session")
def vae_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    data = make_blobs_npz(root / "blobs.npz", n_train=96, n_test=40)
    config = make_config({"model.name": "vae", "model.latent_dim": 3, "model.channels": [4, 8], "data.name": str(data),
                          "data.val_fraction": 0.25, "train.epochs": 1, "train.batch_size": 32, "train.device": "cpu"})
    return train(config, root / "vae", progress=False, log=lambda _: None)
