"""Shared fixtures: a tiny dataset in a real file format, so no test downloads anything."""

from __future__ import annotations

import os
from pathlib import Path

# Tiny models gain nothing from two threads, and parallel test processes that
# each spin two OpenMP threads on two cores slow each other down many times over.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def real_data_dir() -> Path | None:
    """Where the real dataset files are: $AELAB_DATA_DIR, else ../shared/datasets beside the repo."""
    env = os.environ.get("AELAB_DATA_DIR")
    for candidate in (Path(env) if env else None, SHARED_DATASETS):
        if candidate is not None and candidate.is_dir():
            return candidate
    return None


@pytest.fixture
def real_fashion_dir() -> Path:
    root = real_data_dir()
    if root is None or not any((root / "fashion-mnist").glob("train-images-idx3-ubyte*")):
        pytest.skip("real Fashion-MNIST not found: set AELAB_DATA_DIR to a folder with fashion-mnist/ in it")
    return root


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory):
    """Generation scores cache their feature networks under $AELAB_CACHE_DIR: in tests, never the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AELAB_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


def make_blobs_npz(path: Path, n_train: int = 256, n_test: int = 64, size: int = 28, channels: int = 1, seed: int = 0) -> Path:
    """A learnable toy dataset: each class is a bright square at its own place, plus noise."""
    rng = np.random.default_rng(seed)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 4, n)
        images = rng.integers(0, 40, (n, size, size, channels)).astype(np.uint8)
        half = size // 2
        for i, label in enumerate(labels):
            r, c = divmod(int(label), 2)
            images[i, r * half : r * half + half - 2, c * half : c * half + half - 2] = 220
        return images if channels > 1 else images[..., 0], labels

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.fixture
def blobs_npz(tmp_path: Path) -> Path:
    return make_blobs_npz(tmp_path / "blobs.npz")
