"""The kinds of evidence a study question can cite; each gathers one report block.

An evidence item is a TOML inline table with exactly one kind key, e.g.

    { analysis = "latent_map", runs = ["ae", "vae"] }     the runs' own figures side by side
                                                          (figures = ["map"]: only those)
    { compare = "latent_map", runs = ["ae", "vae"] }      `aelab compare`'s shared-axes figure
    { classify = ["fine-tune", "scratch"], run = "ae" }   `aelab classify` in each mode
    { evaluate = { nll_samples = 100 }, runs = ["vae"] }  `aelab evaluate`
    { output_size = [10], run = "ae" }                    seed 004's Test 1 on an untrained model
    { strips = 5, runs = ["ae"] }                         reconstructions during training
    { epochs = ["seconds", "test_nelbo"], runs = [...] }  chosen columns of metrics.jsonl
    { scoreboard = { nll_samples = 100 }, runs = [...] }  one row per run: test MSE, ELBO, log p(x),
                                                          generation scores, code classifiers, time, size

A block is an `aelab.documents.EvidenceBlock`, written into study.json for the report (which
never imports torch): a title and a note, panels (one per run: figures or an error), numbers
per run with the terms that label them, and tables.
"""

from __future__ import annotations

from typing import Any, Callable

from aelab.documents import EvidenceBlock, NumbersByRun, Panel, Table
from aelab.errors import ConfigError
from aelab.registry import Registry
from aelab.run_files import ClassifierFiles, RunFiles, figure_file
from aelab.terms import EPOCH_TERMS, MetricTerm, shown_value, term_title

COMMON_KEYS = {"runs", "run", "title"}
Gather = Callable[[Any, dict, list[str]], EvidenceBlock]


class EvidenceKind:
    def __init__(self, name: str, gather: Gather, extra_keys: set[str] = frozenset(), check: Callable | None = None):
        self.name, self.gather, self.extra_keys, self.check = name, gather, set(extra_keys), check


KINDS: Registry[EvidenceKind] = Registry("evidence kind")


def evidence(name: str, extra_keys: set[str] = frozenset(), check: Callable | None = None):
    def add(fn: Gather) -> Gather:
        KINDS.register(name)(EvidenceKind(name, fn, extra_keys, check))
        return fn
    return add


def kind_of(item: dict) -> EvidenceKind:
    kinds = [k for k in item if k in KINDS]
    if len(kinds) != 1:
        raise ConfigError(f"evidence {item!r} must have exactly one of the keys {', '.join(KINDS.names())}.")
    return KINDS.get(kinds[0])


def item_runs(item: dict) -> list[str]:
    runs = item.get("runs", [item["run"]] if "run" in item else [])
    return [runs] if isinstance(runs, str) else list(runs)


def check_item(item: dict, study, where: str) -> None:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: evidence must be inline tables, got {item!r}.")
    kind = kind_of(item)
    valid = {kind.name} | COMMON_KEYS | kind.extra_keys
    unknown = sorted(set(item) - valid)
    if unknown:
        raise ConfigError(f"{where}: evidence {kind.name!r} has no key {unknown[0]!r}. Valid keys: {', '.join(sorted(valid))}.")
    runs = item_runs(item)
    if not runs:
        raise ConfigError(f"{where}: evidence {item!r} names no run: add runs = [...].")
    for run in runs:
        if run not in study.runs:
            raise ConfigError(f"{where}: " + "unknown run " + repr(run) + f". Runs of this study: {', '.join(study.runs)}.")
    if kind.check:
        kind.check(item, where)


def gather(item: dict, runner) -> EvidenceBlock:
    """The report block for one evidence item (errors become the block's error, not a crash)."""
    kind = kind_of(item)
    runs = item_runs(item)
    try:
        block = kind.gather(runner, item, runs)
    except Exception as err:  # noqa: BLE001 - one failing step must not lose the rest of the study
        runner.log(f"evidence {kind.name} for {', '.join(runs)} FAILED: {type(err).__name__}: {err}")
        block = EvidenceBlock(title=kind.name, error=f"{type(err).__name__}: {err}")
    block.kind = block.kind or kind.name
    if "title" in item:
        block.title = item["title"]
    return block


def panel(runner, run: str, figures: list[str] = (), error: str | None = None) -> Panel:
    return Panel(label=runner.label(run), figures=list(figures), error=error, skipped=runner.skipped.get(run))


def numbers_by_run(runner, runs: list[str], numbers: list[dict]) -> NumbersByRun:
    return NumbersByRun(labels=[runner.label(r) for r in runs], rows=numbers)


