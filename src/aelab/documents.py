"""The JSON documents stages hand each other, as typed dataclasses (torch-free: the report reads them).

    analysis.json     AnalysisDocument     `aelab analyze`: the run, and each analysis' numbers and figures
    comparison.json   ComparisonDocument   `aelab compare`: the same, for several runs side by side
    study.json        StudyDocument        `aelab study`: every question with its evidence blocks
    evaluation.json   EvaluationDocument   `aelab evaluate`: test metrics

Each document is written with `kind` and `schema_version` beside its fields, and read back with
`from_json`, which refuses (with a `DocumentError` that names the file and the fix) a document of
another kind, one from a newer aelab, and one that lacks a field. Compatibility rule: a document
written before `schema_version` existed (the same fields, unversioned; evaluation.json had no
`kind` either) is read when every field this version needs is there, and refused otherwise.
A reader adds a field with a default to read older files; a change that older readers would
misread raises SCHEMA_VERSION.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from aelab.errors import AelabError
from aelab.io import write_json
from aelab.run_files import ANALYSIS_JSON, CLASSIFIER_SUMMARY, COMPARISON_JSON, EVALUATION_JSON, STUDY_JSON
from aelab.terms import MetricTerm


class DocumentError(AelabError):
    """A document that this aelab cannot read: another kind, a newer schema, a missing field."""


class Document:
    KIND: ClassVar[str]
    FILE: ClassVar[str]
    FIX: ClassVar[str]  # how to write it anew, with {folder}: the folder that holds it
    WRITER: ClassVar[str]  # the command that writes it
    SCHEMA_VERSION: ClassVar[int] = 1

    def to_json(self) -> dict:
        return {"kind": self.KIND, "schema_version": self.SCHEMA_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, data: Any, source: str | Path | None = None):
        where = str(source or cls.FILE)
        fix = cls.FIX.format(folder=Path(source).parent if source else "FOLDER")
        if not isinstance(data, dict):
            raise DocumentError(f"{where} holds a JSON {type(data).__name__}, not a {cls.KIND} document: {fix}.")
        version = data.get("schema_version")
        kind = data.get("kind", cls.KIND if version is None else None)  # unversioned evaluation.json had no kind
        if kind != cls.KIND:
            found = f"a document of kind {kind!r}" if kind else "a document without a kind"
            raise DocumentError(f"{where} is {found}, not {cls.KIND!r}: pass the {cls.FILE} that {cls.WRITER} wrote, or {fix}.")
        if version is not None and (type(version) is not int or version < 1):
            raise DocumentError(f"{where} has an unknown schema_version {version!r} (this aelab writes {cls.SCHEMA_VERSION}): "
                                f"it was edited or damaged; {fix}.")
        if version is not None and version > cls.SCHEMA_VERSION:
            raise DocumentError(f"{where} was written by a newer aelab ({cls.KIND} schema_version {version}; this aelab reads "
                                f"up to {cls.SCHEMA_VERSION}): upgrade aelab (pip install -U aelab), or {fix} with this one.")
        origin = "an aelab from before documents had a schema_version" if version is None else "another aelab, or edited"
        return _build(cls, data, "", Reading(where, fix, origin))

    def write(self, path: str | Path) -> Path:
        """Write the document atomically (a reader never sees half of it)."""
        write_json(path, self.to_json())
        return Path(path)

    @classmethod
    def read(cls, path: str | Path):
        path = Path(path)
        fix = cls.FIX.format(folder=path.parent)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DocumentError(f"{path} is missing: {fix}.") from None
        except (OSError, UnicodeDecodeError) as err:
            raise DocumentError(f"{path} cannot be read ({err}): {fix}.") from None
        try:
            data = json.loads(text)
        except ValueError as err:
            raise DocumentError(f"{path} is not valid JSON ({err}): it was cut short or edited; {fix}.") from None
        return cls.from_json(data, path)


@dataclass(frozen=True)
class Reading:
    """Where a document is being read from, for the messages of what it lacks."""

    source: str
    fix: str
    origin: str


def _build(cls, data: Any, where: str, reading: Reading):
    """An instance of the dataclass `cls` from a JSON object; nested dataclasses built alike."""
    if not isinstance(data, dict):
        raise _wrong(where.rstrip("."), data, "a JSON object", reading)
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            values[f.name] = _convert(hints[f.name], data[f.name], f"{where}{f.name}", reading)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise DocumentError(f"{reading.source} lacks the field {where}{f.name} that {_kind(cls)} needs "
                                f"(it was written by {reading.origin}): {reading.fix}.")
    return cls(**values)


PRIMITIVES = {str: ((str,), "a string"), int: ((int,), "an integer"), float: ((int, float), "a number"), bool: ((bool,), "true or false")}


@functools.cache
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(hint: Any, value: Any, where: str, reading: Reading) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, where, reading)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{where}.", reading)
    if origin is list or hint is list:
        if not isinstance(value, list):
            raise _wrong(where, value, "a list", reading)
        return [_convert(args[0], v, f"{where}[{i}]", reading) for i, v in enumerate(value)] if args else value
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _wrong(where, value, "a JSON object", reading)
        return value
    expected = PRIMITIVES.get(hint)
    if expected and (not isinstance(value, expected[0]) or (hint is not bool and isinstance(value, bool))):
        raise _wrong(where, value, expected[1], reading)
    return value


def _wrong(where: str, value: Any, expected: str, reading: Reading) -> DocumentError:
    return DocumentError(f"{reading.source}: {where or 'the document'} holds {json.dumps(value)[:60]}, expected {expected} "
                         f"(it was written by {reading.origin}): {reading.fix}.")


def _kind(cls) -> str:
    return f"the {cls.KIND} document" if hasattr(cls, "KIND") else f"each {cls.__name__} entry"


# --- the pieces documents share ---------------------------------------------------------------
@dataclass
class Table:
    """A table for the report: `rows` are lists aligned with `columns`."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(kw_only=True)
