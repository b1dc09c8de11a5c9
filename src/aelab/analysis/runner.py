"""`aelab analyze`: run the analyses that fit a run, time each, write PNGs,
analysis.json and report.html into the run folder. An analysis whose `needs` the run does not
meet is skipped, and analysis.json, the log and the report say why.

With `only`, the analyses named are added to the run's analysis.json (or replace their earlier
entries) and the others already there are kept, so a report grows one analysis at a time.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from matplotlib.figure import Figure

from aelab.analysis.base import ANALYSES, Analysis, AnalysisResult, ordered_analyses
from aelab.analysis.context import AnalysisContext
from aelab.documents import AnalysisDocument, AnalysisEntry, DocumentError, Skipped, Table
from aelab.errors import ConfigError
from aelab.io import atomic_path, require_writable
from aelab.run_files import figure_file

Log = Callable[[str], None]


@dataclass
class Outcome:
    analysis: Analysis
    result: AnalysisResult | None
    seconds: float  # the analysis' own time, shared encoding excluded
    error: str | None = None
    files: list[str] = field(default_factory=list)

    def entry(self) -> AnalysisEntry:
        a, r = self.analysis, self.result
        return AnalysisEntry(name=a.name, title=a.title, note=a.note, seconds=round(self.seconds, 3), error=self.error,
                             figures=self.files, numbers=jsonable(r.numbers) if r else {},
                             tables=[Table(t.title, list(t.columns), jsonable(t.rows)) for t in r.tables] if r else [])


@dataclass
class Analyzed:
    """What `analyze` returns: the files it wrote, and the results of the analyses it ran, by name
    (`analyzed["knn"].numbers`, `analyzed["latent_map"].data["tsne"]`)."""

    report: Path
    summary: Path  # analysis.json
    results: dict[str, AnalysisResult]
    errors: dict[str, str]  # name -> the error of each analysis that failed
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why it does not fit the run

    def __getitem__(self, name: str) -> AnalysisResult:
        if name in self.results:
            return self.results[name]
        why = (f"failed ({self.errors[name]})" if name in self.errors else f"was skipped ({self.skipped[name]})" if name in self.skipped
               else "was not run (not asked for)")
        raise KeyError(f"analysis {name!r} {why}; results: {', '.join(self.results) or 'none'}")


def select(only: Iterable[str] | None, skip: Iterable[str] | None, params: dict[str, dict] | None) -> list[Analysis]:
    """The analyses asked for, in report order; unknown names and parameters fail before anything runs."""
    only, skip, params = list(only or []), list(skip or []), dict(params or {})
    for name in [*only, *skip, *params]:
        ANALYSES.get(name)
    for name, values in params.items():
        ANALYSES.get(name).check_params(values)
    return [a for a in ordered_analyses() if (not only or a.name in only) and a.name not in skip]


def skip_reason(analysis: Analysis, ctx: AnalysisContext) -> str | None:
    """Why `analysis` does not fit the run, in words (its first unmet need); None when it fits."""
    return analysis.needs.unmet(ctx.model.capabilities, ctx)


def run_one(analysis: Analysis, ctx: AnalysisContext, params: dict[str, Any], log: Log) -> Outcome:
    shared_before = sum(ctx.timings.values())
    start = time.perf_counter()
    try:
        result, error = analysis.run(ctx, **params), None
    except Exception as err:  # noqa: BLE001 - one failing analysis must not lose the others; it is reported
        log(traceback.format_exc())
        result, error = None, f"{type(err).__name__}: {err}"
    seconds = time.perf_counter() - start - (sum(ctx.timings.values()) - shared_before)
    return Outcome(analysis, result, seconds, error)


def save_figures(figures: list[tuple[str, Figure]], folder: Path, prefix: str) -> list[str]:
    """Write each figure as `<prefix>-<name>.png` in `folder`; return the file names."""
    names = []
    for name, fig in figures:
        path = folder / figure_file(prefix, name)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", facecolor="white")
        names.append(path.name)
    return names


def analyze(run_dir: str | Path, *, only=None, skip=None, params: dict[str, dict] | None = None,
            device: str = "auto", log: Log = print) -> Analyzed:
    """Run every analysis that fits the run (or those in `only`, keeping the others already in
    its analysis.json); write the PNGs, analysis.json and report.html; return the results."""
    params = dict(params or {})
    chosen = select(only, skip, params)
    ctx = AnalysisContext(run_dir, device=device)
    require_writable(ctx.run.analysis_dir)  # before minutes of work, not after
    outcomes, skipped = [], []
    for analysis in chosen:
        reason = skip_reason(analysis, ctx)
        if reason:
            if only and analysis.name in only:
                raise ConfigError(f"analysis {analysis.name!r} does not apply to {ctx.run.root} ({ctx.config.model.name} on "
                                  f"{ctx.dataset.name}): {reason}. Leave it out of --only.")
            log(f"skipped {analysis.name}: {reason}")
            skipped.append(Skipped(name=analysis.name, reason=reason))
            continue
        outcome = run_one(analysis, ctx, params.get(analysis.name, {}), log)
        if outcome.result:
            start = time.perf_counter()
            outcome.files = [f"{ctx.run.analysis_dir.name}/{n}" for n in save_figures(outcome.result.figures, ctx.run.analysis_dir, analysis.name)]
            outcome.seconds += time.perf_counter() - start
        log(f"{analysis.name:<15} {outcome.seconds:6.2f} s" + (f"  FAILED: {outcome.error}" if outcome.error else ""))
        outcomes.append(outcome)
    kept, recorded = [], skipped
    if only:  # the earlier entries and skips stand, but for the analyses this call ran
        ran = {o.analysis.name for o in outcomes}
        earlier = earlier_document(ctx.run.analysis_json, log)
        kept = [e for e in earlier.analyses if e.name not in ran] if earlier else []
        done = ran | {s.name for s in skipped}
        recorded = [*(s for s in (earlier.skipped if earlier else []) if s.name not in done), *skipped]
    summary(ctx, outcomes, kept, sorted(recorded, key=report_position)).write(ctx.run.analysis_json)
    from aelab.report import write_report

    report = write_report(ctx.run.root)
    log("shared steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in ctx.timings.items()))
    log(f"report: {report}")
    return Analyzed(report, ctx.run.analysis_json, {o.analysis.name: o.result for o in outcomes if o.result},
                    {o.analysis.name: o.error for o in outcomes if o.error}, {s.name: s.reason for s in skipped})


def earlier_document(path: Path, log: Log) -> AnalysisDocument | None:
    """An earlier analysis.json, whose entries and skips an `only` call keeps; None if there is none to read."""
    if not path.is_file():
        return None
    try:
        return AnalysisDocument.read(path)
    except DocumentError as err:
        log(f"{err} It is written anew with this run's analyses only.")
        return None


def report_position(entry: AnalysisEntry) -> tuple:
    """Where an analysis.json entry goes in the report: its analysis' order (unknown ones last)."""
    return (ANALYSES.get(entry.name).order, entry.name) if entry.name in ANALYSES else (math.inf, entry.name)


