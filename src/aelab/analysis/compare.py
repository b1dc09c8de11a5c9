"""`aelab compare`: the same analyses of several runs, side by side in one report.

Each analysis runs on every run it fits with the same parameters; its `combine`
then draws the runs on shared axes and colours where that makes sense (loss
curves, per-class bars, 2-D latent maps), and the report adds a table of every
run's numbers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from aelab.analysis.context import AnalysisContext
from aelab.analysis.runner import run_one, run_summary, save_figures, select, skip_reason
from aelab.documents import ComparedRun, ComparisonDocument, ComparisonEntry
from aelab.errors import ConfigError
from aelab.io import require_writable
from aelab.run_files import COMPARISON_JSON

Log = Callable[[str], None]


def run_labels(run_dirs: list[Path]) -> list[str]:
    """Folder names, made unique with their parent folder where two are alike."""
    names = [p.name for p in run_dirs]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in run_dirs]


def compare(run_dirs, out: str | Path, *, labels: list[str] | None = None, only=None, skip=None,
            params: dict[str, dict] | None = None, device: str = "auto", log: Log = print) -> Path:
    """Analyse every run in `run_dirs` and write `out`/report.html; return its path."""
    run_dirs = [Path(d) for d in run_dirs]
    if len(run_dirs) < 2:
        raise ConfigError("compare needs at least two run folders, e.g. `aelab compare runs/ae runs/vae --out runs/ae-vs-vae`.")
    labels = labels or run_labels(run_dirs)
    if len(labels) != len(run_dirs) or len(set(labels)) != len(labels):
        raise ConfigError(f"give one distinct label per run: {len(run_dirs)} runs, labels {labels}.")
    params = dict(params or {})
    chosen = select(only, skip, params)
    out = require_writable(out)  # before minutes of work, not after
    data_cache: dict = {}
    ctxs = [AnalysisContext(d, device=device, data_cache=data_cache) for d in run_dirs]
    folders = [out / f"run{i + 1}" for i in range(len(ctxs))]
    entries = []
    for analysis in chosen:
        per_run, results = [], []
        for ctx, label, folder in zip(ctxs, labels, folders):
            reason = skip_reason(analysis, ctx)
            if reason:
                log(f"skipped {analysis.name} on {label}: {reason}")
                per_run.append(None)
                continue
            outcome = run_one(analysis, ctx, params.get(analysis.name, {}), log)
            if outcome.result:
                outcome.files = [f"{folder.name}/{n}" for n in save_figures(outcome.result.figures, folder, analysis.name)]
                results.append((label, outcome.result))
            log(f"{analysis.name:<15} {label:<20} {outcome.seconds:6.2f} s" + (f"  FAILED: {outcome.error}" if outcome.error else ""))
            per_run.append(outcome.entry())
        if all(r is None for r in per_run):
            continue
        start = time.perf_counter()
        combined = save_figures(analysis.combine(results), out, f"{analysis.name}-combined") if len(results) > 1 else []
        seconds = sum(r.seconds or 0 for r in per_run if r) + time.perf_counter() - start
        entries.append(ComparisonEntry(name=analysis.name, title=analysis.title, note=analysis.note, seconds=round(seconds, 3),
                                       combined_figures=combined, runs=per_run))
    shared = {f"{label}: {k}": round(v, 3) for ctx, label in zip(ctxs, labels) for k, v in ctx.timings.items()}
    ComparisonDocument(
        created=time.strftime("%Y-%m-%d %H:%M:%S"), device=str(ctxs[0].device),
        runs=[ComparedRun(label=label, **run_summary(ctx)) for ctx, label in zip(ctxs, labels)],
        shared_seconds=shared, total_seconds=round(sum(shared.values()) + sum(e.seconds or 0 for e in entries), 3),
        analyses=entries).write(out / COMPARISON_JSON)
    from aelab.report import write_comparison_report

    report = write_comparison_report(out)
    log(f"report: {report}")
    return report
