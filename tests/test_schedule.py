"""Learning-rate schedules: their shapes, and that a run follows and resumes them."""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open

import aelab
from aelab.schedule import learning_rate
from tests.test_train import config, metrics_without_timing


def test_constant_is_the_base_rate_throughout():
    assert {learning_rate(0.01, "constant", p) for p in (0, 0.5, 0.99)} == {0.01}


def test_cosine_falls_from_the_base_rate_to_zero():
    rates = [learning_rate(0.01, "cosine", p / 10) for p in range(11)]
    assert rates[0] == 0.01 and rates[5] == pytest.approx(0.005) and rates[-1] == pytest.approx(0, abs=1e-12)
    assert all(a > b for a, b in zip(rates, rates[1:]))


def test_one_cycle_rises_to_the_peak_then_falls_far_below_the_start():
    assert learning_rate(0.01, "one-cycle", 0) == pytest.approx(0.01 / 25)
    assert learning_rate(0.01, "one-cycle", 0.3) == pytest.approx(0.01)
    assert learning_rate(0.01, "one-cycle", 0.15) == pytest.approx((0.01 / 25 + 0.01) / 2)
    assert learning_rate(0.01, "one-cycle", 1.0) == pytest.approx(0.01 / 1e4)
    rising = [learning_rate(0.01, "one-cycle", p / 100) for p in range(31)]
    falling = [learning_rate(0.01, "one-cycle", p / 100) for p in range(30, 101)]
    assert rising == sorted(rising) and falling == sorted(falling, reverse=True)


def test_unknown_schedule_is_refused_by_the_config():
    with pytest.raises(aelab.errors.ConfigError, match="one-cycle"):
        aelab.make_config({"train.lr_schedule": "linear"})


def last_learning_rate(run) -> float:
    with safe_open(str(run / "checkpoint.safetensors"), framework="pt") as f:
        return json.loads(f.metadata()["param_groups"])[0]["lr"]


class Interrupted(Exception):
    pass


def stop_after_epoch(n: int):
    """A log callback that raises once epoch `n` is checkpointed, as a crash would."""

    def log(line: str) -> None:
        if line.startswith(f"epoch {n}/"):
            raise Interrupted

    return log


def test_a_run_follows_its_schedule_and_resumes_on_it(blobs_npz, tmp_path):
    # 256 training images in batches of 32: 8 steps an epoch, 24 in all
    cfg = config(blobs_npz, **{"train.lr_schedule": "cosine", "train.lr": 0.004, "train.epochs": 3, "data.val_fraction": 0.0})
    full = aelab.train(cfg, tmp_path / "full", progress=False, log=lambda s: None)
    assert last_learning_rate(full) == pytest.approx(learning_rate(0.004, "cosine", 23 / 24))

    with pytest.raises(Interrupted):
        aelab.train(cfg, tmp_path / "part", progress=False, log=stop_after_epoch(2))
    assert last_learning_rate(tmp_path / "part") == pytest.approx(learning_rate(0.004, "cosine", 15 / 24))
    aelab.resume(tmp_path / "part", progress=False, log=lambda s: None)
    assert metrics_without_timing(tmp_path / "part") == metrics_without_timing(full)
