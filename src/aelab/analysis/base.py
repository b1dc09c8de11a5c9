"""The analysis plug-in contract: one small registered file per analysis.

    @register_analysis
    class Reconstructions(Analysis):
        name, title, order = "reconstructions", "Reconstructions", 10
        note = "what a student should look for in the figure"
        needs = Needs()  # e.g. Needs(sample=True): what it needs of the model and the run (needs.py)
        def run(self, ctx, n=100) -> AnalysisResult: ...

`run` takes the run (an `AnalysisContext`: model, data, cached codes) and the
analysis' own keyword parameters, whose defaults are the documented options.
It returns numbers (JSON-ready), figures (matplotlib `Figure`s) and optional
tables. `combine` draws one figure from the results of several runs (used by
`aelab compare` where shared axes or colours make runs comparable).
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from matplotlib.figure import Figure

from aelab.analysis.needs import Needs
from aelab.documents import Table  # analyses build their tables with it: it is part of analysis.json
from aelab.errors import ConfigError
from aelab.registry import Registry
from aelab.typed import coerce


@dataclass
class AnalysisResult:
    numbers: dict[str, Any]
    figures: list[tuple[str, Figure]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # arrays kept for `combine`, never written


class Analysis:
    name: ClassVar[str]
    title: ClassVar[str]
    note: ClassVar[str]  # one line: what to look for
    order: ClassVar[int]  # position in the report (the order)
    # what it needs of the model and the run; where one is unmet the runner skips it and says why
    needs: ClassVar[Needs] = Needs()

    def run(self, ctx, **params) -> AnalysisResult:
        raise NotImplementedError

    def combine(self, results: list[tuple[str, AnalysisResult]]) -> list[tuple[str, Figure]]:
        """One figure over several runs (label, result); none by default."""
        return []

    def defaults(self) -> dict[str, Any]:
        """The keyword parameters of `run` and their defaults."""
        sig = inspect.signature(self.run)
        return {k: p.default for k, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY or p.default is not p.empty}

    def check_params(self, params: dict[str, Any]) -> None:
        valid = self.defaults()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            listing = ", ".join(f"{k}={v!r}" for k, v in valid.items()) or "none"
            raise ConfigError(f"analysis {self.name!r} has no parameter {unknown[0]!r}. Its parameters: {listing}.")
        hints = typing.get_type_hints(self.run, include_extras=True)  # the checks beside each parameter
        for key, value in params.items():
            if key in hints:
                coerce(value, hints[key], f"{self.name}.{key}")


ANALYSES: Registry[Analysis] = Registry("analysis")


def register_analysis(cls: type[Analysis]) -> type[Analysis]:
    """Register one instance of `cls` under `cls.name`."""
    ANALYSES.register(cls.name)(cls())
    return cls


def ordered_analyses() -> list[Analysis]:
    """Every registered analysis in report order."""
    return sorted((ANALYSES.get(n) for n in ANALYSES.names()), key=lambda a: (a.order, a.name))
