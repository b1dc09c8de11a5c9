"""Tiny trained runs for the explorer tests, and the skip when no Chromium is installed."""

from __future__ import annotations

import pytest
import torch

from aelab.config import make_config
from aelab.pipeline import train
from tests.conftest import make_blobs_npz
from tests.report.chromium import find_chromium

needs_chromium = pytest.mark.skipif(find_chromium() is None,
                                    reason="no chromium on PATH: install Debian's `chromium` to run the browser tests")


@pytest.fixture(scope="session")
def explore_runs(tmp_path_factory) -> dict:
    """name -> run folder: 12-epoch conv AEs on the blobs data with 2-D and 6-D codes, and a 3-D VAE."""
    root = tmp_path_factory.mktemp("explore")
    blobs = make_blobs_npz(root / "blobs.npz", n_train=256, n_test=96)
    runs = {}
    for name, latent in {"plane": 2, "vector": 6}.items():
        torch.manual_seed(0)
        config = make_config({"data.name": str(blobs), "data.val_fraction": 0.0, "train.epochs": 12, "train.batch_size": 32, "train.lr": 3e-3,
                              "model.channels": [4, 4], "model.latent_dim": latent, "train.device": "cpu"})
        runs[name] = train(config, root / name, progress=False, log=lambda _: None)
    torch.manual_seed(0)
    config = make_config({"data.name": str(blobs), "data.val_fraction": 0.0, "train.epochs": 6, "train.batch_size": 32,
                          "model.name": "vae", "model.channels": [4, 4], "model.latent_dim": 3, "train.device": "cpu"})
    runs["vae"] = train(config, root / "vae", progress=False, log=lambda _: None)
    return runs
