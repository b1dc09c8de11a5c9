"""Figures written during training: image grids, reconstruction pairs, loss curves.

Uses matplotlib's object API (`Figure`, no pyplot), so no GUI backend is ever
selected and nothing global is configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from aelab.io import atomic_path


def image_grid(images: torch.Tensor, ncols: int, pad: int = 1, scale: int = 1) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one (rows*H, cols*W[, 3]) uint8 array, white gaps between tiles."""
    images = images.detach().float().clamp(0, 1).cpu()
    n, c, h, w = images.shape
    nrows = -(-n // ncols)
    grid = torch.ones(c, nrows * (h + pad) - pad, ncols * (w + pad) - pad)
    for i, image in enumerate(images):
        r, col = divmod(i, ncols)
        grid[:, r * (h + pad) : r * (h + pad) + h, col * (w + pad) : col * (w + pad) + w] = image
    array = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    array = array.repeat(scale, axis=0).repeat(scale, axis=1)
    return array[..., 0] if c == 1 else array


def save_png(array: np.ndarray, path: Path) -> None:
    """Save an image array pixel for pixel (grey stays grey)."""
    from matplotlib.image import imsave

    with atomic_path(path) as tmp:
        imsave(tmp, array, cmap="gray" if array.ndim == 2 else None, vmin=0, vmax=255, format="png")


def interleave(originals: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """[o1, r1, o2, r2, ...]: pairs side by side when laid out in an even number of columns."""
    return torch.stack([originals, reconstructions], dim=1).flatten(0, 1)


def save_reconstruction_pairs(originals: torch.Tensor, reconstructions: torch.Tensor, path: Path, ncols: int = 10) -> None:
    """Seed 004's Figure 1: original | reconstruction pairs, `ncols // 2` pairs per row."""
    save_png(image_grid(interleave(originals, reconstructions), ncols, pad=2, scale=3), path)


def save_strip(originals: torch.Tensor, reconstructions: torch.Tensor, path: Path) -> None:
    """Originals on the top row, their reconstructions below: one small image per epoch."""
    save_png(image_grid(torch.cat([originals, reconstructions]), len(originals), scale=2), path)


def save_samples(images: torch.Tensor, path: Path, ncols: int = 10) -> None:
    """Images drawn from a model's prior, `ncols` to a row."""
    save_png(image_grid(images, ncols, pad=2, scale=2), path)


def mark_second_stage(ax, after: int | None) -> None:
    """A dashed line between the last epoch of `train.epochs` and the first of a second stage."""
    if after is not None:
        ax.axvline(after + 0.5, color="grey", linestyle="--", linewidth=1)
        ax.text(after + 0.6, 0.98, "second stage", transform=ax.get_xaxis_transform(), va="top", fontsize=8, color="grey")


def save_loss_curves(history: Sequence[dict], path: Path, keys: Sequence[str] = ("train_loss", "val_loss", "test_loss"),
                     ylabel: str = "loss", second_stage_after: int | None = None) -> None:
    """Each split's loss per epoch; `ylabel` says what the loss is (the model's declared loss term);
    a model's second stage (the VQ-VAE's prior) is marked from the epoch after `second_stage_after`."""
    fig = Figure(figsize=(6, 4), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    mark_second_stage(ax, second_stage_after)
    epochs = [row["epoch"] for row in history]
    for key in keys:
        values = [row.get(key) for row in history]
        if any(v is not None for v in values):
            ax.plot(epochs, values, marker="o", label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
