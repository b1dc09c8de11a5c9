"""A tiny feature network on the blobs data, trained once for the generation tests."""

from __future__ import annotations

import pytest

from aelab.data import load_dataset
from aelab.generation.features import FeatureNetConfig, feature_space
from tests.conftest import make_blobs_npz

TINY_NET = FeatureNetConfig(channels=(4, 8), features=16, epochs=2, batch_size=32, lr=3e-3)


@pytest.fixture(scope="session")
def blobs_dataset(tmp_path_factory):
    return load_dataset(str(make_blobs_npz(tmp_path_factory.mktemp("gen") / "blobs.npz", n_train=512, n_test=256)))


@pytest.fixture(scope="session")
def blobs_space(blobs_dataset):
    return feature_space(blobs_dataset, TINY_NET, log=lambda _: None)
