"""The run folder: the contract between training, evaluation, analysis and reports.

A run folder alone is enough to rebuild the model (config.json + model.safetensors),
resume training (checkpoint.safetensors) and draw every figure (metrics.jsonl).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aelab.errors import AelabError
from aelab.io import write_text


@dataclass(frozen=True)
class RunFiles:
    root: Path

    config = property(lambda self: self.root / "config.json")
    weights = property(lambda self: self.root / "model.safetensors")
    checkpoint = property(lambda self: self.root / "checkpoint.safetensors")
    metrics = property(lambda self: self.root / "metrics.jsonl")
    loss_plot = property(lambda self: self.root / "loss.png")
    reconstructions = property(lambda self: self.root / "reconstructions.png")
    strips = property(lambda self: self.root / "reconstructions")
    evaluation = property(lambda self: self.root / "evaluation.json")
    samples = property(lambda self: self.root / "samples.png")  # prior samples, where the model can sample
    code_mixture = property(lambda self: self.root / "code_mixture.safetensors")  # the 'gmm' sampler's fit (aelab.generation)
    analysis_dir = property(lambda self: self.root / "analysis")  # one PNG per figure
    analysis_json = property(lambda self: self.root / "analysis.json")
    report = property(lambda self: self.root / "report.html")

    def strip(self, epoch: int) -> Path:
        return self.strips / f"epoch_{epoch:03d}.png"

    def require(self) -> "RunFiles":
        """Fail clearly when `root` is not a run folder."""
        if not self.config.is_file():
            raise AelabError(
                f"{self.root} is not a run folder (no config.json): pass the folder that "
                "`aelab train --out` wrote, e.g. runs/default."
            )
        return self

    def read_metrics(self) -> list[dict]:
        if not self.metrics.is_file():
            return []
        return [json.loads(line) for line in self.metrics.read_text().splitlines() if line.strip()]

    def write_metrics(self, history: list[dict]) -> None:
        write_text(self.metrics, "".join(json.dumps(row) + "\n" for row in history))
