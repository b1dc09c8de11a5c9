"""Labels and sizes are checked from headers, before anything large is allocated (data/limits.py)."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from aelab.data import load_dataset
from aelab.data.idx import read_idx
from aelab.errors import DataError

GiB = 2**30


def npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_uint64_labels_of_2_63_and_above_never_wrap(tmp_path):
    labels = np.array([0, 1, 2**63, 2**64 - 1], dtype=np.uint64)
    path = npz(tmp_path / "d.npz", images=np.zeros((4, 5, 5), np.uint8), labels=labels)
    with pytest.raises(DataError, match="the number of classes .* above aelab's limit of 100,000.*AELAB_MAX_CLASSES"):
        load_dataset(str(path))


def test_a_huge_label_is_refused_and_the_limit_is_an_option(tmp_path, monkeypatch):
    path = npz(tmp_path / "d.npz", images=np.zeros((6, 5, 5), np.uint8), labels=np.array([0, 1, 2, 3, 4, 2**40]))
    with pytest.raises(DataError, match=r"largest label 1099511627776 \+ 1"):
        load_dataset(str(path))
    path = npz(tmp_path / "e.npz", images=np.zeros((6, 5, 5), np.uint8), labels=np.array([0, 1, 2, 3, 4, 200_000]))
    monkeypatch.setenv("AELAB_MAX_CLASSES", "300000")
    assert int(load_dataset(str(path)).train.labels.max()) <= 200_000


def test_image_folder_labels_respect_the_class_limit(tmp_path, monkeypatch):
    from PIL import Image

    for name in ("a", "b", "c"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(2):
            Image.new("L", (4, 4)).save(tmp_path / "imgs" / name / f"{i}.png")
    monkeypatch.setenv("AELAB_MAX_CLASSES", "2")
    with pytest.raises(DataError, match="AELAB_MAX_CLASSES=3"):
        load_dataset(str(tmp_path / "imgs"))


def npz_declaring(path: Path, shape: tuple[int, ...]) -> Path:
    """An .npz of ~200 bytes whose array header declares `shape` of float64."""
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    buffer = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("images.npy", buffer.getvalue() + b"\0" * 64)
    return path


def test_npz_header_declaring_730_gib_is_refused_before_allocation(tmp_path):
    path = npz_declaring(tmp_path / "bomb.npz", (98_000, 1000, 1000))  # 730 GiB of float64
    assert path.stat().st_size < 1000
    tracemalloc.start()
    with pytest.raises(DataError, match="the size its array headers declare is 784,000,000,000.*AELAB_MAX_BYTES"):
        load_dataset(str(path))
    assert tracemalloc.get_traced_memory()[1] < 50 * 2**20
    tracemalloc.stop()


def test_deflate_bomb_in_npz_is_refused_from_the_zip_sizes(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, images=np.zeros((200, 100, 100), np.uint8))  # 2 MB of zeros in a few kB
    assert path.stat().st_size < 20_000
    monkeypatch.setenv("AELAB_MAX_BYTES", str(2**20))
    with pytest.raises(DataError, match="once decompressed is 2,000,"):
        load_dataset(str(path))


def test_gzip_idx_is_never_inflated_beyond_its_declared_size(tmp_path):
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 3, 4)
    path = tmp_path / "x.gz"
    with gzip.open(path, "wb") as f:  # a valid header, then 64 MB of zeros
        f.write(header + bytes(24))
        for _ in range(64):
            f.write(bytes(2**20))
    tracemalloc.start()
    with pytest.raises(DataError, match="trailing data"):
        read_idx(path, 3)
    assert tracemalloc.get_traced_memory()[1] < 4 * 2**20  # decompressing it all would take 64 MB
    tracemalloc.stop()


def test_idx_header_declaring_too_much_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 60000, 28, 28)))
    monkeypatch.setenv("AELAB_MAX_BYTES", "1000000")
    with pytest.raises(DataError, match="the data size its IDX header declares is 47,040,000"):
        read_idx(path, 3)


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height 8-bit grayscale pixels, with no real pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side, message", [(30000, "bomb.png is refused by Pillow as a decompression bomb"),
                                           (9000, r"bomb.png: its pixel count \(9000x9000\) is 81,000,000")])
def test_png_claiming_huge_sizes_is_refused_from_its_header(tmp_path, side, message):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "bomb.png").write_bytes(png_header(side, side))
    with pytest.raises(DataError, match=f"{message}.*AELAB_MAX_IMAGE_PIXELS"):
        load_dataset(str(tmp_path / "imgs"))


def test_a_bad_limit_setting_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AELAB_MAX_BYTES", "lots")
    with pytest.raises(DataError, match="AELAB_MAX_BYTES='lots' is not a positive whole number"):
        load_dataset(str(npz(tmp_path / "d.npz", images=np.zeros((6, 5, 5), np.uint8))))


def test_unreadable_idx_file_is_a_clear_error(tmp_path):
    path = tmp_path / "x"
    path.mkdir()  # reading a folder fails for every user, root included
    with pytest.raises(DataError, match="cannot be read"):
        read_idx(path, 3)


def test_a_png_chunk_claiming_16_mb_allocates_nothing_like_it(tmp_path):
    """Found by tests/test_properties.py: Pillow reading a file allocates a chunk's claimed length."""
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    Image.new("L", (1, 1)).save(tmp_path / "imgs" / "a.png")
    raw = (tmp_path / "imgs" / "a.png").read_bytes()
    at = raw.index(b"IDAT") - 4
    (tmp_path / "imgs" / "a.png").write_bytes(raw[:at] + struct.pack(">I", 16 * 2**20) + raw[at + 4 :])
    tracemalloc.start()
    try:
        load_dataset(str(tmp_path / "imgs"))  # Pillow may decode the pixels that are there, or refuse
    except DataError:
        pass
    assert tracemalloc.get_traced_memory()[1] < 4 * 2**20
    tracemalloc.stop()


def test_an_npz_whose_zip_flags_say_encrypted_is_a_clear_error(tmp_path):
    """Found by tests/test_properties.py: zipfile raises RuntimeError / NotImplementedError for such flags."""
    path = npz(tmp_path / "d.npz", images=np.zeros((6, 5, 5), np.uint8))
    raw = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # general-purpose flags, local and central
        at = raw.index(signature) + offset
        raw[at] |= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="is not a readable .npz"):
        load_dataset(str(path))
