"""The training loop and the run folder: contents, resume after SIGKILL, divergence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import aelab
import aelab.loading
from aelab.documents import EvaluationDocument
from aelab.errors import TrainingDiverged
from aelab.models.conv_ae import ConvAutoencoder
from tests.conftest import make_blobs_npz

SMALL = {"model.channels": [8, 8], "model.latent_dim": 4, "train.batch_size": 32, "train.strip_images": 4}


def config(npz: Path, **extra):
    return aelab.make_config({"data.name": str(npz), **SMALL, **extra})


def metrics_without_timing(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")} for row in rows]


def test_run_folder_holds_everything(blobs_npz, tmp_path):
    lines = []
    run = aelab.train(config(blobs_npz, **{"train.epochs": 2}), tmp_path / "run", progress=False, log=lines.append)
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "model.safetensors", "checkpoint.safetensors", "metrics.jsonl", "loss.png", "reconstructions.png"} <= names
    assert sorted(p.name for p in (run / "reconstructions").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all({"train_loss", "val_loss", "test_loss", "seconds"} <= r.keys() for r in rows)
    assert sum(line.startswith("epoch") for line in lines) == 2  # one summary line per epoch
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"]["input_shape"] == [1, 28, 28] and saved["train"]["epochs"] == 2
    cfg = config(blobs_npz)
    _, splits = aelab.loading.prepare_data(cfg.data, cfg.train.seed)  # the mean of the training split only
    assert saved["model"]["pixel_mean"] == [pytest.approx(splits.train.images.double().mean().item() / 255, abs=1e-6)]
    model = aelab.load_model(run)  # config.json + weights rebuild the model
    assert model.encode(torch.rand(2, 1, 28, 28)).shape == (2, 4)


def test_reconstruction_grid_is_10_by_10_pairs(tmp_path):
    from matplotlib.image import imread

    npz = make_blobs_npz(tmp_path / "more.npz", n_train=600)  # 60 validation images, 50 used
    run = aelab.train(config(npz, **{"train.epochs": 1}), tmp_path / "run", progress=False, log=lambda s: None)
    grid = imread(run / "reconstructions.png")
    tile = 3 * 28 + 3 * 2  # scaled tile plus its gap
    assert round(grid.shape[0] / tile) == 10 and round(grid.shape[1] / tile) == 10


def test_training_reduces_the_loss(blobs_npz, tmp_path):
    run = aelab.train(config(blobs_npz, **{"train.epochs": 4}), tmp_path / "run", progress=False, log=lambda s: None)
    rows = metrics_without_timing(run)
    assert rows[-1]["val_loss"] < 0.7 * rows[0]["val_loss"]


def test_resume_in_process_equals_uninterrupted(blobs_npz, tmp_path):
    full = aelab.train(config(blobs_npz, **{"train.epochs": 3}), tmp_path / "full", progress=False, log=lambda s: None)
    part = aelab.train(config(blobs_npz, **{"train.epochs": 2}), tmp_path / "part", progress=False, log=lambda s: None)
    aelab.resume(part, epochs=3, progress=False, log=lambda s: None)
    assert metrics_without_timing(part) == metrics_without_timing(full)
    a, b = load_file(full / "model.safetensors"), load_file(part / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes are forked, on Linux only")
def test_a_run_folder_from_before_the_processes_option_was_retired_still_loads(blobs_npz, tmp_path):
    run = aelab.train(config(blobs_npz, **{"train.epochs": 1}), tmp_path / "run", progress=False, log=lambda s: None)
    saved = json.loads((run / "config.json").read_text())
    saved["train"]["parallel"] = "processes"  # what older versions wrote
    (run / "config.json").write_text(json.dumps(saved))
    assert aelab.load_model(run).encode(torch.rand(1, 1, 28, 28)).shape == (1, 4)


def test_loaded_optimizer_moments_take_their_parameters_layout(tmp_path):
    """Fused Adam walks parameter and moments as flat memory: a channels-last weight with
    contiguous moments (as safetensors stores them) would be updated with the wrong moments."""
    from aelab.checkpoint import load_checkpoint, save_checkpoint
    from aelab.train import make_optimizer

    cfg = aelab.make_config(SMALL)
    model = ConvAutoencoder(cfg.model).to(memory_format=torch.channels_last)  # a layout a user may choose
    optimizer = make_optimizer(model, cfg.train)
    assert optimizer.param_groups[0]["fused"]
    model.loss(torch.rand(4, 1, 28, 28)).total.backward()
    optimizer.step()
    save_checkpoint(tmp_path / "ckpt.safetensors", model, optimizer, 1, [])
    optimizer = make_optimizer(model, cfg.train)
    load_checkpoint(tmp_path / "ckpt.safetensors", model, optimizer)
    conv_weights = [p for p in model.parameters() if p.dim() == 4]
    assert conv_weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in conv_weights)
    for param in model.parameters():
        for moment in ("exp_avg", "exp_avg_sq"):
            assert optimizer.state[param][moment].stride() == param.stride()


@pytest.mark.slow  # a real SIGKILL of a child process: ~15 s; the fast tier stops after every write in test_run_folder.py
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    npz = make_blobs_npz(tmp_path / "big.npz", n_train=6000, n_test=200)
    args = ["--dataset", str(npz), "--epochs", "3", "--no-progress", "--set", "model.channels=[16,16]"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "aelab", "train", *args]
    subprocess.run([*cmd, "--out", str(tmp_path / "full")], check=True, env=env, capture_output=True)

    victim = subprocess.Popen([*cmd, "--out", str(tmp_path / "killed")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = tmp_path / "killed" / "metrics.jsonl"
    deadline = time.time() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") >= 1) and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # well inside epoch 2
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL
    assert len(metrics_without_timing(tmp_path / "killed")) == 1, "the kill must land before epoch 2 ends"

    subprocess.run([sys.executable, "-m", "aelab", "train", "--resume", str(tmp_path / "killed"), "--no-progress"], check=True, env=env, capture_output=True)
    assert metrics_without_timing(tmp_path / "killed") == metrics_without_timing(tmp_path / "full")
    assert not list((tmp_path / "killed").glob(".*.tmp")), "no temporary files are left behind"


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(blobs_npz, tmp_path, monkeypatch):
    calls = {"n": 0}
    original = ConvAutoencoder.loss

    def poisoned(self, x, generator=None):
        out = original(self, x, generator)
        calls["n"] += self.training
        if self.training and calls["n"] > 10:  # epoch 1 has 8 steps (230 images, batch 32)
            return out._replace(total=out.total * float("nan"))
        return out

    monkeypatch.setattr(ConvAutoencoder, "loss", poisoned)
    with pytest.raises(TrainingDiverged, match=r"nan in epoch 2.*epoch 1"):
        aelab.train(config(blobs_npz, **{"train.epochs": 3, "train.shards": 1}), tmp_path / "run", progress=False, log=lambda s: None)
    assert len(metrics_without_timing(tmp_path / "run")) == 1
    weights = load_file(tmp_path / "run" / "model.safetensors")
    assert all(torch.isfinite(v).all() for v in weights.values())


def test_existing_run_folder_is_not_overwritten(blobs_npz, tmp_path):
    aelab.train(config(blobs_npz, **{"train.epochs": 1}), tmp_path / "run", progress=False, log=lambda s: None)
    with pytest.raises(aelab.AelabError, match="--resume"):
        aelab.train(config(blobs_npz, **{"train.epochs": 1}), tmp_path / "run", progress=False, log=lambda s: None)


def test_evaluate_reports_reconstruction_metrics(blobs_npz, tmp_path):
    run = aelab.train(config(blobs_npz, **{"train.epochs": 1}), tmp_path / "run", progress=False, log=lambda s: None)
    metrics = aelab.evaluate(run, device="cpu")
    assert metrics.images == 64
    assert metrics.mse_per_image == pytest.approx(metrics.mse_per_pixel * 784)
    assert 0 < metrics.mse_per_pixel < 0.2 and metrics.psnr_db > 5
    assert EvaluationDocument.read(run / "evaluation.json") == metrics  # what evaluate returns is what it wrote


def test_truncated_weights_give_a_clear_error(blobs_npz, tmp_path):
    run = aelab.train(config(blobs_npz, **{"train.epochs": 1}), tmp_path / "run", progress=False, log=lambda s: None)
    weights = run / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(aelab.AelabError, match="truncated or corrupted"):
        aelab.load_model(run)


class StopAfter(Exception):
    pass


def test_a_second_stage_trains_after_the_epochs_and_resumes_exactly(tmp_path):
    """The VQ-VAE's prior: two epochs of the autoencoder, then two of the prior with the autoencoder frozen;
    a run stopped in the second stage continues to the same numbers."""
    npz = make_blobs_npz(tmp_path / "d.npz", n_train=128, n_test=32)
    cfg = aelab.make_config({"data.name": str(npz), "model.name": "vq-vae", "model.channels": [4, 8], "model.prior_width": 8,
                             "model.prior_epochs": 2, "train.epochs": 2, "train.batch_size": 32, "train.strip_images": 2})
    lines = []
    whole = aelab.train(cfg, tmp_path / "whole", progress=False, log=lines.append)
    rows = metrics_without_timing(whole)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4] and cfg.all_epochs == 4
    assert ["train_prior_nll" in r for r in rows] == [False, False, True, True]
    assert rows[1]["val_mse"] == rows[2]["val_mse"] == rows[3]["val_mse"]  # the autoencoder is frozen
    assert rows[3]["val_prior_nll"] < rows[1]["val_prior_nll"]  # the prior learns
    assert any("epoch 3/4 (second stage)" in line for line in lines)

    def stop(line: str) -> None:
        if line.startswith("epoch 3/4"):
            raise StopAfter
    with pytest.raises(StopAfter):
        aelab.train(cfg, tmp_path / "cut", progress=False, log=stop)
    aelab.resume(tmp_path / "cut", progress=False, log=lambda s: None)
    assert metrics_without_timing(tmp_path / "cut") == rows
    assert load_file(tmp_path / "cut" / "model.safetensors").keys() == load_file(whole / "model.safetensors").keys()
    assert all(torch.equal(a, b) for a, b in zip(load_file(tmp_path / "cut" / "model.safetensors").values(),
                                                 load_file(whole / "model.safetensors").values()))
