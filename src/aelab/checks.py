"""Constraints declared beside each config field, checked where values enter (config.coerce).

    epochs: PositiveInt = 10
    lr: PositiveFloat = 1e-3
    betas: tuple[UnitInterval, UnitInterval] = (0.9, 0.999)

A constraint rides in `typing.Annotated`, so the field keeps its plain type and
default; `aelab.config.coerce` checks the type, then every `Check` in the
annotation, and names the key in the error. The same aliases type model
configs and analysis parameters, so there is one place that says what is valid.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Callable

SEED_MAX = 2**63 - 1  # torch.manual_seed takes any int64 >= 0 (and more); numpy's seeds fit too
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass(frozen=True)
class Check:
    """Bounds a number must satisfy (NaN satisfies none), or a rule that names the problem."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    finite: bool = False
    rule: Callable[[Any], str | None] | None = None  # returns what is wrong, or None

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` (e.g. 'must be >= 1'), or None when it is valid."""
        if self.rule is not None:
            return self.rule(value)
        holds = (
            (self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
            and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt)
            and (not self.finite or math.isfinite(value))
        )  # NaN fails every comparison, so it never holds
        return None if holds else f"must be {' and '.join(self.describe())}"

    def describe(self) -> list[str]:
        bounds = ((self.ge, ">="), (self.gt, ">"), (self.le, "<="), (self.lt, "<"))
        parts = [f"{sign} {bound:g}" if isinstance(bound, float) else f"{sign} {bound}" for bound, sign in bounds
                 if bound is not None]
        return parts + (["finite"] if self.finite else [])


def device_problem(name: str) -> str | None:
    if DEVICE_PATTERN.fullmatch(name):
        return None
    return "must be auto, cpu, cuda, cuda:N (N a GPU index) or mps"


PositiveInt = Annotated[int, Check(ge=1)]
NonNegativeInt = Annotated[int, Check(ge=0)]
Seed = Annotated[int, Check(ge=0, le=SEED_MAX)]
PositiveFloat = Annotated[float, Check(gt=0, finite=True)]
NonNegativeFloat = Annotated[float, Check(ge=0, finite=True)]
UnitInterval = Annotated[float, Check(ge=0, lt=1)]  # [0, 1): Adam's betas, a held-out fraction
Rate = Annotated[float, Check(gt=0, le=1)]  # (0, 1]: a share of units or images kept
DeviceName = Annotated[str, Check(rule=device_problem)]


def nonempty(values: tuple) -> str | None:
    return None if values else "must have at least one entry"


Widths = tuple[PositiveInt, ...]  # layer widths or channel counts; may be empty
Channels = Annotated[Widths, Check(rule=nonempty)]  # one conv layer per entry: at least one
ImageSize = tuple[PositiveInt, PositiveInt]  # (h, w)
