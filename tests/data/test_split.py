"""Split, split_validation and the batch iterator."""

from __future__ import annotations

import pytest
import torch

from aelab.data import ImageDataset, Split, batches, split_validation
from aelab.errors import ConfigError, DataError

N = 23


def make_split(n: int = N, labels: bool = True) -> Split:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 3).contiguous()
    return Split(images, torch.arange(n) if labels else None)


def test_split_checks_dtype_and_label_count():
    with pytest.raises(DataError, match="uint8"):
        Split(torch.zeros(2, 1, 2, 2))
    with pytest.raises(DataError, match=r"shape \(2,\)"):
        Split(torch.zeros(2, 1, 2, 2, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64))


def test_subset_by_slice_and_index():
    split = make_split()
    assert len(split.subset(slice(0, 5))) == 5
    picked = split.subset(torch.tensor([3, 1]))
    assert picked.labels.tolist() == [3, 1]
    assert picked.images[:, 0, 0, 0].tolist() == [3, 1]


def test_image_dataset_shape_and_mismatch():
    split = make_split()
    ds = ImageDataset("toy", split, split, (), "here")
    assert ds.image_shape == (1, 2, 3)
    other = Split(torch.zeros(2, 3, 2, 3, dtype=torch.uint8))
    with pytest.raises(DataError, match="same channels and size"):
        ImageDataset("toy", split, other, (), "here")


def test_split_validation_is_deterministic_and_disjoint():
    split = make_split()
    train, val = split_validation(split, 0.25, seed=7)
    again_train, again_val = split_validation(split, 0.25, seed=7)
    assert torch.equal(val.labels, again_val.labels) and torch.equal(train.labels, again_train.labels)
    assert len(val) == round(N * 0.25)
    assert sorted(train.labels.tolist() + val.labels.tolist()) == list(range(N))
    _, other_val = split_validation(split, 0.25, seed=8)
    assert not torch.equal(val.labels, other_val.labels)


def test_split_validation_zero_fraction_and_bad_fraction():
    split = make_split()
    train, val = split_validation(split, 0.0, seed=0)
    assert train is split and len(val) == 0 and val.images.shape[1:] == split.images.shape[1:]
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        split_validation(split, 1.0, seed=0)


def test_batches_in_order_keep_last_partial_batch():
    out = list(batches(make_split(), 10))
    assert [len(x) for x, _ in out] == [10, 10, 3]
    x, y = out[0]
    assert x.dtype == torch.float32 and x.shape == (10, 1, 2, 3)
    assert y.dtype == torch.int64 and y.tolist() == list(range(10))
    assert 0.0 <= float(torch.cat([b for b, _ in out]).min()) and float(out[-1][0].max()) <= 1.0
    assert torch.allclose(x[:, 0, 0, 0] * 255, torch.arange(10.0))


def test_batches_values_span_zero_to_one():
    images = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1)
    ((x, y),) = batches(Split(images), 4)
    assert x.flatten().tolist() == [0.0, 1.0] and y is None


def test_batches_shuffle_is_seeded_and_covers_everything_once():
    split = make_split()

    def order(seed: int) -> list[int]:
        g = torch.Generator().manual_seed(seed)
        return [i for _, y in batches(split, 4, generator=g) for i in y.tolist()]

    assert order(0) == order(0)
    assert order(0) != order(1)
    assert sorted(order(0)) == list(range(N)) and order(0) != list(range(N))


def test_batches_images_match_labels_when_shuffled():
    g = torch.Generator().manual_seed(3)
    for x, y in batches(make_split(), 5, generator=g):
        assert torch.allclose(x[:, 0, 0, 0] * 255, y.float())


def test_batches_rejects_bad_batch_size():
    with pytest.raises(ConfigError, match="batch_size"):
        next(batches(make_split(), 0))
