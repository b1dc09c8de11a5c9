"""Classifiers from trained encoders (seed 001 exercise 4; seed 003): `aelab classify RUN`.

The classifier is a trunk taken from the run's autoencoder plus a dense head,
trained with cross-entropy (the softmax lives in the loss):

    x (B, C, H, W) -> trunk -> features (B, F) -> Linear(F, classes) -> logits

The trunk is the model's `feature_extractor()` (the flattened code, or the
paper's pooled features for Conv-WTA). With `replace_last` it is instead the
encoder without its last layer that has weights, and whatever follows that
layer (its activation and pooling): seed 001's "replace the last conv layer
(and its activation and pooling) by a dense layer".

Modes: `probe` freezes the trunk (a linear probe on the features; since a frozen trunk
gives the same features every epoch, they are computed once and the head alone trains
on them: seconds instead of an encoder pass per image per epoch), `fine-tune`
trains trunk and head, `scratch` trains the same network from random weights
with the same budget, for comparison with `fine-tune`. Each epoch logs the
training loss (mean over the epoch's steps) and the val/test loss and accuracy;
nothing is selected on test data: the summary reports the last epoch.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from aelab.checks import DeviceName, PositiveFloat, PositiveInt, Seed
from aelab.config import load_config_file
from aelab.data import Split, batches, epoch_generator
from aelab.documents import ClassifierDocument
from aelab.engine import resolve_device
from aelab.errors import ConfigError, DataError
from aelab.io import write_text
from aelab.loading import load_model, prepare_data
from aelab.models import Autoencoder, build_model
from aelab.plots import save_loss_curves
from aelab.run_files import RunFiles
from aelab.typed import checked

Mode = Literal["probe", "fine-tune", "scratch"]


@dataclass
class ClassifyConfig:
    mode: Mode = "fine-tune"
    replace_last: bool = False  # drop the encoder's last weighted layer (and what follows it)
    epochs: PositiveInt = 5
    batch_size: PositiveInt = 128
    lr: PositiveFloat = 1e-3
    seed: Seed = 0
    device: DeviceName = "auto"

    @property
    def folder_name(self) -> str:
        return f"classify-{self.mode}" + ("-replace-last" if self.replace_last else "")


class EncoderClassifier(nn.Module):
    def __init__(self, trunk: nn.Module, n_features: int, n_classes: int, frozen: bool):
        super().__init__()
        self.trunk, self.head, self.frozen = trunk, nn.Linear(n_features, n_classes), frozen
        self.trunk.requires_grad_(not frozen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))  # (B, C, H, W) -> (B, classes) logits

    def train(self, mode: bool = True) -> "EncoderClassifier":
        super().train(mode)
        self.trunk.train(mode and not self.frozen)  # a frozen trunk stays in eval mode
        return self


def make_trunk(model: Autoencoder, replace_last: bool) -> nn.Module:
    """The features a head reads: (B, C, H, W) -> (B, F); shares the model's parameters."""
    if not replace_last:
        return model.feature_extractor()
    layers = list(model.encoder) if isinstance(model.encoder, nn.Sequential) else []
    weighted = [i for i, layer in enumerate(layers) if any(True for _ in layer.parameters())]
    if len(weighted) < 2:
        raise ConfigError(
            f"{model.config.name}'s encoder has no layer with weights before its last one to keep: "
            "classify without --replace-last."
        )
    return nn.Sequential(*layers[: weighted[-1]], nn.Flatten())


def build_classifier(model: Autoencoder, n_classes: int, cfg: ClassifyConfig) -> EncoderClassifier:
    trunk = make_trunk(model, cfg.replace_last)
    device = next(model.parameters()).device
    with torch.no_grad():
        trunk.eval()
        n_features = trunk(torch.zeros(1, *model.config.input_shape, device=device)).shape[1]
    torch.manual_seed(cfg.seed)  # the same head initialisation in every mode
    return EncoderClassifier(trunk, n_features, n_classes, frozen=cfg.mode == "probe").to(device)


