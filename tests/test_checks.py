"""Config values are checked where they enter, by the constraints declared beside each field."""

from __future__ import annotations

import json
import math

import pytest

from aelab.analysis import ANALYSES
from aelab.classify import ClassifyConfig
from aelab.cli import main
from aelab.config import load_config_file, make_config
from aelab.errors import ConfigError
from aelab.typed import checked


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("train.epochs", 0, "train.epochs must be >= 1; got 0"),
        ("train.batch_size", 0, "train.batch_size must be >= 1"),
        ("train.lr", 0.0, "train.lr must be > 0 and finite"),
        ("train.lr", math.nan, "train.lr must be > 0 and finite; got nan"),
        ("train.lr", math.inf, "train.lr must be > 0 and finite; got inf"),
        ("train.lr", 2**2000, "train.lr must be a float; got an integer too large"),
        ("train.betas", [0.9, 1.0], r"train.betas\[1\] must be >= 0 and < 1"),
        ("train.betas", [-0.1, 0.9], r"train.betas\[0\] must be >= 0"),
        ("train.weight_decay", -1e-4, "train.weight_decay must be >= 0"),
        ("train.seed", -1, "train.seed must be >= 0 and <= 9223372036854775807"),
        ("train.seed", 2**63, "train.seed must be >= 0 and <= 9223372036854775807"),
        ("train.device", "meta", "train.device must be auto, cpu, cuda, cuda:N"),
        ("train.device", "cuda:x", "train.device must be auto"),
        ("train.shards", 0, "train.shards must be >= 1"),
        ("train.eval_batch_size", 0, "train.eval_batch_size must be >= 1"),
        ("train.strip_images", -1, "train.strip_images must be >= 0"),
        ("data.train_subset", 0, "data.train_subset must be >= 1"),
        ("data.test_subset", -5, "data.test_subset must be >= 1"),
        ("data.val_fraction", 1.0, "data.val_fraction must be >= 0 and < 1"),
        ("model.latent_dim", 0, "model.latent_dim must be >= 1"),
        ("model.channels", [], "model.channels must have at least one entry"),
        ("model.channels", [8, 0], r"model.channels\[1\] must be >= 1"),
        ("model.kernel_size", 0, "model.kernel_size must be >= 1"),
        ("model.code_size", [2, 0], r"model.code_size\[1\] must be >= 1"),
    ],
)
def test_each_bad_value_is_refused_with_its_key(key, value, message):
    with pytest.raises(ConfigError, match=message):
        make_config({key: value})


@pytest.mark.parametrize(
    "model, key, value",
    [("vae", "sigma", 0.0), ("vae", "beta", -1.0), ("vae", "hidden", 0), ("mmd-vae", "bandwidth", 0.0),
     ("mmd-vae", "mmd_weight", math.nan), ("mlp-ae", "encoder_widths", [0]), ("fc-wta-ae", "lifetime_rate", 0.0),
     ("conv-wta-ae", "lifetime_rate", 1.5), ("conv-wta-ae", "feature_pool", 0), ("conv-wta-ae", "decoder_kernel", 0)],
)
def test_model_configs_use_the_same_checks(model, key, value):
    with pytest.raises(ConfigError, match=f"model.{key}"):
        make_config({"model.name": model, f"model.{key}": value})


def test_valid_values_at_the_bounds_pass():
    config = make_config({"train.epochs": 1, "train.betas": [0.0, 0.999999], "train.seed": 2**63 - 1,
                          "train.device": "cuda:1", "data.val_fraction": 0.0, "model.latent_dim": 1})
    assert config.train.seed == 2**63 - 1 and config.train.device == "cuda:1"


@pytest.mark.parametrize(
    "analysis, params, message",
    [("knn", {"k": 0}, "knn.k must be >= 1"), ("latent_map", {"perplexity": math.nan}, "latent_map.perplexity"),
     ("interpolation", {"pair": [0, -1]}, r"interpolation.pair\[1\] must be >= 0"),
     ("traversals", {"dims": "ab"}, "traversals.dims must be a list"), ("prior_samples", {"n": 0}, "prior_samples.n")],
)
def test_analysis_parameters_are_checked(analysis, params, message):
    with pytest.raises(ConfigError, match=message):
        ANALYSES.get(analysis).check_params(params)


def test_every_analysis_default_passes_its_own_checks():
    for name in ANALYSES.names():
        ANALYSES.get(name).check_params(ANALYSES.get(name).defaults())


def test_classify_config_is_checked():
    with pytest.raises(ConfigError, match="classify.epochs must be >= 1"):
        checked(ClassifyConfig(epochs=0), "classify")
    with pytest.raises(ConfigError, match="classify.device must be"):
        checked(ClassifyConfig(device="meta"), "classify")


@pytest.mark.parametrize("content, message", [("", "is not valid JSON"), ("{not json", "is not valid JSON"),
                                              ("[1, 2]", "holds a JSON list"), ('{"train": {"epochs": 0}}', "train.epochs must be >= 1")])
def test_damaged_config_json_names_the_file(tmp_path, content, message):
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as err:
        load_config_file(path)
    assert str(path) in str(err.value)


def test_round_trip_of_the_default_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(make_config().to_dict()))
    assert load_config_file(path) == make_config()


@pytest.mark.parametrize("kind, message", [("binary", "is not UTF-8 text"), ("folder", "is a folder"), ("absent", "does not exist")])
def test_bad_config_path_is_a_clean_error(tmp_path, capsys, kind, message):
    path = tmp_path / "recipe.toml"
    if kind == "binary":
        path.write_bytes(b"\xff\xfe\x00\x81" * 8)
    elif kind == "folder":
        path.mkdir()
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    err = " ".join(capsys.readouterr().err.split())  # unwrapped: the wrap moves with the length of tmp_path
    assert err.startswith("aelab: error:") and message in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
