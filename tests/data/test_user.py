"""The user's own data: image folders and .npz files, named by path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aelab.data import dataset_status, load_dataset
from aelab.errors import DataError

SIZE = (5, 4)  # PIL (width, height)
N_PER_CLASS = 6


def save(path: Path, mode: str = "L", size: tuple[int, int] = SIZE, value: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)
    return path


def class_folder(root: Path, classes=("cat", "dog"), mode: str = "L") -> Path:
    for label, name in enumerate(classes):
        for i in range(N_PER_CLASS):
            save(root / name / f"{i}.png", mode, value=label * 100)
    return root


def test_class_subfolders_with_carved_test_split(tmp_path: Path):
    ds = load_dataset("image-folder", class_folder(tmp_path / "pets"))
    assert ds.class_names == ("cat", "dog") and ds.image_shape == (1, 4, 5)
    assert len(ds.train) + len(ds.test) == 2 * N_PER_CLASS and len(ds.test) == 2  # 1/6 held out
    for split in (ds.train, ds.test):
        assert torch.equal(split.images[:, 0, 0, 0], split.labels.to(torch.uint8) * 100)
    again = load_dataset("image-folder", tmp_path / "pets")
    assert torch.equal(ds.test.labels, again.test.labels) and ds.location == str(tmp_path / "pets")


def test_path_as_name_and_status(tmp_path: Path):
    root = class_folder(tmp_path / "pets")
    assert load_dataset(str(root)).name == "image-folder"
    status = dataset_status(str(root))
    assert status.found and status.location == str(root)
    assert not dataset_status("image-folder").found
    with pytest.raises(DataError, match="pass --data-dir"):
        load_dataset("image-folder")
    with pytest.raises(DataError, match="looks like a path"):
        load_dataset(str(tmp_path / "missing.npz"))
    with pytest.raises(DataError, match="pass only one"):
        load_dataset(str(root), tmp_path)


def test_train_and_test_subfolders_are_used(tmp_path: Path):
    class_folder(tmp_path / "d" / "train", mode="RGB")
    class_folder(tmp_path / "d" / "test", classes=("dog",), mode="RGB")
    ds = load_dataset("image-folder", tmp_path / "d")
    assert len(ds.train) == 2 * N_PER_CLASS and len(ds.test) == N_PER_CLASS
    assert ds.image_shape == (3, 4, 5) and ds.test.labels.unique().tolist() == [1]


def test_flat_folder_has_no_labels(tmp_path: Path):
    for i in range(N_PER_CLASS):
        save(tmp_path / f"{i}.jpg", "RGB")
    ds = load_dataset("image-folder", tmp_path)
    assert ds.train.labels is None and ds.class_names == () and ds.image_shape == (3, 4, 5)


def test_odd_sized_image_is_named(tmp_path: Path):
    class_folder(tmp_path)
    odd = save(tmp_path / "dog" / "odd.png", size=(7, 7))
    with pytest.raises(DataError, match=f"{odd} is 7x7 with 1 channel, expected 5x4 with 1 channel"):
        load_dataset("image-folder", tmp_path)


def test_mixed_channels_name_the_file(tmp_path: Path):
    class_folder(tmp_path)
    odd = save(tmp_path / "dog" / "colour.png", "RGB")
    with pytest.raises(DataError, match=f"{odd} is 5x4 with 3 channels"):
        load_dataset("image-folder", tmp_path)


def test_alpha_and_palette_are_converted(tmp_path: Path):
    save(tmp_path / "a.png", "RGBA", value=(1, 2, 3, 4))
    save(tmp_path / "b.png", "P")
    save(tmp_path / "c.png", "RGB")
    save(tmp_path / "d.png", "LA").rename(tmp_path / "sub-is-ignored.txt")
    ds = load_dataset("image-folder", tmp_path)
    assert ds.image_shape == (3, 4, 5)


def test_unsupported_mode_and_damaged_file(tmp_path: Path):
    save(tmp_path / "deep.png", "I;16")
    with pytest.raises(DataError, match="pixel mode 'I;16', expected 8-bit grayscale or RGB"):
        load_dataset("image-folder", tmp_path)
    (tmp_path / "deep.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match="deep.png is not a readable PNG/JPEG"):
        load_dataset("image-folder", tmp_path)


def test_empty_and_mixed_folders(tmp_path: Path):
    with pytest.raises(DataError, match="has no .png/.jpg/.jpeg images"):
        load_dataset("image-folder", tmp_path)
    class_folder(tmp_path)
    save(tmp_path / "loose.png")
    with pytest.raises(DataError, match="both loose images"):
        load_dataset("image-folder", tmp_path)


def npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_npz_keras_style(tmp_path: Path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, 6, 6, 3), dtype=np.uint8)
    path = npz(tmp_path / "k.npz", x_train=x, y_train=np.arange(8).reshape(8, 1), x_test=x[:2], y_test=np.arange(2))
    ds = load_dataset(str(path))
    assert ds.name == "npz" and ds.image_shape == (3, 6, 6) and len(ds.train) == 8
    assert torch.equal(ds.train.images, torch.from_numpy(x).permute(0, 3, 1, 2))
    assert ds.train.labels.tolist() == list(range(8)) and ds.class_names == ()


@pytest.mark.parametrize(
    "images, shape",
    [
        (np.zeros((12, 5, 7), np.uint8), (1, 5, 7)),
        (np.zeros((12, 3, 5, 7), np.uint8), (3, 5, 7)),
        (np.zeros((12, 5, 7, 1), np.uint8), (1, 5, 7)),
        (np.full((12, 1, 4, 4), 1.0, np.float32), (1, 4, 4)),
    ],
)
def test_npz_images_layouts(tmp_path: Path, images, shape):
    path = npz(tmp_path / "i.npz", images=images, labels=np.arange(12) % 2, class_names=np.array(["a", "b"]))
    ds = load_dataset("npz", path)
    assert ds.image_shape == shape and len(ds.test) == 2 and ds.class_names == ("a", "b")
    assert ds.train.images.dtype == torch.uint8 and int(ds.train.images.max()) == (
        255 if images.dtype != np.uint8 else 0
    )


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"images": np.zeros((4, 5, 5, 4), np.uint8)}, "no channel axis of size 1 or 3"),
        ({"images": np.zeros((4, 3, 5, 3), np.uint8)}, "ambiguous"),
        ({"images": np.zeros((4, 5), np.uint8)}, "expected NHW, NHWC or NCHW"),
        ({"images": np.full((4, 5, 5), 2.0)}, r"values 2.0..2.0, expected floats in \[0, 1\]"),
        ({"images": np.zeros((4, 5, 5), np.int64)}, "is int64, expected uint8"),
        ({"images": np.zeros((4, 5, 5), np.uint8), "labels": np.zeros(3, int)}, "expected 4 integers"),
        ({"images": np.zeros((4, 5, 5), np.uint8), "labels": np.full(4, -1)}, r"range -1..-1"),
        ({"x_train": np.zeros((4, 5, 5), np.uint8)}, r"lacks \['y_train', 'x_test', 'y_test'\]"),
        ({"pixels": np.zeros((4, 5, 5), np.uint8)}, r"has arrays \['pixels'\], expected x_train"),
    ],
)
def test_npz_errors(tmp_path: Path, arrays, message):
    path = npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message) as err:
        load_dataset("npz", path)
    assert str(path) in str(err.value)


def test_npz_refuses_object_arrays_and_junk(tmp_path: Path):
    path = npz(tmp_path / "obj.npz", images=np.array([object()] * 3, dtype=object))
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset("npz", path)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset("npz", tmp_path / "junk.npz")
    with pytest.raises(DataError, match="expected an .npz file of image arrays at .*, found a folder"):
        load_dataset("npz", tmp_path)
