"""Register by decorator, create by name: one `Registry` type for models, datasets and analyses."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from aelab.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> entry mapping whose lookups fail with the list of valid names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(unknown_name_message(self.kind, name, self.names())) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def unknown_name_message(kind: str, name: str, valid: list[str]) -> str:
    """'unknown model 'conv-a'; did you mean 'conv-ae'? Valid: ...' — shared by every lookup."""
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else "."
    return f"unknown {kind} {name!r}{hint} Valid {kind}s: {', '.join(valid)}."
