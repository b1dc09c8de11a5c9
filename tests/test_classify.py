"""Classifiers from encoders: probe, fine-tune and scratch modes, files written, CLI."""

import json

import pytest
import torch

from aelab import make_config, train
from aelab.classify import ClassifyConfig, build_classifier, classify, make_trunk
from aelab.cli import main
from aelab.documents import ClassifierDocument, DocumentError
from aelab.errors import ConfigError
from aelab.models import create_model
from tests.conftest import make_blobs_npz


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    data = make_blobs_npz(root / "blobs.npz")
    config = make_config({"data.name": str(data), "train.epochs": 1, "train.batch_size": 32,
                          "model.channels": [8, 8], "model.latent_dim": 4, "train.strip_images": 0})
    return train(config, root / "run", progress=False, log=lambda _: None)


def test_fine_tune_learns_and_writes_its_files(trained_run):
    summary = classify(trained_run, ClassifyConfig(epochs=3, lr=3e-3, batch_size=32), progress=False, log=lambda _: None)
    out = trained_run / "classify-fine-tune"
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert {"train_loss", "test_loss", "test_accuracy", "val_loss"} <= rows[0].keys()
    assert (out / "loss.png").stat().st_size > 0
    assert summary.test_accuracy == rows[-1]["test_accuracy"]  # the last epoch, never the best on test
    assert summary.test_accuracy > 0.6  # 4 easy classes; chance is 0.25
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]


def test_probe_leaves_the_encoder_untouched(trained_run):
    from aelab import load_model

    before = {k: v.clone() for k, v in load_model(trained_run).encoder.state_dict().items()}
    summary = classify(trained_run, ClassifyConfig(mode="probe", epochs=1), progress=False, log=lambda _: None)
    assert summary.features == 4  # the code
    model = load_model(trained_run)
    classifier = build_classifier(model, 4, ClassifyConfig(mode="probe"))
    trainable = [n for n, p in classifier.named_parameters() if p.requires_grad]
    assert trainable == ["head.weight", "head.bias"]
    classifier.train()
    assert not classifier.trunk.training
    assert all(torch.equal(before[k], v) for k, v in load_model(trained_run).encoder.state_dict().items())


def test_scratch_uses_the_same_network_from_random_weights(trained_run):
    summary = classify(trained_run, ClassifyConfig(mode="scratch", epochs=1), progress=False, log=lambda _: None)
    path = trained_run / "classify-scratch" / "summary.json"
    assert summary.features == 4 and ClassifierDocument.read(path) == summary  # the typed summary, read back whole
    saved = json.loads(path.read_text())
    assert saved["kind"] == "classifier" and saved["schema_version"] == 1
    del saved["kind"], saved["schema_version"]  # as aelab wrote it before documents were typed
    path.write_text(json.dumps(saved))
    assert ClassifierDocument.read(path) == summary
    path.write_text(json.dumps({k: v for k, v in saved.items() if k != "test_accuracy"}))
    with pytest.raises(DocumentError, match="test_accuracy"):
        ClassifierDocument.read(path)


def test_replace_last_drops_the_last_weighted_layer_and_what_follows():
    model = create_model("pooled-conv-ae").eval()
    trunk = make_trunk(model, replace_last=True)  # conv(1) + ReLU + pool(2x4) dropped: 16 x 4 x 4 features
    assert trunk(torch.rand(2, 1, 28, 28)).shape == (2, 16 * 4 * 4)
    dense = make_trunk(create_model("conv-ae", channels=(8, 8)), replace_last=True)  # dense code layer dropped
    assert dense(torch.rand(2, 1, 28, 28)).shape == (2, 8 * 7 * 7)
    with pytest.raises(ConfigError, match="replace-last"):
        make_trunk(create_model("conv-wta-ae", channels=(4,)), replace_last=True)


def test_cli_classify(trained_run, capsys):
    assert main(["classify", str(trained_run), "--freeze", "--replace-last", "--epochs", "1", "--no-progress"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert (trained_run / "classify-probe-replace-last" / "metrics.jsonl").is_file()


@pytest.mark.slow
def test_real_mnist_test_split_pooled_ae_then_seed_001_classifier(tmp_path):
    """Seed 001 on MNIST's test images: the pooled AE trains from the CLI, then exercise 4."""
    from tests.conftest import real_data_dir

    root = real_data_dir()
    if root is None or not any((root / "mnist").glob("t10k-images-idx3-ubyte*")):
        pytest.skip("MNIST test images not found: set AELAB_DATA_DIR to a folder with mnist/ in it")
    run = tmp_path / "run"
    assert main(["train", "--model", "pooled-conv-ae", "--dataset", "mnist-test-split", "--data-dir", str(root),
                 "--epochs", "1", "--set", "data.train_subset=2000", "--set", "data.test_subset=500",
                 "--out", str(run), "--no-progress"]) == 0
    assert json.loads((run / "config.json").read_text())["model"]["code_size"] == [2, 1]
    summary = classify(run, ClassifyConfig(replace_last=True, epochs=2, lr=3e-3), progress=False, log=lambda _: None)
    assert summary.test_accuracy > 0.5  # ten digits; chance is 0.1
