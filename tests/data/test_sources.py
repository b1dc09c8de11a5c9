"""Search order, messages for missing files, and verified downloads from file:// mirrors."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from aelab.data import dataset_status, list_datasets, load_dataset
from aelab.data.sources import ENV_VAR, Downloadable, search_roots
from aelab.errors import ConfigError, DataError
from tests.data.builders import N_TRAIN, idx_bytes, spec_for, write_mnist

IMAGES = "train-images-idx3-ubyte"
NAME = "tiny-mnist"


@pytest.fixture
def entry(tmp_path: Path) -> Downloadable:
    """A registry entry for tiny MNIST files whose checksums it knows."""
    return Downloadable(spec_for(write_mnist(tmp_path / "reference")))


def test_registry_names():
    assert list_datasets() == ["celeba", "cifar10", "fashion-mnist", "image-folder", "mnist", "mnist-test-split", "npz"]
    with pytest.raises(ConfigError, match="did you mean 'mnist'"):
        load_dataset("mnsit")


def test_search_roots_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    roots = search_roots(tmp_path / "mine", system_dirs=[tmp_path / "sys"])
    assert [r.path for r in roots] == [
        tmp_path / "mine",
        tmp_path / "env",
        tmp_path / "cache" / "aelab",
        tmp_path / "sys",
    ]
    assert [r.origin for r in roots] == ["--data-dir", ENV_VAR, "user cache", "system folder"]


def test_data_dir_beats_env_beats_cache_beats_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry):
    data_dir, env, cache, system = (
        tmp_path / "mine",
        tmp_path / "env",
        tmp_path / "cache" / "aelab",
        tmp_path / "system",
    )
    write_mnist(data_dir)  # files directly in R/
    for root in (env, cache, system):
        write_mnist(root / NAME)  # files in R/<name>/
    monkeypatch.setenv(ENV_VAR, str(env))
    assert entry.load(data_dir, download=False).location == str(data_dir)
    assert entry.load(None, download=False).location == str(env / NAME)
    monkeypatch.delenv(ENV_VAR)
    assert entry.load(None, download=False).location == str(cache / NAME)
    (cache / NAME / f"{IMAGES}.gz").unlink()  # an incomplete folder does not count
    assert entry.load(None, download=False).location == str(system / NAME)


def test_missing_and_partial_files_give_a_clear_error(tmp_path: Path, entry):
    write_mnist(tmp_path / "mine" / NAME)
    (tmp_path / "mine" / NAME / f"{IMAGES}.gz").unlink()
    with pytest.raises(DataError) as err:
        entry.load(tmp_path / "mine", download=False)
    message = str(err.value)
    assert message.startswith(f"dataset {NAME!r} is incomplete in {tmp_path / 'mine' / NAME} (has train-labels-idx1-ubyte")
    assert f"missing {IMAGES}" in message
    assert f"{tmp_path / 'cache' / 'aelab' / NAME} (user cache)" in message
    assert f"{tmp_path / 'system' / NAME} (system folder)" in message
    assert "--data-dir" in message and ENV_VAR in message


def test_status_found_and_missing(tmp_path: Path, entry):
    (tmp_path / "mine").mkdir()
    missing = entry.status(tmp_path / "mine")
    assert not missing.found and missing.location is None and "Fix:" in missing.detail
    write_mnist(tmp_path / "mine")
    found = entry.status(tmp_path / "mine")
    assert found.found and found.location == str(tmp_path / "mine") and found.name == NAME


def test_status_of_registered_datasets_never_downloads(tmp_path: Path):
    status = dataset_status("mnist")
    assert not status.found and "ossci-datasets" in status.detail
    assert not (tmp_path / "cache").exists()


def serve(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A 'mirror' folder with the .gz files; returns it and the md5 of each .gz."""
    served = tmp_path / "mirror"
    write_mnist(served)
    md5 = {p.name.removesuffix(".gz"): hashlib.md5(p.read_bytes()).hexdigest() for p in served.glob("*.gz")}
    return served, md5


