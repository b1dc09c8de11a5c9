"""The run folder: the contract between training, evaluation, analysis and reports.

A run folder alone is enough to rebuild the model (config.json + model.safetensors),
resume training (checkpoint.safetensors) and draw every figure (metrics.jsonl).
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from aelab.errors import AelabError
from aelab.io import lock_file, write_text

# Every file name aelab writes into a run folder (and the folders `compare` and `study` write),
# named once here: the other modules reach them through RunFiles or these constants.
CONFIG_JSON = "config.json"
WEIGHTS = "model.safetensors"
CHECKPOINT = "checkpoint.safetensors"
METRICS_JSONL = "metrics.jsonl"
LOSS_PNG = "loss.png"
RECONSTRUCTIONS_PNG = "reconstructions.png"
STRIPS_DIR = "reconstructions"
EVALUATION_JSON = "evaluation.json"
SAMPLES_PNG = "samples.png"
CODE_MIXTURE = "code_mixture.safetensors"
ANALYSIS_DIR = "analysis"
ANALYSIS_JSON = "analysis.json"
COMPARISON_JSON = "comparison.json"  # in `aelab compare --out`
STUDY_JSON = "study.json"  # in a study's folder
REPORT_HTML = "report.html"  # beside analysis.json, comparison.json or study.json
TENSORBOARD_DIR = "tensorboard"
MLFLOW_DIR, MLFLOW_DB = "mlflow", "mlflow.db"
ONNX_DIR, ONNX_ENCODER, ONNX_DECODER = "onnx", "encoder.onnx", "decoder.onnx"
PROJECTOR_CODES, PROJECTOR_METADATA, PROJECTOR_SPRITE = "codes.tsv", "metadata.tsv", "sprite.png"  # in the tensorboard folder
CLASSIFIER_SUMMARY = "summary.json"  # in a classifier's folder (classify-MODE), beside its metrics.jsonl and loss.png
LOCK = ".lock"

# What a run folder may hold before its config.json exists (a start that stopped early).
OWN_BEFORE_CONFIG = (LOCK,)


def figure_file(prefix: str, name: str) -> str:
    """An analysis' figure: 'latent_map' + 'tsne' -> 'latent_map-tsne.png'."""
    return f"{prefix}-{name}.png"


