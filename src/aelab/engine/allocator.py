"""Keep freed tensor memory inside the process while training on CPUs (Linux, glibc).

By default glibc hands large freed blocks back to the operating system: blocks above its
mmap threshold are unmapped when freed, and free memory at the top of a heap is trimmed.
A training step allocates and frees the same few megabytes of activations every step, so
it page-faults them back in each time. Raising both thresholds keeps those pages (Intel's
and PyTorch's CPU tuning guides get the same effect by preloading jemalloc or tcmalloc);
`benchmarks/train_speed.py` measures what it gives. Elsewhere (macOS, Windows, musl) the
allocator is left alone.
"""

from __future__ import annotations

import ctypes
import sys
from contextlib import contextmanager
from typing import Iterator

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
KEPT_MMAP_THRESHOLD = 32 * 2**20  # glibc's own ceiling for its adaptive threshold
KEPT_TRIM_THRESHOLD = 256 * 2**20
GLIBC_DEFAULT = 128 * 2**10  # both thresholds' start values (mallopt(3))


@contextmanager
def freed_memory_kept() -> Iterator[bool]:
    """Raise glibc's thresholds for the block, then set them back to glibc's defaults.
    Yields whether they were raised (False where there is no glibc)."""
    libc = _glibc()
    raised = bool(libc and libc.mallopt(M_MMAP_THRESHOLD, KEPT_MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, KEPT_TRIM_THRESHOLD))
    try:
        yield raised
    finally:
        if raised:
            libc.mallopt(M_MMAP_THRESHOLD, GLIBC_DEFAULT)
            libc.mallopt(M_TRIM_THRESHOLD, GLIBC_DEFAULT)


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc; None elsewhere, where the allocator is left alone."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") else None
    except OSError:
        return None
