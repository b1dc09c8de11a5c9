"""Real reports opened in headless Chromium: no console errors, every figure decoded,
and a screenshot that is not blank."""

from __future__ import annotations

import io

import pytest

from aelab.analysis import analyze
from aelab.analysis.compare import compare
from tests.report.chromium import find_chromium, open_page

QUICK = {"latent_map": {"tsne_count": 50}, "knn": {"pixel_train": 100, "pixel_test": 40, "probe_max_iter": 20}}
chromium = find_chromium()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium is None, reason="no chromium on PATH: install Debian's `chromium` to run the browser tests")]


def spread(png: bytes) -> float:
    """Standard deviation of the grey levels: 0 for a blank page."""
    from PIL import Image, ImageStat

    return ImageStat.Stat(Image.open(io.BytesIO(png)).convert("L")).stddev[0]


def check(report, shot):
    page = open_page(chromium, report)
    shot.write_bytes(page.screenshot)
    assert page.errors == []
    assert page.images and all(complete and width > 100 for complete, width, _ in page.images)
    assert spread(page.screenshot) > 10


def test_a_run_report_renders(runs, tmp_path):
    check(analyze(runs["plane"], params=QUICK, device="cpu", log=lambda _: None).report, tmp_path / "report.png")


def test_a_comparison_report_renders(runs, tmp_path):
    report = compare([runs["plane"], runs["map"]], tmp_path / "cmp", params=QUICK, device="cpu", log=lambda _: None)
    check(report, tmp_path / "compare.png")
