"""A split's codes, taken out of aelab: `aelab encode RUN --out codes.npz` and `aelab.encode`.

Codes are flat, (N, D) with D = prod(code_shape), as the analyses read them; VAEs give their
posterior means and, beside them, the log-variances. The .npz holds plain arrays only (no
pickles), so numpy, R or JAX read it: `codes`, `labels`, `class_names`, `split` (each row's
split name) and, for VAEs, `logvar`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from aelab.data import Split, batches
from aelab.errors import ConfigError
from aelab.io import atomic_path
from aelab.models import Autoencoder

SplitName = Literal["train", "val", "test", "all"]
SPLIT_NAMES = ("train", "val", "test", "all")


@dataclass
class Codes:
    codes: np.ndarray  # (N, D) float32: posterior means for VAEs
    labels: np.ndarray | None  # (N,) int64, None for unlabelled data
    class_names: list[str]
    split: np.ndarray  # (N,) each row's split: "train", "val" or "test"
    logvar: np.ndarray | None = None  # (N, D) for models with a Gaussian posterior

    def save(self, path: str | Path) -> Path:
        arrays = {"codes": self.codes, "class_names": np.array(self.class_names, dtype=str), "split": self.split}
        arrays |= {k: v for k, v in (("labels", self.labels), ("logvar", self.logvar)) if v is not None}
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Codes:
        with np.load(path, allow_pickle=False) as f:
            get = lambda key: f[key] if key in f else None  # noqa: E731
            return cls(f["codes"], get("labels"), [str(n) for n in f["class_names"]], f["split"], get("logvar"))


@torch.inference_mode()
def encode_split(model: Autoencoder, split: Split, batch_size: int = 1000, device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray | None]:
    """(N, D) codes of a split and, for a Gaussian posterior, its (N, D) log-variances."""
    model.eval()
    gaussian = model.capabilities.posterior
    codes, logvars = [], []
    for x, _ in batches(split, batch_size, device=device):
        if gaussian:
            mu, logvar = model.encode_distribution(x)
            logvars.append(logvar.flatten(1).float().cpu())
        else:
            mu = model.encode(x)
        codes.append(mu.flatten(1).float().cpu())
    empty = torch.zeros(0, 0)
    as_array = lambda parts: torch.cat(parts).numpy() if parts else empty.numpy()  # noqa: E731
    return as_array(codes), as_array(logvars) if gaussian else None


def encode(source: str | Path | Autoencoder, split: SplitName | Split = "test", *, device: str = "cpu", batch_size: int = 1000) -> Codes:
    """The codes of a run's split ("train", "val", "test" or "all", cut as the run was trained), or
    of a model on a `Split` you pass, e.g. `aelab.encode(model, aelab.load_dataset("mnist").test)`."""
    if isinstance(source, Autoencoder):
        if not isinstance(split, Split):
            raise ConfigError("encoding a model (not a run folder) needs the images: pass a Split, e.g. aelab.load_dataset('mnist').test.")
        return _codes(source, {"given": split}, [], batch_size, device)
    from aelab.config import load_config_file
    from aelab.engine import resolve_device
    from aelab.loading import load_model, prepare_data
    from aelab.run_files import RunFiles

    if split not in SPLIT_NAMES:
        raise ConfigError(f"unknown split {split!r}: choose one of {', '.join(SPLIT_NAMES)}.")
    run = RunFiles(Path(source)).require()
    config = load_config_file(run.config)
    dataset, splits = prepare_data(config.data, config.train.seed)
    named = {"train": splits.train, "val": splits.val, "test": splits.test}
    if splits.val_is_test:
        del named["val"]
    chosen = named if split == "all" else {split if split in named else "test": named.get(split, splits.test)}  # val = test
    resolved = resolve_device(device)
    return _codes(load_model(run.root, resolved), chosen, list(dataset.class_names), batch_size, resolved)


def _codes(model: Autoencoder, splits: dict[str, Split], class_names: list[str], batch_size: int, device) -> Codes:
    parts = {name: encode_split(model, s, batch_size, device) for name, s in splits.items()}
    labelled = all(s.labels is not None for s in splits.values())
    labels = np.concatenate([s.labels.numpy() for s in splits.values()]) if labelled else None
    if labels is not None and len(labels):
        class_names += [str(i) for i in range(len(class_names), int(labels.max()) + 1)]
    logvars = [lv for _, lv in parts.values()]
    return Codes(
        codes=np.concatenate([c for c, _ in parts.values()]),
        labels=labels,
        class_names=class_names,
        split=np.concatenate([np.full(len(s), name) for name, s in splits.items()]).astype(str),
        logvar=None if logvars[0] is None else np.concatenate(logvars),
    )
