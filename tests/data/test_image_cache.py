"""Image folders of mixed sizes, the memory-mapped image cache, and splits cut from the map."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aelab.data import ImagePolicy, batches, image_folder, load_dataset, split_validation
from aelab.data.image_cache import IMAGES, INDEX, cache_folder
from aelab.errors import DataError

SQUARE = ImagePolicy((16, 16), "resize", 3)


def save(path: Path, size: tuple[int, int], mode: str = "RGB", value: int = 128) -> Path:
    """A flat image of `size` (w, h), with a bright square in its middle quarter."""
    array = np.full((size[1], size[0], 3), value, np.uint8)
    array[size[1] // 4 : 3 * size[1] // 4, size[0] // 4 : 3 * size[0] // 4] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).convert(mode).save(path)
    return path


def mixed_folder(root: Path, n: int = 12) -> Path:
    """Two classes of PNG and JPEG images, grey and colour, of many sizes."""
    for i in range(n):
        save(root / ("a" if i % 2 else "b") / f"{i}.{'png' if i % 3 else 'jpg'}", (20 + 7 * i, 30 + 3 * i),
             "L" if i % 4 == 0 else "RGB", value=10 * i)
    return root


def test_mixed_folder_needs_a_policy_that_then_brings_it_to_one_shape(tmp_path: Path):
    root = mixed_folder(tmp_path / "photos")
    with pytest.raises(DataError, match=r"set data.image_size \(e.g. --set data.image_size=\[64,64\]"):
        load_dataset(str(root))
    ds = load_dataset(str(root), policy=SQUARE)
    assert ds.image_shape == (3, 16, 16) and len(ds.train) + len(ds.test) == 12
    assert ds.class_names == ("a", "b") and ds.train.mapped and set(ds.train.labels.tolist()) == {0, 1}
    grey = load_dataset(str(root), policy=ImagePolicy((8, 12), "crop", 1))
    assert grey.image_shape == (1, 8, 12)


def test_pad_letterboxes_and_crop_cuts_the_centre(tmp_path: Path):
    save(tmp_path / "wide" / "x.png", (40, 10), value=255)
    padded = load_dataset(str(tmp_path / "wide"), policy=ImagePolicy((20, 20), "pad")).train.images[0, 0]
    assert padded[0].max() == 0 and padded[10].min() == 255  # black bars above, the image across the middle
    cropped = load_dataset(str(tmp_path / "wide"), policy=ImagePolicy((20, 20), "crop")).train.images[0, 0]
    assert cropped.min() == 255  # a 10x10 centre of the white image, scaled up: no bars


def test_fixed_shape_datasets_refuse_a_policy(tmp_path: Path):
    np.savez(tmp_path / "d.npz", images=np.zeros((12, 4, 4), np.uint8))
    with pytest.raises(DataError, match="comes in one fixed shape: leave them unset"):
        load_dataset(str(tmp_path / "d.npz"), policy=SQUARE)
    with pytest.raises(DataError, match="dataset 'mnist' comes in one fixed shape"):
        load_dataset("mnist", tmp_path, download=False, policy=SQUARE)


def fail_to_decode(*args, **kwargs):
    raise AssertionError("decoded again: the cache should have been used")


def test_cache_is_reused_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = mixed_folder(tmp_path / "photos")
    first = load_dataset(str(root), policy=SQUARE)
    monkeypatch.setattr(image_folder, "read_image", fail_to_decode)
    again = load_dataset(str(root), policy=SQUARE)
    assert torch.equal(first.train.images, again.train.images) and torch.equal(first.test.images, again.test.images)


def test_changed_source_rebuilds_and_touched_source_does_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = mixed_folder(tmp_path / "photos")
    load_dataset(str(root), policy=SQUARE)
    for path in root.rglob("*.*"):  # same bytes, new mtimes (a copy, a checkout): the sha256 keeps the cache
        os.utime(path, ns=(1, 1))
    with monkeypatch.context() as patch:
        patch.setattr(image_folder, "read_image", fail_to_decode)
        load_dataset(str(root), policy=SQUARE)
        load_dataset(str(root), policy=SQUARE)  # the index was refreshed: not even hashed again
    save(root / "a" / "1.png", (9, 9), value=0)  # new content
    changed = load_dataset(str(root), policy=SQUARE)
    everything = torch.cat([changed.train.images, changed.test.images])
    assert any(bool((image == 0).any()) for image in everything)
    save(root / "a" / "new.png", (9, 9))  # a new file
    grown = load_dataset(str(root), policy=SQUARE)
    assert len(grown.train) + len(grown.test) == 13


def test_damaged_cache_is_rebuilt(tmp_path: Path):
    root = mixed_folder(tmp_path / "photos")
    expected = load_dataset(str(root), policy=SQUARE).train.images.clone()
    folder = cache_folder(root, SQUARE)
    with open(folder / IMAGES, "r+b") as f:
        f.truncate(100)  # cut short
    assert torch.equal(load_dataset(str(root), policy=SQUARE).train.images, expected)
    (folder / INDEX).write_text("{not json")
    assert torch.equal(load_dataset(str(root), policy=SQUARE).train.images, expected)


KILLED_BUILD = """
import os, signal, sys
from aelab.data import ImagePolicy, image_cache, image_folder, load_dataset
image_cache.CHUNK = 2
decoded = []
def decode_then_die(path, policy):
    decoded.append(path)
    if len(decoded) == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path, policy)
