"""Datasets as uint8 tensors, in memory or memory-mapped, found on disk or downloaded and verified.

ds = load_dataset("fashion-mnist")            # or a folder / .npz path
train, val = split_validation(ds.train, 0.1, seed=0)
for x, y in batches(train, 128, generator=g, device="cuda"): ...
"""

from aelab.data.base import DatasetStatus
from aelab.data.catalog import dataset_status, list_datasets, load_dataset, resolve_dataset_name
from aelab.data.policy import ImagePolicy
from aelab.data.split import ImageDataset, Split, Splits, batches, epoch_generator, split_validation

__all__ = [
    "DatasetStatus",
    "ImageDataset",
    "ImagePolicy",
    "Split",
    "Splits",
    "batches",
    "dataset_status",
    "epoch_generator",
    "list_datasets",
    "load_dataset",
    "resolve_dataset_name",
    "split_validation",
]
