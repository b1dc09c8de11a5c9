"""The importance-sampled log-likelihood, and the VAE path through train and evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aelab.cli import main
from aelab.data import Split
from aelab.documents import EvaluationDocument
from aelab.errors import ConfigError
from aelab.likelihood import importance_sampled_log_likelihood, require_vae
from aelab.models import create_model
from tests.conftest import make_blobs_npz


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small VAE trained for 150 steps on binarised blobs, and held-out images."""
    torch.manual_seed(0)
    data = np.load(make_blobs_npz(tmp_path_factory.mktemp("blobs") / "b.npz", n_train=256, n_test=48))
    train = torch.from_numpy(data["x_train"]).unsqueeze(1).float().div(255)
    model = create_model("vae", input_shape=(1, 28, 28), channels=(8, 16), latent_dim=4, binarize="static")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(150):
        batch = train[(step * 32) % 256 : (step * 32) % 256 + 32]
        optimizer.zero_grad()
        model.loss(batch).total.backward()
        optimizer.step()
    test = Split(torch.from_numpy(data["x_test"]).unsqueeze(1))
    return model.eval(), model.evaluation_view(test)


def test_one_sample_estimate_is_the_elbo(trained):
    model, test = trained
    result = importance_sampled_log_likelihood(model, test, 1, seed=3)
    assert result["log_px_iwae"] == pytest.approx(result["elbo"], abs=1e-9)


def test_estimate_is_above_the_elbo_and_grows_with_k(trained):
    model, test = trained
    results = [importance_sampled_log_likelihood(model, test, k, seed=0, max_decodes=500) for k in (1, 10, 100)]
    estimates = [r["log_px_iwae"] for r in results]
    assert all(r["log_px_iwae"] >= r["elbo"] for r in results)
    assert estimates == sorted(estimates) and estimates[-1] > estimates[0]
    assert results[-1]["nll_samples"] == 100 and results[-1]["nll_images"] == len(test)
    # seeded: the same call gives the same number
    again = importance_sampled_log_likelihood(model, test, 100, seed=0, max_decodes=500)
    assert again == results[-1]


def test_nll_needs_a_latent_variable_model():
    with pytest.raises(ConfigError, match="vae"):
        require_vae(create_model("conv-ae", channels=(4, 4)))


def test_vae_train_and_evaluate_through_the_cli(blobs_npz, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--model", "vae", "--dataset", str(blobs_npz), "--epochs", "2", "--latent-dim", "3",
                 "--batch-size", "32", "--set", "model.channels=[8,8]", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "negative ELBO" in printed and "nats per image" in printed  # the loss scaling, logged once
    epoch_lines = [line for line in printed.splitlines() if line.startswith("epoch")]
    assert len(epoch_lines) == 2 and all("train ELBO" in line and "val ELBO" in line and " s (" in line for line in epoch_lines)
    assert (out / "samples.png").is_file()
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"train_nelbo", "val_rec", "val_kl", "test_nelbo"} <= row.keys()
    assert main(["evaluate", str(out), "--nll-samples", "20", "--nll-subset", "16"]) == 0
    printed = capsys.readouterr().out
    assert "K = 20" in printed and "ELBO" in printed
    saved = EvaluationDocument.read(out / "evaluation.json")
    assert saved.nll_samples == 20 and saved.nll_images == 16 and saved.log_px_iwae >= saved.elbo


@pytest.mark.slow
def test_real_fashion_mnist_vae_short_run(real_fashion_dir, tmp_path, capsys):
    """One short real-data VAE run: 3,000 images, 1 epoch, then the IWAE estimate on 100 test images."""
    out = tmp_path / "run"
    assert main(["train", "--model", "vae", "--dataset", "fashion-mnist", "--data-dir", str(real_fashion_dir), "--epochs", "1",
                 "--latent-dim", "10", "--set", "data.train_subset=3000", "--set", "data.test_subset=500",
                 "--out", str(out), "--no-progress"]) == 0
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    untrained = 784 * np.log(2)  # logits 0: every binarised pixel costs log 2 nats
    assert row["test_nelbo"] < 0.85 * untrained
    assert main(["evaluate", str(out), "--nll-samples", "50", "--nll-subset", "100"]) == 0
    saved = EvaluationDocument.read(out / "evaluation.json")
    assert saved.elbo <= saved.log_px_iwae < 0 and saved.nll_images == 100


def test_the_estimated_time_is_logged_up_front_and_empty_splits_refused(trained):
    model, test = trained
    lines: list[str] = []
    importance_sampled_log_likelihood(model, test, 4, batch_size=16, progress=False, log=lines.append)
    assert len(lines) == 1 and lines[0].startswith(f"estimating log p(x) with K = 4 samples on {len(test)} images: about ")
    with pytest.raises(ConfigError, match="needs at least one test image"):
        importance_sampled_log_likelihood(model, test.subset(slice(0, 0)), 4, log=lines.append)
