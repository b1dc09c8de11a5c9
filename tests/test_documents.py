"""The documents stages hand each other: typed round trips, clear refusals (another kind, a newer
schema, a missing field), documents written before schema_version existed, and reports rendered
from them without torch."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from aelab.documents import (
    AnalysisDocument,
    AnalysisEntry,
    ComparedRun,
    ComparisonDocument,
    ComparisonEntry,
    DocumentError,
    EvaluationDocument,
    EvidenceBlock,
    NumbersByRun,
    Panel,
    Skipped,
    StudyDocument,
    StudyQuestion,
    StudyRunRecord,
    Table,
)
from aelab.errors import AelabError
from aelab.terms import LOSS, MetricTerm

VAE_TERMS = [MetricTerm(LOSS, "negative ELBO", "nats per image"), MetricTerm("kl", "KL", "nats per image"),
             MetricTerm("nelbo", "ELBO", "nats per image", sign=-1)]
RUN = dict(run="runs/vae", model="vae", dataset="mnist", image_shape=[1, 28, 28], code_shape=[2], parameters=1234,
           train_images=60, test_images=10, classes=["a", "b"], config={"model": {"name": "vae"}}, device="cpu")


def entry(name="demo", **changes) -> AnalysisEntry:
    fields = dict(name=name, title="Demo", note="look", seconds=0.5, error=None, figures=["analysis/demo-fig.png"],
                  numbers={"accuracy": 0.5}, tables=[Table("T", ["x", "y"], [["a", 1]])])
    return AnalysisEntry(**{**fields, **changes})


def analysis(**changes) -> AnalysisDocument:
    return AnalysisDocument(**{**RUN, "terms": VAE_TERMS, "created": "today", "shared_seconds": {"encode test": 0.25},
                               "total_seconds": 1.0, "analyses": [entry()], **changes})


def evaluation(**changes) -> EvaluationDocument:
    return EvaluationDocument(**{"split": "test", "images": 10, "mse_per_pixel": 0.01, "mse_per_image": 7.84, "bce_per_pixel": 0.1,
                                 "bce_per_image": 78.4, "psnr_db": 20.0, **changes})


def study(**changes) -> StudyDocument:
    block = EvidenceBlock(title="Test-set evaluation", kind="evaluate", panels=[Panel(label="VAE", skipped="no data")],
                          numbers=NumbersByRun(labels=["VAE"], rows=[{"val_nelbo": 95.5, "kl": 3.0}]), terms=VAE_TERMS)
    run = StudyRunRecord(name="vae", label="VAE", dataset="mnist", status="trained", model="vae", config={"train": {"epochs": 1}, "data": {}},
                   history=[{"epoch": 1, "test_loss": 95.5, "seconds": 2.0}], terms=VAE_TERMS)
    fields = dict(name="tiny", title="Tiny study", seed="none", summary="", command="aelab study tiny", quick=False, created="today",
                  dataset="mnist", dataset_location="/data", notes=[], runs=[run, StudyRunRecord(name="x", label="X", dataset="cifar10",
                  status="skipped", reason="no cifar10")], questions=[StudyQuestion(title="Q", blocks=[block])], seconds={"train vae": 2.0},
                  total_seconds=3.0, device="cpu")
    return StudyDocument(**{**fields, **changes})


def comparison() -> ComparisonDocument:
    return ComparisonDocument(created="today", device="cpu", runs=[ComparedRun(label="a", **RUN), ComparedRun(label="b", **RUN)],
                              shared_seconds={}, total_seconds=1.0,
                              analyses=[ComparisonEntry(name="demo", title="Demo", note="n", seconds=1.0, combined_figures=[],
                                                        runs=[entry(), None])])


DOCUMENTS = [analysis(skipped=[Skipped(name="prior_samples", reason="the model has no prior")]), comparison(), study(),
             evaluation(log_px_iwae=-90.0, elbo=-92.0, nll_samples=5, terms=VAE_TERMS)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.KIND)
def test_every_document_round_trips_through_its_file(document, tmp_path):
    path = document.write(tmp_path / document.FILE)
    data = json.loads(path.read_text())
    assert (data["kind"], data["schema_version"]) == (document.KIND, 1)
    assert type(document).read(path) == document
    assert type(document).from_json(document.to_json()) == document


def test_nested_entries_come_back_typed():
    back = ComparisonDocument.from_json(comparison().to_json())
    assert isinstance(back.runs[0], ComparedRun) and back.entry("demo").runs[1] is None
    assert isinstance(back.entry("demo").runs[0].tables[0], Table) and back.failed() == []
    assert StudyDocument.from_json(study().to_json()).runs[0].terms[2].shown(95.5) == -95.5


def written(tmp_path: Path, document, **edits) -> Path:
    data = {**document.to_json(), **edits}
    path = tmp_path / "run" / document.FILE
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_a_newer_schema_is_refused_with_the_upgrade(tmp_path):
    path = written(tmp_path, analysis(), schema_version=2)
    with pytest.raises(DocumentError) as err:
        AnalysisDocument.read(path)
    message = str(err.value)
    assert str(path) in message and "written by a newer aelab" in message and "schema_version 2" in message
    assert "pip install -U aelab" in message and f"aelab analyze {path.parent}" in message


def test_another_kind_is_refused_naming_both(tmp_path):
    path = written(tmp_path, comparison())
    with pytest.raises(DocumentError, match=r"kind 'comparison', not 'analysis': pass the analysis.json that `aelab analyze` wrote"):
        AnalysisDocument.read(path)


@pytest.mark.parametrize(("edit", "found"), [
    (lambda d: d["analyses"][0].pop("numbers"), "lacks the field analyses[0].numbers"),
    (lambda d: d.pop("created"), "lacks the field created"),
    (lambda d: d["analyses"][0].update(figures="a.png"), "analyses[0].figures holds \"a.png\", expected a list"),
    (lambda d: d.update(parameters="many"), "parameters holds \"many\", expected an integer"),
    (lambda d: d.update(schema_version="1"), "unknown schema_version '1'"),
])
def test_a_missing_or_mistyped_field_is_refused_with_the_fix(tmp_path, edit, found):
    data = analysis().to_json()
    edit(data)
    path = tmp_path / "analysis.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DocumentError) as err:
        AnalysisDocument.read(path)
    assert found in str(err.value) and str(path) in str(err.value) and f"re-run `aelab analyze {tmp_path}`" in str(err.value)


def test_a_damaged_or_missing_file_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "study.json"
    with pytest.raises(DocumentError, match="is missing: re-run `aelab study NAME`"):
        StudyDocument.read(path)
    path.write_text('{"kind": "study", ')
    with pytest.raises(DocumentError, match="is not valid JSON"):
        StudyDocument.read(path)


def test_a_document_error_is_an_aelab_error_so_the_cli_exits_2(tmp_path, monkeypatch, capsys):
    import aelab.analysis
    from aelab.cli import main

    path = written(tmp_path, analysis(), schema_version=99)
    monkeypatch.setattr(aelab.analysis, "analyze", lambda *a, **k: AnalysisDocument.read(path))
    assert issubclass(DocumentError, AelabError)
    assert main(["analyze", str(path.parent)]) == 2 and "written by a newer aelab" in " ".join(capsys.readouterr().err.split())


# --- documents written before schema_version existed ----------------------------------------------
def unversioned(document) -> dict:
    """The document as aelab wrote it before schema_version (and the declared terms) existed."""
    data = document.to_json()
    del data["schema_version"]
    data.pop("terms", None)
    return data


def test_an_unversioned_document_with_every_field_is_read(tmp_path):
    old = unversioned(analysis())
    back = AnalysisDocument.from_json(old, tmp_path / "analysis.json")
    assert back.terms == [] and back.skipped == [] and back.analyses == analysis().analyses
    legacy_evaluation = {k: v for k, v in unversioned(evaluation()).items() if k != "kind" and v is not None}  # flat metrics, no kind
    assert EvaluationDocument.from_json(legacy_evaluation).mse_per_pixel == 0.01


def test_an_unversioned_document_that_lacks_a_field_is_refused_as_older(tmp_path):
    old = unversioned(study())
    del old["device"]
    with pytest.raises(DocumentError, match=r"lacks the field device .*written by an aelab from before documents had a schema_version"):
        StudyDocument.from_json(old, tmp_path / "study.json")


# --- reports from the documents ------------------------------------------------------------------------
def png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), (40, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_run_report_renders_from_the_document_and_shows_the_declared_loss(tmp_path):
    from aelab.report import write_report

    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "demo-fig.png").write_bytes(png())
    analysis().write(tmp_path / "analysis.json")
    html = write_report(tmp_path).read_text()
    assert "loss <b>negative ELBO (nats per image)</b>" in html and "Demo" in html and "every number is also in analysis.json" in html
    (tmp_path / "analysis.json").write_text(json.dumps(unversioned(analysis())))
    assert "loss <b>" not in write_report(tmp_path).read_text()  # an older document declares no terms: nothing guessed


def test_the_study_report_labels_and_signs_metrics_by_their_declared_terms(tmp_path):
    from aelab.report.study import write_study_report

    study().write(tmp_path / "study.json")
    html = write_study_report(tmp_path).read_text()
    assert "validation ELBO (nats per image)" in html and "-95.5" in html  # val_nelbo, negated as its term says
    assert "KL (nats per image)" in html
    assert "test 95.5 (negative ELBO, nats per image)" in html  # the runs table's last held-out loss
    older = dataclasses.replace(study(), runs=[dataclasses.replace(r, terms=[]) for r in study().runs])
    older.write(tmp_path / "study.json")
    assert "<td>test 95.5</td>" in write_study_report(tmp_path).read_text()


def test_a_report_of_a_newer_document_fails_clearly(tmp_path):
    from aelab.report import write_comparison_report

    written(tmp_path, comparison(), schema_version=7)
    with pytest.raises(DocumentError, match="newer aelab"):
        write_comparison_report(tmp_path / "run")