def run_summary(ctx: AnalysisContext) -> dict[str, Any]:
    """What a report's header shows about one run: the fields of `aelab.documents.RunSummary`."""
    return {"run": str(ctx.run.root), "model": ctx.config.model.name, "dataset": ctx.dataset.name,
            "image_shape": list(ctx.image_shape), "code_shape": list(ctx.code_shape),
            "parameters": sum(p.numel() for p in ctx.model.parameters()),
            "train_images": len(ctx.train), "test_images": len(ctx.test), "classes": ctx.class_names,
            "config": jsonable(ctx.config.to_dict()), "device": str(ctx.device), "terms": list(ctx.model.metric_terms())}


def summary(ctx: AnalysisContext, outcomes: list[Outcome], kept: list[AnalysisEntry] | None = None,
            skipped: list[Skipped] | None = None) -> AnalysisDocument:
    entries = sorted([*(kept or []), *(o.entry() for o in outcomes)], key=report_position)
    return AnalysisDocument(created=time.strftime("%Y-%m-%d %H:%M:%S"), **run_summary(ctx),
                            shared_seconds={k: round(v, 3) for k, v in ctx.timings.items()},
                            total_seconds=round(sum(ctx.timings.values()) + sum(e.seconds or 0 for e in entries), 3),
                            analyses=entries, skipped=list(skipped or []))


def jsonable(value: Any) -> Any:
    """numpy/torch scalars and arrays, tuples and NaN made strict-JSON friendly."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value