def classify(run_dir: str | Path, cfg: ClassifyConfig | None = None, *, progress: bool = True,
             log: Callable[[str], None] = print) -> ClassifierDocument:
    """Train a classifier from RUN's encoder into RUN/classify-<mode>/; return its summary."""
    cfg = checked(cfg or ClassifyConfig(), "classify")
    run = RunFiles(Path(run_dir)).require()
    config = load_config_file(run.config)
    device = resolve_device(cfg.device)
    dataset, splits = prepare_data(config.data, config.train.seed)
    n_classes = _class_count(dataset.class_names, splits.train)
    if cfg.mode == "scratch":
        torch.manual_seed(cfg.seed + 1)
        model = build_model(config.model).to(device)
    else:
        model = load_model(run.root, device)
    classifier = build_classifier(model, n_classes, cfg)
    optimizer = torch.optim.Adam([p for p in classifier.parameters() if p.requires_grad], lr=cfg.lr)
    files = run.classifier(cfg.folder_name)
    files.root.mkdir(exist_ok=True)
    log(f"classify {run.root} ({cfg.mode}{', last layer replaced' if cfg.replace_last else ''}): "
        f"{classifier.head.in_features:,} features -> {n_classes} classes, "
        f"{sum(p.numel() for p in classifier.parameters() if p.requires_grad):,} trainable parameters")
    watched = {"test": splits.test} if splits.val_is_test else {"val": splits.val, "test": splits.test}
    frozen = cfg.mode == "probe"
    if frozen:  # the trunk's features never change: compute them once, train the head on them
        features = {name: encoded(classifier.trunk, split, device) for name, split in {"train": splits.train, **watched}.items()}
    net = classifier.head if frozen else classifier
    history = []
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        train_data = features["train"] if frozen else splits.train
        row = {"epoch": epoch, **train_epoch(net, optimizer, train_data, cfg, epoch, device, progress)}
        for name, split in watched.items():
            row |= {f"{name}_{k}": v for k, v in accuracy_and_loss(net, features[name] if frozen else split, device).items()}
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        write_text(files.metrics, "".join(json.dumps(r) + "\n" for r in history))
        log(f"epoch {epoch}/{cfg.epochs}  train loss {row['train_loss']:.4f}  test loss {row['test_loss']:.4f}  "
            f"test accuracy {row['test_accuracy']:.2%}  {row['seconds']:.1f} s")
    save_loss_curves(history, files.loss_plot)
    summary = ClassifierDocument(run=str(run.root), model=config.model.name, dataset=dataset.name, **asdict(cfg),
                                 features=classifier.head.in_features, classes=n_classes,
                                 **{k: v for k, v in history[-1].items() if k != "seconds"})
    summary.write(files.summary)
    return summary


Features = tuple[torch.Tensor, torch.Tensor]  # (N, F) float features and (N,) labels, on the device


@torch.inference_mode()
def encoded(trunk: nn.Module, split: Split, device, batch_size: int = 1000) -> Features:
    """A frozen trunk's features of every image of `split`, once."""
    trunk.eval()
    parts = [(trunk(x), y) for x, y in batches(split, batch_size, device=device)]
    return torch.cat([f for f, _ in parts]).clone(), torch.cat([y for _, y in parts]).clone()  # clone: usable outside inference mode


def batches_of(data: Split | Features, batch_size: int, generator: torch.Generator | None, device):
    """(x, y) batches of images (a Split) or of precomputed features, shuffled iff `generator`."""
    if isinstance(data, Split):
        yield from batches(data, batch_size, generator=generator, device=device)
        return
    x, y = data
    order = torch.randperm(len(x), generator=generator) if generator is not None else torch.arange(len(x))
    for start in range(0, len(x), batch_size):
        index = order[start : start + batch_size].to(x.device)
        yield x[index], y[index]


def train_epoch(net: nn.Module, optimizer, data: Split | Features, cfg: ClassifyConfig, epoch: int, device, progress: bool) -> dict:
    """One pass; returns the mean training loss and accuracy over the epoch's steps."""
    net.train()
    n = len(data) if isinstance(data, Split) else len(data[0])
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    bar = tqdm(total=n, desc=f"epoch {epoch}/{cfg.epochs}", unit="img", leave=False, disable=None if progress else True)
    for x, y in batches_of(data, cfg.batch_size, epoch_generator(cfg.seed, epoch), device):
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(x)
        correct += (logits.argmax(1) == y).sum()
        bar.update(len(x))
    bar.close()
    return {"train_loss": (loss_sum / n).item(), "train_accuracy": correct.item() / n}


@torch.inference_mode()
def accuracy_and_loss(net: nn.Module, data: Split | Features, device, batch_size: int = 1000) -> dict:
    net.eval()
    loss_sum, correct, n = 0.0, 0, 0
    for x, y in batches_of(data, batch_size, None, device):
        logits = net(x)
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        n += len(x)
    return {"loss": loss_sum / n, "accuracy": correct / n}


def _class_count(class_names: tuple[str, ...], train: Split) -> int:
    if train.labels is None:
        raise DataError("this run's dataset has no labels: a classifier needs a labelled dataset (e.g. fashion-mnist).")
    return max(len(class_names), int(train.labels.max()) + 1)
