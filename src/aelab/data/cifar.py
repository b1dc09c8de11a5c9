"""CIFAR-10 from the official python archive, or from its extracted `cifar-10-batches-py/`.

The archive is checked by its official md5 and extracted safely (archive.py);
the batches are read without running pickled code (pickles.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aelab.data.archive import extract_folder
from aelab.data.base import register
from aelab.data.checksums import check_digest, file_digest
from aelab.data.download import download
from aelab.data.limits import refuse_if_over
from aelab.data.pickles import load_batch
from aelab.data.sources import Downloadable, cache_root
from aelab.data.split import ImageDataset, Split
from aelab.errors import DataError

IMAGE_SHAPE = (3, 32, 32)  # each row: 1024 red, then 1024 green, then 1024 blue values
ROW_BYTES = int(np.prod(IMAGE_SHAPE))
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
FIX = "delete it to re-download, or pass --data-dir to use another copy"


@dataclass(frozen=True)
class CifarFiles:
    """The archive (name, md5, url) of a CIFAR-10-style dataset, and the md5 of each extracted batch."""

    name: str
    archive: str
    archive_md5: str
    url: str
    batch_md5: tuple[tuple[str, str], ...] = ()  # (file, md5): an extracted folder is checked like the archive

    def inventory(self, folder: Path) -> tuple[list[str], list[str]]:
        batches = batches_dir(folder)
        present = [f"{FOLDER}/{n}" for n in batch_files() if (batches / n).is_file()]
        missing = [f"{FOLDER}/{n}" for n in batch_files() if not (batches / n).is_file()]
        if missing and (folder / self.archive).is_file():
            return present + [self.archive], []
        return present, missing + ([self.archive] if missing else [])

    def read(self, folder: Path, *, verify: bool) -> ImageDataset:
        batches = batches_dir(folder)
        if not is_complete(batches):
            batches = self.extract(folder / self.archive, verify)
        if verify:
            for name, md5 in self.batch_md5:
                check_digest(batches / name, "md5", md5, file_digest(batches / name, "md5"))
        class_names = read_class_names(batches / META)
        train = read_split([batches / n for n in TRAIN_BATCHES], len(class_names))
        test = read_split([batches / TEST_BATCH], len(class_names))
        return ImageDataset(self.name, train, test, class_names, str(batches))

    def extract(self, archive: Path, verify: bool) -> Path:
        """Extract beside the archive, or into the user cache when that folder is read-only."""
        dest = archive.parent if os.access(archive.parent, os.W_OK) else cache_root() / self.name
        if is_complete(dest / FOLDER):
            return dest / FOLDER
        if verify:
            check_digest(archive, "md5", self.archive_md5, file_digest(archive, "md5"))
        return extract_folder(archive, FOLDER, dest)

    def fetch(self, folder: Path, *, verify: bool) -> None:
        download([self.url], folder / self.archive, self.archive_md5 if verify else None)

    def wanted(self) -> str:
        return f"{self.archive} or an extracted {FOLDER}/"

    def origin(self) -> str:
        return self.url


def batch_files() -> tuple[str, ...]:
    return (*TRAIN_BATCHES, TEST_BATCH, META)


def batches_dir(folder: Path) -> Path:
    return folder if folder.name == FOLDER else folder / FOLDER


def is_complete(batches: Path) -> bool:
    return all((batches / n).is_file() for n in batch_files())


def read_class_names(path: Path) -> tuple[str, ...]:
    names = load_batch(path).get(b"label_names")
    if not isinstance(names, list) or not all(isinstance(n, bytes) for n in names):
        raise DataError(f"{path} has no b'label_names' list of byte strings: {FIX}")
    refuse_if_over("max_classes", len(names), f"{path}: the number of class names")
    try:
        return tuple(n.decode("utf-8") for n in names)
    except UnicodeDecodeError as err:
        raise DataError(f"{path} has a class name that is not UTF-8 text ({err}): {FIX}") from None


def read_split(paths: list[Path], n_classes: int) -> Split:
    parts = [read_batch(path, n_classes) for path in paths]
    images = np.concatenate([x for x, _ in parts])  # also copies into a writable array
    labels = np.concatenate([y for _, y in parts])
    return Split(torch.from_numpy(images), torch.from_numpy(labels))


def read_batch(path: Path, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 3, 32, 32) uint8, labels (N,) int64) from one batch file."""
    batch = load_batch(path)
    data, labels = batch.get(b"data"), batch.get(b"labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW_BYTES:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: expected b'data' as uint8 rows of {ROW_BYTES} bytes, found {found}: {FIX}")
    if not isinstance(labels, list) or len(labels) != len(data):
        found = len(labels) if isinstance(labels, list) else type(labels).__name__
        raise DataError(f"{path}: expected b'labels' as a list of {len(data)} class indices, found {found}: {FIX}")
    if not all(type(v) is int for v in labels):  # noqa: E721 - bools and floats are not class indices
        raise DataError(f"{path}: expected b'labels' as integers, found other values: {FIX}")
    if labels and not (0 <= min(labels) and max(labels) < n_classes):  # Python ints: no overflow, no wrap
        raise DataError(f"{path}: labels must lie in [0, {n_classes}), found {min(labels)}..{max(labels)}: {FIX}")
    return data.reshape(-1, *IMAGE_SHAPE), np.array(labels, dtype=np.int64)


CIFAR10 = CifarFiles(
    name="cifar10",
    archive="cifar-10-python.tar.gz",
    archive_md5="c58f30108f718f92721af3b95e74349a",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    batch_md5=(  # the official values, as torchvision checks them
        ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
        ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
        ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
        ("data_batch_4", "634d18415352ddfa80567beed471001a"),
        ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
        ("test_batch", "40351d587109b95175f43aff81a1287e"),
        ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
    ),
)
register(Downloadable(CIFAR10))
