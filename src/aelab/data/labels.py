"""Class labels as they enter from files: integers in [0, number of classes), checked in their own dtype.

Checking before any cast matters: uint64 labels of 2**63 and above would wrap to
negative int64, and a single label of 2**40 would make the analyses build 2**40
class names. The number of classes is bounded (limits.py: AELAB_MAX_CLASSES).
"""

from __future__ import annotations

import numpy as np

from aelab.data.limits import refuse_if_over
from aelab.errors import DataError


def checked_labels(y: np.ndarray, source: str, n_classes: int | None = None, fix: str = "fix the labels") -> np.ndarray:
    """`y` as int64 after checking it: integers, >= 0, below `n_classes` when known, else below the limit."""
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_):
        raise DataError(f"{source}: labels are {y.dtype}, expected integer class indices: {fix}")
    if not y.size:
        return y.astype(np.int64)
    low, high = int(y.min()), int(y.max())  # Python ints: exact for every integer dtype
    if low < 0:
        raise DataError(f"{source}: labels range {low}..{high}, expected 0 or more: {fix}")
    if n_classes is not None and high >= n_classes:
        raise DataError(f"{source}: labels range {low}..{high}, expected 0..{n_classes - 1} for {n_classes} classes: {fix}")
    refuse_if_over("max_classes", high + 1, f"{source}: the number of classes (largest label {high} + 1)")
    return y.astype(np.int64)
