"""Weights and resumable training state as safetensors: nothing is ever pickled.

`model.safetensors` holds the weights alone (what users load). The training
checkpoint is one file, written atomically, holding everything a resume needs
at an epoch boundary: weights, optimizer state, the torch RNG state and the
metrics so far. One file means it can never be half from one epoch and half
from the next.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from aelab.errors import AelabError
from aelab.io import atomic_path


def save_weights(model: nn.Module, path: Path) -> None:
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}  # NCHW order on disk
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))


def load_weights(model: nn.Module, path: Path) -> None:
    tensors = _read(path)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise AelabError(
            f"{path} does not fit the model its config.json describes "
            f"(missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}): "
            "was the config edited after training?"
        )


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, history: list[dict]) -> None:
    optim_state = optimizer.state_dict()
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    extras: dict[str, dict[str, Any]] = {}
    for param_id, state in optim_state["state"].items():
        for name, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{param_id}.{name}"] = value.contiguous()
            else:
                extras.setdefault(str(param_id), {})[name] = value
    tensors["rng.torch"] = torch.get_rng_state()
    metadata = {
        "epoch": str(epoch),
        "history": json.dumps(history),
        "param_groups": json.dumps(optim_state["param_groups"]),
        "optimizer_extras": json.dumps(extras),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, list[dict]]:
    """Restore model, optimizer and RNG; return (finished epochs, metrics history)."""
    from safetensors import safe_open

    tensors = _read(path)
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, param_id, name = key.split(".", 2)
            state.setdefault(int(param_id), {})[name] = value
    for param_id, values in json.loads(metadata["optimizer_extras"]).items():
        state.setdefault(int(param_id), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata["param_groups"])})
    _match_parameter_layouts(optimizer)
    torch.set_rng_state(tensors["rng.torch"])
    return int(metadata["epoch"]), json.loads(metadata["history"])


def _match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each loaded moment its parameter's memory layout (channels-last conv weights).
    Safetensors stores tensors contiguous, and fused Adam walks parameter and moments as flat
    memory, so a layout mismatch would pair each weight with another weight's moments."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            for name, value in state.items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    state[name] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def _read(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise AelabError(f"{path} does not exist: is this a run folder written by `aelab train`?")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise AelabError(f"{path} is not a readable safetensors file ({err}): it may be truncated or corrupted.") from None
