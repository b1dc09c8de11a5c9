"""CelebA from a tiny folder in the official aligned-and-cropped layout, checked by md5."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aelab.data import ImagePolicy, load_dataset
from aelab.data.celeba import CelebAFiles
from aelab.data.sources import Downloadable
from aelab.errors import DataError

PARTITIONS = "0 0 0 0 1 2 2".split()  # five train, one validation, two test... as the official file lists them
CROP = ImagePolicy((16, 16), "crop")


def celeba_folder(root: Path) -> tuple[Path, CelebAFiles]:
    """root/celeba with img_align_celeba/ (178x218 JPEGs) and list_eval_partition.txt; the spec's md5 is theirs."""
    images = root / "celeba" / "img_align_celeba"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i, part in enumerate(PARTITIONS, 1):
        Image.fromarray(rng.integers(0, 255, (218, 178, 3), dtype=np.uint8)).save(images / f"{i:06d}.jpg")
        lines.append(f"{i:06d}.jpg {part}")
    partition = root / "celeba" / "list_eval_partition.txt"
    partition.write_text("\n".join(lines) + "\n")
    return root / "celeba", dataclasses.replace(CelebAFiles(), partition_md5=hashlib.md5(partition.read_bytes()).hexdigest())


def test_official_layout_loads_train_and_test_partitions(tmp_path: Path):
    folder, spec = celeba_folder(tmp_path)
    ds = Downloadable(spec, reshapes=True).load(tmp_path, download=False, policy=CROP)
    assert (len(ds.train), len(ds.test)) == (4, 2) and ds.image_shape == (3, 16, 16) and ds.train.labels is None
    assert Downloadable(spec, reshapes=True).load(tmp_path, download=False).image_shape == (3, 218, 178)


def test_checksum_and_missing_images_are_named(tmp_path: Path):
    folder, spec = celeba_folder(tmp_path)
    with pytest.raises(DataError, match="checksum mismatch for .*list_eval_partition.txt: expected md5"):
        load_dataset("celeba", tmp_path, download=False, policy=CROP)  # the official md5: not this tiny file
    (folder / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(DataError, match="names 1 images missing .* e.g. 000002.jpg"):
        Downloadable(spec, reshapes=True).load(tmp_path, download=False, policy=CROP)


def test_the_official_archive_is_checked_and_extracted(tmp_path: Path):
    folder, spec = celeba_folder(tmp_path)
    archive = folder / spec.archive
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((folder / spec.images).iterdir()):
            zf.write(path, f"{spec.images}/{path.name}")
    for path in (folder / spec.images).iterdir():
        path.unlink()
    (folder / spec.images).rmdir()
    with pytest.raises(DataError, match="checksum mismatch for .*img_align_celeba.zip: expected md5"):
        Downloadable(spec, reshapes=True).load(tmp_path, download=False, policy=CROP)
    spec = dataclasses.replace(spec, archive_md5=hashlib.md5(archive.read_bytes()).hexdigest())
    assert len(Downloadable(spec, reshapes=True).load(tmp_path, download=False, policy=CROP).train) == 4


def test_missing_celeba_says_where_to_get_it(tmp_path: Path):
    with pytest.raises(DataError, match=r"cannot be downloaded for you \(it is served from Google Drive\): download .* from https://mmlab"):
        load_dataset("celeba", tmp_path)
