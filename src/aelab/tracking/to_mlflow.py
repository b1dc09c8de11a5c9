"""`mlflow`: a local MLflow store in RUN/mlflow (experiment "aelab", one MLflow run per aelab run).

The store is MLflow's SQLite backend (RUN/mlflow/mlflow.db) with the artifacts beside it: MLflow
3 refuses its plain-folder store ("maintenance mode") unless an environment variable is set.

Through `MlflowClient`, not the fluent `mlflow.start_run`: a library must not set the host's
global active run or tracking URI. A resumed aelab run continues its MLflow run (found by the
tag `aelab.run`). See it with
`mlflow ui --backend-store-uri sqlite:///RUN/mlflow/mlflow.db`; W&B users can sync
MLflow runs, so one open, offline store serves both.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from aelab.run_files import RunFiles
from aelab.tracking.base import Tracker, flat_config, register_tracker

EXPERIMENT = "aelab"
RUN_TAG = "aelab.run"


def client_for(run: RunFiles):
    """An MlflowClient on the run's own file store."""
    from mlflow.tracking import MlflowClient

    run.mlflow.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=f"sqlite:///{run.mlflow_db.resolve()}")


@register_tracker
class MLflow(Tracker):
    name, package, extra = "mlflow", "mlflow", "mlflow"

    def __init__(self, run: RunFiles):
        super().__init__(run)
        self.client = client_for(run)
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(
            EXPERIMENT, artifact_location=(run.mlflow / "artifacts").resolve().as_uri())  # MLflow's default is the working folder
        found = self.client.search_runs([experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{run.root.resolve()}'", max_results=1)
        if found:
            self.run_id = found[0].info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            tags = {RUN_TAG: str(run.root.resolve())}
            self.run_id = self.client.create_run(experiment_id, run_name=run.root.name, tags=tags).info.run_id
        self.finished = False

    def log_config(self, config: dict[str, Any]) -> None:
        """Parameters cannot change in MLflow: a resume that extends `train.epochs` keeps the first
        value there (config.json has the current one)."""
        from mlflow.entities import Param

        logged = self.client.get_run(self.run_id).data.params
        params = [Param(k, str(v)) for k, v in flat_config(config).items() if k not in logged]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 parameters a batch
            self.client.log_batch(self.run_id, params=params[start : start + 100])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in metrics.items()])

    def log_image(self, tag: str, image: np.ndarray, step: int) -> None:
        self.client.log_image(self.run_id, image, key=tag, step=step)

    def finish(self, evaluation: dict[str, float]) -> None:
        self.log_metrics({f"final/{k}": v for k, v in evaluation.items()}, 0)
        self.finished = True

    def close(self, failed: bool = False) -> None:
        self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED" if self.finished else "KILLED")
