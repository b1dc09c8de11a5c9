"""The model registry: `@register_model(name)` on a class, `create_model(name, **options)`.

Registering a model also gives its class a docstring for `help()`: its module's description,
then every option with its default and the comment written beside the field in the config
dataclass, so the meaning of an option is written once, where its default is.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import typing
from typing import Any

from aelab.registry import Registry
from aelab.typed import build_dataclass

MODELS: Registry[type] = Registry("model")


def register_model(name: str):
    def register(cls: type) -> type:
        cls.__doc__ = model_help(name, cls)
        return MODELS.register(name)(cls)

    return register


def model_help(name: str, cls: type) -> str:
    """The module's description, then `option = default  # what it means` for every option."""
    described = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip()
    config = cls.config_class
    notes: dict[str, str] = {}
    for klass in reversed(config.__mro__[:-1]):  # a subclass's comment wins
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        notes |= dict(re.findall(r"^\s+(\w+):[^=\n]*=.*?#\s*(.+)$", source, flags=re.M))
    hints = typing.get_type_hints(config)
    lines = [f"    {f.name} = {default_of(f)!r}" + "".join(f"  # {text}" for text in (notes.get(f.name), choices(hints[f.name])) if text)
             for f in dataclasses.fields(config) if f.name != "name"]
    return f"{described}\n\nOptions (create_model({name!r}, option=value), or model.option in a run's config):\n" + "\n".join(lines)


def model_config_class(name: str) -> type:
    return MODELS.get(name).config_class


def list_models() -> list[str]:
    return MODELS.names()


def choices(annotation: Any) -> str | None:
    """'one of 'relu', 'elu', ...' for a Literal option (also inside `X | None`)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    return next((c for c in map(choices, args) if c), None)


def default_of(field: dataclasses.Field) -> Any:
    """A field's default, read without building the config (its checks may need later code)."""
    return field.default_factory() if field.default is dataclasses.MISSING else field.default  # type: ignore[misc]


def create_model(name: str, **options: Any):
    """Build a registered model by name; each option is a field of its config dataclass, checked.

        model = aelab.create_model("conv-ae", input_shape=(1, 28, 28), channels=(32, 32), latent_dim=10)

    `aelab.list_models()` names the models and `help(type(model))` (or `aelab models`) lists each
    one's options, defaults and meanings. The course's names map to aelab's options: Q1, Q2 (the
    channels of the first and second convolution) are `channels=(Q1, Q2)`; K (the code's size)
    is `latent_dim`; the input size is `input_shape=(C, H, W)`, which a run takes from its dataset.
    """
    config = build_dataclass(model_config_class(name), {"name": name, **options}, "model")
    return build_model(config)


def build_model(config: Any):
    """The model a config describes (the config carries its registered `name`)."""
    return MODELS.get(config.name)(config)
