"""A folder of PNG/JPEG images: flat (no labels) or one subfolder per class.

With `train/` and `test/` subfolders those are the splits; otherwise a test
split is carved out (user.py). Images are brought to one shape by the policy
(policy.py: data.image_size, data.fit, data.channels); without one they must
already share size and channels. They are decoded once into the memory-mapped
image cache (image_cache.py), train images first, and every later run reads them
from there.
"""

from __future__ import annotations

import hashlib
import io
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aelab.data.base import register
from aelab.data.image_cache import cached_images
from aelab.data.labels import checked_labels
from aelab.data.limits import refuse_if_over
from aelab.data.policy import UNCHANGED, ImagePolicy
from aelab.data.split import Split, held_out
from aelab.data.user import TEST_FRACTION, TEST_SEED, UserData
from aelab.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg")
CHANNELS = {"L": 1, "RGB": 3}
# Modes turned into L or RGB; alpha is dropped, palettes are expanded.
CONVERT = {"1": "L", "LA": "L", "P": "RGB", "PA": "RGB", "RGBA": "RGB", "CMYK": "RGB", "YCbCr": "RGB"}

Listing = list[tuple[Path, str | None]]  # (image file, class name or None)


def read_image_folder(root: Path, policy: ImagePolicy = UNCHANGED) -> tuple[Split, Split, tuple[str, ...]]:
    if (root / "train").is_dir() and (root / "test").is_dir():
        train_files, test_files = list_images(root / "train"), list_images(root / "test")
        class_names = class_names_of(train_files)
        check_classes(root, class_names, test_files)
    else:
        files = list_images(root)
        class_names = class_names_of(files)
        kept, held = held_out(len(files), TEST_FRACTION, TEST_SEED)  # the split carve_test makes
        train_files, test_files = [files[i] for i in kept], [files[i] for i in held]
    return cached_splits(root, train_files, test_files, class_names, policy)


def cached_splits(root: Path, train_files: Listing, test_files: Listing, class_names: tuple[str, ...],
                  policy: ImagePolicy) -> tuple[Split, Split, tuple[str, ...]]:
    """(train, test, class names), their images memory-mapped from one cache file, train first."""
    store = cached_images(root, [path for path, _ in train_files + test_files], policy, partial(read_image, policy=policy))
    n_train = len(train_files)
    train = Split(store[:n_train], labels_of(train_files, class_names), mapped=True)
    test = Split(store[n_train:], labels_of(test_files, class_names), mapped=True)
    return train, test, class_names


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in EXTENSIONS and not path.name.startswith(".")


def list_images(folder: Path) -> Listing:
    """Images directly in `folder`, or else in its class subfolders, in sorted order."""
    entries = sorted(folder.iterdir())
    loose = [(p, None) for p in entries if is_image(p)]
    classes = [d for d in entries if d.is_dir() and not d.name.startswith(".")]
    labelled = [(p, d.name) for d in classes for p in sorted(d.iterdir()) if is_image(p)]
    if loose and labelled:
        raise DataError(
            f"{folder} has both loose images (e.g. {loose[0][0].name}) and class subfolders: "
            "move the loose images into a class subfolder, or the subfolders out"
        )
    if not loose and not labelled:
        raise DataError(
            f"{folder} has no {'/'.join(EXTENSIONS)} images, neither directly nor in class "
            "subfolders: pass --data-dir with a folder of images"
        )
    return loose or labelled


def class_names_of(files: Listing) -> tuple[str, ...]:
    return tuple(sorted({name for _, name in files if name is not None}))


def check_classes(root: Path, class_names: tuple[str, ...], test_files: Listing) -> None:
    test_names = class_names_of(test_files)
    if bool(test_names) != bool(class_names) or not set(test_names) <= set(class_names):
        raise DataError(
            f"{root}/test has classes {list(test_names)} but {root}/train has {list(class_names)}: "
            "give test/ the same class subfolders as train/ (or none in both)"
        )


def labels_of(files: Listing, class_names: tuple[str, ...]) -> torch.Tensor | None:
    if not class_names or not files:
        return None if not class_names else torch.zeros(0, dtype=torch.int64)
    index = {name: i for i, name in enumerate(class_names)}
    return torch.from_numpy(checked_labels(np.array([index[name] for _, name in files]), str(files[0][0].parent.parent)))


def read_image(path: Path, policy: ImagePolicy = UNCHANGED) -> tuple[np.ndarray, str]:
    """(H, W, C) uint8, C = 1 for grayscale, 3 for colour, fitted to `policy`; and the sha256 of the file."""
    try:
        refuse_if_over("max_bytes", path.stat().st_size, f"{path}: its size")
        data = path.read_bytes()
        # From memory: reading a file, a chunk length claiming 16 MB is allocated whole; from bytes, not.
        with Image.open(io.BytesIO(data)) as image:  # size and mode are read, no pixels yet
            width, height = image.size
            refuse_if_over("max_image_pixels", width * height, f"{path}: its pixel count ({width}x{height})")
            mode = CONVERT.get(image.mode, image.mode)
            if mode not in CHANNELS:
                raise DataError(
                    f"{path} has pixel mode {image.mode!r}, expected 8-bit grayscale or RGB: "
                    "convert it (e.g. to 8-bit PNG) before loading"
                )
            policy.draft(image)
            array = np.asarray(policy.apply(image.convert(mode)))
    except Image.DecompressionBombError as err:  # above Pillow's own limit, which is PIL.Image.MAX_IMAGE_PIXELS
        raise DataError(f"{path} is refused by Pillow as a decompression bomb ({err}), before aelab's own limit "
                        "(AELAB_MAX_IMAGE_PIXELS, docs/limits.md) is asked: replace or remove it") from None
    except (OSError, SyntaxError, ValueError) as err:  # Pillow's errors for damaged files
        raise DataError(f"{path} is not a readable PNG/JPEG image ({err}): replace or remove it") from None
    return (array[:, :, None] if array.ndim == 2 else array), hashlib.sha256(data).hexdigest()


register(UserData("image-folder", read_image_folder, "a folder of PNG/JPEG images", reshapes=True))
