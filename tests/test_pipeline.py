"""Data preparation for a run: paths recorded resolved, datasets too small refused before training."""

from __future__ import annotations

import os

import numpy as np
import pytest

from aelab.config import make_config
from aelab.data import resolve_dataset_name
from aelab.errors import DataError
from aelab.loading import prepare_data


def test_a_users_data_path_is_recorded_absolute(tmp_path, monkeypatch):
    (tmp_path / "imgs").mkdir()
    np.savez(tmp_path / "data.npz", images=np.zeros((12, 4, 4), np.uint8))
    monkeypatch.chdir(tmp_path)
    assert resolve_dataset_name("data.npz") == str(tmp_path / "data.npz")
    assert resolve_dataset_name("fashion-mnist") == "fashion-mnist"
    assert make_config({"data.name": "mnist", "data.data_dir": "imgs"}).data.data_dir == str(tmp_path / "imgs")
    config = make_config({"data.name": "data.npz"})
    assert config.data.name == str(tmp_path / "data.npz")
    monkeypatch.chdir(tmp_path / "imgs")  # the run works from another folder
    assert len(prepare_data(config.data, 0)[0].train) == 10


def test_a_path_that_is_not_utf8_is_a_clear_error(tmp_path):
    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.npz")
    with pytest.raises(DataError, match=r"caf\\udce9.npz is not valid UTF-8"):
        resolve_dataset_name(name)


@pytest.mark.parametrize("n, empty", [(0, "training"), (1, "test"), (2, "test"), (4, "validation")])
def test_datasets_too_small_for_the_run_are_refused(tmp_path, n, empty):
    np.savez(tmp_path / "d.npz", images=np.zeros((n, 4, 4), np.uint8))
    config = make_config({"data.name": str(tmp_path / "d.npz")})
    with pytest.raises(DataError, match=f"leaves no {empty} images .*data.val_fraction=0"):
        prepare_data(config.data, 0)


def test_zero_size_images_are_refused(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.zeros((12, 0, 0), np.uint8))
    with pytest.raises(DataError, match=r"images of shape \(1, 0, 0\) .* hold no pixels"):
        prepare_data(make_config({"data.name": str(tmp_path / "d.npz")}).data, 0)
