"""The one training loop: Adam, seeded shuffles, per-epoch metrics, atomic checkpoints.

Every epoch draws its shuffle from its own generator, seeded by (seed, epoch),
and the checkpoint carries the torch RNG state, so a run resumed after a crash
repeats exactly what the uninterrupted run would have done.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

import torch
from tqdm.auto import tqdm

from aelab.allocator import keep_freed_memory
from aelab.checkpoint import save_checkpoint, save_weights
from aelab.config import TrainConfig
from aelab.data import Split, batches
from aelab.errors import TrainingDiverged
from aelab.evaluate import mean_loss
from aelab.models import Autoencoder
from aelab.plots import save_strip
from aelab.run_files import RunFiles
from aelab.schedule import learning_rate
from aelab.step import ShardedStep, auto_shards, intra_op_threads


@dataclass(frozen=True)
class Splits:
    train: Split
    val: Split
    test: Split
    val_is_test: bool = False  # data.val_fraction = 0: the test split is watched, never selected on


def make_optimizer(model: Autoencoder, cfg: TrainConfig) -> torch.optim.Adam:
    """Adam, fused into one kernel per parameter on CPUs and GPUs: the same update as the
    for-loop form (to float rounding), and a training step about 4% faster on small models,
    where PyTorch's per-parameter loop of a dozen small operations is a serial cost."""
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in model.parameters())
    return torch.optim.Adam(
        model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, fused=fused or None
    )


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def fit(
    model: Autoencoder,
    optimizer: torch.optim.Optimizer,
    splits: Splits,
    cfg: TrainConfig,
    run: RunFiles,
    history: list[dict] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train from the epoch after `history` up to `cfg.epochs`, checkpointing each epoch."""
    history = list(history or [])
    device = next(model.parameters()).device
    if device.type == "cpu":
        keep_freed_memory()
    strip_images = splits.val.subset(slice(0, cfg.strip_images)).images.float().div(255).to(device)
    val, test = model.evaluation_view(splits.val), model.evaluation_view(splits.test)  # fixed once
    shards = cfg.shards or auto_shards(model, cfg.batch_size, device)
    step = ShardedStep(model, optimizer, shards, cfg.precision, cfg.parallel)
    try:
        for epoch in range(len(history) + 1, cfg.epochs + 1):
            row = {"epoch": epoch, **timed_epoch(step, splits.train, cfg, epoch, device, progress, run)}
            row |= {f"val_{k}": v for k, v in mean_loss(model, val, cfg.eval_batch_size, device).items()}
            if cfg.test_each_epoch and not splits.val_is_test:
                row |= {f"test_{k}": v for k, v in mean_loss(model, test, cfg.eval_batch_size, device).items()}
            history.append(row)
            save_checkpoint(run.checkpoint, model, optimizer, epoch, history)
            save_weights(model, run.weights)
            run.write_metrics(history)
            if len(strip_images):
                with torch.inference_mode():
                    save_strip(strip_images, model(strip_images), run.strip(epoch))
            log(summary_line(row, cfg.epochs))
    finally:
        step.close()
    return history


def timed_epoch(step: ShardedStep, split: Split, cfg: TrainConfig, epoch: int, device, progress: bool, run: RunFiles) -> dict:
    """Train one epoch: `train_*` means, seconds and images/s; stops on a NaN or infinite loss."""
    start = time.perf_counter()
    with intra_op_threads(1) if step.shards > 1 else nullcontext():
        terms = train_one_epoch(step, split, cfg, epoch, device, progress)
    seconds = time.perf_counter() - start
    if not math.isfinite(terms["loss"]):
        raise TrainingDiverged(
            f"the training loss became {terms['loss']} in epoch {epoch}. The last good checkpoint "
            f"(epoch {epoch - 1}) is kept in {run.root}. Try a lower learning rate (--lr)."
        )
    return {**{f"train_{k}": v for k, v in terms.items()}, "seconds": seconds, "images_per_s": len(split) / seconds}


def train_one_epoch(step: ShardedStep, split: Split, cfg: TrainConfig, epoch: int, device, progress: bool) -> dict[str, float]:
    """One pass over `split`; returns the means of the loss and its terms (one host sync per epoch)."""
    step.model.train()
    sizes, terms = [], []
    bar = tqdm(total=len(split), desc=f"epoch {epoch}/{cfg.epochs}", unit="img", leave=False, disable=None if progress else True)
    steps_per_epoch = math.ceil(len(split) / cfg.batch_size)
    first_step, total_steps = (epoch - 1) * steps_per_epoch, cfg.epochs * steps_per_epoch
    for i, (x, _) in enumerate(batches(split, cfg.batch_size, generator=epoch_generator(cfg.seed, epoch), device=device)):
        if cfg.lr_schedule != "constant":
            for group in step.optimizer.param_groups:
                group["lr"] = learning_rate(cfg.lr, cfg.lr_schedule, (first_step + i) / total_steps)
        terms.append(step(x))
        sizes.append(len(x))
        if not bar.disable:
            bar.update(len(x))
            if i % 50 == 0:
                bar.set_postfix(loss=f"{terms[-1]['loss'].item():.4g}")
    bar.close()
    weights = torch.tensor(sizes, dtype=torch.float64, device=device) / len(split)
    return {name: (torch.stack([t[name] for t in terms]).double() @ weights).item() for name in terms[0]}


def summary_line(row: dict, epochs: int) -> str:
    parts = [f"epoch {row['epoch']:>{len(str(epochs))}}/{epochs}"]
    for prefix in ("train", "val", "test"):
        if f"{prefix}_loss" in row:
            parts.append(split_summary(row, prefix))
    parts.append(f"{row['seconds']:.1f} s ({row['images_per_s']:,.0f} img/s)")
    return "  ".join(parts)


def split_summary(row: dict, prefix: str) -> str:
    """`test 0.0123`, or for models that report a negative ELBO (`nelbo`, nats per image):
    `test ELBO -95.31 (rec 80.12, KL 15.19)`, plus the loss where it differs (beta != 1)."""
    loss = row[f"{prefix}_loss"]
    if f"{prefix}_nelbo" not in row:
        return f"{prefix} {loss:.5g}"
    nelbo = row[f"{prefix}_nelbo"]
    text = f"{prefix} ELBO {-nelbo:.2f} (rec {row[f'{prefix}_rec']:.2f}, KL {row[f'{prefix}_kl']:.2f}"
    return text + (")" if math.isclose(loss, nelbo, rel_tol=1e-6) else f", loss {loss:.2f})")