@dataclass(frozen=True)
class RunFiles:
    root: Path

    config = property(lambda self: self.root / CONFIG_JSON)
    weights = property(lambda self: self.root / WEIGHTS)
    checkpoint = property(lambda self: self.root / CHECKPOINT)
    metrics = property(lambda self: self.root / METRICS_JSONL)
    loss_plot = property(lambda self: self.root / LOSS_PNG)
    reconstructions = property(lambda self: self.root / RECONSTRUCTIONS_PNG)  # written last: the run is complete
    strips = property(lambda self: self.root / STRIPS_DIR)
    evaluation = property(lambda self: self.root / EVALUATION_JSON)
    samples = property(lambda self: self.root / SAMPLES_PNG)  # prior samples, where the model can sample
    code_mixture = property(lambda self: self.root / CODE_MIXTURE)  # the 'gmm' sampler's fit (aelab.generation)
    analysis_dir = property(lambda self: self.root / ANALYSIS_DIR)  # one PNG per figure
    analysis_json = property(lambda self: self.root / ANALYSIS_JSON)
    report = property(lambda self: self.root / REPORT_HTML)
    tensorboard = property(lambda self: self.root / TENSORBOARD_DIR)  # event files and the Embedding Projector's (aelab.tracking, aelab.export)
    mlflow = property(lambda self: self.root / MLFLOW_DIR)  # a local MLflow store: mlflow.db and artifacts (aelab.tracking)
    mlflow_db = property(lambda self: self.root / MLFLOW_DIR / MLFLOW_DB)
    onnx = property(lambda self: self.root / ONNX_DIR)  # `aelab export onnx`'s default folder
    lock_file = property(lambda self: self.root / LOCK)  # held by the process that trains the run

    def codes(self, split: str) -> Path:
        """`aelab encode`'s default file for `split`."""
        return self.root / f"codes-{split}.npz"

    def explore_page(self, other: str | None = None) -> Path:
        """`aelab explore`'s page: explore.html, or explore-vs-OTHER.html beside a second run."""
        return self.root / ("explore.html" if other is None else f"explore-vs-{other}.html")

    def classifier(self, folder_name: str) -> "ClassifierFiles":
        """The folder `aelab classify` writes one classifier into (classify-MODE...)."""
        return ClassifierFiles(self.root / folder_name)

    def strip_files(self) -> list[Path]:
        """The reconstruction strips written during training, first epoch first."""
        return sorted(self.strips.glob("epoch_*.png"))

    def strip(self, epoch: int) -> Path:
        return self.strips / f"epoch_{epoch:03d}.png"

    def require(self) -> "RunFiles":
        """Fail clearly when `root` is not a run folder."""
        if not self.config.is_file():
            raise AelabError(
                f"{self.root} is not a run folder (no {CONFIG_JSON}): pass the folder that "
                "`aelab train --out` wrote, e.g. runs/default."
            )
        return self

    def finished(self, epochs: int) -> bool:
        """Whether the run trained `epochs` epochs and wrote every file after its last checkpoint
        (the closing reconstructions are written last, so they are newer than the checkpoint)."""
        try:
            history = self.read_metrics()
        except AelabError:
            return False  # a damaged metrics file: resume rewrites it
        if not (history and history[-1]["epoch"] >= epochs and self.reconstructions.exists() and self.checkpoint.exists()):
            return False
        return self.reconstructions.stat().st_mtime_ns >= self.checkpoint.stat().st_mtime_ns

    def check_can_start(self) -> None:
        """Fail unless a new run may be started here: a new or empty folder, or a run that
        never finished an epoch (starting again reuses it). Never writes into other files."""
        if self.root.exists() and not self.root.is_dir():
            raise AelabError(f"--out {self.root} is a file, not a folder: choose a folder for the run.")
        if self.checkpoint.exists():
            raise AelabError(f"{self.root} already holds a run: continue it with `aelab train --resume {self.root}`, "
                             "or choose another --out.")
        if self.root.is_dir() and not self.config.exists():
            others = sorted(p.name for p in self.root.iterdir() if p.name not in OWN_BEFORE_CONFIG and not _is_temporary(p.name))
            if others:
                listing = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
                raise AelabError(f"--out {self.root} is a folder of other files ({listing}), not an aelab run: "
                                 "choose a new or empty folder (aelab never writes among files it did not make).")

    @contextmanager
    def owned(self) -> Iterator[None]:
        """Hold the run folder for this process: a second `aelab train` or `--resume` of the same
        folder is refused while this one runs. The operating system drops the lock when the process
        ends, however it ends, so a crash never leaves a stale one."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.lock_file, "a+") as handle:
            if not lock_file(handle, wait=False):
                handle.seek(0)
                owner = handle.read().strip() or "another process"
                raise AelabError(f"{self.root} is being trained by {owner}: wait for it to finish, or stop it, "
                                 "then continue with `aelab train --resume`.")
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()} on {socket.gethostname()} (since {time.strftime('%Y-%m-%d %H:%M:%S')})\n")
            handle.flush()
            yield

    def read_metrics(self) -> list[dict]:
        if not self.metrics.is_file():
            return []
        try:
            return [json.loads(line) for line in self.metrics.read_text().splitlines() if line.strip()]
        except (ValueError, UnicodeDecodeError) as err:
            raise AelabError(f"{self.metrics} is damaged ({err}): `aelab train --resume {self.root}` rewrites it "
                             "from the run's checkpoint.") from None

    def write_metrics(self, history: list[dict]) -> None:
        write_text(self.metrics, "".join(json.dumps(row) + "\n" for row in history))


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


@dataclass(frozen=True)
class ClassifierFiles:
    """One classifier's folder inside a run (`aelab classify`)."""

    root: Path

    metrics = property(lambda self: self.root / METRICS_JSONL)
    loss_plot = property(lambda self: self.root / LOSS_PNG)
    summary = property(lambda self: self.root / CLASSIFIER_SUMMARY)
