"""The feature space in which samples are scored: a small classifier trained on the dataset itself.

Inception-based FID needs downloaded weights and, on 28 x 28 grey images, measures the wrong
thing. Like the MNIST literature's "Fréchet LeNet distance", aelab scores images in the
penultimate layer of a LeNet-style CNN trained once per dataset on its training split with a
fixed seed. The weights are cached as safetensors under a key made of the dataset's content
(sha256 of its images and labels), the network's version and its training config, so every
run on a dataset is scored by the same network. Scores in this space are comparable between
aelab runs on the same dataset, never with Inception-FID figures from papers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from aelab.data import ImageDataset, Split, batches
from aelab.data.sources import cache_root
from aelab.errors import AelabError, DataError
from aelab.io import atomic_path

VERSION = 1  # bump when the architecture or the training recipe changes: old cache entries are then ignored
CACHE_ENV = "AELAB_CACHE_DIR"


@dataclass(frozen=True)
class FeatureNetConfig:
    """How the feature network is built and trained; part of its cache key."""

    # LeNet-5's widths doubled: at (32, 64), embedding 10,000 images took 4x longer for no need
    channels: tuple[int, int] = (16, 32)
    features: int = 128  # width of the penultimate layer: the space the scores are computed in
    epochs: int = 5
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0


class FeatureNet(nn.Module):
    """LeNet-style classifier: two 5x5 conv + max-pool blocks, then a hidden layer of `features`.

    `forward` returns the hidden layer (B, C, H, W) -> (B, features), after its ReLU;
    `logits` adds the classification head it was trained with.
    """

    def __init__(self, image_shape: tuple[int, int, int], n_classes: int, config: FeatureNetConfig):
        super().__init__()
        c1, c2 = config.channels
        self.num_features = config.features  # read by torchmetrics for a custom feature network
        self.body = nn.Sequential(
            nn.Conv2d(image_shape[0], c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),  # (B, c2 * 16) for any image size
            nn.Linear(c2 * 16, config.features), nn.ReLU(),
        )
        self.head = nn.Linear(config.features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass
class FeatureSpace:
    """A trained feature network and what it is: its cache key and test accuracy."""

    net: FeatureNet
    key: str
    test_accuracy: float
    path: Path

    def describe(self) -> dict:
        return {"network": f"LeNet-style CNN v{VERSION}, {self.net.num_features} features", "key": self.key,
                "test_accuracy": round(self.test_accuracy, 4), "path": str(self.path)}

    @torch.inference_mode()
    def embed(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """(N, C, H, W) floats in [0, 1] -> (N, features) float32 on the CPU."""
        self.net.eval()
        device = next(self.net.parameters()).device
        parts = [self.net(images[i : i + batch_size].to(device, torch.float32)).cpu() for i in range(0, len(images), batch_size)]
        return torch.cat(parts) if parts else torch.zeros(0, self.net.num_features)


def cache_dir() -> Path:
    """$AELAB_CACHE_DIR, else the user cache (~/.cache/aelab)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else cache_root()


def dataset_key(dataset: ImageDataset, config: FeatureNetConfig) -> str:
    """sha256 of the images and labels of both splits, the network's version and its config."""
    digest = hashlib.sha256(json.dumps({"version": VERSION, **dataclasses.asdict(config)}, sort_keys=True).encode())
    for split in (dataset.train, dataset.test):
        digest.update(str(tuple(split.images.shape)).encode())
        digest.update(split.images.contiguous().numpy().tobytes())
        if split.labels is not None:
            digest.update(split.labels.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def feature_space(dataset: ImageDataset, config: FeatureNetConfig = FeatureNetConfig(), *, device: str | torch.device = "cpu",
                  log: Callable[[str], None] = print) -> FeatureSpace:
    """The dataset's feature network from the cache, trained and cached first if missing."""
    if dataset.train.labels is None or dataset.test.labels is None:
        raise DataError(f"{dataset.name} has no labels: generation scores need a labelled training and test split "
                        "to train the feature network they are measured in (an image folder needs one subfolder per class).")
    key = dataset_key(dataset, config)
    path = cache_dir() / "feature-networks" / f"{Path(dataset.name).stem}-{key}.safetensors"
    n_classes = int(max(dataset.train.labels.max(), dataset.test.labels.max())) + 1
    with torch.random.fork_rng(devices=[]):  # a fixed initialisation that leaves the caller's RNG as it was
        torch.manual_seed(config.seed)
        net = FeatureNet(dataset.image_shape, n_classes, config)
    if path.is_file():
        accuracy = load_feature_net(net, path)
    else:
        log(f"training the feature network for {dataset.name} once ({config.epochs} epochs, seed {config.seed}); cached in {path}")
        accuracy = train_feature_net(net, dataset.train, dataset.test, config)
        save_feature_net(net, accuracy, path)
    return FeatureSpace(net.to(device).eval(), key, accuracy, path)


def train_feature_net(net: FeatureNet, train: Split, test: Split, config: FeatureNetConfig) -> float:
    """Adam on cross-entropy, batches in an order fixed by the seed; returns the test accuracy."""
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    net.train()
    for _ in range(config.epochs):
        for x, y in batches(train, config.batch_size, generator=generator):
            loss = nn.functional.cross_entropy(net.logits(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return accuracy(net, test)


@torch.inference_mode()
def accuracy(net: FeatureNet, split: Split) -> float:
    net.eval()
    correct = sum(int((net.logits(x).argmax(1) == y).sum()) for x, y in batches(split, 1000))
    return correct / max(len(split), 1)


def save_feature_net(net: FeatureNet, test_accuracy: float, path: Path) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"version": str(VERSION), "test_accuracy": repr(test_accuracy)})


def load_feature_net(net: FeatureNet, path: Path) -> float:
    """Load cached weights into `net`; returns the test accuracy recorded with them."""
    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
            net.load_state_dict({k: f.get_tensor(k) for k in f.keys()})
        return float(metadata["test_accuracy"])
    except Exception as err:  # noqa: BLE001 - any damage to a cache entry has the same fix
        raise AelabError(f"the cached feature network {path} cannot be read ({type(err).__name__}: {err}): "
                         "delete it and it will be trained again.") from None
