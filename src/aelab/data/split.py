"""Datasets held in memory as uint8 tensors, and the batch iterator that feeds the model.

Images stay uint8 until a batch is cut: 4x less memory than float32, and one
gather + one conversion per batch costs far less than a per-sample Dataset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch

from aelab.errors import ConfigError, DataError

PIXEL_MAX = 255.0
COPY_CHUNK = 4096  # images copied at a time from a memory map


@dataclass(frozen=True)
class Split:
    """One split: images (N, C, H, W) uint8 and labels (N,) int64, or None when unknown.

    `store` holds the pixels, in memory or memory-mapped from a cache file (image_cache.py).
    A subset of a `mapped` split keeps `rows`, the indices of its images in the store,
    instead of copying them: a dataset larger than memory is split and batched without
    ever being read whole, each batch gathered from the map as it is cut.
    """

    store: torch.Tensor
    labels: torch.Tensor | None = None
    rows: torch.Tensor | None = None  # int64 indices into `store`; None: all of it, in order
    mapped: bool = False

    def __post_init__(self) -> None:
        x, y = self.store, self.labels
        if x.dtype != torch.uint8 or x.dim() != 4:
            raise DataError(
                f"images must be a uint8 tensor (N, C, H, W), found {x.dtype} with shape "
                f"{tuple(x.shape)}: convert them with x.to(torch.uint8) in NCHW order"
            )
        if y is not None and (y.dtype != torch.int64 or y.shape != (len(self),)):
            raise DataError(
                f"labels must be an int64 tensor of shape ({len(self)},) to match the images, "
                f"found {y.dtype} with shape {tuple(y.shape)}: pass labels.long() or None"
            )

    def __len__(self) -> int:
        return self.store.shape[0] if self.rows is None else len(self.rows)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.store.shape[1:]
        return (c, h, w)

    @property
    def nbytes(self) -> int:
        return len(self) * math.prod(self.image_shape)

    @property
    def images(self) -> torch.Tensor:
        """All images of the split as one tensor: a copy for a subset of a mapped split (`pixels`
        reads a few without reading them all)."""
        return self.store if self.rows is None else self.store[self.rows]

    def pixels(self, index: slice | torch.Tensor) -> torch.Tensor:
        """The uint8 images at `index` of this split, read from the store alone."""
        return self.store[index] if self.rows is None else self.store[self.rows[index]]

    def to(self, device: torch.device | str) -> Split:
        """The split with its tensors in memory on `device` (a GPU cuts batches without host
        copies); a mapped split is read a chunk at a time, never whole into host memory."""
        labels = None if self.labels is None else self.labels.to(device)
        if not self.mapped:
            return Split(self.store.to(device), labels)
        images = torch.empty((len(self), *self.image_shape), dtype=torch.uint8, device=device)
        for start in range(0, len(self), COPY_CHUNK):
            images[start : start + COPY_CHUNK] = self.pixels(slice(start, start + COPY_CHUNK)).to(device)
        return Split(images, labels)

    def subset(self, index: slice | torch.Tensor) -> Split:
        """The images (and labels) at `index`: a slice for the first k, or a tensor of indices."""
        labels = None if self.labels is None else self.labels[index]
        if not self.mapped:
            return Split(self.store[index], labels)
        if self.rows is None and isinstance(index, slice):
            return Split(self.store[index], labels, mapped=True)  # a view of the map
        rows = torch.arange(len(self)) if self.rows is None else self.rows
        return Split(self.store, labels, rows[index], mapped=True)


@dataclass(frozen=True)
class Splits:
    """The three splits a run uses: train, validation (carved from train) and test."""

    train: Split
    val: Split
    test: Split
    val_is_test: bool = False  # data.val_fraction = 0: the test split is watched, never selected on


@dataclass(frozen=True)
class ImageDataset:
    """Train and test splits of one dataset, with where its files came from."""

    name: str
    train: Split
    test: Split
    class_names: tuple[str, ...]
    location: str

    def __post_init__(self) -> None:
        train_shape, test_shape = self.train.image_shape, self.test.image_shape
        if 0 in train_shape:
            raise DataError(f"{self.name} at {self.location}: images of shape {tuple(train_shape)} (C, H, W) hold no "
                            "pixels: give images at least 1x1 with 1 or 3 channels")
        if train_shape != test_shape:
            raise DataError(
                f"{self.name} at {self.location}: train images are {tuple(train_shape)} but test "
                f"images are {tuple(test_shape)}: give both splits the same channels and size"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.train.image_shape


def require_images(splits: dict[str, Split], source: str) -> None:
    """A DataError naming the empty split, so that a dataset too small for the run fails before training."""
    empty = [name for name, split in splits.items() if len(split) == 0]
    if empty:
        sizes = ", ".join(f"{name} {len(split)}" for name, split in splits.items())
        raise DataError(
            f"{source} leaves no {empty[0]} images ({sizes}): use more images (data.train_subset / "
            "data.test_subset may cut too many), or set data.val_fraction=0 to validate on the test split"
        )


def split_validation(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """(train, val): a random `fraction` of `split` held out, the same for the same seed.

    Both parts keep the original order of the samples they contain.
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"validation fraction must be in [0, 1), got {fraction}")
    if round(len(split) * fraction) == 0:
        return split, split.subset(slice(0, 0))
    train_index, val_index = held_out(len(split), fraction, seed)
    return split.subset(train_index), split.subset(val_index)


def held_out(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept, held out): sorted indices of n items, a random `fraction` of them held out."""
    n_held = round(n * fraction)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_held:].sort()[0], order[:n_held].sort()[0]


def batches(
    split: Split,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    part: tuple[int, int] = (0, 1),
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield (x, y): x float32 (B, C, H, W) in [0, 1] on `device`, y int64 (B,) or None.

    Shuffles iff `generator` is given (so the order is reproducible); the last
    batch may be smaller. With `part=(rank, world_size)` each batch is cut into
    world_size slices (`part_of`) and only this rank's slice is read.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    n = len(split)
    order = None
    if generator is not None:
        order = torch.randperm(n, generator=generator, device=generator.device).cpu()
    for start in range(0, n, batch_size):
        index = slice(start, min(n, start + batch_size)) if order is None else order[start : start + batch_size]
        if part != (0, 1):
            index = _sliced(index, part_of(min(batch_size, n - start), *part))
        x = split.pixels(index)
        if x.device.type == "cpu" and torch.device(device).type == "cuda":
            x = x.pin_memory()  # page-locked, so the copy to the GPU runs asynchronously
        x = x.to(device, non_blocking=True).float().div_(PIXEL_MAX)
        y = None if split.labels is None else split.labels[index].to(device, non_blocking=True)
        yield x, y


def part_of(n: int, rank: int, world_size: int) -> slice:
    """Rank `rank`'s slice of n items cut into `world_size` parts whose sizes differ by at
    most one (as `tensor_split` cuts them)."""
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


def _sliced(index: slice | torch.Tensor, within: slice) -> slice | torch.Tensor:
    if isinstance(index, slice):
        return slice(index.start + within.start, index.start + within.stop)
    return index[within]


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The shuffle of one epoch, the same on every rank (and for a resumed run)."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)
