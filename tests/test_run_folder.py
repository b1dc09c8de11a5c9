"""A run folder survives what users and crashes do to it: a stop after any file it writes,
two processes at once, folders that are not runs, and edits that break it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from safetensors.torch import load_file

import aelab
import aelab.io
import aelab.run_files
from aelab.cli import main
from tests.conftest import make_blobs_npz

SMALL = {"model.channels": [8, 8], "model.latent_dim": 4, "train.batch_size": 32, "train.strip_images": 4, "train.epochs": 2}
quiet = dict(progress=False, log=lambda s: None)


def config(npz: Path, **extra):
    return aelab.make_config({"data.name": str(npz), **SMALL, **extra})


class Killed(BaseException):
    """A stop that nothing in aelab catches, like a SIGKILL at that point."""


@contextmanager
def killed_after_write(n: int, monkeypatch):
    """Stop the process right after the n-th file it finishes writing."""
    original, written = aelab.io.atomic_path, []

    @contextmanager
    def counting(path):
        with original(path) as tmp:
            yield tmp
        written.append(Path(path).name)
        if len(written) == n:
            raise Killed(Path(path).name)

    monkeypatch.setattr(aelab.io, "atomic_path", counting)
    for module in ("aelab.checkpoint", "aelab.plots", "aelab.io"):
        monkeypatch.setattr(f"{module}.atomic_path", counting, raising=False)
    yield written
    monkeypatch.undo()


def outcome(run: Path) -> tuple:
    """What a finished run must hold, without timings: metrics, weights and checkpoint tensors, final figures."""
    rows = [{k: v for k, v in json.loads(line).items() if k not in ("seconds", "images_per_s")}
            for line in (run / "metrics.jsonl").read_text().splitlines()]
    weights = {k: v.tolist() for k, v in load_file(run / "model.safetensors").items()}
    checkpoint = {k: v.tolist() for k, v in load_file(run / "checkpoint.safetensors").items()}
    figures = sorted(p.name for p in run.glob("*.png")) + sorted(p.name for p in (run / "reconstructions").glob("*.png"))
    return rows, weights, checkpoint, figures


def test_a_stop_after_any_write_is_continued_to_the_uninterrupted_result(blobs_npz, tmp_path, monkeypatch):
    whole = aelab.train(config(blobs_npz), tmp_path / "whole", **quiet)
    expected = outcome(whole)
    with killed_after_write(10_000, monkeypatch) as written:
        aelab.train(config(blobs_npz), tmp_path / "count", **quiet)
    assert {"config.json", "checkpoint.safetensors", "model.safetensors", "metrics.jsonl", "loss.png"} <= set(written)
    for n in range(1, len(written)):
        run = tmp_path / f"stop-{n}"
        with killed_after_write(n, monkeypatch), pytest.raises(Killed):
            aelab.train(config(blobs_npz), run, **quiet)
        aelab.resume(run, **quiet)
        assert outcome(run) == expected, f"stopped after write {n} ({written[n - 1]})"
        assert not list(run.glob(".*.tmp"))


@pytest.mark.slow  # a second process trains 6,000 images meanwhile: ~7 s
def test_a_second_training_of_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    npz = make_blobs_npz(tmp_path / "big.npz", n_train=6000, n_test=100)
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "aelab", "train", "--dataset", str(npz), "--epochs", "2", "--no-progress",
                              "--out", str(run)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (run / "config.json").exists() and time.time() < deadline:
        time.sleep(0.02)
    try:
        with pytest.raises(aelab.AelabError, match=rf"being trained by process {first.pid}"):
            aelab.train(config(npz), run, **quiet)
        with pytest.raises(aelab.AelabError, match="being trained by process"):
            aelab.resume(run, **quiet)
    finally:
        assert first.wait(timeout=120) == 0, first.stderr.read()
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2  # the first run was left alone
    aelab.resume(run, epochs=3, **quiet)  # the lock went with the process


def test_out_must_be_a_new_empty_or_run_folder(blobs_npz, tmp_path):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(aelab.AelabError, match="folder of other files.*holiday.jpg"):
        aelab.train(config(blobs_npz), mine, **quiet)
    assert sorted(p.name for p in mine.iterdir()) == ["holiday.jpg"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(aelab.AelabError, match="is a file"):
        aelab.train(config(blobs_npz), tmp_path / "file", **quiet)
    (tmp_path / "empty").mkdir()
    aelab.train(config(blobs_npz, **{"train.epochs": 1}), tmp_path / "empty", **quiet)


def test_a_folder_with_no_finished_epoch_can_be_started_again_or_resumed(blobs_npz, tmp_path, monkeypatch):
    for again in ("train", "resume"):
        run = tmp_path / again
        with killed_after_write(1, monkeypatch), pytest.raises(Killed):  # only config.json was written
            aelab.train(config(blobs_npz), run, **quiet)
        lines = []
        if again == "train":
            aelab.train(config(blobs_npz), run, progress=False, log=lines.append)
        else:
            aelab.resume(run, progress=False, log=lines.append)
            assert any("no finished epoch: starting it again" in line for line in lines)
        assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


def test_resuming_a_finished_run_says_so_and_how_to_extend_it(blobs_npz, tmp_path):
    run = aelab.train(config(blobs_npz), tmp_path / "run", **quiet)
    lines = []
    aelab.resume(run, progress=False, log=lines.append)
    assert any("already finished (2 epochs)" in line and "--epochs" in line for line in lines)


def test_resume_takes_a_device_but_refuses_what_would_change_the_result(blobs_npz, tmp_path, capsys):
    run = aelab.train(config(blobs_npz, **{"train.epochs": 1}), tmp_path / "run", **quiet)
    assert main(["train", "--resume", str(run), "--lr", "0.1", "--no-progress"]) == 2
    assert "--lr would change its result" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--epochs", "2", "--device", "cpu", "--no-progress"]) == 0
    assert json.loads((run / "config.json").read_text())["train"]["device"] == "cpu"


def test_a_device_that_is_missing_fails_before_the_folder_is_made(blobs_npz, tmp_path):
    with pytest.raises(aelab.AelabError, match="device"):
        aelab.train(config(blobs_npz, **{"train.device": "cuda:7" if not __import__("torch").cuda.is_available() else "cuda:99"}),
                    tmp_path / "run", **quiet)
    assert not (tmp_path / "run").exists()


def test_a_torn_metrics_file_is_named_and_rewritten_by_resume(blobs_npz, tmp_path):
    run = aelab.train(config(blobs_npz), tmp_path / "run", **quiet)
    whole = (run / "metrics.jsonl").read_text()
    (run / "metrics.jsonl").write_text(whole[: len(whole) - 40])
    with pytest.raises(aelab.AelabError, match=r"metrics.jsonl is damaged.*--resume"):
        aelab.run_files.RunFiles(run).read_metrics()
    aelab.resume(run, **quiet)
    assert (run / "metrics.jsonl").read_text() == whole


@pytest.mark.parametrize("damage", ["shapes", "metadata", "non-finite"])
def test_damaged_run_files_get_a_clear_error_naming_the_file(blobs_npz, tmp_path, damage):
    import torch
    from safetensors.torch import save_file

    run = aelab.train(config(blobs_npz, **{"train.epochs": 1}), tmp_path / "run", **quiet)
    if damage == "shapes":
        cfg = json.loads((run / "config.json").read_text())
        cfg["model"]["latent_dim"] = 6
        (run / "config.json").write_text(json.dumps(cfg))
        with pytest.raises(aelab.AelabError, match=r"model.safetensors does not fit.*other shapes"):
            aelab.load_model(run)
    elif damage == "metadata":
        tensors = load_file(run / "checkpoint.safetensors")
        save_file(tensors, str(run / "checkpoint.safetensors"))  # the tensors without their training state
        with pytest.raises(aelab.AelabError, match="checkpoint.safetensors lacks its training state"):
            aelab.resume(run, epochs=2, **quiet)
    else:
        tensors = load_file(run / "model.safetensors")
        first = sorted(tensors)[0]
        tensors[first] = torch.full_like(tensors[first], float("nan"))
        save_file(tensors, str(run / "model.safetensors"))
        with pytest.raises(aelab.AelabError, match="non-finite weights"):
            aelab.load_model(run)


FILE_SUFFIXES = (".png", ".json", ".jsonl", ".safetensors", ".npz", ".onnx", ".html", ".tsv", ".db")
NOT_IN_A_RUN = {"generation/features.py"}  # the feature networks' cache under ~/.cache/aelab


def test_every_run_folder_file_name_is_written_only_in_run_files():
    """Other modules reach the run folder's files through RunFiles or run_files' constants: a literal
    'config.json' (or an f-string ending in '.png') elsewhere would let two names drift apart."""
    import ast

    names = {v for k, v in vars(aelab.run_files).items() if k.isupper() and isinstance(v, str) and "." in v}
    package = Path(aelab.run_files.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative == "run_files.py" or relative in NOT_IN_A_RUN:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            pieces = node.values if isinstance(node, ast.JoinedStr) else [node]
            for piece in pieces:
                if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
                    text = piece.value.strip()
                    if text in names or (isinstance(node, ast.JoinedStr) and text.endswith(FILE_SUFFIXES) and " " not in text):
                        found.append(f"{relative}:{piece.lineno} {piece.value!r}")
    assert {"config.json", "analysis.json", "study.json", "evaluation.json", "report.html"} <= names
    assert found == []
