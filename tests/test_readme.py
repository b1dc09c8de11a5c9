"""The README's command blocks (then docs/python.md's), run in order on tiny data, so the front page cannot drift.

Each line of a shell block is run as the README writes it: `aelab ...` through the CLI's
`main` (in this process), `make X` as the Makefile's own recipe for X (`make test` is this
suite: only its target is checked), `torchrun ... -m aelab ...` as the one-process run it
equals. Python blocks are executed. The datasets the README names (fashion-mnist, mnist)
are stand-ins holding a few hundred toy images, so the whole front page runs in about a
minute; nothing is downloaded and the user cache is a temporary folder.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest

from aelab.cli import main
from aelab.data import load_dataset
from aelab.data.base import DATASETS, DatasetStatus
from tests.conftest import make_blobs_npz
from tests.test_own_images import photo_folder

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
SHELL = {"", "sh", "bash", "console"}
NOT_RUN_HERE = {"test", "test-fast", "lint"}  # `make test` is the suite running this file


PAGES = ("README.md", "docs/python.md")  # in this order: the Python page's study is the README's continued


def readme_blocks() -> list[tuple[str, str, str]]:
    """(page, language, code) of every shell and Python block of the pages, in order."""
    return [(page, lang, body) for page in PAGES for lang, body in BLOCK.findall((ROOT / page).read_text())
            if lang in SHELL | {"python"}]


def make_recipe(target: str) -> list[str]:
    """The command lines of a Makefile target, with $(BIN)/ (the venv's bin folder) dropped."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(BIN)/", ""))
    return recipe


class StandIn:
    """A registered dataset name that loads a tiny toy dataset instead of the real files."""

    def __init__(self, name: str, npz: Path):
        self.name, self.npz = name, npz

    def load(self, data_dir=None, *, download: bool = True, verify: bool = True, policy=None):
        return dataclasses.replace(load_dataset(str(self.npz)), name=self.name)

    def status(self, data_dir=None) -> DatasetStatus:
        return DatasetStatus(self.name, True, str(self.npz), "a tiny stand-in for the README test")


def run_line(line: str) -> None:
    words = [os.path.expanduser(w) for w in shlex.split(line, comments=True)]  # ~ as the shell expands it
    if not words:
        return
    if words[0] == "make":
        assert words[1] in NOT_RUN_HERE or make_recipe(words[1]), line
        if words[1] not in NOT_RUN_HERE:
            for command in make_recipe(words[1]):
                run_line(command)
        return
    if words[:2] == ["source", ".venv/bin/activate"]:
        assert "VENV ?= .venv" in (ROOT / "Makefile").read_text()  # the folder make sets up
        return
    if words[0] == "torchrun":
        words = ["aelab", *words[words.index("aelab") + 1:]]  # the one-process run gives the same result
    assert words[0] == "aelab", f"the README test does not know how to run: {line}"
    assert main(words[1:]) == 0, line


@pytest.mark.slow
def test_every_readme_block_runs_in_order(tmp_path, monkeypatch):
    npz = make_blobs_npz(tmp_path / "tiny.npz", n_train=160, n_test=48)
    for name in ("fashion-mnist", "mnist"):
        monkeypatch.setitem(DATASETS._entries, name, StandIn(name, npz))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("AELAB_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    photo_folder(tmp_path / "home" / "photos", n=24)  # the README's ~/photos
    shutil.copytree(ROOT / "recipes", tmp_path / "work" / "recipes")
    monkeypatch.chdir(tmp_path / "work")
    blocks = readme_blocks()
    assert len(blocks) >= 4
    for page, lang, body in blocks:
        if lang == "python":
            exec(compile(body, page, "exec"), {})  # noqa: S102 - the page's own code
        else:
            for line in body.splitlines():
                run_line(line)
    assert Path("runs/study-fashion-ae-vs-vae/report.html").is_file()  # make run's report
    assert Path("runs/vae-test-codes.npz").is_file() and Path("runs/vae/onnx/decoder.onnx").is_file()  # docs/python.md ran
    assert Path("runs/ae-vs-vae/report.html").is_file() and Path("runs/study-class-mixtures-train.seed=1-quick").is_dir()
