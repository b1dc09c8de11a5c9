"""A study recipe: one TOML file, overrides only.

The shipped studies are package data (aelab/study/recipes/NAME.toml, read through
importlib.resources, so a wheel install finds them); a user's own are found as a path
(`aelab study ./my.toml`) or by name in ./studies/ of the current folder, which is
searched first and so may shadow a shipped study of the same name.

    title, seed, summary       what the study is and which seed file it reproduces
    dataset, datasets          the default dataset and the ones `--dataset` may swap in
    fallback                   used (loudly) when the default dataset cannot be loaded
    [runs.NAME]                label, set = {dotted config overrides}, dataset (fixed), optional
    [params.ANALYSIS]          analysis parameters for every analyze / compare
    [[questions]]              title, ask (the seed's words), look (what to look for), evidence
    [quick]                    set / params / classify / evaluate overrides for `--quick`

Every table is checked on load: an unknown key is a `ConfigError` that lists the
valid ones, and run configs, analysis names and parameters are validated before
anything trains.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from aelab.config import flatten, make_config, read_text_file
from aelab.errors import ConfigError
from aelab.registry import unknown_name_message

STUDY_KEYS = {"title", "seed", "summary", "dataset", "datasets", "fallback", "runs", "params", "questions", "quick"}
RUN_KEYS = {"label", "set", "dataset", "optional"}
QUESTION_KEYS = {"title", "ask", "look", "evidence"}
QUICK_KEYS = {"set", "params", "classify", "evaluate"}
STUDY_TYPES = {"title": str, "seed": str, "summary": str, "dataset": str, "datasets": list, "fallback": str,
               "runs": dict, "params": dict, "questions": list, "quick": dict}
QUICK_TYPES = {"set": dict, "params": dict, "classify": dict, "evaluate": dict}
# A run's name becomes its folder inside the study folder: one plain path component.
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass
class StudyRun:
    name: str
    label: str
    overrides: dict[str, Any]  # dotted config keys, without data.name
    dataset: str | None = None  # fixed dataset (e.g. cifar10); None: the study's dataset
    optional: bool = False  # skipped, with a note, when its dataset cannot be loaded


@dataclass
class Question:
    title: str
    ask: str
    look: str
    evidence: list[dict[str, Any]]


@dataclass
class Quick:
    overrides: dict[str, Any] = field(default_factory=dict)
    params: dict[str, dict] = field(default_factory=dict)
    classify: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, Any] = field(default_factory=dict)


@dataclass
class Study:
    name: str
    title: str
    seed: str
    summary: str
    dataset: str
    datasets: list[str]
    fallback: str | None
    runs: dict[str, StudyRun]
    params: dict[str, dict]
    questions: list[Question]
    quick: Quick
    path: Traversable


USER_STUDIES = Path("studies")  # relative to the current folder


def study_dirs() -> list[Traversable]:
    """Where named studies are looked for, in order: ./studies, then the shipped ones."""
    return [USER_STUDIES, files("aelab.study") / "recipes"]


def list_studies() -> dict[str, Traversable]:
    found: dict[str, Traversable] = {}
    for folder in study_dirs():
        if folder.is_dir():
            for path in sorted(folder.iterdir(), key=lambda p: p.name):
                if path.name.endswith(".toml"):
                    found.setdefault(path.name.removesuffix(".toml"), path)
    return found


def find_study(name: str) -> Traversable:
    if name.endswith(".toml"):
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"study recipe {path} does not exist.")
        return path
    studies = list_studies()
    if name not in studies:
        raise ConfigError(unknown_name_message("study", name, sorted(studies)) + " (`aelab study --list` shows them)")
    return studies[name]


def load_study(name: str) -> Study:
    """The study `name` (or a path to a recipe), validated."""
    path = find_study(name)
    try:
        data = tomllib.loads(read_text_file(path, "study recipe"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"study recipe {path} is not valid TOML: {err}.") from None
    where = f"study recipe {path}"
    check_keys(data, STUDY_KEYS, where, required={"title", "seed", "dataset", "runs", "questions"})
    check_types(data, STUDY_TYPES, where)
    runs = {n: parse_run(n, r, f"{where} [runs.{n}]") for n, r in data["runs"].items()}
    quick = data.get("quick", {})
    check_keys(quick, QUICK_KEYS, f"{where} [quick]")
    check_types(quick, QUICK_TYPES, f"{where} [quick]")
    study = Study(
        name=path.name.removesuffix(".toml"), title=data["title"], seed=data["seed"], summary=data.get("summary", ""),
        dataset=data["dataset"], datasets=list(data.get("datasets", [])), fallback=data.get("fallback"),
        runs=runs, params=data.get("params", {}),
        questions=[parse_question(q, f"{where} question {i}") for i, q in enumerate(data["questions"], 1)],
        quick=Quick(flatten(quick.get("set", {})), quick.get("params", {}), quick.get("classify", {}), quick.get("evaluate", {})),
        path=path,
    )
    validate(study, where)
    return study


def parse_run(name: str, data: dict, where: str) -> StudyRun:
    if not RUN_NAME.fullmatch(name) or ".." in name:
        raise ConfigError(
            f"{where}: the run name {name!r} is used as a folder name, so it may hold only letters, digits, "
            "'.', '_' and '-' (at most 64, starting with a letter or digit): rename the table, e.g. [runs.vae-2]."
        )
    check_keys(data, RUN_KEYS, where)
    check_types(data, {"label": str, "set": dict, "dataset": str, "optional": bool}, where)
    overrides = flatten(data.get("set", {}))
    if "data.name" in overrides:
        raise ConfigError(f"{where}: give the dataset as `dataset = ...` (or leave it to the study), not in `set`.")
    return StudyRun(name, data.get("label", name), overrides, data.get("dataset"), bool(data.get("optional", False)))


def parse_question(data: dict, where: str) -> Question:
    check_keys(data, QUESTION_KEYS, where, required={"title", "evidence"})
    check_types(data, {"title": str, "ask": str, "look": str, "evidence": list}, where)
    return Question(data["title"], data.get("ask", ""), data.get("look", ""), list(data["evidence"]))


def validate(study: Study, where: str) -> None:
    """Everything that can be checked before training: configs, analyses, evidence."""
    from aelab.analysis import ANALYSES
    from aelab.study.evidence import check_item

    for run in study.runs.values():
        try:
            make_config({**run.overrides, **study.quick.overrides})
        except ConfigError as err:
            raise ConfigError(f"{where} [runs.{run.name}]: {err}") from None
    for params in (study.params, study.quick.params):
        for name, values in params.items():
            check_types({name: values}, {name: dict}, f"{where} [params]")
            ANALYSES.get(name).check_params(values)
    for i, question in enumerate(study.questions, 1):
        for item in question.evidence:
            check_item(item, study, f"{where} question {i}")


def check_keys(data: dict, valid: set[str], where: str, required: set[str] = frozenset()) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table, got {data!r}.")
    unknown = sorted(set(data) - valid)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}. Valid keys: {', '.join(sorted(valid))}.")
    missing = sorted(required - set(data))
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r} (required: {', '.join(sorted(required))}).")


def check_types(data: dict, types: dict[str, type], where: str) -> None:
    for key, kind in types.items():
        if key in data and not isinstance(data[key], kind):
            expected = {str: "a string", list: "a list", dict: "a table", bool: "true or false"}[kind]
            raise ConfigError(f"{where}: {key!r} must be {expected}, got {data[key]!r}.")
