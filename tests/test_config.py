import json

import pytest

from aelab.config import RunConfig, config_from_dict, make_config, parse_assignment, read_recipe
from aelab.errors import ConfigError


def test_defaults_come_from_the_dataclasses():
    config = make_config()
    assert config.model.name == "conv-ae" and config.model.latent_dim == 10
    assert config.train.epochs == 10 and config.train.batch_size == 64 and config.train.lr == 1e-3
    assert config.data.name == "fashion-mnist"


def test_overrides_are_type_checked_and_converted():
    config = make_config({"train.lr": 1, "model.channels": [16, 8], "model.latent_dim": None})
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)
    assert config.model.channels == (16, 8) and config.model.latent_dim is None


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"train.epoch": 3}, "unknown option 'train.epoch'; did you mean 'train.epochs'"),
        ({"trian.epochs": 3}, "unknown config key 'trian.epochs'"),
        ({"train.epochs": "ten"}, "train.epochs must be int; got 'ten'"),
        ({"train.epochs": True}, "train.epochs must be int"),
        ({"model.downsample": "avg"}, "model.downsample must be one of 'stride', 'pool'"),
        ({"model.name": "vea"}, "unknown model 'vea'"),
        ({"train.betas": [0.9]}, "train.betas must have 2 entries"),
    ],
)
def test_bad_overrides_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_config(overrides)


def test_round_trip_through_json():
    config = make_config({"model.channels": [8, 16], "train.betas": [0.5, 0.9], "data.train_subset": 100})
    again = config_from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and isinstance(again, RunConfig)


def test_recipe_is_flattened(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[model]\nname = "conv-ae"\nlatent_dim = 4\n[train]\nepochs = 2\n')
    assert read_recipe(recipe) == {"model.name": "conv-ae", "model.latent_dim": 4, "train.epochs": 2}


def test_bad_recipe_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_recipe(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[model\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_recipe(tmp_path / "bad.toml")


def test_set_values_are_read_as_toml():
    assert parse_assignment("train.lr=3e-4") == ("train.lr", 3e-4)
    assert parse_assignment("model.channels=[16, 32]") == ("model.channels", [16, 32])
    assert parse_assignment("data.name=mnist") == ("data.name", "mnist")
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignment("train.lr")


@pytest.mark.parametrize("recipe", ["default.toml", "fast.toml"])
def test_shipped_recipes_are_valid_configs(recipe):
    from pathlib import Path

    config = make_config(read_recipe(Path(__file__).parents[1] / "recipes" / recipe))
    assert config.model.name == "conv-ae" and config.model.kernel_size == 5
    if recipe == "fast.toml":
        assert config.train.lr_schedule == "one-cycle" and config.train.epochs == 3
