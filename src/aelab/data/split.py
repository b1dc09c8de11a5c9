"""Datasets held in memory as uint8 tensors, and the batch iterator that feeds the model.

Images stay uint8 until a batch is cut: 4x less memory than float32, and one
gather + one conversion per batch costs far less than a per-sample Dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from aelab.errors import ConfigError, DataError

PIXEL_MAX = 255.0


@dataclass(frozen=True)
class Split:
    """One split: images (N, C, H, W) uint8 and labels (N,) int64, or None when unknown."""

    images: torch.Tensor
    labels: torch.Tensor | None = None

    def __post_init__(self) -> None:
        x, y = self.images, self.labels
        if x.dtype != torch.uint8 or x.dim() != 4:
            raise DataError(
                f"images must be a uint8 tensor (N, C, H, W), found {x.dtype} with shape "
                f"{tuple(x.shape)}: convert them with x.to(torch.uint8) in NCHW order"
            )
        if y is not None and (y.dtype != torch.int64 or y.shape != (x.shape[0],)):
            raise DataError(
                f"labels must be an int64 tensor of shape ({x.shape[0]},) to match the images, "
                f"found {y.dtype} with shape {tuple(y.shape)}: pass labels.long() or None"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> Split:
        """The split with its tensors on `device` (a GPU cuts batches without host copies)."""
        return Split(self.images.to(device), None if self.labels is None else self.labels.to(device))

    def subset(self, index: slice | torch.Tensor) -> Split:
        """The images (and labels) at `index`: a slice for the first k, or a tensor of indices."""
        labels = None if self.labels is None else self.labels[index]
        return Split(self.images[index], labels)


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
        train_shape, test_shape = self.train.images.shape[1:], self.test.images.shape[1:]
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
        c, h, w = self.train.images.shape[1:]
        return (c, h, w)


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
    n_val = round(len(split) * fraction)
    if n_val == 0:
        return split, split.subset(slice(0, 0))
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    val_index, _ = order[:n_val].sort()
    train_index, _ = order[n_val:].sort()
    return split.subset(train_index), split.subset(val_index)


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
        x = split.images[index]
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
