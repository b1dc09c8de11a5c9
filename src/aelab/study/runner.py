"""`aelab study NAME`: train a study's runs, run the steps its questions cite, write one report.

    runs/study-NAME[-DATASET][-quick]/
        RUN/            a run folder per run (analysis/, classify-*/ and report.html inside)
        seed-S/RUN/     with --seeds N: the runs a scoreboard cites again, with train.seed S (the run's seed + 1 ...)
        compare-A-B/    `aelab compare` of the runs A and B
        study.json      every question with its evidence, as the report shows it
        report.html     the study report (aelab.report.study)

Finished runs are reused and unfinished ones resumed, so a study interrupted
anywhere continues where it stopped. The recipe drives everything: there is no
code here for any particular study.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

from aelab import pipeline
from aelab.config import RunConfig, load_config_file, make_config, parse_assignment
from aelab.data import load_dataset
from aelab.data.base import DATASETS
from aelab.documents import (
    AnalysisDocument,
    ClassifierDocument,
    ComparisonDocument,
    DocumentError,
    EvaluationDocument,
    StudyDocument,
    StudyQuestion,
    StudyRunRecord,
)
from aelab.engine import resolve_device
from aelab.errors import ConfigError, DataError
from aelab.run_files import COMPARISON_JSON, REPORT_HTML, STUDY_JSON, RunFiles
from aelab.study.evidence import gather, item_runs, kind_of
from aelab.study.recipe import Study, load_study
from aelab.terms import MetricTerm

Log = Callable[[str], None]
IGNORED_WHEN_REUSING = {"model.input_shape", "model.pixel_mean", "model.train_images", "data.data_dir", "data.download",
                        "train.epochs", "train.device", "train.shards"}


def run_study(name: str, *, quick: bool = False, dataset: str | None = None, data_dir: str | None = None,
              out: str | Path | None = None, download: bool = True, device: str = "auto", progress: bool = True,
              overrides: Sequence[str] = (), seeds: int = 1, log: Log = print) -> Path:
    """Run the study `name` end to end; return the path of its report.html.

    `overrides` are `KEY=VALUE` for every run or `RUN:KEY=VALUE` for one, applied after
    the recipe's own settings (and --quick's), e.g. `train.seed=1` or `vae:train.epochs=50`.
    `seeds` > 1 trains the runs a scoreboard cites that many times (train.seed, +1, ...), and
    the scoreboard gives each number's mean and standard deviation over them.
    """
    study = load_study(name)
    runner = StudyRunner(study, quick=quick, dataset=dataset, data_dir=data_dir, out=out, download=download,
                         device=device, progress=progress, overrides=overrides, seeds=seeds, log=log)
    return runner.run()


def loud(log: Log, text: str) -> None:
    bar = "!" * 100
    log(f"{bar}\n{text}\n{bar}")


class StudyRunner:
    def __init__(self, study: Study, *, quick: bool, dataset: str | None, data_dir: str | None, out, download: bool,
                 device: str, progress: bool, log: Log, overrides: Sequence[str] = (), seeds: int = 1):
        self.study, self.quick, self.data_dir, self.download = study, quick, data_dir, download
        self.seeds = check_seeds(study, seeds)
        self.device, self.progress, self.log = device, progress, log
        self.notes: list[str] = []  # loud notes: fallbacks and skipped parts, shown atop the report
        self.skipped: dict[str, str] = {}  # run -> why it was not trained
        self.seconds: dict[str, float] = {}
        self.requested = dataset
        self.dataset, self.location = self.choose_dataset(dataset)
        self.overrides = parse_study_overrides(overrides, list(study.runs))  # run (None: every run) -> {key: value}
        suffix = ("" if self.dataset == study.dataset else f"-{Path(self.dataset).stem}") + variant_suffix(self.overrides)
        suffix += "-quick" if quick else ""
        self.out = Path(out) if out else Path("runs") / f"study-{study.name}{suffix}"  # a variant never meets another's runs
        self.params = merge(study.params, study.quick.params if quick else {})
        for run in study.runs.values():  # a mistaken --set fails now, not after hours of training
            make_config({**run.overrides, **self.overrides.get(None, {}), **self.overrides.get(run.name, {})})
        self._analyses: dict[str, AnalysisDocument | None] = {}
        self._comparisons: dict[tuple[str, ...], tuple[Path, ComparisonDocument]] = {}
        self._terms: dict[str, list[MetricTerm]] = {}

    # --- data ------------------------------------------------------------------------------
    def try_load(self, name: str, data_dir: str | None):
        return load_dataset(name, data_dir if name in DATASETS else None, download=self.download)

    def choose_dataset(self, requested: str | None) -> tuple[str, str]:
        study = self.study
        if requested and requested != study.dataset:
            own = requested not in DATASETS
            if not study.datasets or (not own and requested not in study.datasets):
                own_data = " or your own data (a .npz file or an image folder)" if study.datasets else ""
                raise ConfigError(f"study {study.name!r} can swap its dataset {study.dataset!r} only for: "
                                  f"{', '.join(study.datasets) or 'none'}{own_data}.")
            return requested, self.try_load(requested, self.data_dir).location
        try:
            return study.dataset, self.try_load(study.dataset, self.data_dir).location
        except DataError as err:
            others = [d for d in study.datasets if d not in (study.fallback, study.dataset)]
            if requested or not study.fallback:
                instead = [d for d in study.datasets if d != study.dataset]
                raise DataError(f"{err} This study can instead run with --dataset {' or '.join(instead)}." if instead else str(err)) from None
            location = self.try_load(study.fallback, self.data_dir).location
            note = (f"{first_sentence(err)} This study therefore runs on {study.fallback} ({location}). Other choices: "
                    f"--dataset {' or '.join(others)}; or put the {study.dataset} files in --data-dir.")
            loud(self.log, f"NOTE: {note}")
            self.notes.append(note)
            return study.fallback, location

    def run_dataset(self, run) -> str | None:
        """The run's dataset, or None (with a loud note) when an optional run's data is missing."""
        if run.dataset is None:
            return self.dataset
        try:
            self.try_load(run.dataset, self.data_dir)
            return run.dataset
        except DataError as err:
            if not run.optional:
                raise
            reason = f"{run.dataset} is not available here, so this part was skipped ({first_sentence(err).rstrip('.')})"
            loud(self.log, f"NOTE: run {run.name!r}: {reason}. Give --data-dir a folder with {run.dataset} to run it.")
            self.notes.append(f"{run.label}: {reason}. Give --data-dir a folder with {run.dataset} to run it.")
            self.skipped[run.name] = reason
            return None

    def run_config(self, run, dataset: str) -> RunConfig:
        overrides = {**run.overrides, "data.name": dataset, "data.download": self.download, "train.device": self.device}
        if dataset in DATASETS and self.data_dir:
            overrides["data.data_dir"] = str(self.data_dir)
        quick = self.study.quick.overrides if self.quick else {}
        return make_config({**overrides, **quick, **self.overrides.get(None, {}), **self.overrides.get(run.name, {})})

    # --- training --------------------------------------------------------------------------
    def run_dir(self, run: str) -> Path:
        return self.out / run

    def train(self, name: str, config: RunConfig) -> str:
        files = RunFiles(self.run_dir(name))
        if files.config.exists():
            check_same(load_config_file(files.config), config, files.root)
            if files.finished(config.all_epochs):
                self.log(f"{name}: finished earlier, reused ({files.root})")
                return "reused"
            pipeline.resume(files.root, epochs=config.train.epochs, progress=self.progress, log=self.log)
            return "resumed"  # or repaired, or started again: resume knows from the checkpoint
        pipeline.train(config, files.root, progress=self.progress, log=self.log)
        return "trained"

    def train_all(self) -> list[StudyRunRecord]:
        rows = []
        for i, run in enumerate(self.study.runs.values(), 1):
            dataset = self.run_dataset(run)
            row = {"name": run.name, "label": run.label, "dataset": run.dataset or self.dataset}
            if dataset is None:
                rows.append(StudyRunRecord(**row, status="skipped", reason=self.skipped[run.name]))
                continue
            config = self.run_config(run, dataset)
            self.log(f"== run {i}/{len(self.study.runs)} {run.name} ({run.label}): {config.model.name} on {dataset}, {config.train.epochs} epochs ==")
            status = self.timed(f"train {run.name}", partial(self.train, run.name, config))
            for replica in self.replicas(run.name)[1:]:
                seeded = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=replica_seed(replica)))
                self.log(f"== run {run.name} again with train.seed {seeded.train.seed} (--seeds {self.seeds}) ==")
                self.timed(f"train {replica}", partial(self.train, replica, seeded))
            saved = load_config_file(RunFiles(self.run_dir(run.name)).config)
            rows.append(StudyRunRecord(**row, status=status, model=config.model.name, config=saved.to_dict(), terms=self.terms(run.name),
                                       replicas=self.replicas(run.name)[1:]))
        return rows

    def replicas(self, run: str) -> list[str]:
        """The run and, with --seeds N for a run a scoreboard cites, its N - 1 copies `seed-S/RUN`
        with train.seed S = its own seed + 1, + 2, ... (the first copy is the run itself)."""
        if self.seeds == 1 or run not in scoreboard_runs(self.study) or run in self.skipped:
            return [run]
        seed = self.run_config(self.study.runs[run], self.dataset).train.seed  # the dataset does not change the seed
        return [run] + [f"seed-{seed + k}/{run}" for k in range(1, self.seeds)]

    # --- the steps evidence cites (each done once) --------------------------------------
    def label(self, run: str) -> str:
        """The run's label; a copy with another seed (`seed-S/RUN`) says which."""
        base = base_run(run)
        return self.study.runs[base].label + ("" if base == run else f" (train.seed {replica_seed(run)})")

    def rel(self, run: str, path) -> str:
        return f"{run}/{path}"

    def rel_to(self, path: Path) -> str:
        return str(path.relative_to(self.out))

    def metrics(self, run: str) -> list[dict]:
        return RunFiles(self.run_dir(run)).read_metrics()

    def terms(self, run: str) -> list[MetricTerm]:
        """What the run's metrics mean, as its model declares them (built untrained from its config.json)."""
        if run not in self._terms:
            from aelab.models import build_model

            self._terms[run] = list(build_model(load_config_file(RunFiles(self.run_dir(run)).config).model).metric_terms())
        return self._terms[run]

    def wanted(self, kind: str, runs: tuple[str, ...] | None = None, run: str | None = None) -> set[str]:
        """Analyses the study's evidence asks of one run (`analysis`) or one group (`compare`)."""
        items = [e for q in self.study.questions for e in q.evidence if kind_of(e).name == kind]
        return {e[kind] for e in items if (tuple(item_runs(e)) == runs if runs else base_run(run) in item_runs(e))}

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def analysis(self, run: str) -> AnalysisDocument | None:
        if run not in self._analyses:
            self._analyses[run] = None if run in self.skipped else self.timed(f"analyze {run}", lambda: self._analyze(run))
        return self._analyses[run]

    def _analyze(self, run: str) -> AnalysisDocument:
        from aelab.analysis import ANALYSES, analyze

        wanted = self.wanted("analysis", run=run)
        self.log(f"== analyze {run}: {', '.join(sorted(wanted))} ==")
        analyzed = analyze(self.run_dir(run), skip=[n for n in ANALYSES.names() if n not in wanted], params=self.params,
                         device=self.device, log=self.log)
        return AnalysisDocument.read(analyzed.summary)

    def comparison(self, runs: list[str]) -> tuple[Path, ComparisonDocument]:
        key = tuple(runs)
        if key not in self._comparisons:
            self._comparisons[key] = self.timed(f"compare {' '.join(runs)}", lambda: self._compare(key))
        return self._comparisons[key]

    def _compare(self, runs: tuple[str, ...]) -> tuple[Path, ComparisonDocument]:
        from aelab.analysis import ANALYSES
        from aelab.analysis.compare import compare

        wanted = self.wanted("compare", runs=runs)
        folder = self.out / ("compare-" + "-".join(runs))
        self.log(f"== compare {' vs '.join(runs)}: {', '.join(sorted(wanted))} ==")
        compare([self.run_dir(r) for r in runs], folder, labels=[self.label(r) for r in runs],
                skip=[n for n in ANALYSES.names() if n not in wanted], params=self.params, device=self.device, log=self.log)
        return folder, ComparisonDocument.read(folder / COMPARISON_JSON)

    def classify(self, run: str, mode: str, replace_last: bool) -> tuple[ClassifierDocument, Path]:
        from aelab.classify import ClassifyConfig, classify

        cfg = ClassifyConfig(mode=mode, replace_last=replace_last, device=self.device, **(self.study.quick.classify if self.quick else {}))
        files = RunFiles(self.run_dir(run))
        folder = files.classifier(cfg.folder_name).root
        summary_path, weights = files.classifier(cfg.folder_name).summary, files.weights
        if summary_path.exists() and summary_path.stat().st_mtime >= weights.stat().st_mtime:
            try:
                summary = ClassifierDocument.read(summary_path)
            except DocumentError as err:  # an older or damaged summary: the classifier is trained again
                self.log(f"{err} It is trained again.")
            else:
                if all(getattr(summary, k) == v for k, v in dataclasses.asdict(cfg).items()):
                    return summary, folder
        self.log(f"== classify {run}: {cfg.folder_name} ==")
        summary = self.timed(f"classify {run} {cfg.folder_name}", lambda: classify(self.run_dir(run), cfg, progress=self.progress, log=self.log))
        return summary, folder

    def evaluate(self, run: str, params: dict) -> EvaluationDocument:
        quick = self.study.quick.evaluate if self.quick else {}
        params = {**params, **{k: v for k, v in quick.items() if k in params}}  # --quick shrinks what is asked, adds nothing
        self.log(f"== evaluate {run} {params or ''} ==")
        return self.timed(f"evaluate {run}", lambda: pipeline.evaluate(self.run_dir(run), device=self.device, **params))

    # --- the whole study ---------------------------------------------------------------------
    def run(self) -> Path:
        start = time.perf_counter()
        study = self.study
        self.log(f"study {study.name}: {study.title}{' (quick)' if self.quick else ''} -> {self.out}")
        self.out.mkdir(parents=True, exist_ok=True)
        runs = self.train_all()
        questions = [StudyQuestion(title=q.title, ask=q.ask, look=q.look, blocks=[gather(item, self) for item in q.evidence])
                     for q in study.questions]
        for row in runs:
            row.report = self.rel(row.name, REPORT_HTML) if RunFiles(self.run_dir(row.name)).report.exists() else None
            row.history = self.metrics(row.name) if row.status != "skipped" else []
        StudyDocument(
            name=study.name, title=study.title, seed=study.seed, summary=study.summary, command=self.command(), quick=self.quick,
            created=time.strftime("%Y-%m-%d %H:%M:%S"), dataset=self.dataset, dataset_location=self.location, notes=self.notes,
            runs=runs, questions=questions, seconds={k: round(v, 2) for k, v in self.seconds.items()},
            total_seconds=round(time.perf_counter() - start, 1), device=str(resolve_device(self.device)), seeds=self.seeds).write(self.out / STUDY_JSON)
        from aelab.report.study import write_study_report

        report = write_study_report(self.out)
        failed = [b.title for q in questions for b in q.blocks if b.error or b.status == "failed"]
        if failed:
            self.log(f"aelab: {len(failed)} piece(s) of evidence failed: {', '.join(failed)} (see the report)")
        for note in self.notes:
            loud(self.log, f"NOTE: {note}")
        self.log(f"study {study.name} done in {time.perf_counter() - start:.1f} s\nreport: {report}")
        return report

    def command(self) -> str:
        parts = ["aelab", "study", self.study.name] + (["--quick"] if self.quick else []) + (["--seeds", str(self.seeds)] if self.seeds > 1 else [])
        parts += ["--dataset", self.requested] if self.requested else []
        for run, values in self.overrides.items():
            parts += [x for key, value in values.items() for x in ("--set", f"{run + ':' if run else ''}{key}={value!r}")]
        return shlex.join(parts)


