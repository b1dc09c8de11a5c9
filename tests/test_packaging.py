"""A regular (non-editable) install works outside the checkout: the wheel carries the studies.

The wheel is built from a copy of the sources (so the checkout gains no build/ or egg-info),
installed without its dependencies into a fresh virtual environment in a temporary folder, and
that environment borrows this interpreter's installed packages (torch and the rest) through a
.pth file, so nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from aelab.documents import StudyDocument
from tests.conftest import make_blobs_npz

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(tmp: Path) -> Path:
    source = tmp / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist"), str(source)], check=True)
    return next((tmp / "dist").glob("aelab-*.whl"))


def fresh_venv_with(wheel: Path, where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python),
                    "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return where / "bin"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="the venv layout (bin/) is POSIX's")
def test_wheel_installed_outside_the_checkout_lists_and_runs_the_shipped_studies(tmp_path):
    bin_dir = fresh_venv_with(build_wheel(tmp_path), tmp_path / "venv")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"OMP_NUM_THREADS": "1"}

    def aelab(*args: str) -> str:
        return subprocess.run([bin_dir / "aelab", *args], cwd=work, env=env, capture_output=True, text=True, check=True).stdout

    where = subprocess.run([bin_dir / "python", "-c", "import aelab; print(aelab.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(tmp_path / "venv"))  # the installed copy, not the checkout's
    assert "aelab study fashion-ae-vs-vae" in aelab("study", "--list")
    npz = make_blobs_npz(tmp_path / "blobs.npz", n_train=128, n_test=32)
    aelab("study", "class-mixtures", "--quick", "--dataset", str(npz), "--no-download", "--no-progress", "--out", "study")
    summary = StudyDocument.read(work / "study" / "study.json")
    assert (work / "study" / "report.html").is_file() and [r.status for r in summary.runs] == ["trained"]
