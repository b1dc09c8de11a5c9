"""Typed dataclasses from plain data (TOML, JSON, `--set`): each value checked against its field.

Below config and models (both build their dataclasses with it), so neither imports the other
to check a value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Mapping

from aelab.checks import Check
from aelab.errors import ConfigError
from aelab.registry import unknown_name_message


def build_dataclass(cls: type, values: Mapping[str, Any], section: str) -> Any:
    """`cls(**values)` with each value checked against the field's annotation."""
    hints = typing.get_type_hints(cls, include_extras=True)  # keep Annotated checks
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            raise ConfigError(unknown_name_message("option", f"{section}.{key}", [f"{section}.{n}" for n in names]))
        kwargs[key] = coerce(value, hints[key], f"{section}.{key}")
    try:
        obj = cls(**kwargs)
    except ValueError as err:
        raise ConfigError(f"invalid {section} settings: {err}") from None
    return obj


def checked(obj: Any, section: str) -> Any:
    """A dataclass built in code (not from overrides), its fields checked like any config's."""
    return build_dataclass(type(obj), {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, section)


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check (and gently convert: int -> float, list -> tuple) `value` against a type."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} fits none of {annotation}.")
    if origin is typing.Annotated:
        value = coerce(value, args[0], key)
        for check in (a for a in args[1:] if isinstance(a, Check)):
            problem = check.problem(value)
            if problem:
                raise ConfigError(f"{key} {problem}; got {value!r}.")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, e.g. [0, 1]; got {value!r}.")
        return [coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)] if args else list(value)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{key} must be one of {choices}; got {value!r}.")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, e.g. [32, 32]; got {value!r}.")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key} must have {len(args)} entries; got {len(value)} ({value!r}).")
        return tuple(coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if annotation is Any:
        return value
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise ConfigError(f"{key} must be a float; got an integer too large for one.") from None
    if annotation in (int, float) and isinstance(value, bool) or not isinstance(value, annotation):
        raise ConfigError(f"{key} must be {annotation.__name__}; got {value!r} ({type(value).__name__}).")
    return value