# --- analyses ------------------------------------------------------------------------------
def check_analysis(item: dict, where: str) -> None:
    from aelab.analysis import ANALYSES

    name = item.get("analysis", item.get("compare"))
    try:
        ANALYSES.get(name)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


@evidence("analysis", extra_keys={"figures"}, check=check_analysis)
def analysis_block(runner, item, runs) -> EvidenceBlock:
    name = item["analysis"]
    wanted = {figure_file(name, k) for k in item.get("figures", [])}
    block = EvidenceBlock(title=name)
    numbers = []
    for run in runs:
        data = runner.analysis(run)
        entry = data.entry(name) if data else None
        if entry is None:
            block.panels.append(panel(runner, run, error=None if data is None else "does not apply to this run"))
            numbers.append({})
            continue
        block.title, block.note = entry.title, entry.note
        chosen = [f for f in entry.figures if not wanted or f.rsplit("/", 1)[-1] in wanted]
        block.panels.append(panel(runner, run, [runner.rel(run, f) for f in chosen], entry.error))
        numbers.append(entry.numbers)
        block.tables += [Table(f"{runner.label(run)}: {t.title}", t.columns, t.rows) for t in entry.tables]
    block.numbers = numbers_by_run(runner, runs, numbers)
    return block


@evidence("compare", check=check_analysis)
def compare_block(runner, item, runs) -> EvidenceBlock:
    name = item["compare"]
    skipped = [r for r in runs if r in runner.skipped]
    if skipped:
        return EvidenceBlock(title=name, skipped="; ".join(f"{runner.label(r)}: {runner.skipped[r]}" for r in skipped))
    folder, data = runner.comparison(runs)
    entry = data.entry(name)
    if entry is None:
        return EvidenceBlock(title=name, error=f"{name} applies to none of {', '.join(runs)}")
    combined = [runner.rel_to(folder / f) for f in entry.combined_figures]
    panels = [Panel(label="compared", figures=combined)] if combined else [
        Panel(label=runner.label(run), figures=[runner.rel_to(folder / f) for f in (r.figures if r else [])],
              error="does not apply" if r is None else r.error) for run, r in zip(runs, entry.runs)]
    numbers = [r.numbers if r else {} for r in entry.runs]
    return EvidenceBlock(title=f"{entry.title}, compared", note=entry.note, panels=panels, numbers=numbers_by_run(runner, runs, numbers))


# --- classifiers, evaluation, checks ---------------------------------------------------------
def check_classify(item: dict, where: str) -> None:
    import typing

    from aelab.classify import ClassifyConfig
    from aelab.typed import coerce

    modes = item["classify"] if isinstance(item["classify"], list) else [item["classify"]]
    for mode in modes:
        coerce(mode, typing.get_type_hints(ClassifyConfig)["mode"], f"{where}: classify")


@evidence("classify", extra_keys={"replace_last"}, check=check_classify)
def classify_block(runner, item, runs) -> EvidenceBlock:
    modes = item["classify"] if isinstance(item["classify"], list) else [item["classify"]]
    panels, rows = [], []
    for run in runs:
        for mode in modes:
            if run in runner.skipped:
                panels.append(panel(runner, run))
                continue
            summary, folder = runner.classify(run, mode, bool(item.get("replace_last", False)))
            panels.append(Panel(label=f"{runner.label(run)}: {folder.name}", figures=[runner.rel_to(ClassifierFiles(folder).loss_plot)]))
            rows.append([runner.label(run), mode, "yes" if summary.replace_last else "no", summary.features, summary.epochs,
                         f"{summary.train_loss:.4f}", f"{summary.test_loss:.4f}", f"{100 * summary.test_accuracy:.2f}"])
    table = Table("Classifiers (last epoch; nothing selected on test data)",
                  ["run", "mode", "last layer replaced", "features", "epochs", "train loss", "test loss", "test accuracy (%)"], rows)
    return EvidenceBlock(title="Classifier from the encoder", panels=panels, tables=[table] if rows else [],
                         note="Train and test loss per epoch: a test loss that turns up while training loss falls is overfitting; "
                              "compare the accuracies across modes (probe: frozen encoder; fine-tune: encoder-initialised; scratch: random start).")


EVALUATE_KEYS = {"nll_samples", "nll_subset", "batch_size", "generation"}  # pipeline.evaluate's keywords


