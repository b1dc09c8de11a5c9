"""Metrics on a split, computed under inference mode in large batches."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from aelab.data import Split, batches
from aelab.models import Autoencoder
from aelab.terms import MetricTerm

# what `reconstruction_metrics` writes into evaluation.json, as the report labels it
RECONSTRUCTION_METRIC_TERMS = (
    MetricTerm("split", "split"), MetricTerm("images", "images"),
    MetricTerm("mse_per_pixel", "MSE per pixel"), MetricTerm("mse_per_image", "MSE per image", "summed over pixels"),
    MetricTerm("bce_per_pixel", "BCE per pixel"), MetricTerm("bce_per_image", "BCE per image", "summed over pixels"),
    MetricTerm("psnr_db", "PSNR", "dB; the mean of each image's PSNR"),
)


@torch.inference_mode()
def loss_sums(model: Autoencoder, split: Split, batch_size: int, device: torch.device,
              generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The model's own loss and its terms, summed over every image of `split` (float64, on `device`)."""
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    for x, y in batches(split, batch_size, device=device):
        out = model.batch_loss(x, y, generator)
        for name, value in {"loss": out.total, **out.terms}.items():
            sums[name] = sums.get(name, 0) + value.detach().double() * len(x)
    return sums



@torch.inference_mode()
def reconstruction_metrics(model: Autoencoder, split: Split, batch_size: int, device: torch.device) -> dict[str, float]:
    """MSE and BCE per pixel and per image, and PSNR (mean over images, peak value 1)."""
    model.eval()
    n_pixels = math.prod(split.image_shape)
    totals = {"mse": 0.0, "bce": 0.0, "psnr": 0.0}
    for x, _ in batches(split, batch_size, device=device):
        x_hat = model(x).clamp(0, 1)
        mse = (x_hat - x).pow(2).flatten(1).mean(1)
        bce = F.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), x, reduction="none").flatten(1).mean(1)
        totals["mse"] += mse.double().sum().item()
        totals["bce"] += bce.double().sum().item()
        totals["psnr"] += (-10 * torch.log10(mse.double().clamp_min(1e-10))).sum().item()
    n = len(split)
    return {
        "mse_per_pixel": totals["mse"] / n,
        "mse_per_image": totals["mse"] / n * n_pixels,
        "bce_per_pixel": totals["bce"] / n,
        "bce_per_image": totals["bce"] / n * n_pixels,
        "psnr_db": totals["psnr"] / n,
        "images": n,
    }
