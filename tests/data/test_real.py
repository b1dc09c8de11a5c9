"""The real Fashion-MNIST and MNIST files, when this machine has them ($AELAB_DATA_DIR)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from aelab.data import ImageDataset, load_dataset
from aelab.data.mnist import FASHION_MNIST, MNIST, read_split
from aelab.errors import DataError
from tests.data.conftest import REAL_ROOT

FASHION_TRAIN, FASHION_TEST = 60_000, 10_000
MNIST_TEST = 10_000


def real_folder(name: str) -> Path:
    if REAL_ROOT is None or not (REAL_ROOT / name).is_dir():
        pytest.skip(f"real {name} files not found: set AELAB_DATA_DIR to a folder with {name}/ in it")
    return REAL_ROOT / name


@pytest.fixture(scope="module")
def fashion() -> tuple[ImageDataset, float]:
    """One verified load for the whole module, and how long it took."""
    real_folder("fashion-mnist")
    start = time.perf_counter()
    ds = load_dataset("fashion-mnist", REAL_ROOT, download=False)
    return ds, time.perf_counter() - start


def test_real_fashion_mnist(fashion):
    ds, seconds = fashion
    assert (len(ds.train), len(ds.test)) == (FASHION_TRAIN, FASHION_TEST)
    assert ds.image_shape == (1, 28, 28) and ds.train.images.dtype == torch.uint8
    assert ds.class_names == FASHION_MNIST.class_names and ds.class_names[-1] == "Ankle boot"
    assert ds.train.labels.bincount().tolist() == [FASHION_TRAIN // 10] * 10
    assert ds.location == str(REAL_ROOT / "fashion-mnist")
    print(f"verified Fashion-MNIST load: {seconds:.2f} s")


def test_real_mnist_test_images():
    folder = real_folder("mnist")
    test = read_split(folder, MNIST.test, MNIST.class_names, verify=True)
    assert len(test) == MNIST_TEST and test.images.shape[1:] == (1, 28, 28)
    assert test.labels[:3].tolist() == [7, 2, 1]  # the well-known first MNIST test digits


def test_real_mnist_without_train_images_says_what_is_missing():
    folder = real_folder("mnist")
    if any(folder.glob("train-images-idx3-ubyte*")):
        pytest.skip("this copy of MNIST is complete")
    with pytest.raises(DataError) as err:
        load_dataset("mnist", REAL_ROOT, download=False)
    message = str(err.value)
    assert f"{folder} (has" in message and "missing train-images-idx3-ubyte" in message
    assert "--data-dir" in message and "download" in message


def test_real_mnist_test_split_dataset():
    real_folder("mnist")
    ds = load_dataset("mnist-test-split", REAL_ROOT, download=False)
    assert (len(ds.train), len(ds.test)) == (8_000, 2_000)
    assert ds.train.labels[:3].tolist() == [7, 2, 1]


def test_plain_mnist_without_train_images_points_to_the_test_split():
    real_folder("mnist")
    if any((REAL_ROOT / "mnist").glob("train-images-idx3-ubyte*")):
        pytest.skip("this copy of MNIST has its training images")
    with pytest.raises(DataError, match="mnist-test-split"):
        load_dataset("mnist", REAL_ROOT, download=False)
