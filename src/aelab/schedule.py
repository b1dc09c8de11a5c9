"""Learning-rate schedules, as functions of training progress so that a resumed run needs no
scheduler state: the rate at step s of S is `learning_rate(train.lr, train.lr_schedule, s / S)`.

- constant: `train.lr` throughout (the seeds' recipes).
- cosine: from `train.lr` down to 0 along half a cosine (Loshchilov & Hutter, 2017).
- one-cycle: a linear rise from lr/25 to `train.lr` over the first 30% of steps, then a cosine
  descent to lr/10^4 (Smith & Topin, 2019; torch's OneCycleLR defaults without momentum cycling).
  With a larger `train.lr` than the constant recipe's, it reaches a given loss in fewer epochs.

The schedule spans every epoch of the run (`train.epochs` and a model's second stage after them):
resuming with more epochs stretches what is left of it.
"""

from __future__ import annotations

import math
from typing import Literal

Schedule = Literal["constant", "cosine", "one-cycle"]
WARMUP_FRACTION, START_DIVISOR, END_DIVISOR = 0.3, 25.0, 1e4


def learning_rate(lr: float, schedule: Schedule, progress: float) -> float:
    """The rate at `progress` (0 at the first step, approaching 1 at the last)."""
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "one-cycle":
        if progress < WARMUP_FRACTION:
            start = lr / START_DIVISOR
            return start + (lr - start) * progress / WARMUP_FRACTION
        descent = (progress - WARMUP_FRACTION) / (1 - WARMUP_FRACTION)
        end = lr / END_DIVISOR
        return end + (lr - end) * 0.5 * (1 + math.cos(math.pi * descent))
    raise ValueError(f"unknown learning-rate schedule {schedule!r}: use constant, cosine or one-cycle")
