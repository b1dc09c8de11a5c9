"""Weights and resumable training state as safetensors: nothing is ever pickled.

`model.safetensors` holds the weights alone (what users load). The training
checkpoint is one file, written atomically, holding everything a resume needs
at an epoch boundary: weights, optimizer state, the metrics so far, the step's
own state (the fp16 gradient scale) and the number of processes that trained it.
One file means it can never be half from one epoch and half from the next. The
random streams need no state: they are seeded by (seed, epoch, rank) (`aelab.train`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from aelab.errors import AelabError
from aelab.io import atomic_path

METADATA_KEYS = ("epoch", "history", "param_groups", "optimizer_extras")


@dataclass(frozen=True)
class TrainingState:
    """What a checkpoint gives back besides the model and optimizer it restores."""

    epoch: int  # finished epochs
    history: list[dict]  # one metrics row per finished epoch
    step_state: dict[str, Any] = field(default_factory=dict)
    world_size: int = 1  # training processes (torchrun ranks) that wrote it


def save_weights(model: nn.Module, path: Path) -> None:
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}  # NCHW order on disk
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))


def load_weights(model: nn.Module, path: Path) -> None:
    _load_model_state(model, _read(path), path)


def save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, history: list[dict],
                    step_state: dict[str, Any] | None = None, world_size: int = 1) -> None:
    optim_state = optimizer.state_dict()
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    extras: dict[str, dict[str, Any]] = {}
    for param_id, state in optim_state["state"].items():
        for name, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{param_id}.{name}"] = value.contiguous()
            else:
                extras.setdefault(str(param_id), {})[name] = value
    metadata = {
        "epoch": str(epoch),
        "history": json.dumps(history),
        "param_groups": json.dumps(optim_state["param_groups"]),
        "optimizer_extras": json.dumps(extras),
        "step_state": json.dumps(step_state or {}),
        "world_size": str(world_size),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> TrainingState:
    """Restore model and optimizer; return the rest of the training state."""
    tensors = _read(path)
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    missing = [k for k in METADATA_KEYS if k not in metadata]
    if missing:
        raise AelabError(f"{path} lacks its training state ({', '.join(missing)}): it was not written by `aelab train`. "
                         "Delete it to start the run again.")
    _load_model_state(model, {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, param_id, name = key.split(".", 2)
            state.setdefault(int(param_id), {})[name] = value
    try:
        for param_id, values in json.loads(metadata["optimizer_extras"]).items():
            state.setdefault(int(param_id), {}).update(values)
        optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata["param_groups"])})
        history = json.loads(metadata["history"])
        step_state = json.loads(metadata.get("step_state", "{}"))
    except (ValueError, KeyError, TypeError) as err:
        raise AelabError(f"{path} holds an optimizer state that does not fit this model ({err}): delete it to start the run again.") from None
    _match_parameter_layouts(optimizer)
    return TrainingState(int(metadata["epoch"]), history, step_state, int(metadata.get("world_size", "1")))


def _load_model_state(model: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    misfit = [f"{k} {tuple(tensors[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if k in tensors and tensors[k].shape != v.shape]
    if missing or unexpected or misfit:
        detail = "; ".join(part for part in (missing and f"missing {missing[:5]}", unexpected and f"unexpected {unexpected[:5]}",
                                             misfit and f"other shapes: {misfit[:3]}") if part)
        raise AelabError(f"{path} does not fit the model its config.json describes ({detail}): was config.json edited after training?")
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise AelabError(f"{path} holds non-finite weights (NaN or inf): the run diverged or the file was damaged; retrain or resume from a good checkpoint.")
    model.load_state_dict(tensors)


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