real, image_folder.read_image = image_folder.read_image, decode_then_die
load_dataset(sys.argv[1], policy=ImagePolicy((16, 16), "resize", 3))
"""


@pytest.mark.slow  # a fresh interpreter imports torch: ~5 s
def test_build_killed_halfway_is_redone(tmp_path: Path):
    root = mixed_folder(tmp_path / "photos")
    src = str(Path(image_folder.__file__).parents[2])
    done = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(root)], env={**os.environ, "PYTHONPATH": src})
    assert done.returncode == -9
    folder = cache_folder(root, SQUARE)
    assert not (folder / INDEX).exists() and any(p.name.endswith(".tmp") for p in folder.iterdir())
    ds = load_dataset(str(root), policy=SQUARE)
    assert ds.train.images.float().std() > 0 and not any(p.name.endswith(".tmp") for p in folder.iterdir())


def test_mapped_splits_keep_rows_and_batch_like_memory(tmp_path: Path):
    ds = load_dataset(str(mixed_folder(tmp_path / "photos", n=24)), policy=SQUARE)
    train, val = split_validation(ds.train, 0.25, seed=3)
    assert train.store is ds.train.store and val.rows is not None  # nothing copied
    in_memory = train.to("cpu")
    assert not in_memory.mapped and torch.equal(in_memory.images, train.images)
    for (x, y), (x_mem, y_mem) in zip(batches(train, 4, generator=torch.Generator().manual_seed(1)),
                                      batches(in_memory, 4, generator=torch.Generator().manual_seed(1)), strict=True):
        assert torch.equal(x, x_mem) and torch.equal(y, y_mem)


def test_each_rank_reads_its_slice_of_each_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    train = load_dataset(str(mixed_folder(tmp_path / "photos", n=24)), policy=SQUARE).train
    whole = [x for x, _ in batches(train, 5, generator=torch.Generator().manual_seed(0))]
    read: list[int] = []
    pixels = type(train).pixels
    monkeypatch.setattr(type(train), "pixels", lambda self, index: read.append(len(self.store[index])) or pixels(self, index))
    parts = [[x for x, _ in batches(train, 5, generator=torch.Generator().manual_seed(0), part=(rank, 2))] for rank in (0, 1)]
    assert all(torch.equal(torch.cat(pair), x) for pair, x in zip(zip(*parts), whole, strict=True))
    assert sum(read) == len(train) and max(read) == 3  # each rank gathered only its 2 or 3 images of a batch of 5
