"""The autoencoder contract every registered model follows.

    z = model.encode(x)        # (B, C, H, W) in [0, 1] -> code, e.g. (B, K)
    x_hat = model.decode(z)    # code -> image in the data's range
    x_hat = model(x)           # decode(encode(x))
    out = model.loss(x, g)     # LossOutput(total, terms): what training minimises; noise from g
    out = model.batch_loss(x, y, g)  # the same, as the engine calls it: labels y (B,) or None beside

Optional parts, with defaults here: `loss_description()` (logged once when
training starts), `metric_terms()` (what each logged number means, for reports),
`evaluation_view(split)` (the split as the loss scores it at evaluation, e.g. one fixed
binarisation), and `sample(n)` where the model declares it.

What a model can do beyond the contract (sample from a prior, give its posterior, read labels...)
it declares in `capabilities` (models/capabilities.py); callers read that, never guess.

`encoder` and `decoder` are sub-modules that can be called on their own. Models
with a stochastic code (VAEs) return the posterior mean from `encode`, so that
analyses of the latent space work on every model alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import nn

from aelab.checks import PositiveInt
from aelab.models.capabilities import Capabilities
from aelab.terms import MetricTerm, per_pixel_terms

if TYPE_CHECKING:
    from aelab.data import Split


@dataclass
class ModelConfig:
    """Fields every model config has; each model subclasses it with its own options."""

    name: str = ""
    input_shape: tuple[PositiveInt, PositiveInt, PositiveInt] = (1, 28, 28)  # (C, H, W); set from the dataset by a run
    # mean pixel value per channel of the training images, in [0, 1]; set by a run, so that
    # models can start their output there (see models/init.py); None when built by hand
    pixel_mean: tuple[float, ...] | None = None
    # images in the training split; set by a run, for losses that estimate the aggregate
    # posterior over the whole dataset (beta-TCVAE); None when built by hand
    train_images: PositiveInt | None = None

    def second_stage_epochs(self) -> int:
        """Epochs the model trains after `train.epochs` with its autoencoder frozen (the VQ-VAE's
        prior over its codes, as its paper trains it); 0 for a model trained in one stage."""
        return 0


class LossOutput(NamedTuple):
    total: torch.Tensor  # scalar that training minimises
    terms: dict[str, torch.Tensor]  # its named parts (scalars), logged per epoch


class Autoencoder(nn.Module):
    config_class: type[ModelConfig] = ModelConfig
    # what it can do beyond encode/decode/loss; every registered model declares its own on its class
    # (tests/models/test_contract.py), and one that depends on the config sets it again in __init__
    capabilities: Capabilities = Capabilities()

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder: nn.Module
        self.decoder: nn.Module

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        """What training minimises. Noise the loss draws (sampling, binarising) comes from
        `generator` (None: the global RNG), so the engine decides where randomness comes from."""
        raise NotImplementedError

    def batch_loss(self, x: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator | None = None) -> LossOutput:
        """The loss of a batch as the training loop and evaluation hold it, labels (B,) or None
        beside; only models that declare `capabilities.labels` read them."""
        return self.loss(x, generator)

    def enter_stage(self, second: bool) -> None:
        """Called by the training loop before each epoch: `second` for the epochs after
        `train.epochs` (`config.second_stage_epochs()` of them). Only staged models act on it."""

    def loss_description(self) -> str:
        """What `loss` computes and how it is scaled (sum or mean, over what), for the log."""
        return ""

    def metric_terms(self) -> list[MetricTerm]:
        """Every number `loss` logs ('loss', the total, and each of its terms), with the label, unit
        and sign a reader sees it with: runs write these into their documents, so reports label a
        metric without importing the model. The default fits a reconstruction MSE averaged over
        pixels; a model whose terms differ declares its own."""
        return per_pixel_terms("mse")

    def evaluation_view(self, split: Split) -> Split:
        """The split as `loss` should score it when evaluating; the split itself by default."""
        return split

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images (n, C, H, W) in [0, 1] drawn from the model's prior."""
        raise NotImplementedError(f"{type(self).__name__} has no prior to sample from")

    def feature_extractor(self) -> nn.Module:
        """What classifiers and linear probes read: (B, C, H, W) -> (B, F). Shares the
        encoder's parameters. The flattened code by default; models whose useful
        features differ from their code (winner-take-all) override it."""
        return nn.Sequential(self.encoder, nn.Flatten())

    @property
    def code_shape(self) -> tuple[int, ...]:
        """Shape of one image's code, found by encoding a dummy input."""
        device = next(self.parameters()).device
        with torch.no_grad():
            was_training = self.training
            self.eval()
            code = self.encode(torch.zeros(1, *self.config.input_shape, device=device))
            self.train(was_training)
        return tuple(code.shape[1:])
