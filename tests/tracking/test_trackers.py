"""A run logged to TensorBoard and MLflow, read back through each one's own reader."""

from __future__ import annotations

import json

import pytest

from aelab.config import make_config
from aelab.errors import ConfigError
from aelab.pipeline import train
from aelab.run_files import RunFiles
from aelab.tracking import TRACKERS, require_trackers

EPOCHS, BATCH, TRAIN_IMAGES = 2, 32, 128  # 4 steps an epoch


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    from tests.conftest import make_blobs_npz

    root = tmp_path_factory.mktemp("tracked")
    data = make_blobs_npz(root / "blobs.npz", n_train=TRAIN_IMAGES, n_test=32)
    config = make_config({"data.name": str(data), "data.val_fraction": 0.0, "train.epochs": EPOCHS, "train.batch_size": BATCH,
                          "model.channels": [4, 4], "train.device": "cpu", "train.log": ["tensorboard", "mlflow"], "train.log_every": 2})
    return RunFiles(train(config, root / "run", progress=False, log=lambda _: None))


def history(run: RunFiles) -> list[dict]:
    return run.read_metrics()


@pytest.mark.slow  # the logged run: ~5 s
def test_tensorboard_events_hold_the_epoch_metrics_step_losses_strips_and_final_evaluation(logged_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logged_run.tensorboard), size_guidance={"images": 0, "scalars": 0}).Reload()
    tags = events.Tags()
    rows = history(logged_run)
    val = [(e.step, e.value) for e in events.Scalars("val/loss")]
    assert val == [(r["epoch"], pytest.approx(r["val_loss"], rel=1e-6)) for r in rows]
    assert [e.step for e in events.Scalars("step/loss")] == [0, 2, 4, 6]  # every 2 of the 8 steps
    assert [e.step for e in events.Images("reconstructions")] == [1, 2]
    evaluation = {t: events.Scalars(t)[0].value for t in tags["scalars"] if t.startswith("final/")}
    assert evaluation["final/mse_per_pixel"] == pytest.approx(rows[-1]["val_loss"], rel=1e-4)  # conv-ae: the loss is the MSE; val is test here
    config_text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert json.loads(config_text.strip("`\n").removeprefix("json\n"))["train"]["epochs"] == EPOCHS


@pytest.mark.slow
def test_mlflow_store_holds_the_same_metrics_params_and_images(logged_run):
    from aelab.tracking.to_mlflow import EXPERIMENT, client_for

    client = client_for(logged_run)
    (run,) = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == logged_run.root.name
    rows = history(logged_run)
    val = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "val/loss"))
    assert val == [(r["epoch"], pytest.approx(r["val_loss"], rel=1e-6)) for r in rows]
    assert run.data.params["train.epochs"] == str(EPOCHS) and run.data.params["model.name"] == "conv-ae"
    assert run.data.metrics["final/mse_per_pixel"] == pytest.approx(rows[-1]["val_loss"], rel=1e-4)
    images = [a.path for a in client.list_artifacts(run.info.run_id, "images")]
    assert sum(".png" in p and "reconstructions" in p for p in images) == EPOCHS


def test_unknown_and_missing_trackers_are_errors_naming_the_fix(monkeypatch):
    with pytest.raises(ConfigError, match="unknown tracker 'wandb'.*tensorboard"):
        make_config({"train.log": ["wandb"]})
    monkeypatch.setattr(TRACKERS.get("mlflow"), "package", "no_such_package_here")
    with pytest.raises(ConfigError, match=r"pip install 'aelab\[mlflow\]'"):
        require_trackers(["mlflow"])


def test_ranks_other_than_0_log_nothing(tmp_path):
    from aelab.tracking import open_trackers

    assert not open_trackers(["tensorboard"], RunFiles(tmp_path), is_main=False)
    assert not (tmp_path / "tensorboard").exists()


@pytest.mark.slow
@pytest.mark.skipif(not __import__("torch").distributed.is_available(), reason="this torch build has no torch.distributed")
def test_under_torchrun_only_rank_0_logs(tmp_path):
    import os
    import subprocess
    import sys

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tests.conftest import make_blobs_npz

    data = make_blobs_npz(tmp_path / "blobs.npz", n_train=128, n_test=32)
    run = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "aelab", "train",
               "--dataset", str(data), "--epochs", "2", "--set", 'train.log=["tensorboard"]', "--no-progress", "--out", str(run),
               "--set", "model.channels=[4,4]", "--set", "train.batch_size=32", "--set", "data.val_fraction=0", "--set", "train.log_every=1"]
    # --set, not --log: torchrun's own parser takes `--log` for an abbreviation of its --log-dir
    done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (events_file,) = (run / "tensorboard").glob("events.out.tfevents.*")  # one writer: rank 0's
    events = EventAccumulator(str(events_file)).Reload()
    assert [e.step for e in events.Scalars("val/loss")] == [1, 2]
    assert [e.step for e in events.Scalars("step/loss")] == list(range(8))  # each step once, not once per rank
