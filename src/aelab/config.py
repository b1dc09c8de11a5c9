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
from typing import Annotated, Any, Literal, Mapping

from aelab.checks import Check, DeviceName, ImageSize, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, Seed, UnitInterval
from aelab.errors import ConfigError
from aelab.schedule import Schedule
from aelab.typed import build_dataclass, coerce


@dataclass
class DataConfig:
    name: str = "fashion-mnist"
    data_dir: str | None = None
    val_fraction: UnitInterval = 0.1  # carved from train with `train.seed`; 0 validates on the test split
    train_subset: PositiveInt | None = None  # keep only the first N training images (quick runs)
    test_subset: PositiveInt | None = None
    download: bool = True
    # Image folders of mixed sizes and modes, brought to one shape as they are decoded (aelab/data/policy.py)
    image_size: ImageSize | None = None  # (h, w); None: the images' own size, which must then agree
    fit: Literal["resize", "crop", "pad"] = "resize"  # stretch; centre-crop the longer side; pad it with black
    channels: Literal[1, 3] | None = None  # grey or RGB; None: the images' own, which must then agree


def _known_trackers(names: list[str]) -> str | None:
    from aelab.tracking import TRACKERS  # imported late: the backends' packages load only when a run logs to them

    unknown = [n for n in names if n not in TRACKERS]
    return f"names an unknown tracker {unknown[0]!r}: the trackers are {', '.join(TRACKERS.names())}" if unknown else None


TrackerNames = Annotated[list[str], Check(rule=_known_trackers)]


@dataclass
class TrainConfig:
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 64
    lr: PositiveFloat = 1e-3
    lr_schedule: Schedule = "constant"  # or cosine, one-cycle (peak lr); see aelab/schedule.py
    betas: tuple[UnitInterval, UnitInterval] = (0.9, 0.999)
    weight_decay: NonNegativeFloat = 0.0
    seed: Seed = 0
    device: DeviceName = "auto"  # "auto" picks CUDA (this rank's GPU under torchrun), else MPS, else the CPU
    shards: PositiveInt | None = None  # CPU, one process: batch parts trained side by side on threads; None: one per core
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # autocast; fp16 with a gradient scaler; results change slightly
    eval_batch_size: PositiveInt = 1000
    test_each_epoch: bool = True  # monitoring only: nothing is ever selected on test data
    strip_images: NonNegativeInt = 8  # images in the per-epoch reconstruction strip; 0 turns it off
    log: TrackerNames = field(default_factory=list)  # experiment trackers: "tensorboard", "mlflow" (aelab/tracking)
    log_every: PositiveInt = 50  # steps between the step losses sent to the trackers


@dataclass
class RunConfig:
    model: Any  # the registered model's config dataclass (see aelab.models)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def all_epochs(self) -> int:
        """`train.epochs` and the epochs of the model's second stage after them (the VQ-VAE's prior)."""
        return self.train.epochs + self.model.second_stage_epochs()


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
    model_name = coerce(overrides.pop("model.name", "conv-ae"), str, "model.name")
    model_cls = model_config_class(model_name)
    sections = {"model": {"name": model_name}, "data": {}, "train": {}}
    for key, value in overrides.items():
        section, _, rest = key.partition(".")
        sections[section][rest] = value
    return RunConfig(
        model=build_dataclass(model_cls, sections["model"], "model"),
        data=resolved_paths(build_dataclass(DataConfig, sections["data"], "data")),
        train=build_dataclass(TrainConfig, sections["train"], "train"),
    )


RETIRED_KEYS = {"train.parallel"}  # options older versions saved, that no longer change anything


def resolved_paths(data: DataConfig) -> DataConfig:
    """Paths the user typed, made absolute, so a run folder works from any working folder."""
    from aelab.data import resolve_dataset_name  # data comes before config; imported late like the models

    data_dir = None if data.data_dir is None else str(Path(data.data_dir).expanduser().resolve())
    return dataclasses.replace(data, name=resolve_dataset_name(data.name), data_dir=data_dir)


def config_from_dict(data: Mapping[str, Any]) -> RunConfig:
    """Rebuild a config saved by `RunConfig.to_dict` (a run folder's config.json)."""
    return make_config({k: v for k, v in flatten(data).items() if k not in RETIRED_KEYS})


def load_config_file(path: str | Path) -> RunConfig:
    """A run folder's config.json; a damaged or hand-edited one is an error naming the file."""
    path = Path(path)
    fix = "restore it from a copy, or train the run again"
    try:
        data = json.loads(read_text_file(path, "run config"))
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not valid JSON ({err}): {fix}.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds a JSON {type(data).__name__}, expected an object of config sections: {fix}.")
    try:
        return config_from_dict(data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def read_text_file(path: Path, what: str) -> str:
    """The UTF-8 text of a config or recipe file, or a ConfigError saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist: check the path.") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a folder, expected a file: give the file's path.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text (a binary file?): give a text file.") from None
    except OSError as err:
        raise ConfigError(f"{what} {path} cannot be read ({err.strerror}): check its permissions.") from None


def read_recipe(path: str | Path) -> dict[str, Any]:
    """A TOML recipe as dotted-key overrides."""
    path = Path(path)
    try:
        data = tomllib.loads(read_text_file(path, "recipe"))
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