def downloader(tmp_path: Path, *mirrors: Path) -> Downloadable:
    served, md5 = serve(tmp_path)
    payloads = {p.name.removesuffix(".gz"): gzip.decompress(p.read_bytes()) for p in served.glob("*.gz")}
    return Downloadable(spec_for(payloads, md5, tuple(m.as_uri() + "/" for m in mirrors or (served,))))


def test_download_into_cache_verified(tmp_path: Path):
    entry = downloader(tmp_path)
    ds = entry.load(None, download=True)
    target = tmp_path / "cache" / "aelab" / NAME
    assert ds.location == str(target) and len(ds.train) == N_TRAIN
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in (tmp_path / "mirror").iterdir())


def test_download_into_data_dir_and_falls_back_to_next_mirror(tmp_path: Path):
    entry = downloader(tmp_path, tmp_path / "no-such-mirror", tmp_path / "mirror")
    ds = entry.load(tmp_path / "mine", download=True)
    assert ds.location == str(tmp_path / "mine" / NAME)


def test_download_fetches_only_missing_files(tmp_path: Path):
    entry = downloader(tmp_path)
    target = tmp_path / "cache" / "aelab" / NAME
    write_mnist(target)
    (target / f"{IMAGES}.gz").unlink()
    for other in (tmp_path / "mirror").glob("*labels*"):
        other.unlink()  # would fail if fetched again
    assert len(entry.load(None).train) == N_TRAIN


def test_corrupted_download_raises_and_leaves_nothing(tmp_path: Path):
    entry = downloader(tmp_path)
    served = tmp_path / "mirror" / f"{IMAGES}.gz"
    served.write_bytes(gzip.compress(idx_bytes(np.zeros((N_TRAIN, 2, 2), np.uint8))))
    with pytest.raises(DataError) as err:
        entry.load(None)
    assert "checksum mismatch" in str(err.value) and "expected md5" in str(err.value)
    assert "not found and could not be downloaded" in str(err.value)
    assert "\n" not in str(err.value) and str(err.value).count("Fix:") == 1  # one paragraph, one fix
    target = tmp_path / "cache" / "aelab" / NAME
    assert not any(p.name.startswith(f"{IMAGES}") or p.name.startswith(".") for p in target.iterdir())


def test_no_download_when_not_allowed(tmp_path: Path):
    with pytest.raises(DataError, match="not found"):
        downloader(tmp_path).load(None, download=False)
    assert not (tmp_path / "cache" / "aelab" / NAME).exists()


def test_registered_name_with_unverified_tiny_files(tmp_path: Path):
    write_mnist(tmp_path / "mine" / "mnist")
    ds = load_dataset("mnist", tmp_path / "mine", download=False, verify=False)
    assert ds.name == "mnist" and ds.image_shape[0] == 1
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset("mnist", tmp_path / "mine", download=False)


def test_a_data_dir_that_does_not_exist_is_an_error(tmp_path: Path, entry):
    with pytest.raises(DataError, match="--data-dir .*absent is not an existing folder"):
        entry.load(tmp_path / "absent", download=False)
    status = entry.status(tmp_path / "absent")
    assert not status.found and "is not an existing folder" in status.detail


def test_another_datasets_files_are_recognised_and_never_called_found(tmp_path: Path):
    """Same file names, another dataset (as Fashion-MNIST's files where MNIST is looked for)."""
    mine = spec_for(write_mnist(tmp_path / "reference", seed=0))
    other_payloads = write_mnist(tmp_path / "other", seed=1)
    other = spec_for(other_payloads)
    other = type(other)(**{**other.__dict__, "name": "other-mnist"})
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr("aelab.data.mnist.IDX_DATASETS", (mine, other))
    try:
        status = Downloadable(mine).status(tmp_path / "other")
        with pytest.raises(DataError) as err:
            Downloadable(mine).load(tmp_path / "other", download=False)
    finally:
        monkeypatch.undo()
    assert not status.found and "these are other-mnist's, keep them for --dataset other-mnist" in status.detail
    assert "these are other-mnist's" in str(err.value) and "delete" not in str(err.value)
    assert all((tmp_path / "other" / f"{name}.gz").is_file() for name in other_payloads)
