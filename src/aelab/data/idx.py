"""Strict reader for IDX files (the MNIST format), gzipped or not.

IDX layout: two zero bytes, a dtype code, the number of dimensions, one
big-endian uint32 per dimension, then the values in row-major order.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from aelab.data.checksums import check_digest
from aelab.errors import DataError

MAGIC_ZEROS = b"\x00\x00"
UBYTE_CODE = 0x08
FIXED_HEADER_BYTES = 4
DIM_BYTES = 4
FIX = "delete it to re-download, or pass --data-dir to use another copy"


def read_payload(path: Path) -> bytearray:
    """The decompressed bytes of `path` (writable, so tensors can share them)."""
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return bytearray(raw)
    try:
        return bytearray(gzip.decompress(raw))
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path} is not a complete gzip file ({err}): {FIX}") from None


def read_idx(path: Path, ndim: int, sha256: str | None = None) -> np.ndarray:
    """A uint8 array of `ndim` dimensions; checks the payload sha256 when given."""
    payload = read_payload(path)
    if sha256 is not None:
        check_digest(path, "payload sha256", sha256, hashlib.sha256(payload).hexdigest())
    return parse_idx(payload, ndim, path)


def parse_idx(payload: bytearray, ndim: int, source: Path) -> np.ndarray:
    expected_magic = MAGIC_ZEROS + bytes([UBYTE_CODE, ndim])
    found_magic = bytes(payload[:FIXED_HEADER_BYTES])
    if found_magic != expected_magic:
        raise DataError(
            f"{source} is not an IDX file of {ndim}-D unsigned bytes: expected magic "
            f"{expected_magic.hex()}, found {found_magic.hex() or 'nothing'}: {FIX}"
        )
    header_bytes = FIXED_HEADER_BYTES + DIM_BYTES * ndim
    if len(payload) < header_bytes:
        raise DataError(f"{source} ends inside its IDX header ({len(payload)} bytes): {FIX}")
    shape = struct.unpack(f">{ndim}I", payload[FIXED_HEADER_BYTES:header_bytes])
    expected = header_bytes + math.prod(shape)
    if len(payload) != expected:
        raise DataError(
            f"{source} has the wrong size for its header {shape}: expected {expected} bytes, "
            f"found {len(payload)} (truncated or with trailing data): {FIX}"
        )
    return np.frombuffer(payload, dtype=np.uint8, offset=header_bytes).reshape(shape)
