"""The model registry: `@register_model(name)` on a class, `create_model(name, **options)`."""

from __future__ import annotations

from typing import Any

from aelab.registry import Registry
from aelab.typed import build_dataclass

MODELS: Registry[type] = Registry("model")


def register_model(name: str):
    return MODELS.register(name)


def model_config_class(name: str) -> type:
    return MODELS.get(name).config_class


def list_models() -> list[str]:
    return MODELS.names()


def create_model(name: str, **options: Any):
    """Build a registered model; options are checked against its config dataclass."""
    config = build_dataclass(model_config_class(name), {"name": name, **options}, "model")
    return build_model(config)


def build_model(config: Any):
    """The model a config describes (the config carries its registered `name`)."""
    return MODELS.get(config.name)(config)
