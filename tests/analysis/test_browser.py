"""Real reports opened in headless Chromium at a laptop's width and a phone's: no console
errors, every figure decoded, nothing wider than the phone's screen (tables scroll inside
their box), and screenshots that are not blank (kept in the test's folder to look at)."""

from __future__ import annotations

import io

import pytest

from aelab.analysis import analyze
from aelab.analysis.compare import compare
from aelab.study import run_study
from tests.report.chromium import find_chromium, open_page

QUICK = {"latent_map": {"tsne_count": 50}, "knn": {"pixel_train": 100, "pixel_test": 40, "probe_max_iter": 20}}
WIDTHS = {"laptop": (1300, False), "phone": (390, True)}
chromium = find_chromium()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium is None, reason="no chromium on PATH: install Debian's `chromium` to run the browser tests")]


def spread(png: bytes) -> float:
    """Standard deviation of the grey levels: 0 for a blank page."""
    from PIL import Image, ImageStat

    return ImageStat.Stat(Image.open(io.BytesIO(png)).convert("L")).stddev[0]


def check(report, shot):
    for name, (width, mobile) in WIDTHS.items():
        page = open_page(chromium, report, width=width, mobile=mobile)
        shot.with_name(f"{shot.stem}-{name}.png").write_bytes(page.screenshot)
        assert page.errors == []
        assert page.images and all(complete and w > 100 for complete, w, _ in page.images)
        assert spread(page.screenshot) > 10
        assert page.scroll_width <= width, f"the {name} page is {page.scroll_width} px wide: it scrolls sideways"


def test_a_run_report_renders(runs, tmp_path):
    check(analyze(runs["plane"], params=QUICK, device="cpu", log=lambda _: None).report, tmp_path / "report.png")


def test_a_comparison_report_renders(runs, tmp_path):
    report = compare([runs["plane"], runs["map"]], tmp_path / "cmp", params=QUICK, device="cpu", log=lambda _: None)
    check(report, tmp_path / "compare.png")


def test_a_study_report_renders(tmp_path):
    from tests.conftest import make_blobs_npz

    npz = make_blobs_npz(tmp_path / "blobs.npz", n_train=192, n_test=48)
    report = run_study("class-mixtures", quick=True, dataset=str(npz), out=tmp_path / "study", download=False,
                       progress=False, log=lambda _: None)
    check(report, tmp_path / "study.png")
