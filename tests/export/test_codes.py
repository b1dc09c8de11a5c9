"""`aelab encode` and `aelab.encode`: a split's codes, labels and class names, in a plain .npz."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aelab
from aelab.cli import main
from aelab.codes import Codes
from aelab.errors import ConfigError


def test_the_cli_writes_posterior_means_log_variances_labels_and_class_names(vae_run, tmp_path):
    out = tmp_path / "codes.npz"
    assert main(["encode", str(vae_run), "--split", "all", "--out", str(out)]) == 0
    with np.load(out, allow_pickle=False) as f:  # nothing in it needs unpickling
        assert set(f.files) == {"codes", "labels", "class_names", "split", "logvar"}
        assert f["codes"].shape == f["logvar"].shape == (96 + 40, 3)
        assert [(s, int((f["split"] == s).sum())) for s in ("train", "val", "test")] == [("train", 72), ("val", 24), ("test", 40)]
    model = aelab.load_model(vae_run)
    codes = Codes.load(out)
    test = codes.split == "test"
    images = aelab.load_dataset(model_config_data(vae_run)).test.images.float() / 255
    with torch.no_grad():
        mu, logvar = model.encode_distribution(images)
    np.testing.assert_allclose(codes.codes[test], mu.numpy(), atol=1e-5)
    np.testing.assert_allclose(codes.logvar[test], logvar.numpy(), atol=1e-5)
    assert codes.labels[test].tolist() == aelab.load_dataset(model_config_data(vae_run)).test.labels.tolist()


def model_config_data(run) -> str:
    from aelab.config import load_config_file

    return load_config_file(run / "config.json").data.name


def test_a_model_and_a_split_from_python(vae_run):
    model = aelab.load_model(vae_run)
    split = aelab.load_dataset(model_config_data(vae_run)).test
    codes = aelab.encode(model, split)
    np.testing.assert_allclose(codes.codes, aelab.encode(vae_run, "test").codes, atol=1e-6)
    with pytest.raises(ConfigError, match="pass a Split"):
        aelab.encode(model, "test")
    with pytest.raises(ConfigError, match="unknown split 'dev'"):
        aelab.encode(vae_run, "dev")
