"""Where the noise drawn inside a loss comes from: the global RNG, or this thread's generator.

The sharded training step (`aelab.step`) runs parts of a batch on several
threads at once. Drawing from the one global RNG there would make each part's
noise depend on thread timing; instead each part runs under its own generator,
seeded from the global RNG, so a run (and a resumed run) stays reproducible.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import torch

_local = threading.local()


def noise_generator() -> torch.Generator | None:
    """This thread's generator, or None for the global RNG."""
    return getattr(_local, "generator", None)


@contextmanager
def thread_generator(generator: torch.Generator) -> Iterator[None]:
    previous = noise_generator()
    _local.generator = generator
    try:
        yield
    finally:
        _local.generator = previous
