"""The command line: the main paths end to end, and bad input as a short error with exit 2."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from aelab.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aelab", *args], capture_output=True, text=True, timeout=300)


def assert_clean_error(returncode: int, stderr: str, *needles: str) -> None:
    assert returncode == 2, stderr
    assert "Traceback" not in stderr
    assert stderr.startswith("aelab: error:")
    paragraph = " ".join(stderr.split())  # as read, not as wrapped: the wrap moves with the length of the paths
    for needle in needles:
        assert needle in paragraph


def cli_error(capsys, *args: str) -> tuple[int, str]:
    """`aelab ARGS` in this process (the same `main` the command runs): exit status and stderr."""
    capsys.readouterr()
    return main(list(args)), capsys.readouterr().err


def test_a_mistake_in_the_command_process_is_one_paragraph_and_exit_status_2():
    result = run_cli("train", "--model", "transformer")  # the real entry point, as a user runs it
    assert_clean_error(result.returncode, result.stderr, "unknown model 'transformer'", "conv-ae")


def test_train_then_evaluate(blobs_npz, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--dataset", str(blobs_npz), "--epochs", "2", "--latent-dim", "3", "--batch-size", "32",
                 "--set", "model.channels=[8,8]", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "epoch 1/2" in printed and "epoch 2/2" in printed
    assert json.loads((out / "config.json").read_text())["model"]["latent_dim"] == 3
    assert main(["evaluate", str(out)]) == 0
    assert "mse_per_pixel" in capsys.readouterr().out


def test_recipe_and_set_override_in_order(blobs_npz, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[data]\nname = "{blobs_npz}"\n[train]\nepochs = 5\nbatch_size = 32\n[model]\nchannels = [4, 4]\n')
    out = tmp_path / "run"
    assert main(["train", "--config", str(recipe), "--epochs", "2", "--set", "train.epochs=1", "--out", str(out), "--no-progress"]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["train"]["epochs"] == 1 and saved["train"]["batch_size"] == 32 and saved["model"]["channels"] == [4, 4]


def test_unknown_dataset(capsys):
    assert_clean_error(*cli_error(capsys, "train", "--dataset", "fashion-mnits", "--epochs", "1"), "fashion-mnits", "fashion-mnist")


def test_unknown_config_key(capsys):
    assert_clean_error(*cli_error(capsys, "train", "--set", "train.learning_rate=0.1"), "train.learning_rate", "lr")


def test_missing_run_folder(tmp_path, capsys):
    assert_clean_error(*cli_error(capsys, "evaluate", str(tmp_path / "nowhere")), "not a run folder")


def test_missing_data_folder(tmp_path, capsys):
    assert_clean_error(*cli_error(capsys, "train", "--dataset", "mnist", "--data-dir", str(tmp_path / "absent"), "--set", "data.download=false"),
                       "is not an existing")


def test_corrupted_dataset_file(tmp_path, capsys):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(folder / f"{name}.gz", "wb") as f:
            f.write(b"\x00\x00\x08\x03" + b"\x00" * 40)  # a valid-looking header, then garbage
    assert_clean_error(*cli_error(capsys, "train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path), "--epochs", "1"), "fashion-mnist")


def test_datasets_lists_every_dataset(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("mnist", "fashion-mnist", "cifar10"):
        assert name in out


def test_models_lists_conv_ae(capsys):
    assert main(["models"]) == 0
    assert "conv-ae" in capsys.readouterr().out


@pytest.mark.slow
def test_real_fashion_mnist_short_run(real_fashion_dir, tmp_path):
    """One short real-data run through the CLI: 2,000 images, 1 epoch, then evaluate."""
    out = tmp_path / "run"
    result = run_cli("train", "--dataset", "fashion-mnist", "--data-dir", str(real_fashion_dir), "--epochs", "1",
                     "--set", "data.train_subset=2000", "--set", "data.test_subset=500", "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "fashion-mnist" in result.stdout and "epoch 1/1" in result.stdout
    metrics = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert metrics["val_loss"] < 0.1  # the run learned something real, not just a crash-free epoch
    result = run_cli("evaluate", str(out))
    assert result.returncode == 0 and "psnr_db" in result.stdout


def test_a_dataset_path_that_is_not_utf8_is_one_clean_paragraph(tmp_path, capsys):
    import os

    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.npz")  # as argv delivers such a path
    assert main(["train", "--dataset", name, "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = " ".join(capsys.readouterr().err.split())  # unwrapped
    assert err.startswith("aelab: error: dataset path") and "caf\\udce9.npz is not" in err and "UTF-8" in err
    assert not (tmp_path / "run").exists()
