"""What an analysis needs of a run, declared on its class, so that the runner can say in words
why it skips one:

    class PriorSamples(Analysis):
        needs = Needs(sample=True)

The model's needs are read from the `Capabilities` it declares, the run's (class labels, a
training history) from the run itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aelab.inspect import weighted_layers
from aelab.models import Capabilities

if TYPE_CHECKING:
    from aelab.analysis.context import AnalysisContext


@dataclass(frozen=True)
class Needs:
    # of the model, from its capabilities
    sample: bool = False  # a prior to draw images from
    discrete_code: bool = False  # a code that is a grid of codebook entries
    continuous_code: bool = False  # a code whose numbers can be walked along and mixed: not a codebook grid
    denoise: bool = False  # a model trained to undo noise (`corrupt`)
    code_numbers_at_most: int | None = None  # a code no wider than this (what is fitted on codes grows with their width)
    # of the model's layers
    encoder_weights: bool = False  # an encoder layer with weights (convolution, dense) to show
    # of the run
    labels: bool = False  # class labels on the test images
    train_labels: bool = False  # labelled training images, at least one
    history: bool = False  # the training history (metrics.jsonl) with at least one epoch

    def model_unmet(self, capabilities: Capabilities) -> str | None:
        """The first need that the model's declared capabilities do not meet, in words; None when they meet all."""
        if self.sample and not capabilities.sample:
            return "the model cannot sample from a prior"
        if self.discrete_code and not capabilities.discrete_code:
            return "the model's code is not a grid of codebook entries"
        if self.denoise and not capabilities.denoise:
            return "the model was not trained to undo noise"
        if self.continuous_code and capabilities.discrete_code:
            return "the model's code is a grid of codebook entries: walking or mixing its numbers leaves the codebook"
        return None

    def unmet(self, capabilities: Capabilities, ctx: AnalysisContext) -> str | None:
        """The first need that the model (its `capabilities`) or the run (`ctx`) does not meet, in
        words, e.g. "the model cannot sample from a prior"; None when the analysis fits the run."""
        return self.model_unmet(capabilities) or self.run_unmet(ctx)

    def run_unmet(self, ctx: AnalysisContext) -> str | None:
        width = math.prod(ctx.code_shape)
        if self.code_numbers_at_most is not None and width > self.code_numbers_at_most:
            return f"the model's code has {width:,} numbers, more than the {self.code_numbers_at_most:,} this analysis fits on"
        if self.encoder_weights and not weighted_layers(ctx.model.encoder):
            return "the model's encoder has no layer with weights to show"
        if self.labels and ctx.test.labels is None:
            return "the dataset has no class labels" if ctx.train.labels is None else "the test images have no class labels"
        if self.train_labels and (ctx.train.labels is None or len(ctx.train) == 0):
            return "the run has no labelled training images"
        if self.history and not ctx.run.read_metrics():
            return "the run has no training history (its metrics.jsonl is missing or empty)"
        return None
