"""What every stage after training loads the same way: a run's data splits and its trained model."""

from __future__ import annotations

from pathlib import Path

import torch

from aelab.checkpoint import load_weights
from aelab.config import DataConfig, load_config_file
from aelab.data import ImageDataset, ImagePolicy, Split, Splits, load_dataset, split_validation
from aelab.data.split import require_images
from aelab.engine import placed
from aelab.models import Autoencoder, build_model
from aelab.run_files import RunFiles


def prepare_data(cfg: DataConfig, seed: int) -> tuple[ImageDataset, Splits]:
    """The dataset and its training, validation and test splits, as the config and seed cut them."""
    policy = ImagePolicy(cfg.image_size, cfg.fit, cfg.channels)
    dataset = load_dataset(cfg.name, cfg.data_dir, download=cfg.download, policy=policy)
    train_split, test_split = dataset.train, dataset.test
    if cfg.train_subset is not None:
        train_split = train_split.subset(slice(0, cfg.train_subset))
    if cfg.test_subset is not None:
        test_split = test_split.subset(slice(0, cfg.test_subset))
    if cfg.val_fraction == 0:
        require_images({"training": train_split, "test": test_split}, f"{dataset.name} at {dataset.location}")
        return dataset, Splits(train_split, test_split, test_split, val_is_test=True)
    train_split, val_split = split_validation(train_split, cfg.val_fraction, seed)
    require_images({"training": train_split, "test": test_split, "validation": val_split}, f"{dataset.name} at {dataset.location}")
    return dataset, Splits(train_split, val_split, test_split)


def channel_means(split: Split, chunk: int = 4096) -> tuple[float, ...]:
    """Mean value per channel of a split's uint8 images, in [0, 1], a chunk at a time
    (a cast of the whole tensor would briefly double a large dataset's memory, and a
    memory-mapped one is never read whole)."""
    n, (c, h, w) = len(split), split.image_shape
    sums = torch.zeros(c, dtype=torch.float64)
    for start in range(0, n, chunk):
        sums += split.pixels(slice(start, start + chunk)).sum(dim=(0, 2, 3), dtype=torch.float64)
    return tuple(round(v, 6) for v in (sums / (n * h * w * 255)).tolist())


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> Autoencoder:
    """The trained model of a run folder, in eval mode."""
    run = RunFiles(Path(run_dir)).require()
    model = build_model(load_config_file(run.config).model)
    load_weights(model, run.weights)
    return placed(model, device).eval()
