"""Typed run configuration: dataclasses hold the defaults; recipes and `--set` only override.

A run's config is three sections: `model` (the model's own dataclass, chosen by
`model.name`), `data` and `train`. Overrides arrive as dotted keys
(`{"train.epochs": 4, "model.latent_dim": 2}`) from a TOML recipe, CLI flags
and `--set key=value`, applied in that order. An unknown key or a value of the
wrong type is a `ConfigError` that names the key and lists the valid ones.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

from aelab.errors import ConfigError
from aelab.schedule import Schedule
from aelab.typed import build_dataclass


@dataclass
class DataConfig:
    name: str = "fashion-mnist"
    data_dir: str | None = None
    val_fraction: float = 0.1  # carved from train with `train.seed`; 0 validates on the test split
    train_subset: int | None = None  # keep only the first N training images (quick runs)
    test_subset: int | None = None
    download: bool = True


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    lr_schedule: Schedule = "constant"  # or cosine, one-cycle (peak lr); see aelab/schedule.py
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"  # "auto" picks CUDA (this rank's GPU under torchrun), else MPS, else the CPU
    shards: int | None = None  # CPU, one process: batch parts trained side by side on threads; None: one per core
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # autocast; fp16 with a gradient scaler; results change slightly
    eval_batch_size: int = 1000
    test_each_epoch: bool = True  # monitoring only: nothing is ever selected on test data
    strip_images: int = 8  # images in the per-epoch reconstruction strip; 0 turns it off


@dataclass
class RunConfig:
    model: Any  # the registered model's config dataclass (see aelab.models)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_config(overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """The default config with dotted-key overrides applied, every value type-checked."""
    from aelab.models import model_config_class  # here, not at the top: `import aelab.config` stays torch-free

    overrides = dict(overrides or {})
    unknown = sorted(k for k in overrides if k.split(".")[0] not in ("model", "data", "train"))
    if unknown:
        raise ConfigError(
            f"unknown config key {unknown[0]!r}: keys start with 'model.', 'data.' or 'train.' "
            f"(e.g. train.epochs=4). Valid keys: {', '.join(valid_keys())}."
        )
    model_name = overrides.pop("model.name", "conv-ae")
    model_cls = model_config_class(model_name)
    sections = {"model": {"name": model_name}, "data": {}, "train": {}}
    for key, value in overrides.items():
        section, _, rest = key.partition(".")
        sections[section][rest] = value
    return RunConfig(
        model=build_dataclass(model_cls, sections["model"], "model"),
        data=build_dataclass(DataConfig, sections["data"], "data"),
        train=build_dataclass(TrainConfig, sections["train"], "train"),
    )


RETIRED_KEYS = {"train.parallel"}  # options older versions saved, that no longer change anything


def config_from_dict(data: Mapping[str, Any]) -> RunConfig:
    """Rebuild a config saved by `RunConfig.to_dict` (a run folder's config.json)."""
    return make_config({k: v for k, v in flatten(data).items() if k not in RETIRED_KEYS})


def load_config_file(path: str | Path) -> RunConfig:
    return config_from_dict(json.loads(Path(path).read_text()))


def read_recipe(path: str | Path) -> dict[str, Any]:
    """A TOML recipe as dotted-key overrides."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"recipe {path} does not exist: check the path given to --config.") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"recipe {path} is not valid TOML: {err}.") from None
    return flatten(data)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key=value` from the command line; the value is read as TOML, else kept as a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value (e.g. train.epochs=4), got {text!r}.")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def valid_keys(model_cls: type | None = None) -> list[str]:
    classes = {"data": DataConfig, "train": TrainConfig}
    if model_cls is not None:
        classes["model"] = model_cls
    return [f"{s}.{f.name}" for s, cls in classes.items() for f in dataclasses.fields(cls)]
