"""MNIST and Fashion-MNIST: four IDX files each, checked by the sha256 of their payload.

The payload (decompressed) checksum accepts any re-compressed copy, such as
Debian's, and catches any damaged one; the official .gz md5 checks downloads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aelab.data.base import register
from aelab.data.download import download
from aelab.data.idx import read_idx, read_payload
from aelab.data.sources import Downloadable
from aelab.data.split import ImageDataset, Split
from aelab.errors import DataError

IMAGE_NDIM = 3  # (N, H, W)
LABEL_NDIM = 1  # (N,)
GZ = ".gz"


@dataclass(frozen=True)
class IdxFile:
    name: str  # without .gz; either form is accepted
    sha256: str  # of the decompressed payload
    md5: str  # of the official .gz, checked on download


@dataclass(frozen=True)
class IdxSplit:
    images: IdxFile
    labels: IdxFile


class IdxFileSet:
    """Finding, fetching and describing a set of IDX files: needs `files()` and `mirrors`."""

    mirrors: tuple[str, ...]

    def files(self) -> tuple[IdxFile, ...]:
        raise NotImplementedError

    def inventory(self, folder: Path) -> tuple[list[str], list[str]]:
        present, missing = [], []
        for f in self.files():
            (present if find_file(folder, f) else missing).append(f.name)
        owner = None if missing else foreign_owner(folder, self.files()[-1])
        if owner:  # same file names, another dataset: never "found", never "delete it"
            return present, [f"{self.name}'s own files: these are {owner}'s, keep them for --dataset {owner}"]
        return present, missing

    def fetch(self, folder: Path, *, verify: bool) -> None:
        for f in self.files():
            if find_file(folder, f) is None:
                urls = [mirror + f.name + GZ for mirror in self.mirrors]
                download(urls, folder / (f.name + GZ), f.md5 if verify else None)

    def wanted(self) -> str:
        return ", ".join(f"{f.name}[{GZ}]" for f in self.files())

    def origin(self) -> str:
        return " or ".join(self.mirrors) or "no known mirror"


@dataclass(frozen=True)
class IdxDataset(IdxFileSet):
    """The files, checksums, class names and mirrors of an MNIST-style dataset."""

    name: str
    train: IdxSplit
    test: IdxSplit
    class_names: tuple[str, ...]
    mirrors: tuple[str, ...]
    hint: str = ""  # shown when the files are missing

    def files(self) -> tuple[IdxFile, ...]:
        return (self.train.images, self.train.labels, self.test.images, self.test.labels)

    def read(self, folder: Path, *, verify: bool) -> ImageDataset:
        train = read_split(folder, self.train, self.class_names, verify)
        test = read_split(folder, self.test, self.class_names, verify)
        return ImageDataset(self.name, train, test, self.class_names, str(folder))


def find_file(folder: Path, f: IdxFile) -> Path | None:
    """The plain file if present (no decompression needed), else the .gz, else None."""
    for path in (folder / f.name, folder / (f.name + GZ)):
        if path.is_file():
            return path
    return None


def foreign_owner(folder: Path, labels: IdxFile) -> str | None:
    """The known dataset whose files these are, when they are not `labels`' own, told by the
    checksum of the test labels (10 kB; MNIST and Fashion-MNIST share every file name)."""
    try:
        digest = hashlib.sha256(read_payload(find_file(folder, labels), LABEL_NDIM)).hexdigest()
    except DataError:
        return None  # damaged: the checksum on load says so
    if digest == labels.sha256:
        return None
    return next((d.name for d in IDX_DATASETS if d.test.labels.sha256 == digest), None)


def read_split(folder: Path, split: IdxSplit, class_names: tuple[str, ...], verify: bool) -> Split:
    image_path, label_path = find_file(folder, split.images), find_file(folder, split.labels)
    if image_path is None or label_path is None:
        raise DataError(
            f"{folder} lacks {split.images.name} or {split.labels.name}: pass --data-dir to a complete copy"
        )
    images = read_idx(image_path, IMAGE_NDIM, split.images.sha256 if verify else None)
    labels = read_idx(label_path, LABEL_NDIM, split.labels.sha256 if verify else None)
    if len(images) != len(labels):
        raise DataError(
            f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels: "
            "the two files must come from the same release; replace both"
        )
    if labels.size and labels.max() >= len(class_names):
        raise DataError(
            f"{label_path} has label {labels.max()}, expected below {len(class_names)} classes: "
            "delete it to re-download, or pass --data-dir to use another copy"
        )
    x = torch.from_numpy(images).unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    return Split(x, torch.from_numpy(labels.astype(np.int64)))


MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/")
FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
# fmt: off
MNIST = IdxDataset(
    name="mnist",
    train=IdxSplit(
        IdxFile("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        IdxFile("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", "d53e105ee54ea40749a09fcbcd1e9432"),
    ),
    test=IdxSplit(
        IdxFile("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", "9fb629c4189551a2d022fa330f9573f3"),
        IdxFile("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
    class_names=tuple("0123456789"),
    mirrors=MNIST_MIRRORS,
    hint="Without MNIST's training images, `--dataset mnist-test-split` trains on the first 8,000 official test images and tests on the last 2,000.",
)
FASHION_MNIST = IdxDataset(
    name="fashion-mnist",
    train=IdxSplit(
        IdxFile("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        IdxFile("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", "25c81989df183df01b3e8a0aad5dffbe"),
    ),
    test=IdxSplit(
        IdxFile("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", "bef4ecab320f06d8554ea6380940ec79"),
        IdxFile("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", "bb300cfdad3c16e7a12a480ee83cd310"),
    ),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    mirrors=FASHION_MIRRORS,
)
# fmt: on
IDX_DATASETS = (MNIST, FASHION_MNIST)  # told apart by checksum in foreign_owner


@dataclass(frozen=True)
class TestImagesOnly(IdxFileSet):
    """A dataset's official test split alone, cut into train (first `n_train`) and test (the rest).

    For machines that have the test files but not the training images (offline,
    MNIST's training images often are not). The files are the base dataset's and
    are looked for in its folder.
    """

    base: IdxDataset
    n_train: int

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def mirrors(self) -> tuple[str, ...]:
        return self.base.mirrors

    def files(self) -> tuple[IdxFile, ...]:
        return (self.base.test.images, self.base.test.labels)

    def read(self, folder: Path, *, verify: bool) -> ImageDataset:
        official_test = read_split(folder, self.base.test, self.base.class_names, verify)
        n = len(official_test)
        train, test = official_test.subset(slice(0, self.n_train)), official_test.subset(slice(self.n_train, n))
        location = f"{folder} (official test images only: first {self.n_train:,} train, last {n - self.n_train:,} test)"
        return ImageDataset(f"{self.base.name}-test-split", train, test, self.base.class_names, location)


register(Downloadable(MNIST))
register(Downloadable(FASHION_MNIST))
register(Downloadable(TestImagesOnly(MNIST, n_train=8000), alias="mnist-test-split"))
