"""The tracker contract: a few calls training makes, and the fan-out to every chosen backend.

    with open_trackers(["tensorboard"], run, is_main) as trackers:
        trackers.log_config(config.to_dict())             # once, as hyperparameters
        trackers.log_metrics({"val/loss": 0.02}, step=3)  # epoch metrics; step losses
        trackers.log_image("reconstructions", hwc_uint8, step=3)
        trackers.finish({"test/mse": 0.02})               # the final evaluation

Under torchrun only rank 0 logs: the other ranks get an empty `Trackers`, whose calls do nothing.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any, ClassVar, Iterable

import numpy as np

from aelab.errors import ConfigError
from aelab.registry import Registry
from aelab.run_files import RunFiles


class Tracker:
    name: ClassVar[str]
    package: ClassVar[str]  # the module it imports, checked before training starts
    extra: ClassVar[str]  # pip install 'aelab[<extra>]' brings it

    def __init__(self, run: RunFiles):
        self.run = run

    def log_config(self, config: dict[str, Any]) -> None:
        """The run's config (nested sections), as the backend's hyperparameters."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def log_image(self, tag: str, image: np.ndarray, step: int) -> None:
        """`image`: (H, W, C) uint8."""

    def finish(self, evaluation: dict[str, float]) -> None:
        """The final test metrics; the run is complete."""

    def close(self, failed: bool = False) -> None:
        """Flush and release; `failed` when training stopped with an error."""

    @classmethod
    def require(cls) -> None:
        if importlib.util.find_spec(cls.package) is None:
            raise ConfigError(f"train.log names {cls.name!r}, whose package {cls.package!r} is not installed: "
                              f"pip install 'aelab[{cls.extra}]' (or leave {cls.name!r} out of train.log / --log).")


TRACKERS: Registry[type[Tracker]] = Registry("tracker")


def register_tracker(cls: type[Tracker]) -> type[Tracker]:
    TRACKERS.register(cls.name)(cls)
    return cls


def require_trackers(names: Iterable[str]) -> None:
    """Fail now, before a run folder is made, when a chosen backend is unknown or not installed."""
    for name in names:
        TRACKERS.get(name).require()


class Trackers:
    """Every chosen backend behind one set of calls; empty (and falsy) when nothing logs."""

    def __init__(self, trackers: list[Tracker]):
        self.trackers = trackers

    def __bool__(self) -> bool:
        return bool(self.trackers)

    def log_config(self, config: dict[str, Any]) -> None:
        for t in self.trackers:
            t.log_config(config)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        finite = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        for t in self.trackers:
            t.log_metrics(finite, step)

    def log_image(self, tag: str, image: np.ndarray, step: int) -> None:
        for t in self.trackers:
            t.log_image(tag, image, step)

    def finish(self, evaluation: dict[str, float]) -> None:
        for t in self.trackers:
            t.finish(evaluation)

    def close(self, failed: bool = False) -> None:
        for t in self.trackers:
            t.close(failed)

    def __enter__(self) -> Trackers:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(failed=kind is not None)


NO_TRACKERS = Trackers([])


def open_trackers(names: Iterable[str], run: RunFiles, is_main: bool = True) -> Trackers:
    """The chosen backends, logging beside the run's files; none on ranks other than 0."""
    return Trackers([TRACKERS.get(name)(run) for name in names] if is_main else [])


def flat_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"lr": 0.001}} -> {"train.lr": 0.001}; lists and None as text (what backends accept)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat |= flat_config(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return flat
