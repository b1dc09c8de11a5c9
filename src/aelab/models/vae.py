"""`vae`: a convolutional variational autoencoder (seeds 000, 001, 002), beta-VAE with beta != 1.

Defaults follow the TensorFlow CVAE tutorial that seed 002 builds on:
    encoder: conv 3x3/2 (32) -> ReLU -> conv 3x3/2 (64) -> ReLU -> flatten -> dense mu, dense logvar
    decoder: dense -> ReLU -> reshape -> convT 3x3/2 (64 -> 32) -> ReLU -> convT 3x3/2 -> logits
with a 2-D latent (seed 001's scatter plots). Latent size, channels, an extra dense
`hidden` layer and the likelihood are options, so the same class serves MNIST and
3x32x32 colour images (CIFAR-10: use `likelihood = "gaussian"`, or Bernoulli on
the grey values with `binarize = "none"`).

Loss = negative ELBO in nats per image:
    -log p(x|z) summed over every pixel value  +  beta * KL(q(z|x) || p(z)) summed over latent dims,
averaged over the batch, with z = mu + sigma * eps (one sample). A per-pixel MEAN
reconstruction against a summed KL silently weights the KL by 784 and collapses the
posterior; here both are sums. beta = 1 is the true ELBO; any other beta is a
beta-VAE, and its `nelbo` term is still the beta = 1 value.

Likelihoods (the decoder always outputs logits l; images are sigmoid(l)):
    bernoulli  p(x|z) = prod Bernoulli(x; sigmoid(l)), x binarised per `binarize`
    gaussian   p(x|z) = prod N(x; sigmoid(l), sigma^2), sigma fixed or learned (one scalar);
               a density over [0, 1]-valued pixels, so its NLL is not comparable to discrete ones
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from aelab.checks import Channels, NonNegativeFloat, PositiveFloat, PositiveInt
from aelab.data.split import Split
from aelab.models.base import Autoencoder, LossOutput, ModelConfig
from aelab.models.binarize import Binarize, binarize_batch, evaluation_split
from aelab.models.capabilities import Capabilities
from aelab.models.gaussian import kl_monte_carlo, kl_normal_analytic, log_normal_pdf, reparameterize
from aelab.models.layers import Activation, activation, conv_decoder, conv_encoder
from aelab.models.registry import register_model
from aelab.terms import LOSS, MetricTerm

Likelihood = Literal["bernoulli", "gaussian"]
KLEstimator = Literal["analytic", "monte-carlo"]


@dataclass
class VAEConfig(ModelConfig):
    name: str = "vae"
    channels: Channels = (32, 64)  # one stride-2 conv per entry
    kernel_size: PositiveInt = 3
    hidden: PositiveInt | None = None  # an extra dense layer between the conv features and the latent
    latent_dim: PositiveInt = 2
    activation: Activation = "relu"
    likelihood: Likelihood = "bernoulli"
    sigma: PositiveFloat = 0.1  # the Gaussian likelihood's std (its start value when learned)
    learn_sigma: bool = False
    beta: NonNegativeFloat = 1.0  # weight of the KL term; 1 is the ELBO
    kl_estimator: KLEstimator = "analytic"
    binarize: Binarize | None = None  # None: "dynamic" for bernoulli, "none" for gaussian

    def __post_init__(self) -> None:
        if self.binarize is None:
            self.binarize = "dynamic" if self.likelihood == "bernoulli" else "none"
        if self.likelihood == "gaussian" and self.binarize != "none":
            raise ValueError(f"binarize={self.binarize!r} makes no sense with a gaussian likelihood: set model.binarize=\"none\"")
        if self.likelihood == "bernoulli" and self.learn_sigma:
            raise ValueError("learn_sigma applies to the gaussian likelihood only: set model.likelihood=\"gaussian\"")


def bernoulli_log_likelihood(x: torch.Tensor, logits: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """log p(x | logits) summed over pixels: (B, C, H, W) -> (B,)."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_log_likelihood(x: torch.Tensor, logits: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """log N(x; sigmoid(logits), sigma^2) summed over pixels: (B, C, H, W) -> (B,)."""
    return log_normal_pdf(x.flatten(1), torch.sigmoid(logits).flatten(1), 2 * log_sigma)


LIKELIHOODS: dict[str, Callable[..., torch.Tensor]] = {"bernoulli": bernoulli_log_likelihood, "gaussian": gaussian_log_likelihood}
KL_ESTIMATORS: dict[str, Callable[..., torch.Tensor]] = {
    "analytic": lambda z, mu, logvar: kl_normal_analytic(mu, logvar),
    "monte-carlo": kl_monte_carlo,
}


class GaussianEncoder(nn.Module):
    """x -> q(z|x) = N(mu, diag(exp(logvar))). Calling it gives mu, the code analyses use."""

    def __init__(self, body: nn.Module, features: int, latent_dim: int):
        super().__init__()
        self.body = body
        self.mean = nn.Linear(features, latent_dim)
        self.logvar = nn.Linear(features, latent_dim)

    def distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)  # (B, features)
        return self.mean(h), self.logvar(h)  # (B, K) each

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mean(self.body(x))


class LogitDecoder(nn.Module):
    """z (B, K) -> logits (B, C, H, W); calling it gives images sigmoid(logits) in [0, 1]."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(z))


