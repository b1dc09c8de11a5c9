"""The strict IDX reader and the MNIST-style loader, on tiny files in the real format."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from aelab.data.idx import read_idx
from aelab.data.mnist import MNIST, read_split
from aelab.errors import DataError
from tests.data.builders import N_TEST, N_TRAIN, SIDE, idx_bytes, spec_for, tiny_mnist_arrays, write_mnist

IMAGES = "train-images-idx3-ubyte"
LABELS = "train-labels-idx1-ubyte"


def test_read_idx_gz_and_plain_agree(tmp_path: Path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array)))
    assert np.array_equal(read_idx(tmp_path / "a", 3), array)
    assert np.array_equal(read_idx(tmp_path / "a.gz", 3), array)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b[:-1], "wrong size"),  # truncated data
        (lambda b: b + b"\0", "wrong size"),  # trailing data
        (lambda b: b[:6], "ends inside its IDX header"),
        (lambda b: b"\x00\x01" + b[2:], "expected magic 00000803"),
        (lambda b: b[:2] + b"\x0c" + b[3:], "unsigned bytes"),  # int32 dtype code
        (lambda b: b[:3] + b"\x02" + b[4:], "found 00000802"),  # wrong number of dimensions
        (lambda b: b"", "found nothing"),
    ],
)
def test_read_idx_rejects_damaged_payloads(tmp_path: Path, mutate, message):
    path = tmp_path / "x"
    path.write_bytes(mutate(idx_bytes(np.zeros((2, 3, 4), np.uint8))))
    with pytest.raises(DataError, match=message) as err:
        read_idx(path, 3)
    assert str(path) in str(err.value) and "--data-dir" in str(err.value)


def test_read_idx_rejects_truncated_gzip(tmp_path: Path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 9, 9), np.uint8)))[:-20])
    with pytest.raises(DataError, match="not a complete gzip file"):
        read_idx(path, 3)


def test_checksum_is_of_the_payload_so_recompression_passes(tmp_path: Path):
    payload = idx_bytes(np.ones((2, 2, 2), np.uint8))
    sha = hashlib.sha256(payload).hexdigest()
    (tmp_path / "fast.gz").write_bytes(gzip.compress(payload, compresslevel=1))
    (tmp_path / "best.gz").write_bytes(gzip.compress(payload, compresslevel=9))
    assert (tmp_path / "fast.gz").read_bytes() != (tmp_path / "best.gz").read_bytes()
    read_idx(tmp_path / "fast.gz", 3, sha)
    read_idx(tmp_path / "best.gz", 3, sha)


def test_checksum_mismatch_names_file_digests_and_fix(tmp_path: Path):
    payloads = write_mnist(tmp_path)
    spec = spec_for(payloads)
    (tmp_path / f"{IMAGES}.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((N_TRAIN, SIDE, SIDE), np.uint8))))
    with pytest.raises(DataError) as err:
        spec.read(tmp_path, verify=True)
    message = str(err.value)
    assert f"checksum mismatch for {tmp_path / IMAGES}.gz" in message
    assert f"expected payload sha256 {spec.train.images.sha256}" in message
    assert "delete it to re-download, or pass --data-dir" in message
    assert len(spec.read(tmp_path, verify=False).train) == N_TRAIN  # verify=False skips checksums


def test_loads_tiny_mnist_gz_and_plain(tmp_path: Path):
    arrays = tiny_mnist_arrays()
    for gz in (True, False):
        folder = tmp_path / str(gz)
        spec = spec_for(write_mnist(folder, gz=gz))
        ds = spec.read(folder, verify=True)
        assert ds.train.images.shape == (N_TRAIN, 1, SIDE, SIDE) and ds.train.images.dtype == torch.uint8
        assert ds.test.labels.shape == (N_TEST,) and ds.test.labels.dtype == torch.int64
        assert np.array_equal(ds.train.images[:, 0].numpy(), arrays[IMAGES])
        assert ds.class_names == MNIST.class_names and ds.location == str(folder)


def test_count_mismatch_between_images_and_labels(tmp_path: Path):
    write_mnist(tmp_path, gz=False)
    (tmp_path / LABELS).write_bytes(idx_bytes(np.zeros(N_TRAIN - 1, np.uint8)))
    with pytest.raises(DataError, match=f"{N_TRAIN} images but .* has {N_TRAIN - 1} labels"):
        read_split(tmp_path, MNIST.train, MNIST.class_names, verify=False)


def test_label_out_of_range(tmp_path: Path):
    write_mnist(tmp_path, gz=False)
    (tmp_path / LABELS).write_bytes(idx_bytes(np.full(N_TRAIN, 10, np.uint8)))
    with pytest.raises(DataError, match="label 10, expected below 10"):
        read_split(tmp_path, MNIST.train, MNIST.class_names, verify=False)


def test_plain_file_preferred_over_gz(tmp_path: Path):
    payloads = write_mnist(tmp_path, gz=True)
    shutil.copy(tmp_path / f"{IMAGES}.gz", tmp_path / "keep.gz")
    (tmp_path / f"{IMAGES}.gz").write_bytes(b"not gzip")  # would fail if read
    (tmp_path / IMAGES).write_bytes(payloads[IMAGES])
    assert len(spec_for(payloads).read(tmp_path, verify=True).train) == N_TRAIN


def test_test_images_only_variant_splits_the_official_test_set(tmp_path: Path):
    from aelab.data.mnist import TestImagesOnly

    payloads = write_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").unlink()  # as offline: no training images
    spec = TestImagesOnly(spec_for(payloads), n_train=4)
    assert spec.inventory(tmp_path)[1] == []  # complete without the training files
    ds = spec.read(tmp_path, verify=True)
    arrays = tiny_mnist_arrays()
    assert ds.name.endswith("mnist-test-split") and (len(ds.train), len(ds.test)) == (4, N_TEST - 4)
    assert np.array_equal(ds.train.images[:, 0].numpy(), arrays["t10k-images-idx3-ubyte"][:4])
    assert np.array_equal(ds.test.images[:, 0].numpy(), arrays["t10k-images-idx3-ubyte"][4:])
    assert "official test images only" in ds.location
