"""Image files decoded once into a memory-mapped uint8 cache, reused by every later run.

    $AELAB_CACHE_DIR (else ~/.cache/aelab)/images/<folder>-<key>/
        images.u8    N x C x H x W uint8, raw, in the order of the file list
        index.json   the policy, the shape, and each source file's path, size, mtime and sha256
        lock         held while the cache is checked or built (DDP ranks build it once)

The key is the source folder's absolute path and the policy (policy.py). A later load
compares every file's size and mtime with the index (a stat, no decoding); where only
mtimes moved (a copy, a checkout) the changed files are hashed and, if their sha256 is
unchanged, the cache is kept. Anything else rebuilds it. A build writes images.u8
under a temporary name (io.py) and index.json last, after dropping the old one, so a
build cut short by a kill leaves no index and is redone, never half-read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from aelab.data.policy import ImagePolicy
from aelab.data.sources import cache_root
from aelab.errors import DataError
from aelab.io import STORAGE_ERRNOS, atomic_path, lock_file, storage_errors, write_json

VERSION = 1
CACHE_ENV = "AELAB_CACHE_DIR"
IMAGES, INDEX, LOCK = "images.u8", "index.json", "lock"
CHUNK = 2048  # files decoded per round: bounds the decoded images held at once

Decode = Callable[[Path], tuple[np.ndarray, str]]  # file -> (H, W, C) uint8 and the sha256 of its bytes


def policy_record(policy: ImagePolicy) -> dict:
    """The policy as index.json holds it (tuples become lists), so that the two compare equal."""
    return json.loads(json.dumps(dataclasses.asdict(policy)))


def cache_folder(source: Path, policy: ImagePolicy) -> Path:
    base = Path(os.environ.get(CACHE_ENV) or cache_root())
    key = json.dumps({"source": str(source.resolve()), "policy": dataclasses.asdict(policy)}, sort_keys=True)
    return base / "images" / f"{source.name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def cached_images(source: Path, files: list[Path], policy: ImagePolicy, decode: Decode, workers: int | None = None,
                  progress: bool = True) -> torch.Tensor:
    """(N, C, H, W) uint8, memory-mapped: `files` (under `source`) decoded with `decode`, built when
    the cache is missing, damaged or older than the files, else read back from it."""
    folder = cache_folder(source, policy)
    stats = [file_stat(source, path) for path in files]
    with storage_errors(folder / IMAGES, STORAGE_ERRNOS):  # a read-only or full cache folder: an error naming it, no traceback
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / LOCK, "a") as lock:
            lock_file(lock, wait=True)  # released when the file closes, or the process dies
            index = usable_index(folder, source, stats, policy)
            if index is None:
                index = build(folder, source, files, stats, policy, decode, workers, progress)
    return mapped(folder / IMAGES, tuple(index["shape"]))


def file_stat(source: Path, path: Path) -> list:
    status = path.stat()
    return [path.relative_to(source).as_posix(), status.st_size, status.st_mtime_ns]


def usable_index(folder: Path, source: Path, stats: list[list], policy: ImagePolicy) -> dict | None:
    """The cache's index if it is whole and matches the files (refreshed where only mtimes moved), else None."""
    try:
        index = json.loads((folder / INDEX).read_text())
        whole = (index["version"] == VERSION and index["policy"] == policy_record(policy)
                 and (folder / IMAGES).stat().st_size == math.prod(index["shape"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    recorded = index["files"]  # [path, size, mtime_ns, sha256]
    if not whole or [r[:2] for r in recorded] != [s[:2] for s in stats]:
        return None
    moved = [i for i, (r, s) in enumerate(zip(recorded, stats)) if r[2] != s[2]]
    if any(sha256_of(source / recorded[i][0]) != recorded[i][3] for i in moved):
        return None
    if moved:
        index["files"] = [[*s, r[3]] for r, s in zip(recorded, stats)]
        write_json(folder / INDEX, index)
    return index


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def build(folder: Path, source: Path, files: list[Path], stats: list[list], policy: ImagePolicy, decode: Decode,
          workers: int | None, progress: bool) -> dict:
    """Decode every file in parallel threads (Pillow decodes and resizes without the GIL)
    straight into the memory-mapped file: memory holds one round of images, not the dataset."""
    (folder / INDEX).unlink(missing_ok=True)
    first, _ = decode(files[0])
    h, w, c = first.shape
    shape = (len(files), c, h, w)
    require_space(folder, math.prod(shape))
    digests = []
    with atomic_path(folder / IMAGES) as tmp, ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        out = np.memmap(tmp, np.uint8, "w+", shape=shape)
        bar = tqdm(total=len(files), desc=f"decoding {source.name} into the image cache", unit="img",
                   disable=None if progress else True)
        for start in range(0, len(files), CHUNK):
            chunk = files[start : start + CHUNK]
            for i, (path, (array, digest)) in enumerate(zip(chunk, pool.map(decode, chunk)), start):
                if array.shape != first.shape:
                    raise DataError(
                        f"{path} is {describe(array)}, expected {describe(first)} like {files[0]}: set data.image_size "
                        "(e.g. --set data.image_size=[64,64], with data.fit = resize, crop or pad) and data.channels "
                        "(1 or 3) to bring every image to one shape, or resize the images yourself"
                    )
                out[i] = array.transpose(2, 0, 1)  # HWC -> CHW
                digests.append(digest)
            bar.update(len(chunk))
        bar.close()
        out.flush()
        del out
    index = {"version": VERSION, "policy": policy_record(policy), "shape": list(shape),
             "files": [[*s, d] for s, d in zip(stats, digests)]}
    write_json(folder / INDEX, index)
    return index


def describe(array: np.ndarray) -> str:
    height, width, channels = array.shape
    return f"{width}x{height} with {channels} channel{'s' if channels > 1 else ''}"


def require_space(folder: Path, nbytes: int) -> None:
    free = shutil.disk_usage(folder).free
    if nbytes > free:
        raise DataError(
            f"the image cache needs {nbytes / 2**30:.2f} GiB in {folder}, which has {free / 2**30:.2f} GiB free: "
            f"free space there, or set {CACHE_ENV} to a folder on a larger disk"
        )


def mapped(path: Path, shape: tuple[int, ...]) -> torch.Tensor:
    """The cache file as a tensor whose pages the OS reads on demand (copy-on-write: never written back)."""
    return torch.from_numpy(np.memmap(path, np.uint8, "c", shape=shape))
