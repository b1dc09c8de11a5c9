"""`cvae` (Sohn et al., "Learning Structured Output Representation using Deep Conditional
Generative Models", NeurIPS 2015): the VAE's networks, both conditioned on the class.

    encoder q(z|x, y): the conv features and one-hot(y) -> mu, logvar (K each)
    decoder p(x|z, y): [z, one-hot(y)] (K + classes) -> logits
Loss = the VAE's negative ELBO with both sides conditioned, nats per image; it reads each
image's label (`capabilities.labels`, through `batch_loss`), so it trains on labelled data only.

The code is [mu, one-hot(y)] (K + classes numbers), so `decode(code)` needs no label on the
side and every analysis of codes works. Without labels (`encode(x)`, what analyses call)
the class part is zeros, "no class": `label_dropout` of the training labels are dropped to
zeros too (as in classifier-free guidance), so the networks also learn that case and the
plain autoencoder view is a trained one. `sample(n, label=c)` draws z ~ N(0, I) and decodes
it with class c; without a label each sample's class is drawn uniformly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aelab.checks import PositiveInt, UnitInterval
from aelab.errors import DataError
from aelab.models.base import LossOutput
from aelab.models.capabilities import Capabilities
from aelab.models.gaussian import reparameterize
from aelab.models.registry import register_model
from aelab.models.vae import KL_ESTIMATORS, VAE, ElboParts, VAEConfig, build_networks, elbo_terms


@dataclass
class CVAEConfig(VAEConfig):
    name: str = "cvae"
    classes: PositiveInt = 10
    label_dropout: UnitInterval = 0.1  # share of training labels replaced by "no class"


class ConditionalEncoder(nn.Module):
    """x, one-hot y -> q(z|x, y); calling it on x alone gives the code [mu, 0] of "no class"."""

    def __init__(self, body: nn.Module, features: int, latent_dim: int, classes: int):
        super().__init__()
        self.body, self.classes = body, classes
        self.mean = nn.Linear(features + classes, latent_dim)
        self.logvar = nn.Linear(features + classes, latent_dim)

    def distribution(self, x: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.cat([self.body(x), onehot], 1)  # (B, features + classes)
        return self.mean(h), self.logvar(h)  # (B, K) each

    def forward(self, x: torch.Tensor, onehot: torch.Tensor | None = None) -> torch.Tensor:
        onehot = x.new_zeros(x.shape[0], self.classes) if onehot is None else onehot  # shape[0], not len(): stays a dynamic axis in ONNX
        return torch.cat([self.distribution(x, onehot)[0], onehot], 1)  # (B, K + classes)


@register_model("cvae")
class CVAE(VAE):
    config_class = CVAEConfig
    # the loss conditions on each image's class; it models log p(x|y), so no estimate of log p(x)
    capabilities = Capabilities(sample=True, posterior=True, labels=True)

    def __init__(self, config: CVAEConfig):
        super().__init__(config)
        plain, _ = build_networks(config)
        _, self.decoder = build_networks(dataclasses.replace(config, latent_dim=config.latent_dim + config.classes))
        self.encoder = ConditionalEncoder(plain.body, plain.mean.in_features, config.latent_dim, config.classes)

    def onehot(self, labels: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor:
        if labels is None:
            return torch.zeros(n, self.config.classes, device=device)
        if len(labels) and (labels.min() < 0 or labels.max() >= self.config.classes):
            raise DataError(f"cvae has model.classes = {self.config.classes} but got label {labels.max().item()}: "
                            "set model.classes to the dataset's number of classes.")
        return F.one_hot(labels, self.config.classes).float()

    def batch_loss(self, x: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator | None = None) -> LossOutput:
        return self.loss(x, generator, labels)

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None, labels: torch.Tensor | None = None) -> LossOutput:
        """Labels None (a model checked by hand, unlabelled data) train the "no class" case alone."""
        onehot = self.onehot(labels, len(x), x.device)
        if self.training and self.config.label_dropout:
            keep = torch.rand(len(x), 1, generator=generator, device=x.device) >= self.config.label_dropout
            onehot = onehot * keep
        target = self.targets(x, generator)
        mu, logvar = self.encoder.distribution(x, onehot)
        z = reparameterize(mu, logvar, generator)
        rec = -self.log_likelihood(target, self.decode_logits(torch.cat([z, onehot], 1)))
        parts = ElboParts(rec, KL_ESTIMATORS[self.config.kl_estimator](z, mu, logvar), z, mu, logvar)
        return LossOutput((parts.rec + self.config.beta * parts.kl).mean(), elbo_terms(parts))

    def encode_distribution(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x, y), each (B, K); y unknown without labels."""
        return self.encoder.distribution(x, self.onehot(labels, x.shape[0], x.device))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, label: int | None = None) -> torch.Tensor:
        """n images of class `label` (None: each of a class drawn uniformly), z ~ N(0, I)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator)
        labels = torch.full((n,), label) if label is not None else torch.randint(self.config.classes, (n,), generator=generator)
        return self.decoder(torch.cat([z, self.onehot(labels, n, torch.device("cpu"))], 1).to(device))

    def objective_name(self) -> str:
        return "negative conditional ELBO" if self.config.beta == 1 else f"conditional beta-VAE objective (beta={self.config.beta:g})"
