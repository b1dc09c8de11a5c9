"""Experiment trackers: what training reports while it runs, sent to TensorBoard, MLflow, ...

`train.log = ["tensorboard", "mlflow"]` (or `aelab train --log tensorboard,mlflow`) chooses them.
Each backend is one registered file (`to_tensorboard.py`, `to_mlflow.py`) and an optional extra
(`pip install 'aelab[tensorboard]'`); its package is imported only when a run logs to it. Values
arrive as plain numbers and uint8 images, so a backend needs no torch.
"""

import importlib
import pkgutil

from aelab.tracking.base import TRACKERS, Tracker, Trackers, open_trackers, register_tracker, require_trackers

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["TRACKERS", "Tracker", "Trackers", "open_trackers", "register_tracker", "require_trackers"]
