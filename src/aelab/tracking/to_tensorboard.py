"""`tensorboard`: event files in RUN/tensorboard, through `torch.utils.tensorboard`.

`tensorboard --logdir RUN` then shows the epoch metrics, the step losses, one reconstruction
strip per epoch, the config as text and, in the HParams tab, the config against the final
test metrics. The Embedding Projector's files go to the same folder (`aelab export --format projector`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from aelab.run_files import RunFiles
from aelab.tracking.base import Tracker, flat_config, register_tracker


@register_tracker
class TensorBoard(Tracker):
    name, package, extra = "tensorboard", "tensorboard", "tensorboard"

    def __init__(self, run: RunFiles):
        super().__init__(run)
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run.tensorboard))
        self.params: dict[str, Any] = {}

    def log_config(self, config: dict[str, Any]) -> None:
        self.params = flat_config(config)
        self.writer.add_text("config", f"```json\n{json.dumps(config, indent=2)}\n```")

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, step)

    def log_image(self, tag: str, image: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, image, step, dataformats="HWC")

    def finish(self, evaluation: dict[str, float]) -> None:
        """The final metrics as scalars and, with the config, as one HParams session in this same
        file (SummaryWriter.add_hparams would start a separate run folder for it)."""
        from torch.utils.tensorboard.summary import hparams

        metrics = {f"final/{k}": v for k, v in evaluation.items()}
        self.log_metrics(metrics, 0)
        for summary in hparams(self.params, metrics):
            self.writer.file_writer.add_summary(summary)

    def close(self, failed: bool = False) -> None:
        self.writer.close()
