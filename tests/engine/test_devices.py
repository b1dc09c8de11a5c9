"""Device names: auto picks the best device there is; a device asked for and absent is a clear error."""

from __future__ import annotations

import pytest
import torch

import aelab.engine.devices as devices
from aelab.engine import placed, resolve_device
from aelab.errors import ConfigError
from aelab.models import create_model


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "mps_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(devices, "mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert resolve_device("auto", local_rank=6) == torch.device("cuda", 2)  # each torchrun rank its own GPU


@pytest.mark.parametrize("name, message", [
    ("mps", "no Apple MPS device"), ("cuda", "no CUDA GPU"), ("cuda:1", "no CUDA GPU"),
    ("meta", "cannot train a model"), ("gpu", "unknown device"),
])
def test_a_missing_or_unknown_device_is_a_clear_error(monkeypatch, name, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "mps_available", lambda: False)
    with pytest.raises(ConfigError, match=message):
        resolve_device(name)


def test_models_are_placed_on_the_device_in_the_default_layout():
    conv = placed(create_model("conv-ae"), "cpu")
    assert all(p.device.type == "cpu" and p.is_contiguous() for p in conv.parameters())
