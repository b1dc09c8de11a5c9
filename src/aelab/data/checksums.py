"""Checksums that catch damaged or wrong files, with errors that say what to do."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aelab.errors import DataError


def file_digest(path: Path, algorithm: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


def check_digest(source: str | Path, what: str, expected: str, found: str) -> None:
    """Raise unless `found` equals `expected`; `what` names the digest, e.g. 'payload sha256'."""
    if found != expected:
        raise DataError(
            f"checksum mismatch for {source}: expected {what} {expected}, found {found}: "
            "delete it to re-download, or pass --data-dir to use another copy"
        )
