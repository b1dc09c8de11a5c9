"""`aelab analyze` and `aelab compare`: selection, files written, timings, errors."""

from __future__ import annotations

from html import escape

import pytest

from aelab.analysis import analyze, ordered_analyses
from aelab.analysis.compare import compare
from aelab.cli import main
from aelab.documents import AnalysisDocument, ComparisonDocument
from aelab.errors import ConfigError

QUICK = {"latent_map": {"tsne_count": 50}, "knn": {"pixel_train": 100, "pixel_test": 40, "probe_max_iter": 20}}


@pytest.fixture(scope="module")
def analysed(runs):
    lines: list[str] = []
    analyzed = analyze(runs["vector"], params=QUICK, device="cpu", log=lines.append)
    return analyzed, AnalysisDocument.read(runs["vector"] / "analysis.json"), lines


def test_analyze_writes_pngs_numbers_and_a_report_in_order(analysed, runs):
    report, summary = analysed[0].report, analysed[1]
    names = [a.name for a in summary.analyses]
    # a plain AE was not trained on noise, cannot sample, and its code is not discrete
    expected = [a.name for a in ordered_analyses() if a.name not in ("denoising", "prior_samples", "codebook")]
    assert names == expected
    for entry in summary.analyses:
        assert entry.error is None and entry.seconds >= 0 and entry.note
        for file in entry.figures:
            assert (runs["vector"] / file).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(summary.shared_seconds) >= {"load data", "encode test", "encode train"}
    assert [t.key for t in summary.terms] == ["loss", "mse"]  # what the run's metrics mean, declared by its model
    html = report.read_text()
    positions = [html.index(f"id='{name}'") for name in names]
    assert positions == sorted(positions)
    assert html.count("data:image/png;base64,") == sum(len(a.figures) for a in summary.analyses)


def test_each_skip_is_recorded_logged_and_reported_with_its_reason(analysed):
    analyzed, summary, lines = analysed
    reasons = {"denoising": "the model was not trained to undo noise", "codebook": "the model's code is not a grid of codebook entries",
               "prior_samples": "the model cannot sample from a prior"}
    assert [(s.name, s.reason) for s in summary.skipped] == list(reasons.items())  # in report order
    assert all(f"skipped {n}: {r}" in lines for n, r in reasons.items())
    listed = analyzed.report.read_text().split("id='skipped'")[1].split("</section>")[0]
    assert all(f"<b>{n}</b>: {escape(r)}" in listed for n, r in reasons.items())
    assert analyzed.skipped == reasons and "was skipped (the model cannot sample" in str(pytest.raises(KeyError, lambda: analyzed["prior_samples"]).value)


def test_only_skip_and_parameters_are_checked_before_running(runs):
    with pytest.raises(ConfigError, match="did you mean 'knn'"):
        analyze(runs["vector"], only=["knnn"], log=lambda _: None)
    with pytest.raises(ConfigError, match="tsne_count"):
        analyze(runs["vector"], params={"latent_map": {"tsne": 5}}, log=lambda _: None)
    with pytest.raises(ConfigError, match="does not apply .*: the model cannot sample from a prior"):
        analyze(runs["vector"], only=["prior_samples"], log=lambda _: None)


def test_a_failing_analysis_is_reported_and_the_others_still_run(runs, monkeypatch, capsys):
    from aelab.analysis.traversals import Traversals

    def broken(self, ctx, **params):
        raise RuntimeError("boom")

    monkeypatch.setattr(Traversals, "run", broken)
    status = main(["analyze", str(runs["plane"]), "--only", "traversals,summary", "--device", "cpu"])
    summary = AnalysisDocument.read(runs["plane"] / "analysis.json")
    assert status == 1 and "traversals" in capsys.readouterr().err
    errors = {a.name: a.error for a in summary.analyses}
    assert (errors["traversals"], errors["summary"]) == ("RuntimeError: boom", None)
    assert "This analysis failed: RuntimeError: boom" in (runs["plane"] / "report.html").read_text()


def test_cli_analyze_with_a_parameter(runs):
    assert main(["analyze", str(runs["map"]), "--only", "latent_map", "--tsne-count", "30", "--device", "cpu"]) == 0
    entry = AnalysisDocument.read(runs["map"] / "analysis.json").entry("latent_map")
    assert entry.numbers["tsne_points"] == 30


def test_only_adds_or_replaces_its_analyses_and_keeps_the_others(runs):
    run = runs["plane"]
    analyze(run, only=["curves", "summary"], device="cpu", log=lambda _: None)
    analyze(run, only=["latent_map"], params=QUICK, device="cpu", log=lambda _: None)
    again = analyze(run, only=["summary"], device="cpu", log=lambda _: None)
    names = [e.name for e in AnalysisDocument.read(run / "analysis.json").analyses]
    assert {"curves", "latent_map", "summary"} <= set(names) and len(names) == len(set(names))
    assert names == [a.name for a in ordered_analyses() if a.name in names]  # report order
    html = again.report.read_text()
    assert all(f"id='{n}'" in html for n in ("curves", "latent_map", "summary"))
    assert list(again.results) == ["summary"] and "was not run" in str(pytest.raises(KeyError, lambda: again["knn"]).value)


def test_the_results_give_the_numbers_and_each_analysis_data(runs, analysed):
    analyzed = analyze(runs["vector"], only=["latent_map", "class_means", "knn"], params=QUICK, device="cpu", log=lambda _: None)
    assert [s.name for s in AnalysisDocument.read(analyzed.summary).skipped] == ["denoising", "codebook", "prior_samples"]  # the full run's skips stand
    tsne = analyzed["latent_map"].data["tsne"]
    assert tsne.shape == (50, 2) and len(analyzed["latent_map"].data["tsne_labels"]) == 50
    assert analyzed["class_means"].data["class_means"].shape == (4, 6)  # 4 classes, 6-d codes
    per_class = analyzed["knn"].data["per_class_1nn"]
    assert set(per_class) == set(analyzed["knn"].numbers["per_class_1nn_codes"]) and all(0 <= v <= 1 for v in per_class.values())


def test_compare_puts_runs_side_by_side_on_shared_axes(runs, tmp_path):
    out = tmp_path / "cmp"
    report = compare([runs["plane"], runs["vector"]], out, labels=["two-d", "six-d"], only=["curves", "latent_map", "knn"],
                     params=QUICK, device="cpu", log=lambda _: None)
    data = ComparisonDocument.read(out / "comparison.json")
    assert [r.label for r in data.runs] == ["two-d", "six-d"]
    assert data.entry("curves").combined_figures and data.entry("knn").combined_figures
    assert all(len(a.runs) == 2 and all(r.figures for r in a.runs) for a in data.analyses)
    html = report.read_text()
    assert "two-d" in html and "six-d" in html and "1-NN on codes" in html


def test_compare_of_two_plane_codes_shares_the_axes(contexts):
    from aelab.analysis import ANALYSES

    latent = ANALYSES.get("latent_map")
    result = latent.run(contexts["plane"])
    fig = latent.combine([("a", result), ("b", result)])[0][1]
    first, second = fig.axes[:2]
    assert first.get_xlim() == second.get_xlim() and first.get_ylim() == second.get_ylim()


def test_compare_needs_two_runs(runs, tmp_path):
    with pytest.raises(ConfigError, match="at least two"):
        compare([runs["plane"]], tmp_path, log=lambda _: None)