def scoreboard_runs(study: Study) -> list[str]:
    """The runs a `scoreboard` evidence cites: the ones --seeds repeats."""
    return [r for q in study.questions for e in q.evidence if kind_of(e).name == "scoreboard" for r in item_runs(e)]


def check_seeds(study: Study, seeds: int) -> int:
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"--seeds must be a whole number of 1 or more, got {seeds!r}.")
    if seeds > 1 and not scoreboard_runs(study):
        raise ConfigError(f"--seeds {seeds}: study {study.name!r} has no table that gives each number's mean and spread over seeds "
                          "(a `scoreboard` evidence, as in `aelab study families`). Run it without --seeds, or with "
                          "--set train.seed=S to see one other seed.")
    return seeds


def base_run(name: str) -> str:
    """'ae' for 'ae' and for its copy 'seed-2/ae'."""
    return name.rpartition("/")[2]


def replica_seed(name: str) -> int:
    """2 for 'seed-2/ae'."""
    return int(name.partition("/")[0].removeprefix("seed-"))


def parse_study_overrides(items: Sequence[str], runs: list[str]) -> dict[str | None, dict[str, Any]]:
    """`KEY=VALUE` (every run) and `RUN:KEY=VALUE` (one run) -> {run or None: {key: value}}."""
    out: dict[str | None, dict[str, Any]] = {}
    for item in items:
        run, sep, assignment = item.partition(":") if ":" in item.split("=", 1)[0] else (None, "", item)
        if sep and run not in runs:
            raise ConfigError(f"--set {item!r}: this study has no run {run!r}. Its runs: {', '.join(runs)}.")
        key, value = parse_assignment(assignment)
        out.setdefault(run, {})[key] = value
    return out


