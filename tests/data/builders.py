"""Tiny dataset files in the exact upstream formats, built on the fly (nothing is downloaded)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

from aelab.data.cifar import FOLDER, META, TEST_BATCH, TRAIN_BATCHES, CifarFiles
from aelab.data.mnist import MNIST, IdxDataset, IdxFile, IdxSplit

UBYTE = 0x08
N_TRAIN, N_TEST, SIDE = 12, 6, 4
CIFAR_PER_BATCH = 3


def idx_bytes(array: np.ndarray) -> bytes:
    """A real IDX payload: zero bytes, dtype code, ndim, big-endian dims, data."""
    header = bytes([0, 0, UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def tiny_mnist_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, SIDE, SIDE), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, SIDE, SIDE), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }


def write_mnist(folder: Path, gz: bool = True, seed: int = 0) -> dict[str, bytes]:
    """Write the four IDX files into `folder`; returns their payloads by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    payloads = {name: idx_bytes(a) for name, a in tiny_mnist_arrays(seed).items()}
    for name, payload in payloads.items():
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (folder / name).write_bytes(payload)
    return payloads


def spec_for(
    payloads: dict[str, bytes], gz_md5: dict[str, str] | None = None, mirrors: tuple[str, ...] = ()
) -> IdxDataset:
    """MNIST's spec with the checksums (and mirrors) of the tiny fixture files."""

    def entry(f: IdxFile) -> IdxFile:
        md5 = (gz_md5 or {}).get(f.name, f.md5)
        return IdxFile(f.name, hashlib.sha256(payloads[f.name]).hexdigest(), md5)

    def split(s: IdxSplit) -> IdxSplit:
        return IdxSplit(entry(s.images), entry(s.labels))

    return dataclasses.replace(
        MNIST, name="tiny-mnist", train=split(MNIST.train), test=split(MNIST.test), mirrors=mirrors
    )


class Py2Pickler(pickle._Pickler):
    """Pickles str and bytes as Python 2 strings, like the original CIFAR batches."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_string(self, obj: str | bytes) -> None:
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_string
    dispatch[str] = save_py2_string


def py2_pickle(obj: object, numpy1_names: bool = True) -> bytes:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    data = buf.getvalue()
    # numpy 1 (which wrote the originals) names numpy.core; numpy 2 writes numpy._core
    return data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray") if numpy1_names else data


def cifar_batches(seed: int = 0) -> dict[str, bytes]:
    """The seven files of cifar-10-batches-py/, tiny, pickled as upstream."""
    rng = np.random.default_rng(seed)
    files = {}
    for i, name in enumerate((*TRAIN_BATCHES, TEST_BATCH)):
        data = rng.integers(0, 256, (CIFAR_PER_BATCH, 3 * 32 * 32), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, CIFAR_PER_BATCH)]
        batch = {
            b"batch_label": b"batch %d" % i,
            b"labels": labels,
            b"data": data,
            b"filenames": [b"x.png"] * CIFAR_PER_BATCH,
        }
        files[name] = py2_pickle(batch, numpy1_names=i % 2 == 0)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    files[META] = py2_pickle({b"label_names": names, b"num_cases_per_batch": CIFAR_PER_BATCH, b"num_vis": 3072})
    return files


def add_member(
    tar: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def write_cifar_archive(path: Path, files: dict[str, bytes] | None = None, extra: list[tuple] = ()) -> Path:
    """cifar-10-python.tar.gz in the upstream layout, plus `extra` (name, data, type, link) members."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        add_member(tar, FOLDER, kind=tarfile.DIRTYPE)
        for name, data in (files or cifar_batches()).items():
            add_member(tar, f"{FOLDER}/{name}", data)
        for member in extra:
            add_member(tar, *member)
    return path


def cifar_spec_for(archive: Path, url: str = "", files: dict[str, bytes] | None = None) -> CifarFiles:
    """The spec of a tiny archive; with `files`, also each batch's md5, as the real spec has."""
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    batch_md5 = tuple((name, hashlib.md5(data).hexdigest()) for name, data in (files or {}).items())
    return CifarFiles(name="tiny-cifar", archive=archive.name, archive_md5=md5, url=url, batch_md5=batch_md5)
