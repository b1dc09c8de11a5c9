"""Samplers for every model: the prior where a model has one, and a Gaussian mixture on the codes.

    images = sample(model, 100, "gmm", mixture=mixture, generator=g)   # any model
    images = sample(model, 100, "prior", generator=g)                 # VAEs, MMD-VAEs

Ex-post density estimation (Ghosh et al. 2020, "From variational to deterministic
autoencoders"): a plain autoencoder has no prior, but a Gaussian mixture fitted on its
training codes is one; decoding draws from it samples the model. scikit-learn fits the
mixture; its weights, means and covariances are saved as safetensors in the run folder
(never pickled) and sampled in torch, so a `torch.Generator` makes the draws repeatable.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from sklearn.mixture import GaussianMixture

from aelab.errors import AelabError, ConfigError
from aelab.io import atomic_path
from aelab.models import Autoencoder

SamplerName = Literal["prior", "gmm"]
SAMPLERS: tuple[SamplerName, ...] = ("prior", "gmm")


FULL_COVARIANCE_UP_TO = 256  # code numbers: beyond, "auto" fits diagonal covariances (D*D numbers a component is too many)
WIDEST_CODE = 16_384  # code numbers a mixture is fitted on at most: the training codes alone are N*D numbers


@dataclass(frozen=True)
class MixtureConfig:
    components: int = 10  # Ghosh et al. use 10 components
    covariance: Literal["auto", "full", "diag"] = "auto"  # auto: full up to FULL_COVARIANCE_UP_TO code numbers, else diag
    max_iter: int = 100
    seed: int = 0

    def covariance_for(self, code_numbers: int) -> Literal["full", "diag"]:
        if self.covariance != "auto":
            return self.covariance
        return "full" if code_numbers <= FULL_COVARIANCE_UP_TO else "diag"


@dataclass(frozen=True)
class CodeMixture:
    """A Gaussian mixture over flat codes: weights (K,), means (K, D), and covariances (K, D, D)
    (full) or the variances (K, D) of diagonal ones."""

    weights: torch.Tensor
    means: torch.Tensor
    covariances: torch.Tensor
    config: MixtureConfig
    fitted_for: str = ""  # what the codes came from: the sha256 of the model's weights file

    def draw(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, D) float32 codes: a component by its weight, then its Gaussian."""
        component = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)
        if self.covariances.dim() == 2:  # diagonal: (K, D) variances
            return (self.means[component] + self.covariances[component].sqrt() * noise).float()
        scale = torch.linalg.cholesky(self.covariances)  # (K, D, D)
        return (self.means[component] + torch.einsum("nij,nj->ni", scale[component], noise)).float()


def fit_mixture(codes: torch.Tensor, config: MixtureConfig = MixtureConfig()) -> CodeMixture:
    """Fit on (N, D) codes with scikit-learn (k-means start, EM), seeded by `config.seed`."""
    if config.covariance not in ("auto", "full", "diag"):
        raise ConfigError(f"the code mixture's covariance must be 'auto', 'full' or 'diag', got {config.covariance!r}.")
    if codes.shape[1] > WIDEST_CODE:
        raise ConfigError(f"the code has {codes.shape[1]:,} numbers, more than the {WIDEST_CODE:,} a code mixture is fitted on: "
                          "sample this model through its prior, or train it with a smaller code.")
    if config.components < 1 or config.components > len(codes):
        raise ConfigError(f"the code mixture needs 1 to {len(codes)} components (one per training code at most), "
                          f"got components={config.components}.")
    gmm = GaussianMixture(config.components, covariance_type=config.covariance_for(codes.shape[1]), max_iter=config.max_iter,
                          reg_covar=1e-6, random_state=config.seed).fit(codes.double().numpy())
    covariances = gmm.covariances_  # (K, D, D) full, (K, D) diag
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))  # noqa: E731
    return CodeMixture(as_tensor(gmm.weights_), as_tensor(gmm.means_), as_tensor(covariances), config)


def save_mixture(mixture: CodeMixture, path: Path) -> None:
    tensors = {"weights": mixture.weights, "means": mixture.means, "covariances": mixture.covariances}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"config": json.dumps(dataclasses.asdict(mixture.config)), "fitted_for": mixture.fitted_for})


def load_mixture(path: Path) -> CodeMixture:
    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
            config = MixtureConfig(**json.loads(metadata["config"]))
            return CodeMixture(f.get_tensor("weights"), f.get_tensor("means"), f.get_tensor("covariances"), config,
                               metadata.get("fitted_for", ""))
    except Exception as err:  # noqa: BLE001 - any damage has the same fix
        raise AelabError(f"{path} is not a readable code mixture ({type(err).__name__}: {err}): delete it and it is fitted again.") from None


def saved_or_fitted(path: Path, train_codes: Callable[[], torch.Tensor], config: MixtureConfig = MixtureConfig(),
                    fitted_for: str = "", log: Callable[[str], None] = print) -> CodeMixture:
    """The mixture saved at `path` if it was fitted with `config` on codes of `fitted_for`, else a new fit saved there.

    `train_codes` is called only when a fit is needed (encoding a training split is the cost);
    `fitted_for` names the weights, so a run trained further gets a new fit.
    """
    if path.is_file():
        mixture = load_mixture(path)
        if mixture.config == config and mixture.fitted_for == fitted_for:
            return mixture
    codes = train_codes()
    log(f"fitting a {config.components}-component Gaussian mixture ({config.covariance_for(codes.shape[1])} covariances) "
        f"on {len(codes):,} training codes")
    mixture = dataclasses.replace(fit_mixture(codes, config), fitted_for=fitted_for)
    save_mixture(mixture, path)
    return mixture


def available_samplers(model: Autoencoder) -> list[SamplerName]:
    """The prior where the model declares one, and the code mixture for every model."""
    return ["prior", "gmm"] if model.capabilities.sample else ["gmm"]


@torch.no_grad()
def sample(model: Autoencoder, n: int, sampler: SamplerName = "gmm", *, mixture: CodeMixture | None = None,
           generator: torch.Generator | None = None, batch_size: int = 1000) -> torch.Tensor:
    """n images (n, C, H, W) in [0, 1] on the CPU, drawn by the named sampler."""
    if sampler not in available_samplers(model):
        raise ConfigError(f"sampler {sampler!r} is not available for {type(model).__name__}: "
                          f"use one of {available_samplers(model)} (only models with a prior have 'prior').")
    if sampler == "gmm" and mixture is None:
        raise ConfigError("the 'gmm' sampler needs the code mixture: fit_mixture(train_codes) or saved_or_fitted(path, ...).")
    model.eval()
    if sampler == "prior":
        parts = [model.sample(min(batch_size, n - start), generator) for start in range(0, n, batch_size)]
    else:
        parts = list(decode_codes(model, mixture.draw(n, generator), batch_size))  # drawn at once: the same for any batch size
    return torch.cat([p.float().clamp(0, 1).cpu() for p in parts])


def decode_codes(model: Autoencoder, codes: torch.Tensor, batch_size: int):
    """(N, D) flat codes -> batches of images, each code reshaped to the model's code shape."""
    code_shape = tuple(model.code_shape)
    if codes.shape[1] != math.prod(code_shape):
        raise ConfigError(f"the code mixture has {codes.shape[1]} dimensions but the model's code {code_shape} "
                          f"has {math.prod(code_shape)}: it was fitted for another model; delete it to refit.")
    device = next(model.parameters()).device
    for start in range(0, len(codes), batch_size):
        z = codes[start : start + batch_size].to(device)
        yield model.decode(z.view(len(z), *code_shape))
