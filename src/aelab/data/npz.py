"""NumPy arrays in an .npz: Keras-style x_train/y_train/x_test/y_test, or images[, labels].

Images may be NHW, NHWC or NCHW with 1 or 3 channels, uint8 or float in [0, 1];
an optional `class_names` array of strings names the labels.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from aelab.data.base import register
from aelab.data.labels import checked_labels
from aelab.data.limits import refuse_if_over
from aelab.data.split import Split
from aelab.data.user import UserData, carve_test
from aelab.errors import DataError

KERAS_KEYS = ("x_train", "y_train", "x_test", "y_test")
CHANNEL_COUNTS = (1, 3)
PIXEL_MAX = 255


def read_npz(path: Path) -> tuple[Split, Split, tuple[str, ...]]:
    arrays = load_arrays(path)
    class_names = tuple(str(n) for n in np.asarray(arrays.get("class_names", ())).reshape(-1))
    keras = [key for key in KERAS_KEYS if key in arrays]
    if keras:
        if len(keras) < len(KERAS_KEYS):
            missing = [key for key in KERAS_KEYS if key not in arrays]
            raise DataError(f"{path} has {keras} but lacks {missing}: save all four Keras-style arrays")
        train = make_split(path, "x_train", arrays["x_train"], arrays["y_train"], class_names)
        test = make_split(path, "x_test", arrays["x_test"], arrays["y_test"], class_names)
        return train, test, class_names
    if "images" in arrays:
        train, test = carve_test(make_split(path, "images", arrays["images"], arrays.get("labels"), class_names))
        return train, test, class_names
    raise DataError(
        f"{path} has arrays {sorted(arrays)}, expected {', '.join(KERAS_KEYS)} (Keras style) "
        "or images (and optionally labels): save it with np.savez(path, images=..., labels=...)"
    )


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:  # never unpickle objects from user files
            check_declared_sizes(path, npz.zip)
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as err:
        # zipfile raises the last two for damaged flags (encryption, unknown compression or version)
        raise DataError(
            f"{path} is not a readable .npz of plain arrays ({err}): save it with np.savez and "
            "numeric (not object) arrays"
        ) from None


def check_declared_sizes(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse, before anything is inflated or allocated, arrays whose headers or zip entries
    declare more than the byte limit (a 200-byte file can declare 730 GiB; a deflate bomb
    inflates a thousandfold). Each array's header is read alone, a few hundred bytes."""
    inflated = sum(info.file_size for info in archive.infolist())
    refuse_if_over("max_bytes", inflated, f"{path}: the size of its arrays once decompressed")
    declared = 0
    for info in archive.infolist():
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(member)
        declared += math.prod(shape) * dtype.itemsize
    refuse_if_over("max_bytes", declared, f"{path}: the size its array headers declare")


def make_split(path: Path, key: str, x: np.ndarray, y: np.ndarray | None, class_names: tuple[str, ...]) -> Split:
    images = torch.from_numpy(np.ascontiguousarray(to_uint8(path, key, to_nchw(path, key, x))))
    labels = None if y is None else torch.from_numpy(to_labels(path, key, y, len(images), class_names))
    return Split(images, labels)


def to_nchw(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]  # NHW -> N1HW
    channels_last, channels_first = (
        x.ndim == 4 and x.shape[3] in CHANNEL_COUNTS,
        x.ndim == 4 and x.shape[1] in CHANNEL_COUNTS,
    )
    if channels_last and not channels_first:
        return x.transpose(0, 3, 1, 2)
    if channels_first and not channels_last:
        return x
    why = (
        "is ambiguous (both axis 1 and 3 could be channels)" if channels_last else "has no channel axis of size 1 or 3"
    )
    raise DataError(
        f"{path}: {key!r} with shape {x.shape} {why}; expected NHW, NHWC or NCHW with C in "
        f"{CHANNEL_COUNTS}: reshape it (for RGBA keep x[..., :3]) and save it again"
    )


def to_uint8(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.floating):
        if x.size and not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
            raise DataError(
                f"{path}: {key!r} is {x.dtype} with values {np.nanmin(x)}..{np.nanmax(x)}, expected "
                "floats in [0, 1] or uint8: divide by 255, or save it as uint8"
            )
        return np.rint(x * PIXEL_MAX).astype(np.uint8)
    raise DataError(
        f"{path}: {key!r} is {x.dtype}, expected uint8 or floats in [0, 1]: save it with "
        "x.astype(np.uint8) if its values are 0..255"
    )


def to_labels(path: Path, key: str, y: np.ndarray, n: int, class_names: tuple[str, ...]) -> np.ndarray:
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y  # Keras stores (N, 1) labels
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"{path}: the labels for {key!r} are {y.dtype} with shape {y.shape}, expected {n} "
            "integers: save one integer class index per image"
        )
    return checked_labels(y, f"{path}: the labels for {key!r}", len(class_names) or None, "fix the labels or class_names")


register(UserData("npz", read_npz, "an .npz file of image arrays", suffix=".npz"))
