"""The dataset registry and the contract each registered dataset fulfils.

Adding a dataset is one new module that registers an entry here, plus its
import in `catalog.py`: no if/elif on dataset names anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from aelab.data.policy import ImagePolicy
from aelab.data.split import ImageDataset
from aelab.registry import Registry

PathLike = str | os.PathLike


@dataclass(frozen=True)
class DatasetStatus:
    """What `aelab datasets` shows: where a dataset is, or how to get it."""

    name: str
    found: bool
    location: str | None
    detail: str


class DatasetEntry(Protocol):
    """A registered dataset: loads itself (its images brought to one shape by `policy`, or a clear
    error where they come in a fixed shape), and reports whether it can be loaded offline."""

    name: str

    def load(self, data_dir: PathLike | None, *, download: bool, verify: bool, policy: ImagePolicy) -> ImageDataset: ...

    def status(self, data_dir: PathLike | None) -> DatasetStatus: ...


DATASETS: Registry[DatasetEntry] = Registry("dataset")


def register(entry: DatasetEntry) -> DatasetEntry:
    """Add `entry` to the registry under its own name."""
    return DATASETS.register(entry.name)(entry)
