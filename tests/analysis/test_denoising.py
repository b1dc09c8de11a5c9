"""The denoising panel: the model's own corruption, its outputs, and the errors read against the clean images."""

from __future__ import annotations

import pytest
import torch

from aelab import make_config, train
from aelab.analysis import ANALYSES
from aelab.analysis.context import AnalysisContext
from tests.conftest import make_blobs_npz


@pytest.fixture(scope="module")
def denoising_run(tmp_path_factory):
    data = make_blobs_npz(tmp_path_factory.mktemp("denoise") / "blobs.npz", n_train=96, n_test=40)
    config = make_config({"model.name": "denoising-ae", "model.noise": "salt-pepper", "model.noise_level": 0.2,
                          "data.name": str(data), "train.epochs": 1, "train.batch_size": 32, "train.device": "cpu"})
    return AnalysisContext(train(config, tmp_path_factory.mktemp("runs") / "dae", progress=False, log=lambda _: None), device="cpu")


def test_the_panel_measures_the_noise_it_shows_against_the_clean_images(denoising_run):
    ctx = denoising_run
    result = ANALYSES.get("denoising").run(ctx, n=4, images=30, seed=3)
    clean = ctx.test_images(slice(0, 30))
    noisy = ctx.model.corrupt(clean, torch.Generator().manual_seed(3))  # the same draw, made again here
    assert result.numbers["input_mse_per_pixel"] == pytest.approx(float((noisy - clean).pow(2).mean()))
    with torch.no_grad():
        output = ctx.model(noisy).clamp(0, 1)
    assert result.numbers["output_mse_per_pixel"] == pytest.approx(float((output - clean).pow(2).mean()), rel=1e-5)
    flipped = (noisy != clean).float().mean().item()
    assert 0.05 < flipped < 0.2  # salt-and-pepper at 0.2 flips about a fifth of the pixels (fewer where they already were 0 or 1)
    assert [name for name, _ in result.figures] == ["rows"] and result.numbers["noise"] == "salt-pepper"
