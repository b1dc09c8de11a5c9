"""Verified downloads: a file appears under its final name only once complete and checked."""

from __future__ import annotations

import http.client
import urllib.request
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from aelab.data.checksums import check_digest, file_digest
from aelab.errors import DataError
from aelab.io import atomic_path

TIMEOUT_S = 60
CHUNK_BYTES = 1 << 20
FETCH_ERRORS = (OSError, ValueError, http.client.HTTPException, DataError)


def download(urls: Sequence[str], dest: Path, md5: str | None) -> None:
    """Save the first of `urls` that arrives whole (and matches `md5` when given) as `dest`.

    Mirrors are tried in order; a failed or corrupted copy leaves nothing behind.
    """
    failures = []
    for url in urls:
        try:
            with atomic_path(dest) as tmp:
                fetch(url, tmp, dest.name)
                if md5 is not None:
                    check_digest(url, "md5", md5, file_digest(tmp, "md5"))
            return
        except FETCH_ERRORS as err:
            failures.append(str(getattr(err, "reason", err)))  # URLError's reason: 'Name or service not known'
    mirrors = f"{len(urls)} mirrors" if len(urls) > 1 else "its mirror"
    raise DataError(f"{dest.name} from {mirrors}: {'; '.join(dict.fromkeys(failures))}")  # one reason when all alike


def fetch(url: str, dest: Path, label: str) -> None:
    """Copy `url` to `dest` with a progress bar; raise if it ends early."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        with tqdm(total=total or None, unit="B", unit_scale=True, desc=label) as bar:
            received = 0
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total and received != total:
        raise DataError(f"download ended early: expected {total} bytes, received {received}")