def check_evaluate(item: dict, where: str) -> None:
    unknown = sorted(set(item["evaluate"] or {}) - EVALUATE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: evaluate has no option {unknown[0]!r}. Valid options: {', '.join(sorted(EVALUATE_KEYS))}.")


@evidence("evaluate", check=check_evaluate)
def evaluate_block(runner, item, runs) -> EvidenceBlock:
    params = dict(item["evaluate"] or {})
    evaluated = {run: runner.evaluate(run, params) for run in runs if run not in runner.skipped}
    terms = list({t.key: t for e in evaluated.values() for t in e.terms}.values())
    return EvidenceBlock(title="Test-set evaluation", panels=[panel(runner, r) for r in runs if r in runner.skipped], terms=terms,
                         note="Reconstruction error on the whole test split (and, for VAEs, the importance-sampled log-likelihood where asked).",
                         numbers=numbers_by_run(runner, runs, [evaluated[r].numbers() if r in evaluated else {} for r in runs]))


def output_size_rows(model, input_shape: tuple[int, ...], code_shape: list[int], batch: int = 2) -> list[list]:
    """Seed 004's Test 1 on an untrained model: the code and the output have the right sizes and range."""
    import torch

    with torch.inference_mode():
        x = torch.rand(batch, *input_shape)
        z = model.encode(x)
        y = model.decode(z)
    lo, hi = float(y.min()), float(y.max())
    return [["code size", str(tuple(code_shape)), str(tuple(z.shape[1:])), list(z.shape[1:]) == list(code_shape)],
            ["output size", str(tuple(input_shape)), str(tuple(y.shape[1:])), tuple(y.shape[1:]) == tuple(input_shape)],
            ["output values in [0, 1]", "0 ≤ y ≤ 1", f"{lo:.3f} … {hi:.3f}", 0 <= lo and hi <= 1]]


@evidence("output_size")
def output_size_block(runner, item, runs) -> EvidenceBlock:
    from aelab.config import load_config_file
    from aelab.models import build_model

    rows = []
    for run in runs:
        if run in runner.skipped:
            continue
        config = load_config_file(RunFiles(runner.run_dir(run)).config)
        model = build_model(config.model).eval()  # untrained, as the seed asks
        rows += [[runner.label(run), *r[:3], "pass" if r[3] else "FAIL"] for r in output_size_rows(model, config.model.input_shape, item["output_size"])]
    failed = any(r[-1] == "FAIL" for r in rows)
    return EvidenceBlock(title="Output-size check", status="failed" if failed else "passed", panels=[panel(runner, r) for r in runs if r in runner.skipped],
                         note="A random input of the size the network requires goes through the untrained encoder and decoder.",
                         tables=[Table("Checks", ["run", "check", "expected", "got", "result"], rows)])


# --- training records -----------------------------------------------------------------------
@evidence("strips")
def strips_block(runner, item, runs) -> EvidenceBlock:
    most = int(item["strips"])
    panels = []
    for run in runs:
        strips = RunFiles(runner.run_dir(run)).strip_files()
        if len(strips) > most:  # evenly spaced, always with the first and the last epoch
            strips = [strips[round(i * (len(strips) - 1) / (most - 1))] for i in range(most)] if most > 1 else strips[-1:]
        panels.append(panel(runner, run, [runner.rel(run, p.relative_to(runner.run_dir(run))) for p in strips]))
    return EvidenceBlock(title="Reconstructions during training", panels=panels, captions="epoch",
                         note="Each strip shows test images (top) over their reconstructions (bottom) after one epoch, first to last: "
                              "the shapes come first, detail later.")


@evidence("epochs")
def epochs_block(runner, item, runs) -> EvidenceBlock:
    columns = list(item["epochs"])
    tables = []
    for run in runs:
        history, terms = ([], []) if run in runner.skipped else (runner.metrics(run), [*runner.terms(run), *EPOCH_TERMS])
        rows = [[r["epoch"], *(fmt_metric(c, r.get(c), terms) for c in columns)] for r in history]
        tables.append(Table(runner.label(run), ["epoch", *(metric_name(c, terms) for c in columns)], rows))
    return EvidenceBlock(title="Per epoch", panels=[panel(runner, r) for r in runs if r in runner.skipped], tables=tables,
                         note="One row per epoch, read from the run's metrics.jsonl.")


def metric_name(key: str, terms: list[MetricTerm]) -> str:
    """'test_nelbo' -> 'test ELBO (nats per image)', as the run's model declares the term."""
    return term_title(key, terms) or key.replace("_", " ")


def fmt_metric(key: str, value, terms: list[MetricTerm]) -> Any:
    """The value as its term shows it (a stored negative ELBO as the ELBO), rounded for the table."""
    if value is None:
        return None
    return round(shown_value(key, value, terms), 1 if key == "seconds" else 5)

