"""`denoising-ae` (Vincent et al., ICML 2008): the `conv-ae` network trained to undo noise.

Loss = MSE(decode(encode(corrupt(x))), x), the mean per pixel: the input is corrupted,
the target is the clean image. The corruption is drawn from the generator `loss` is
given (the training loop seeds it per epoch; evaluation uses one fixed seed), so runs
repeat exactly. Kinds, `noise_level` = the level:
    gaussian       x + level * N(0, 1), clipped to [0, 1]            (level: the std)
    masking        each pixel set to 0 with probability level        (Vincent et al.'s noise)
    salt-pepper    each pixel set to 0 or 1, half each, with probability level
`encode`, `decode` and `forward` are the plain autoencoder's, on clean images: what a
denoising AE is used for afterwards. The logged `input_mse` is the corrupted input's
own error, the baseline the network must beat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from aelab.checks import PositiveFloat
from aelab.models.base import LossOutput
from aelab.models.capabilities import Capabilities
from aelab.models.conv_ae import ConvAEConfig, ConvAutoencoder
from aelab.models.losses import reconstruction_loss
from aelab.models.registry import register_model
from aelab.terms import MetricTerm

Noise = Literal["gaussian", "masking", "salt-pepper"]


@dataclass
class DenoisingAEConfig(ConvAEConfig):
    name: str = "denoising-ae"
    noise: Noise = "masking"
    noise_level: PositiveFloat = 0.3

    def __post_init__(self) -> None:
        if self.noise != "gaussian" and self.noise_level >= 1:
            raise ValueError(f"model.noise_level is a probability for {self.noise} noise: it must be below 1, got {self.noise_level}")


def corrupt(x: torch.Tensor, noise: Noise, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """x (B, C, H, W) in [0, 1] -> a corrupted copy in [0, 1], its noise from `generator`."""
    draw = torch.randn if noise == "gaussian" else torch.rand
    u = draw(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if noise == "gaussian":
        return (x + level * u).clamp(0, 1)
    if noise == "masking":
        return x * (u >= level)
    hit = u < level  # salt-and-pepper: u / level is again uniform on the hit pixels, so half turn white
    return torch.where(hit, (u < level / 2).to(x.dtype), x)


@register_model("denoising-ae")
class DenoisingAutoencoder(ConvAutoencoder):
    config_class = DenoisingAEConfig
    capabilities = Capabilities(denoise=True)  # the noise is drawn per image, so the batch is not coupled

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return corrupt(x, self.config.noise, self.config.noise_level, generator)

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> LossOutput:
        noisy = self.corrupt(x, generator)
        value = reconstruction_loss(self(noisy), x, self.config.loss)
        return LossOutput(value, {self.config.loss: value.detach(), "input_mse": F.mse_loss(noisy, x).detach()})

    def metric_terms(self) -> list[MetricTerm]:
        return [*super().metric_terms(), MetricTerm("input_mse", "MSE of the corrupted input", "mean per pixel")]

    def loss_description(self) -> str:
        cfg = self.config
        return (f"loss: {cfg.loss} between the reconstruction of a corrupted input ({cfg.noise} noise, level "
                f"{cfg.noise_level:g}) and the clean image, the mean over pixels and over the batch")