def variant_suffix(overrides: dict[str | None, dict[str, Any]]) -> str:
    """'-train.seed=1' for `--set train.seed=1`, '-vae.train.epochs=50' for `--set vae:train.epochs=50`: a study
    run with other settings gets its own default folder instead of meeting the first one's runs."""
    parts = [f"{run + '.' if run else ''}{key}={value}" for run, values in overrides.items() for key, value in values.items()]
    text = "-".join(parts)
    return "-" + "".join(c if c.isalnum() or c in "._=-" else "_" for c in text) if parts else ""


def first_sentence(err: Exception) -> str:
    """The reason at the head of a data error ('dataset 'mnist' is not here ... .'), for a one-line note."""
    text = " ".join(str(err).split())
    return text.split(". ")[0].rstrip(".") + "."


def check_same(saved: RunConfig, wanted: RunConfig, folder: Path) -> None:
    """A run folder is reused only for the same config (epochs may differ: it is then extended)."""
    from aelab.config import flatten

    a, b = flatten(saved.to_dict()), flatten(wanted.to_dict())
    differ = sorted(k for k in a.keys() | b.keys() if k not in IGNORED_WHEN_REUSING and a.get(k) != b.get(k))
    if differ:
        k = differ[0]
        raise ConfigError(f"{folder} holds a run with another config ({k} = {a.get(k)!r}, the study wants {b.get(k)!r}): "
                          "delete that folder, or give the study another --out.")


def merge(base: dict[str, dict], extra: dict[str, dict]) -> dict[str, dict]:
    out = {k: dict(v) for k, v in base.items()}
    for k, v in extra.items():
        out.setdefault(k, {}).update(v)
    return out