class RunSummary:
    """What a report's header shows about one run; `terms` say how its metrics are shown."""

    run: str  # the run folder
    model: str
    dataset: str
    image_shape: list[int]
    code_shape: list[int]
    parameters: int
    train_images: int
    test_images: int
    classes: list[str]
    config: dict[str, Any]
    device: str
    terms: list[MetricTerm] = field(default_factory=list)  # absent before schema_version 1


@dataclass(kw_only=True)
class AnalysisEntry:
    """One analysis' outcome on one run."""

    name: str
    title: str
    note: str
    seconds: float | None
    error: str | None
    figures: list[str]  # paths relative to the document's folder
    numbers: dict[str, Any]
    tables: list[Table]


@dataclass(kw_only=True)
class Skipped:
    """An analysis that does not fit the run, and why."""

    name: str
    reason: str


# --- analysis.json and comparison.json ----------------------------------------------------------
@dataclass(kw_only=True)
class AnalysisDocument(Document, RunSummary):
    KIND, FILE, WRITER, FIX = "analysis", ANALYSIS_JSON, "`aelab analyze`", "re-run `aelab analyze {folder}`"

    created: str
    shared_seconds: dict[str, float]
    total_seconds: float
    analyses: list[AnalysisEntry]
    skipped: list[Skipped] = field(default_factory=list)

    def entry(self, name: str) -> AnalysisEntry | None:
        return next((e for e in self.analyses if e.name == name), None)


@dataclass(kw_only=True)
class ComparedRun(RunSummary):
    label: str


@dataclass(kw_only=True)
class ComparisonEntry:
    """One analysis over every compared run: its shared figures and each run's outcome (None: it does not apply)."""

    name: str
    title: str
    note: str
    seconds: float | None
    combined_figures: list[str]
    runs: list[AnalysisEntry | None]


@dataclass(kw_only=True)
class ComparisonDocument(Document):
    KIND, FILE, WRITER, FIX = "comparison", COMPARISON_JSON, "`aelab compare`", "re-run `aelab compare RUN RUN ... --out {folder}`"

    created: str
    device: str
    runs: list[ComparedRun]
    shared_seconds: dict[str, float]
    total_seconds: float
    analyses: list[ComparisonEntry]

    def entry(self, name: str) -> ComparisonEntry | None:
        return next((e for e in self.analyses if e.name == name), None)

    def failed(self) -> list[str]:
        """The analyses that failed on any run."""
        return sorted({r.name for e in self.analyses for r in e.runs if r and r.error})


