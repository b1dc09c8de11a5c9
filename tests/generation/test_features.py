"""The feature network: trained once per dataset, cached by content, and a space in which the
scores behave as the issue asks (train vs test near zero, damage monotonic, noise far worse)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from aelab.data import ImageDataset, Split
from aelab.errors import AelabError, DataError
from aelab.generation import features
from aelab.generation.features import dataset_key, feature_space
from aelab.generation.scores import frechet_distance
from tests.generation.conftest import TINY_NET


def floats(split: Split) -> torch.Tensor:
    return split.images.float().div(255)


def blurred(images: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = 3
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).view(1, 1, 1, -1)
    out = torch.nn.functional.conv2d(images, kernel, padding=(0, radius))
    return torch.nn.functional.conv2d(out, kernel.transpose(2, 3), padding=(radius, 0))


def test_the_network_is_trained_once_then_read_from_the_cache(blobs_dataset, blobs_space, monkeypatch):
    assert blobs_space.path.is_file() and blobs_space.path.parent.parent == features.cache_dir()
    assert blobs_space.test_accuracy > 0.9  # the blobs are easy to tell apart
    monkeypatch.setattr(features, "train_feature_net", lambda *a: pytest.fail("trained again despite the cache"))
    again = feature_space(blobs_dataset, TINY_NET, log=lambda _: None)
    assert again.key == blobs_space.key and again.test_accuracy == blobs_space.test_accuracy
    x = floats(blobs_dataset.test)[:20]
    assert torch.equal(again.embed(x), blobs_space.embed(x))


def test_the_cache_key_follows_the_content_and_the_config(blobs_dataset):
    images = blobs_dataset.train.images.clone()
    images[0, 0, 0, 0] ^= 1
    changed = dataclasses.replace(blobs_dataset, train=Split(images, blobs_dataset.train.labels))
    key = dataset_key(blobs_dataset, TINY_NET)
    assert dataset_key(changed, TINY_NET) != key
    assert dataset_key(blobs_dataset, dataclasses.replace(TINY_NET, epochs=3)) != key
    assert dataset_key(blobs_dataset, TINY_NET) == key


def test_training_leaves_the_global_random_state_alone(blobs_dataset, monkeypatch, tmp_path):
    monkeypatch.setenv(features.CACHE_ENV, str(tmp_path))
    before = torch.get_rng_state()
    small = dataclasses.replace(TINY_NET, epochs=1)
    space = feature_space(blobs_dataset, small, log=lambda _: None)
    assert torch.equal(torch.get_rng_state(), before)
    assert space.path.parent.parent == tmp_path


def test_a_damaged_cache_entry_names_the_fix(blobs_dataset, monkeypatch, tmp_path):
    monkeypatch.setenv(features.CACHE_ENV, str(tmp_path))
    space = feature_space(blobs_dataset, dataclasses.replace(TINY_NET, epochs=1), log=lambda _: None)
    space.path.write_bytes(b"not safetensors")
    with pytest.raises(AelabError, match="delete it"):
        feature_space(blobs_dataset, dataclasses.replace(TINY_NET, epochs=1), log=lambda _: None)


def test_an_unlabelled_dataset_is_refused_with_the_reason(blobs_dataset):
    unlabelled = ImageDataset("folder", Split(blobs_dataset.train.images), Split(blobs_dataset.test.images), (), "here")
    with pytest.raises(DataError, match="labels"):
        feature_space(unlabelled, TINY_NET)


def sanity_fids(space, train: torch.Tensor, test: torch.Tensor) -> tuple[float, list[float], list[float], float]:
    """FID to the test images of: as many training images, noised and blurred copies of the test set, and uniform noise."""
    reference = space.embed(test)
    fid = lambda images: frechet_distance(reference, space.embed(images))  # noqa: E731
    generator = torch.Generator().manual_seed(0)
    noised = [fid((test + s * torch.randn(test.shape, generator=generator)).clamp(0, 1)) for s in (0.1, 0.2, 0.4, 0.8)]
    blurs = [fid(blurred(test, s)) for s in (0.5, 1.0, 2.0, 4.0)]
    return fid(train[: len(test)]), noised, blurs, fid(torch.rand(test.shape, generator=generator))


def assert_sane(train: float, noised: list[float], blurs: list[float], noise: float, floor_share: float) -> None:
    assert noised == sorted(noised) and blurs == sorted(blurs)  # more damage, a worse score
    assert train < floor_share * min(noised[-1], blurs[-1])  # real images of the same distribution: near zero
    assert noise > max(noised + blurs) and noise > 100 * train  # pure noise: far worse than anything else


def test_train_against_test_is_near_zero_damage_raises_fid_monotonically_noise_is_far_worse(blobs_dataset, blobs_space):
    # blurring barely hides a bright square, so blur moves the blobs' features less than noise does
    train, test = floats(blobs_dataset.train), floats(blobs_dataset.test)
    assert_sane(*sanity_fids(blobs_space, train, test), floor_share=0.25)
    assert frechet_distance(blobs_space.embed(test), blobs_space.embed(train)) == frechet_distance(
        blobs_space.embed(test), blobs_space.embed(train))  # a fixed set scores the same every time


@pytest.mark.slow
def test_the_sanity_properties_hold_on_real_fashion_mnist(real_fashion_dir, monkeypatch, tmp_path):
    from aelab.data import load_dataset

    monkeypatch.setenv(features.CACHE_ENV, str(tmp_path))
    full = load_dataset("fashion-mnist", real_fashion_dir, download=False)
    dataset = dataclasses.replace(full, train=full.train.subset(slice(0, 6000)), test=full.test.subset(slice(0, 2000)))
    space = feature_space(dataset, dataclasses.replace(TINY_NET, channels=(8, 16), features=32), log=lambda _: None)
    assert space.test_accuracy > 0.7
    assert_sane(*sanity_fids(space, floats(dataset.train), floats(dataset.test)), floor_share=0.05)
