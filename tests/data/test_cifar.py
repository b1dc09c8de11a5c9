"""CIFAR-10: safe extraction, the restricted unpickler, and the batch layout."""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from aelab.data.archive import extract_folder
from aelab.data.cifar import FOLDER, META, TEST_BATCH, TRAIN_BATCHES
from aelab.data.pickles import load_batch
from aelab.data.sources import Downloadable
from aelab.errors import DataError
from tests.data.builders import CIFAR_PER_BATCH, cifar_batches, cifar_spec_for, py2_pickle, write_cifar_archive

ARCHIVE = "cifar-10-python.tar.gz"


class RunsCommand:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_loads_archive_in_upstream_layout(tmp_path: Path):
    archive = write_cifar_archive(tmp_path / "mine" / ARCHIVE)
    ds = Downloadable(cifar_spec_for(archive)).load(tmp_path / "mine", download=False)
    assert ds.train.images.shape == (len(TRAIN_BATCHES) * CIFAR_PER_BATCH, 3, 32, 32)
    assert ds.test.images.dtype == torch.uint8 and ds.test.labels.dtype == torch.int64
    assert ds.class_names[:3] == ("airplane", "automobile", "bird") and len(ds.class_names) == 10
    assert ds.location == str(tmp_path / "mine" / FOLDER)
    assert not [p for p in (tmp_path / "mine").iterdir() if p.name.startswith(".")]  # no temp folder left


def test_row_layout_is_red_then_green_then_blue(tmp_path: Path):
    files = cifar_batches()
    row = np.concatenate([np.full(1024, 10), np.full(1024, 20), np.arange(1024) % 256]).astype(np.uint8)
    data = np.stack([row] * CIFAR_PER_BATCH)
    files[TEST_BATCH] = py2_pickle({b"data": data, b"labels": [0] * CIFAR_PER_BATCH})
    archive = write_cifar_archive(tmp_path / ARCHIVE, files)
    image = Downloadable(cifar_spec_for(archive)).load(tmp_path, download=False).test.images[0]
    assert image[0].unique().tolist() == [10] and image[1].unique().tolist() == [20]
    assert image[2, 0, :3].tolist() == [0, 1, 2] and image[2, 1, 0] == 32  # row-major 32x32


def test_extracted_folder_alone_is_read(tmp_path: Path):
    folder = tmp_path / "mine" / FOLDER
    folder.mkdir(parents=True)
    for name, data in cifar_batches().items():
        (folder / name).write_bytes(data)
    spec = cifar_spec_for(write_cifar_archive(tmp_path / "elsewhere" / ARCHIVE))
    assert len(Downloadable(spec).load(tmp_path / "mine", download=False).test) == CIFAR_PER_BATCH
    assert len(Downloadable(spec).load(folder, download=False).test) == CIFAR_PER_BATCH  # the folder itself


def test_archive_md5_mismatch(tmp_path: Path):
    spec = cifar_spec_for(write_cifar_archive(tmp_path / "ref" / ARCHIVE))
    write_cifar_archive(tmp_path / "mine" / ARCHIVE, cifar_batches(seed=1))
    with pytest.raises(DataError, match=f"checksum mismatch for {tmp_path / 'mine' / ARCHIVE}: expected md5"):
        Downloadable(spec).load(tmp_path / "mine", download=False)
    assert not (tmp_path / "mine" / FOLDER).exists()


def test_download_from_file_mirror(tmp_path: Path):
    archive = write_cifar_archive(tmp_path / "mirror" / ARCHIVE)
    spec = cifar_spec_for(archive, url=archive.as_uri())
    ds = Downloadable(spec).load(None)
    assert ds.location == str(tmp_path / "cache" / "aelab" / "tiny-cifar" / FOLDER)


@pytest.mark.parametrize(
    "member",
    [
        ("../evil", b"x"),
        ("/tmp/evil-absolute", b"x"),
        (f"{FOLDER}/../../evil", b"x"),
        (f"{FOLDER}/link", b"", tarfile.SYMTYPE, "/etc/passwd"),
        (f"{FOLDER}/hard", b"", tarfile.LNKTYPE, f"{FOLDER}/{META}"),
        (f"{FOLDER}/dev", b"", tarfile.CHRTYPE),
    ],
)
def test_unsafe_archive_members_are_refused(tmp_path: Path, member):
    archive = write_cifar_archive(tmp_path / "mine" / ARCHIVE, extra=[member])
    with pytest.raises(DataError, match="outside its folder|link or special file") as err:
        extract_folder(archive, FOLDER, tmp_path / "mine")
    assert repr(member[0]) in str(err.value)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "mine" / FOLDER).exists()