# --- study.json -----------------------------------------------------------------------------------
@dataclass(kw_only=True)
class Panel:
    """One run's part of an evidence block: its figures, or why there are none."""

    label: str
    figures: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None


@dataclass(kw_only=True)
class NumbersByRun:
    labels: list[str]
    rows: list[dict[str, Any]]  # one mapping per run, aligned with labels


@dataclass(kw_only=True)
class EvidenceBlock:
    """One piece of evidence under a study question, as the report shows it."""

    title: str
    kind: str = ""
    note: str = ""
    status: str | None = None  # 'passed' or 'failed', for checks
    skipped: str | None = None  # why the whole block was not gathered
    error: str | None = None
    captions: str | None = None  # 'epoch': caption each figure with the epoch in its name
    panels: list[Panel] = field(default_factory=list)
    numbers: NumbersByRun | None = None
    tables: list[Table] = field(default_factory=list)
    terms: list[MetricTerm] = field(default_factory=list)  # how the numbers are labelled and signed


@dataclass(kw_only=True)
class StudyQuestion:
    title: str
    ask: str = ""
    look: str = ""
    blocks: list[EvidenceBlock]


@dataclass(kw_only=True)
class StudyRunRecord:
    """One of a study's runs, trained (or reused, resumed) or skipped."""

    name: str
    label: str
    dataset: str
    status: str  # trained, resumed, reused, skipped
    reason: str | None = None  # why it was skipped
    model: str | None = None
    config: dict[str, Any] | None = None
    report: str | None = None  # its own report, relative to the study folder
    history: list[dict[str, Any]] = field(default_factory=list)  # its metrics.jsonl
    terms: list[MetricTerm] = field(default_factory=list)  # what the history's columns mean
    replicas: list[str] = field(default_factory=list)  # with --seeds: its copies with other seeds (folders 'seed-S/NAME')


@dataclass(kw_only=True)
class StudyDocument(Document):
    KIND, FILE, WRITER, FIX = "study", STUDY_JSON, "`aelab study`", "re-run `aelab study NAME` with the same options (finished runs in {folder} are reused)"

    name: str
    title: str
    seed: str
    summary: str
    command: str
    quick: bool
    created: str
    dataset: str
    dataset_location: str
    notes: list[str]
    runs: list[StudyRunRecord]
    questions: list[StudyQuestion]
    seconds: dict[str, float]
    total_seconds: float
    device: str
    seeds: int = 1  # --seeds: how many times the runs a scoreboard cites were trained


# --- evaluation.json ----------------------------------------------------------------------------
@dataclass(kw_only=True)
class EvaluationDocument(Document):
    """`aelab evaluate`'s metrics; the likelihood fields only where --nll-samples was given."""

    KIND, FILE, WRITER, FIX = "evaluation", EVALUATION_JSON, "`aelab evaluate`", "re-run `aelab evaluate {folder}`"

    split: str
    images: int
    mse_per_pixel: float
    mse_per_image: float
    bce_per_pixel: float
    bce_per_image: float
    psnr_db: float
    log_px_iwae: float | None = None
    nll_iwae: float | None = None
    elbo: float | None = None
    nll_samples: int | None = None
    nll_images: int | None = None
    nll_binarize: str | None = None
    generation: dict[str, Any] | None = None  # aelab.generation's scores, where asked
    terms: list[MetricTerm] = field(default_factory=list)  # how each number is labelled

    def numbers(self) -> dict[str, Any]:
        """The metrics that were measured (no generation scores, no terms), as a flat mapping."""
        skip = {"generation", "terms"}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skip and getattr(self, f.name) is not None}


# --- a classifier's summary.json ------------------------------------------------------------------
@dataclass(kw_only=True)
class ClassifierDocument(Document):
    """`aelab classify`'s summary: its settings (ClassifyConfig's fields), the classifier's size and
    the last epoch's numbers (never the best on test data)."""

    KIND, FILE, WRITER, FIX = "classifier", CLASSIFIER_SUMMARY, "`aelab classify`", "re-run `aelab classify` on the run above {folder}"

    run: str
    model: str
    dataset: str
    mode: str
    replace_last: bool
    epochs: int
    batch_size: int
    lr: float
    seed: int
    device: str
    features: int  # what the head reads
    classes: int
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    val_loss: float | None = None  # absent where the validation split is the test split
    val_accuracy: float | None = None
