"""The whole flow: data -> model -> train -> evaluate. The CLI and the Python API call these."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import torch

from aelab.checkpoint import load_checkpoint, load_weights
from aelab.config import DataConfig, RunConfig, load_config_file
from aelab.data import ImageDataset, load_dataset, split_validation
from aelab.errors import AelabError, ConfigError
from aelab.evaluate import reconstruction_metrics
from aelab.io import write_json
from aelab.models import Autoencoder, build_model
from aelab.plots import save_loss_curves, save_reconstruction_pairs
from aelab.run_files import RunFiles
from aelab.train import Splits, fit, make_optimizer

Log = Callable[[str], None]


def train(config: RunConfig, out: str | Path | None = None, *, progress: bool = True, log: Log = print) -> Path:
    """Train a new run into `out` (default `runs/<model>-<dataset>-<time>`); return its folder."""
    run = RunFiles(Path(out) if out else default_run_dir(config))
    if run.checkpoint.exists() or run.config.exists():
        raise ConfigError(f"{run.root} already holds a run: continue it with `aelab train --resume {run.root}`, or choose another --out.")
    dataset, splits = prepare_data(config.data, config.train.seed)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, input_shape=dataset.image_shape))
    run.root.mkdir(parents=True, exist_ok=True)
    write_json(run.config, config.to_dict())
    return _train(config, run, dataset, splits, [], progress, log)


def resume(run_dir: str | Path, *, epochs: int | None = None, progress: bool = True, log: Log = print) -> Path:
    """Continue a run from its last finished epoch (optionally to a new epoch count)."""
    run = RunFiles(Path(run_dir)).require()
    config = load_config_file(run.config)
    if epochs is not None:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=epochs))
        write_json(run.config, config.to_dict())
    dataset, splits = prepare_data(config.data, config.train.seed)
    return _train(config, run, dataset, splits, None, progress, log)


def _train(config: RunConfig, run: RunFiles, dataset: ImageDataset, splits: Splits, history: list | None, progress: bool, log: Log) -> Path:
    device = resolve_device(config.train.device)
    torch.manual_seed(config.train.seed)
    model = build_model(config.model).to(device)
    optimizer = make_optimizer(model, config.train)
    if history is None:  # resuming
        if not run.checkpoint.exists():
            raise AelabError(f"{run.checkpoint} is missing: the run stopped before its first epoch finished; start it again.")
        done, history = load_checkpoint(run.checkpoint, model, optimizer)
        log(f"resuming {run.root} after epoch {done}")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"data  {dataset.name} from {dataset.location}: train {len(splits.train):,}, "
        f"{'val = test' if splits.val_is_test else f'val {len(splits.val):,}'}, test {len(splits.test):,}")
    log(f"model {config.model.name}: {n_params:,} parameters, code {tuple(model.code_shape)}, on {device}")
    start = time.perf_counter()
    history = fit(model, optimizer, splits, config.train, run, history, progress, log)
    save_loss_curves(history, run.loss_plot)
    pairs = splits.val.subset(slice(0, 50)).images.float().div(255).to(device)
    with torch.inference_mode():
        model.eval()
        save_reconstruction_pairs(pairs, model(pairs), run.reconstructions)
    log(f"done in {time.perf_counter() - start:.1f} s: {run.root}")
    return run.root


def prepare_data(cfg: DataConfig, seed: int) -> tuple[ImageDataset, Splits]:
    dataset = load_dataset(cfg.name, cfg.data_dir, download=cfg.download)
    train_split, test_split = dataset.train, dataset.test
    if cfg.train_subset is not None:
        train_split = train_split.subset(slice(0, cfg.train_subset))
    if cfg.test_subset is not None:
        test_split = test_split.subset(slice(0, cfg.test_subset))
    if cfg.val_fraction == 0:
        return dataset, Splits(train_split, test_split, test_split, val_is_test=True)
    if not 0 < cfg.val_fraction < 1:
        raise ConfigError(f"data.val_fraction must be in [0, 1); got {cfg.val_fraction}.")
    train_split, val_split = split_validation(train_split, cfg.val_fraction, seed)
    return dataset, Splits(train_split, val_split, test_split)


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> Autoencoder:
    """The trained model of a run folder, in eval mode."""
    run = RunFiles(Path(run_dir)).require()
    model = build_model(load_config_file(run.config).model)
    load_weights(model, run.weights)
    return model.to(device).eval()


def evaluate(run_dir: str | Path, *, device: str = "auto", batch_size: int = 1000) -> dict:
    """Reconstruction metrics of a run on its test split; also written to evaluation.json."""
    run = RunFiles(Path(run_dir)).require()
    config = load_config_file(run.config)
    device = resolve_device(device)
    _, splits = prepare_data(config.data, config.train.seed)
    metrics = {"split": "test", **reconstruction_metrics(load_model(run.root, device), splits.test, batch_size, device)}
    write_json(run.evaluation, metrics)
    return metrics


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but this torch build sees no CUDA GPU: use --set train.device=cpu.")
    return device


def default_run_dir(config: RunConfig) -> Path:
    return Path("runs") / f"{config.model.name}-{Path(config.data.name).name}-{time.strftime('%Y%m%d-%H%M%S')}"