def test_truncated_archive(tmp_path: Path):
    archive = write_cifar_archive(tmp_path / ARCHIVE)
    archive.write_bytes(archive.read_bytes()[:-500])
    with pytest.raises(DataError, match="not a complete tar archive"):
        extract_folder(archive, FOLDER, tmp_path / "out")


@pytest.mark.parametrize("dump", [py2_pickle, lambda obj: pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)])
def test_pickle_that_calls_os_system_is_refused(tmp_path: Path, dump):
    path = tmp_path / "batch"
    path.write_bytes(dump({b"data": RunsCommand()}))
    with pytest.raises(DataError, match=r"asks to run (posix|nt|os)\.system"):
        load_batch(path)


def test_damaged_pickle_and_wrong_content(tmp_path: Path):
    path = tmp_path / "batch"
    path.write_bytes(py2_pickle({b"data": np.zeros((2, 3072), np.uint8)})[:-30])
    with pytest.raises(DataError, match="not a readable CIFAR batch"):
        load_batch(path)
    files = cifar_batches()
    files[TEST_BATCH] = py2_pickle({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    spec = cifar_spec_for(write_cifar_archive(tmp_path / ARCHIVE, files))
    with pytest.raises(DataError, match="uint8 rows of 3072 bytes, found uint8 \\(2, 100\\)"):
        Downloadable(spec).load(tmp_path, download=False)


def test_label_count_must_match(tmp_path: Path):
    files = cifar_batches()
    files[TRAIN_BATCHES[0]] = py2_pickle({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]})
    spec = cifar_spec_for(write_cifar_archive(tmp_path / ARCHIVE, files))
    with pytest.raises(DataError, match="list of 2 class indices, found 1"):
        Downloadable(spec).load(tmp_path, download=False)


def test_partial_extracted_folder_is_reported(tmp_path: Path):
    folder = tmp_path / "mine" / FOLDER
    folder.mkdir(parents=True)
    (folder / META).write_bytes(cifar_batches()[META])
    spec = cifar_spec_for(write_cifar_archive(tmp_path / "ref" / ARCHIVE))
    with pytest.raises(DataError, match=f"has {FOLDER}/{META}; missing {FOLDER}/data_batch_1"):
        Downloadable(spec).load(tmp_path / "mine", download=False)


def test_md5_of_reference_is_stable(tmp_path: Path):
    a = write_cifar_archive(tmp_path / "a" / ARCHIVE)
    assert hashlib.md5(a.read_bytes()).hexdigest() == cifar_spec_for(a).archive_md5


def test_extracted_folder_is_checked_by_each_batchs_md5(tmp_path: Path):
    files = cifar_batches()
    folder = tmp_path / "mine" / FOLDER
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    spec = cifar_spec_for(write_cifar_archive(tmp_path / "ref" / ARCHIVE), files=files)
    assert len(Downloadable(spec).load(tmp_path / "mine", download=False).test) == CIFAR_PER_BATCH
    damaged = bytearray(files["data_batch_3"])
    damaged[-20] ^= 1  # one bit in the pixels: still a valid pickle
    (folder / "data_batch_3").write_bytes(bytes(damaged))
    with pytest.raises(DataError, match=f"checksum mismatch for {folder / 'data_batch_3'}: expected md5"):
        Downloadable(spec).load(tmp_path / "mine", download=False)


def test_non_utf8_class_names_are_a_clear_error(tmp_path: Path):
    files = cifar_batches()
    files[META] = py2_pickle({b"label_names": [b"plane", b"\xff\xfecar"]})
    spec = cifar_spec_for(write_cifar_archive(tmp_path / ARCHIVE, files))
    with pytest.raises(DataError, match="has a class name that is not UTF-8 text"):
        Downloadable(spec).load(tmp_path, download=False)
