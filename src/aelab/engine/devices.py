"""Where training runs: device names, CPU cores, and models placed in the layout their device likes."""

from __future__ import annotations

import os

import torch

from aelab.errors import ConfigError


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto` -> CUDA (this process's GPU under torchrun), else Apple's MPS, else the CPU;
    a named device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("mps" if mps_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps.") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} asked for, but this torch build sees no CUDA GPU: use --device cpu (or auto).")
        if device.index is None:
            device = torch.device("cuda", local_rank % torch.cuda.device_count())
        elif device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} asked for, but only {torch.cuda.device_count()} CUDA GPU(s) are visible.")
    elif device.type == "mps" and not mps_available():
        raise ConfigError(f"device {name!r} asked for, but this torch build sees no Apple MPS device: use --device cpu (or auto).")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {name!r} cannot train a model: use auto, cpu, cuda, cuda:N or mps.")
    return device


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def cpu_cores() -> int:
    """The CPU cores this process may use: its affinity mask where the OS tells it, else every core."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13+, every OS
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1  # macOS, Windows on Python < 3.13


def placed(model: torch.nn.Module, device: str | torch.device) -> torch.nn.Module:
    """The model on `device`, in PyTorch's default memory format (channels-last measured no
    faster over whole runs: docs/performance.md)."""
    return model.to(device)
