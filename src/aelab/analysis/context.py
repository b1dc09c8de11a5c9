"""What every analysis reads: a run's config, model and data, and codes computed once.

Encoding is the costly shared step (60,000 training images for 1-NN), so the
context encodes each split once, in large batches under inference mode, and
every analysis reuses the result. Codes are kept flat, (N, D) with
D = prod(code_shape), so (B, K) vectors and (B, C, H, W) feature maps are
handled alike; `decode` reshapes them back.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Iterator

import torch

from aelab.config import RunConfig, load_config_file
from aelab.data import ImageDataset, Split, batches
from aelab.models import Autoencoder
from aelab.run_files import RunFiles


class AnalysisContext:
    def __init__(self, run_dir: str | Path, *, device: str = "auto", batch_size: int = 1000, data_cache: dict | None = None):
        from aelab.engine import resolve_device
        from aelab.loading import load_model, prepare_data

        self.run = RunFiles(Path(run_dir)).require()
        self.config: RunConfig = load_config_file(self.run.config)
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.timings: dict[str, float] = {}  # seconds spent in shared steps (loading, encoding)
        with self.timed("load data"):
            key = (repr(self.config.data), self.config.train.seed)
            cache = {} if data_cache is None else data_cache
            if key not in cache:
                cache[key] = prepare_data(self.config.data, self.config.train.seed)
            self.dataset: ImageDataset = cache[key][0]
            self.train: Split = cache[key][1].train
            self.test: Split = cache[key][1].test
        with self.timed("load model"):
            self.model: Autoencoder = load_model(self.run.root, self.device)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    # --- what the run is ---------------------------------------------------
    @cached_property
    def code_shape(self) -> tuple[int, ...]:
        return tuple(self.model.code_shape)

    @property
    def code_dim(self) -> int:
        return math.prod(self.code_shape)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.dataset.image_shape

    @property
    def variational(self) -> bool:
        """A model with a posterior and a N(0, I) prior (VAE, MMD-VAE)."""
        caps = self.model.capabilities
        return (caps.posterior or caps.sample) and not caps.discrete_code

    @property
    def labelled(self) -> bool:
        return self.test.labels is not None and self.train.labels is not None

    @property
    def class_names(self) -> list[str]:
        names = list(self.dataset.class_names)
        if self.test.labels is not None and len(self.test.labels):
            n = max(len(names), int(self.test.labels.max()) + 1)
            names += [str(i) for i in range(len(names), n)]
        return names

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    # --- codes and images, computed once --------------------------------------
    @cached_property
    def _test_pass(self) -> tuple[torch.Tensor, torch.Tensor]:
        with self.timed("encode test"):
            return self._encode(self.test, errors=True)

    @property
    def test_codes(self) -> torch.Tensor:
        """(N_test, D) float32 on the CPU: posterior means for VAEs."""
        return self._test_pass[0]

    @property
    def test_errors(self) -> torch.Tensor:
        """(N_test,) mean squared error per pixel of each test image's reconstruction."""
        return self._test_pass[1]

    @cached_property
    def train_codes(self) -> torch.Tensor:
        """(N_train, D) float32 on the CPU."""
        with self.timed("encode train"):
            return self._encode(self.train, errors=False)[0]

    @torch.inference_mode()
    def _encode(self, split: Split, errors: bool) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.eval()
        codes, errs = [], []
        for x, _ in batches(split, self.batch_size, device=self.device):
            z = self.model.encode(x)
            codes.append(z.flatten(1).float().cpu())
            if errors:
                errs.append((self.model.decode(z) - x).pow(2).flatten(1).mean(1).cpu())
        empty = torch.zeros(0)
        return torch.cat(codes) if codes else empty, torch.cat(errs) if errs else empty

    def test_images(self, index: slice | torch.Tensor | list[int]) -> torch.Tensor:
        """Test images at `index` as float (N, C, H, W) in [0, 1] on the CPU."""
        if isinstance(index, list):
            index = torch.tensor(index, dtype=torch.long)
        return self.test.images[index].float().div(255)

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, D) flat codes -> (N, C, H, W) images on the CPU, clamped to [0, 1]."""
        self.model.eval()
        out = []
        for start in range(0, len(codes), self.batch_size):
            z = codes[start : start + self.batch_size].to(self.device, torch.float32)
            out.append(self.model.decode(z.reshape(len(z), *self.code_shape)).float().clamp(0, 1).cpu())
        return torch.cat(out) if out else torch.zeros(0, *self.image_shape)

    @torch.inference_mode()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        return self.model(images.to(self.device)).float().clamp(0, 1).cpu()