class ElboParts(NamedTuple):
    rec: torch.Tensor  # (B,) -log p(x|z), nats
    kl: torch.Tensor  # (B,) KL(q(z|x) || p(z)), nats
    z: torch.Tensor  # (B, K) the sample they were computed at
    mu: torch.Tensor  # (B, K) the posterior q(z|x) it was drawn from
    logvar: torch.Tensor  # (B, K)


def build_networks(config: VAEConfig) -> tuple[GaussianEncoder, LogitDecoder]:
    """The encoder and decoder, with every shape derived from `config.input_shape`."""
    c, h, w = config.input_shape
    convs, sizes = conv_encoder(c, config.channels, config.kernel_size, "stride", config.activation, (h, w))
    feature_shape = (config.channels[-1], *sizes[-1])
    flat = math.prod(feature_shape)
    deconvs = conv_decoder(config.channels[::-1], c, config.kernel_size, "transpose", config.activation, "linear", sizes[::-1])
    body: list[nn.Module] = [convs, nn.Flatten()]
    head: list[nn.Module] = [nn.Linear(config.latent_dim, flat)]
    if config.hidden is not None:
        body += [nn.Linear(flat, config.hidden), activation(config.activation)]
        head = [nn.Linear(config.latent_dim, config.hidden), activation(config.activation), nn.Linear(config.hidden, flat)]
    encoder = GaussianEncoder(nn.Sequential(*body), config.hidden or flat, config.latent_dim)
    decoder = LogitDecoder(nn.Sequential(*head, activation(config.activation), nn.Unflatten(1, feature_shape), deconvs))
    return encoder, decoder


@register_model("vae")
class VAE(Autoencoder):
    config_class = VAEConfig
    capabilities = Capabilities(sample=True, posterior=True, likelihood=True)

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        self.encoder, self.decoder = build_networks(config)
        log_sigma = torch.tensor(math.log(config.sigma))
        if config.learn_sigma:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x), each (B, K)."""
        return self.encoder.distribution(x)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder.logits(z)

    def targets(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """What the likelihood scores: x binarised as the config says."""
        return binarize_batch(x, self.config.binarize, generator)

    def log_likelihood(self, target: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """log p(x|z) in nats per image, summed over pixels: (B, C, H, W) -> (B,)."""
        return LIKELIHOODS[self.config.likelihood](target, logits, self.log_sigma)

    def elbo_parts(self, x: torch.Tensor, generator: torch.Generator | None = None) -> ElboParts:
        target = self.targets(x, generator)
        mu, logvar = self.encode_distribution(x)
        z = reparameterize(mu, logvar, generator)
        rec = -self.log_likelihood(target, self.decode_logits(z))
        return ElboParts(rec, KL_ESTIMATORS[self.config.kl_estimator](z, mu, logvar), z, mu, logvar)

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        parts = self.elbo_parts(x, generator)
        return LossOutput((parts.rec + self.config.beta * parts.kl).mean(), elbo_terms(parts))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images sigmoid(decoder(z)) for z ~ N(0, I): the Bernoulli means, not binary draws."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(device)
        return self.decoder(z)

    def evaluation_view(self, split: Split) -> Split:
        return evaluation_split(split, self.config.binarize)

    def objective_name(self) -> str:
        return "negative ELBO" if self.config.beta == 1 else f"beta-VAE objective (beta={self.config.beta:g})"

    def objective_formula(self) -> str:
        beta = self.config.beta
        return "rec + KL" if beta == 1 else f"rec + {beta:g} * KL"

    def metric_terms(self) -> list[MetricTerm]:
        """nelbo (rec + KL, the beta = 1 negative ELBO) is shown as the ELBO: negated, in nats per image."""
        return [MetricTerm(LOSS, self.objective_name(), "nats per image"),
                MetricTerm("rec", "reconstruction −log p(x|z)", "nats per image"), MetricTerm("kl", "KL", "nats per image"),
                MetricTerm("nelbo", "ELBO", "nats per image", sign=-1)]

    def loss_description(self) -> str:
        cfg = self.config
        pixels = math.prod(cfg.input_shape)
        sigma = f", sigma {'learned from ' if cfg.learn_sigma else ''}{cfg.sigma:g}" if cfg.likelihood == "gaussian" else ""
        return (
            f"loss: {self.objective_name()} = {self.objective_formula()}, in nats per image "
            f"(rec = -log p(x|z) summed over {pixels} pixel values, KL summed over {cfg.latent_dim} latent dims, "
            f"{cfg.kl_estimator} KL; mean over the batch); likelihood {cfg.likelihood}{sigma}, binarize {cfg.binarize}; "
            "the ELBO reported is always the beta = 1 value"
        )


def elbo_terms(parts: ElboParts) -> dict[str, torch.Tensor]:
    """Batch means for the log, nats per image; `nelbo` = rec + KL is the negative ELBO (beta = 1)."""
    return {
        "rec": parts.rec.detach().mean(),
        "kl": parts.kl.detach().mean(),
        "nelbo": (parts.rec + parts.kl).detach().mean(),
    }
