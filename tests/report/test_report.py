"""The HTML report: self-contained, built without torch, and rendering in a real browser."""

from __future__ import annotations

import ast
import io
import json
import re
from pathlib import Path

import pytest

from aelab.report import write_report
from tests.report.chromium import find_chromium, open_page

REPORT_DIR = Path(__file__).resolve().parents[2] / "src" / "aelab" / "report"
ALLOWED = {"__future__", "base64", "json", "html", "pathlib", "typing", "aelab.io", "aelab.report.style", "aelab.report.html",
           "aelab.documents", "aelab.run_files", "aelab.terms"}  # the torch-free documents, file names and metric terms


def test_the_report_package_imports_nothing_heavy():
    for path in REPORT_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module]
            else:
                continue
            assert set(names) <= ALLOWED, f"{path.name} imports {names}"


def png(colour=(40, 90, 200)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def run_folder(tmp_path) -> Path:
    """A run folder as `aelab analyze` leaves it, written by hand (no torch needed)."""
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "demo-fig.png").write_bytes(png())
    summary = {
        "kind": "analysis", "created": "today", "run": str(tmp_path), "model": "conv-ae", "dataset": "npz <&>",
        "image_shape": [1, 28, 28], "code_shape": [10], "parameters": 1234, "train_images": 10, "test_images": 5,
        "classes": ["a", "b"], "device": "cpu", "config": {"model": {"name": "conv-ae"}, "train": {"epochs": 2}},
        "shared_seconds": {"encode test": 0.5}, "total_seconds": 1.5,
        "analyses": [{"name": "demo", "title": "Demo <b>", "note": "look here", "seconds": 1.0, "error": None,
                      "figures": ["analysis/demo-fig.png"], "numbers": {"accuracy": 0.5, "per_class": {"a": 1.0}, "long": list(range(20))},
                      "tables": [{"title": "T", "columns": ["x", "y"], "rows": [["a", 1]]}]}],
    }
    (tmp_path / "analysis.json").write_text(json.dumps(summary))
    return tmp_path


def test_report_is_self_contained_and_escaped(run_folder):
    html = write_report(run_folder).read_text()
    assert "<script" not in html and not re.search(r"(src|href)=['\"]?https?:", html)
    assert html.count("data:image/png;base64,") == 1
    assert "Demo &lt;b&gt;" in html and "npz &lt;&amp;&gt;" in html
    assert "per class: a" in html and "long" not in html.split("Numbers")[1].split("</table>")[0]  # long lists stay in the JSON
    assert "look here" in html and "encode test" in html


def test_skipped_analyses_are_one_short_list_with_their_reasons(run_folder):
    assert "id='skipped'" not in write_report(run_folder).read_text()  # a file from before skips were recorded: none listed
    summary = json.loads((run_folder / "analysis.json").read_text())
    summary["skipped"] = [{"name": "prior_samples", "reason": "the model cannot sample from a prior"},
                          {"name": "codebook", "reason": "the model's code is <not> a grid"}]
    (run_folder / "analysis.json").write_text(json.dumps(summary))
    html = write_report(run_folder).read_text()
    listed = html.split("id='skipped'")[1].split("</section>")[0]
    assert listed.count("<li>") == 2 and "<b>prior_samples</b>: the model cannot sample from a prior" in listed
    assert "&lt;not&gt;" in listed and "href='#skipped'" in html


chromium = find_chromium()
needs_chromium = pytest.mark.skipif(chromium is None, reason="no chromium on PATH: install Debian's `chromium` to run the browser test")


@needs_chromium
def test_the_browser_check_sees_errors_and_broken_images(tmp_path):
    page_file = tmp_path / "bad.html"
    page_file.write_text("<html><body><img src='missing.png'><script>console.error('bad'); throw new Error('worse')</script></body></html>")
    page = open_page(chromium, page_file)
    assert any("bad" in e for e in page.errors) and any("worse" in e for e in page.errors)
    assert page.images[0][1] == 0  # the missing image did not decode
