"""Load a dataset by name, or by the path of the user's own data; report what is available."""

from __future__ import annotations

import os
from pathlib import Path

# Importing a dataset module registers it.
from aelab.data import celeba, cifar, image_folder, mnist, npz  # noqa: F401
from aelab.data.base import DATASETS, DatasetEntry, DatasetStatus, PathLike
from aelab.data.policy import UNCHANGED, ImagePolicy
from aelab.data.split import ImageDataset
from aelab.errors import DataError


def list_datasets() -> list[str]:
    return DATASETS.names()


def load_dataset(
    name: str, data_dir: PathLike | None = None, *, download: bool = True, verify: bool = True,
    policy: ImagePolicy = UNCHANGED,
) -> ImageDataset:
    """The dataset `name`, from local files or (if allowed) a verified download.

    `name` may also be a path: a folder loads as 'image-folder', an .npz file as 'npz'.
    `policy` brings image folders of mixed sizes and modes to one shape.
    """
    entry, data_dir = resolve(name, data_dir)
    return entry.load(data_dir, download=download, verify=verify, policy=policy)


def dataset_status(name: str, data_dir: PathLike | None = None) -> DatasetStatus:
    """Where `name` would be loaded from, or how to get it; never downloads."""
    entry, data_dir = resolve(name, data_dir)
    return entry.status(data_dir)


def resolve_dataset_name(name: str) -> str:
    """`name` as a run records it: a registered name as given, a path to the user's own data
    made absolute, so that the run can be analysed from any folder."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(f"dataset path {name.encode('utf-8', 'backslashreplace').decode()} is not valid UTF-8 text, "
                        "which run folders need to record it: rename the file or folder") from None
    if name in DATASETS:
        return name
    entry, path = resolve(name, None)
    return str(Path(path).resolve()) if isinstance(path, Path) else name


def resolve(name: str, data_dir: PathLike | None) -> tuple[DatasetEntry, PathLike | None]:
    """The registry entry for `name`, or for the user data at path `name`."""
    if name in DATASETS:
        return DATASETS.get(name), data_dir
    path = Path(name).expanduser()
    for entry in (DATASETS.get(registered) for registered in DATASETS):
        accepts = getattr(entry, "accepts", None)
        if accepts is not None and accepts(path):
            if data_dir is not None:
                raise DataError(f"dataset {name!r} is a path and data_dir {data_dir} was also given: pass only one")
            return entry, path
    if os.sep in name or path.suffix:
        raise DataError(
            f"dataset {name!r} looks like a path, but is neither a folder of images nor an .npz file: "
            f"check the path, or use one of: {', '.join(DATASETS.names())}"
        )
    return DATASETS.get(name), data_dir  # fails listing the valid names
