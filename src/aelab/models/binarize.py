"""Binarising images for a Bernoulli likelihood, recorded in the model config.

Published log-likelihoods depend on it, so it is a model option, never implicit:
    none     the targets are the grey values in [0, 1] (a cross-entropy, not a
             normalised likelihood: fine for training, not for comparing NLLs)
    static   x > 0.5, the same binary image every time (the TensorFlow tutorial)
    dynamic  a fresh Bernoulli draw x_b ~ Bernoulli(x) every time an image is seen
             in training (the IWAE paper's protocol; it also regularises)

For evaluation, a dynamically binarised split is drawn ONCE with a fixed seed
(`evaluation_split`), so test ELBOs and log-likelihoods are comparable across
epochs, runs and models.
"""

from __future__ import annotations

from typing import Literal

import torch

from aelab.data.split import PIXEL_MAX, Split

Binarize = Literal["none", "static", "dynamic"]
THRESHOLD = 0.5
EVAL_BINARIZATION_SEED = 0  # one fixed draw of the evaluation images, the same for every run


def binarize_batch(x: torch.Tensor, mode: Binarize, generator: torch.Generator | None = None) -> torch.Tensor:
    """Targets for a batch x (B, C, H, W) in [0, 1]; a dynamic draw comes from `generator`."""
    if mode == "static":
        return (x > THRESHOLD).to(x.dtype)
    if mode == "dynamic":
        return torch.bernoulli(x, generator=generator)  # the identity on images that are already binary
    return x


def evaluation_binarization(mode: Binarize) -> str:
    """How `evaluation_split` scores images, for the record: a dynamic model is scored on one fixed draw."""
    return {"none": "none (grey values)", "static": f"static (x > {THRESHOLD})"}.get(mode, f"one fixed draw (seed {EVAL_BINARIZATION_SEED})")


def evaluation_split(split: Split, mode: Binarize) -> Split:
    """The split as a model with this binarisation is scored on: uint8 0/255 images, fixed."""
    if mode == "none":
        return split
    p = split.images.float() / PIXEL_MAX
    if mode == "static":
        on = p > THRESHOLD
    else:
        noise = torch.rand(p.shape, generator=torch.Generator().manual_seed(EVAL_BINARIZATION_SEED))
        on = noise < p
    return Split(on.to(torch.uint8) * int(PIXEL_MAX), split.labels)
