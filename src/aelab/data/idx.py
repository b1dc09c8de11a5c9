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
from typing import BinaryIO

import numpy as np

from aelab.data.checksums import check_digest
from aelab.data.limits import refuse_if_over
from aelab.errors import DataError

MAGIC_ZEROS = b"\x00\x00"
UBYTE_CODE = 0x08
FIXED_HEADER_BYTES = 4
DIM_BYTES = 4
FIX = "delete it to re-download, or pass --data-dir to use another copy"


def read_payload(path: Path, ndim: int) -> bytearray:
    """The decompressed bytes of `path` (writable, so tensors can share them).

    Only as many bytes as the header declares (plus one, to notice trailing data)
    are ever decompressed, and a header declaring more than the byte limit is
    refused before anything is allocated: a gzip that inflates to 16 GiB costs
    nothing beyond its declared size.
    """
    header_bytes = FIXED_HEADER_BYTES + DIM_BYTES * ndim
    try:
        with open(path, "rb") as raw:
            stream = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw
            header = read_up_to(stream, header_bytes)
            if len(header) < header_bytes or header[:2] != MAGIC_ZEROS:
                return header  # parse_idx says what is wrong
            size = math.prod(struct.unpack(f">{ndim}I", header[FIXED_HEADER_BYTES:]))
            refuse_if_over("max_bytes", size, f"{path}: the data size its IDX header declares")
            return read_up_to(stream, size + 1, prefix=header)  # one byte more shows trailing data
    except (OSError, EOFError, zlib.error) as err:
        if path.suffix == ".gz" and not isinstance(err, PermissionError):
            raise DataError(f"{path} is not a complete gzip file ({err}): {FIX}") from None
        raise DataError(f"{path} cannot be read ({err}): check its permissions, or {FIX}") from None


def read_up_to(stream: BinaryIO, n: int, prefix: bytes = b"") -> bytearray:
    """`prefix` and then at most `n` bytes from `stream` (fewer at its end), allocated once."""
    buffer = bytearray(len(prefix) + n)
    buffer[: len(prefix)] = prefix
    view, filled = memoryview(buffer), len(prefix)
    while filled < len(buffer):
        got = stream.readinto(view[filled:])
        if not got:
            break
        filled += got
    view.release()
    del buffer[filled:]
    return buffer


def read_idx(path: Path, ndim: int, sha256: str | None = None) -> np.ndarray:
    """A uint8 array of `ndim` dimensions; checks the payload sha256 when given."""
    payload = read_payload(path, ndim)
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
