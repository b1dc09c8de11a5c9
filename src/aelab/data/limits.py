"""Bounds on what a dataset file may make aelab allocate, checked before allocating.

A 200-byte .npz can declare a 730 GiB array, a gzip can inflate a thousandfold
and a PNG header can claim 30000x30000 pixels: each is refused from its header,
before any memory is taken. The defaults fit every dataset aelab is meant for
with room to spare; users with larger data raise them with environment variables
(docs/limits.md):

    AELAB_MAX_BYTES         decompressed bytes of one array or file   (default 8 GiB)
    AELAB_MAX_IMAGE_PIXELS  pixels of one image in an image folder     (default 2**26, 8192x8192)
    AELAB_MAX_CLASSES       distinct labels (largest label + 1)        (default 100,000)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from aelab.errors import DataError

ENV_VARS = {"max_bytes": "AELAB_MAX_BYTES", "max_image_pixels": "AELAB_MAX_IMAGE_PIXELS", "max_classes": "AELAB_MAX_CLASSES"}


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 8 * 2**30
    max_image_pixels: int = 2**26
    max_classes: int = 100_000


def limits() -> Limits:
    """The defaults, with any AELAB_MAX_* environment variable applied (read on each call)."""
    values = {}
    for field, var in ENV_VARS.items():
        raw = os.environ.get(var)
        if raw is None:
            continue
        try:
            values[field] = int(raw.replace("_", ""))
        except ValueError:
            values[field] = 0
        if values[field] < 1:
            raise DataError(f"{var}={raw!r} is not a positive whole number: set it to e.g. {getattr(Limits(), field)} or unset it")
    return Limits(**values)


def refuse_if_over(limit_field: str, amount: int, what: str) -> None:
    """A DataError when `amount` exceeds the limit `limit_field`, naming the variable that raises it."""
    limit = getattr(limits(), limit_field)
    if amount > limit:
        raise DataError(
            f"{what} is {amount:,}, above aelab's limit of {limit:,}: if the file is genuine, raise the "
            f"limit with {ENV_VARS[limit_field]}={amount} (see docs/limits.md); otherwise the file is damaged or hostile"
        )
