"""Data-parallel training under torchrun (2 CPU processes, gloo): the one-process result,
resumable after a rank dies, and refused where it would silently differ."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import make_blobs_npz

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch build has no torch.distributed"),
]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
TINY = ["--no-progress", "--set", "model.channels=[8,8]", "--set", "model.latent_dim=4", "--set", "train.batch_size=32"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def aelab_train(*args: str, launcher: list[str] = (), check: bool = True) -> subprocess.CompletedProcess:
    cmd = [*launcher, "-m", "aelab", "train", *args] if launcher else [sys.executable, "-m", "aelab", "train", *args]
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def metrics(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")} for row in rows]


def assert_same_result(a: Path, b: Path) -> None:
    """The same metrics and weights to float rounding (sums taken in another order)."""
    rows_a, rows_b = metrics(a), metrics(b)
    assert [r["epoch"] for r in rows_a] == [r["epoch"] for r in rows_b]
    for ra, rb in zip(rows_a, rows_b):
        assert ra.keys() == rb.keys()
        for key in ra:
            assert rb[key] == pytest.approx(ra[key], rel=1e-5, abs=1e-7), key
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    for key in wa:
        torch.testing.assert_close(wb[key], wa[key], rtol=1e-4, atol=1e-6)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> tuple[Path, Path]:
    """A 2-epoch conv AE trained by two gloo processes, and its data (254 images: the last batch is uneven)."""
    root = tmp_path_factory.mktemp("ddp")
    npz = make_blobs_npz(root / "blobs.npz", n_train=282)  # 254 train after validation: 7 full batches and one of 30
    aelab_train("--dataset", str(npz), "--epochs", "2", "--out", str(root / "ddp"), *TINY, launcher=TORCHRUN)
    return root / "ddp", npz


def test_two_processes_give_the_one_process_result(two_process_run, tmp_path):
    ddp, npz = two_process_run
    aelab_train("--dataset", str(npz), "--epochs", "2", "--out", str(tmp_path / "one"), *TINY, "--set", "train.shards=1")
    assert_same_result(tmp_path / "one", ddp)
    saved = json.loads((ddp / "config.json").read_text())
    assert saved["train"]["epochs"] == 2
    assert not list(ddp.glob(".*.tmp"))


def test_resuming_with_another_process_count_is_refused_with_how(two_process_run, tmp_path):
    ddp, _ = two_process_run
    copy = tmp_path / "copy"
    shutil.copytree(ddp, copy)
    done = aelab_train("--resume", str(copy), "--epochs", "3", "--no-progress", check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    said = " ".join(done.stderr.split())  # unwrapped: the wrap moves with the length of the paths
    assert "trained by 2 process(es)" in said and "--nproc_per_node=2" in said
    assert len(metrics(copy)) == 2  # nothing was changed


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the rank processes through Linux's /proc")
def test_a_killed_rank_leaves_the_last_checkpoint_and_resume_finishes_the_run(tmp_path):
    npz = make_blobs_npz(tmp_path / "big.npz", n_train=4000, n_test=100)
    args = ["--dataset", str(npz), "--epochs", "3", "--no-progress", "--set", "model.channels=[16,16]"]
    run = tmp_path / "killed"
    launcher = subprocess.Popen([*TORCHRUN, "-m", "aelab", "train", *args, "--out", str(run)], env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.05)
    ranks = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read_text().split()
    os.kill(int(ranks[-1]), signal.SIGKILL)  # one rank dies in epoch 2
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode != 0
    assert len(metrics(run)) == 1, "the kill must land in epoch 2"
    said = " ".join(stderr.split())  # unwrapped
    assert "another training process" in said and "--resume" in said
    assert "aelab/train.py" not in stderr and "aelab/cli.py" not in stderr, "no traceback through aelab's code"

    resumed = aelab_train("--resume", str(run), "--no-progress", launcher=TORCHRUN)
    assert "resuming" in resumed.stdout and len(metrics(run)) == 3
    aelab_train(*args, "--out", str(tmp_path / "whole"), launcher=TORCHRUN)
    assert metrics(run) == metrics(tmp_path / "whole")  # bit for bit: the same ranks in the same order
    wa, wb = load_file(run / "model.safetensors"), load_file(tmp_path / "whole" / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


LEAVING = """
import json, sys, time
from aelab.engine import joined

with joined("cpu") as world:
    if world.is_main:
        time.sleep(2)  # rank 0 writing the run's last files
    done = time.time()
with open(f"{sys.argv[1]}/rank{world.rank}.json", "w") as f:
    json.dump({"block_done": done, "left": time.time()}, f)
"""


def test_every_rank_leaves_the_group_only_when_rank_0_is_done(tmp_path):
    script = tmp_path / "leaving.py"
    script.write_text(LEAVING)
    done = subprocess.run([*TORCHRUN, str(script), str(tmp_path)], env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    main, other = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert other["left"] >= main["block_done"], "rank 1 tore the group down while rank 0 still worked"
