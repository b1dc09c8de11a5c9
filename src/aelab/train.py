"""The one training loop: Adam, seeded shuffles and noise, per-epoch metrics, atomic checkpoints.

Every epoch draws its shuffle from a generator seeded by (seed, epoch), and the noise its
losses draw (sampling, binarising) from one seeded by (seed, epoch, rank), so a run resumed
at an epoch boundary repeats exactly what the uninterrupted run would have done, with no
RNG state to carry. Under torchrun every rank walks the same order and trains its slice of
each batch (`aelab.engine`); losses and metrics are added up over the ranks before anything
is decided or logged, so every rank decides alike, and rank 0 alone writes files.

The checkpoint is the one source of an epoch's files: weights, metrics and the epoch's
reconstruction strip are written from it after each epoch, and again on resume, so a
kill between them is repaired by the next `--resume`.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from aelab.checkpoint import save_checkpoint, save_weights
from aelab.config import TrainConfig
from aelab.data import Split, Splits, batches, epoch_generator
from aelab.data.split import part_of
from aelab.engine import Step, World, make_step
from aelab.errors import DataError, TrainingDiverged
from aelab.evaluate import loss_sums
from aelab.models import Autoencoder
from aelab.plots import save_strip
from aelab.run_files import RunFiles
from aelab.schedule import learning_rate
from aelab.tracking.base import NO_TRACKERS, Trackers

Log = Callable[[str], None]
EVALUATION_NOISE_SEED = 0  # evaluation losses that sample (VAEs) draw the same noise every epoch


def make_optimizer(model: Autoencoder, cfg: TrainConfig) -> torch.optim.Adam:
    """Adam, fused into one kernel per parameter on CPUs and GPUs: the same update as the
    for-loop form (to float rounding), without PyTorch's per-parameter loop of small ops."""
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in model.parameters())
    return torch.optim.Adam(
        model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, fused=fused or None
    )


def noise_generator(seed: int, epoch: int, rank: int, device: torch.device) -> torch.Generator:
    """The noise one rank's losses draw in one epoch: reproducible, and different per rank."""
    digest = hashlib.blake2b(f"aelab-noise/{seed}/{epoch}/{rank}".encode(), digest_size=8).digest()
    return torch.Generator(device).manual_seed(int.from_bytes(digest, "little") >> 1)


def fit(
    model: Autoencoder,
    optimizer: torch.optim.Optimizer,
    splits: Splits,
    cfg: TrainConfig,
    run: RunFiles,
    history: list[dict] | None = None,
    progress: bool = True,
    log: Log = print,
    world: World | None = None,
    step_state: dict[str, Any] | None = None,
    trackers: Trackers = NO_TRACKERS,
) -> list[dict]:
    """Train from the epoch after `history` up to `cfg.epochs` and the model's second stage after
    them (`ModelConfig.second_stage_epochs`), checkpointing each epoch (and sending each epoch's
    metrics and strip to `trackers`, empty on ranks other than 0)."""
    history = list(history or [])
    world = world or World()
    device = next(model.parameters()).device
    val, test = model.evaluation_view(splits.val), model.evaluation_view(splits.test)  # fixed once
    step = make_step(model, optimizer, cfg, world)
    step.load_state_dict(step_state or {})
    epochs = all_epochs(model, cfg)
    try:
        for epoch in range(len(history) + 1, epochs + 1):
            model.enter_stage(epoch > cfg.epochs)
            row = {"epoch": epoch, **timed_epoch(step, splits.train, cfg, epoch, run, world, progress, trackers)}
            row |= prefixed("val", split_means(model, val, cfg, device, world))
            if cfg.test_each_epoch and not splits.val_is_test:
                row |= prefixed("test", split_means(model, test, cfg, device, world))
            history.append(row)
            if world.is_main:
                save_checkpoint(run.checkpoint, model, optimizer, epoch, history, step.state_dict(), world.size)
                write_epoch_files(run, model, history, strip_images(splits, cfg, device))
                log(summary_line(row, epochs, second_stage=epoch > cfg.epochs))
                track_epoch(trackers, row, run)
    finally:
        step.close()
    return history


def all_epochs(model: Autoencoder, cfg: TrainConfig) -> int:
    return cfg.epochs + model.config.second_stage_epochs()


def strip_images(splits: Splits, cfg: TrainConfig, device: torch.device) -> torch.Tensor:
    """The validation images shown in every epoch's reconstruction strip."""
    return splits.val.subset(slice(0, cfg.strip_images)).images.float().div(255).to(device)


def write_epoch_files(run: RunFiles, model: Autoencoder, history: list[dict], strip: torch.Tensor) -> None:
    """Everything derived from the checkpoint of the last finished epoch."""
    save_weights(model, run.weights)
    run.write_metrics(history)
    if len(strip) and history:
        with torch.inference_mode():
            model.eval()
            save_strip(strip, model(strip), run.strip(history[-1]["epoch"]))


def track_epoch(trackers: Trackers, row: dict, run: RunFiles) -> None:
    """An epoch's metrics as `train/loss`, `val/mse`, ... (trackers group tags by the part before
    the slash), and its reconstruction strip as written to the run folder."""
    if not trackers:
        return
    epoch = row["epoch"]
    trackers.log_metrics({metric_tag(k): v for k, v in row.items() if k != "epoch"}, epoch)
    if run.strip(epoch).is_file():
        from PIL import Image

        with Image.open(run.strip(epoch)) as image:
            trackers.log_image("reconstructions", np.asarray(image.convert("RGB")), epoch)


def metric_tag(key: str) -> str:
    prefix, _, rest = key.partition("_")
    return f"{prefix}/{rest}" if prefix in ("train", "val", "test") and rest else f"time/{key}"


def timed_epoch(step: Step, split: Split, cfg: TrainConfig, epoch: int, run: RunFiles, world: World, progress: bool,
                trackers: Trackers = NO_TRACKERS) -> dict:
    """Train one epoch: `train_*` means, seconds and images/s; stops on a NaN or infinite loss."""
    start = time.perf_counter()
    with step.training_pass():
        terms = train_one_epoch(step, split, cfg, epoch, world, progress, trackers)
    seconds = time.perf_counter() - start
    if not math.isfinite(terms["loss"]):
        kept = (f"The last good checkpoint (epoch {epoch - 1}) is kept in {run.root}" if epoch > 1
                else f"No epoch had finished, so there is nothing to keep; the same --out ({run.root}) can be used again")
        raise TrainingDiverged(f"the training loss became {terms['loss']} in epoch {epoch}. {kept}. Try a lower learning rate (--lr).")
    return {**prefixed("train", terms), "seconds": seconds, "images_per_s": len(split) / seconds}


def train_one_epoch(step: Step, split: Split, cfg: TrainConfig, epoch: int, world: World, progress: bool,
                    trackers: Trackers = NO_TRACKERS) -> dict[str, float]:
    """One pass over `split` (this rank's slice of each batch); the means of the loss and its
    terms over every image of the epoch, added up over the ranks (one host sync per epoch).
    Every `cfg.log_every` steps the step's terms go to `trackers` (rank 0's slice under torchrun;
    a host sync only then)."""
    step.model.train()
    device = next(step.model.parameters()).device
    noise = noise_generator(cfg.seed, epoch, world.rank, device)
    epochs = all_epochs(step.model, cfg)
    bar = tqdm(total=len(split), desc=f"epoch {epoch}/{epochs}", unit="img", leave=False,
               disable=None if progress and world.is_main else True)
    steps_per_epoch = math.ceil(len(split) / cfg.batch_size)
    first_step, total_steps = (epoch - 1) * steps_per_epoch, epochs * steps_per_epoch
    order = epoch_generator(cfg.seed, epoch)
    sums: dict[str, torch.Tensor] = {}
    for i, (x, y) in enumerate(batches(split, cfg.batch_size, generator=order, device=device, part=(world.rank, world.size))):
        if cfg.lr_schedule != "constant":
            for group in step.optimizer.param_groups:
                group["lr"] = learning_rate(cfg.lr, cfg.lr_schedule, (first_step + i) / total_steps)
        batch_images = min(cfg.batch_size, len(split) - i * cfg.batch_size)
        terms = step(x, noise, len(x) / batch_images, y)
        for name, value in terms.items():
            sums[name] = sums.get(name, 0) + value.double() * len(x)
        if trackers and (first_step + i) % cfg.log_every == 0:
            trackers.log_metrics({f"step/{k}": v.item() for k, v in terms.items()}, first_step + i)
        if not bar.disable:
            bar.update(batch_images)
            if i % 50 == 0:
                bar.set_postfix(loss=f"{terms['loss'].item():.4g}")
    bar.close()
    return reduced_means(sums, len(split), world, device)


def split_means(model: Autoencoder, split: Split, cfg: TrainConfig, device: torch.device, world: World) -> dict[str, float]:
    """The model's loss terms averaged over `split`, each rank scoring its own slice."""
    if len(split) < world.size:
        raise DataError(f"a split of {len(split)} images cannot be shared by {world.size} training processes: use fewer processes or more images.")
    mine = split.subset(part_of(len(split), world.rank, world.size))
    noise = torch.Generator(device).manual_seed(EVALUATION_NOISE_SEED + world.rank)
    return reduced_means(loss_sums(model, mine, cfg.eval_batch_size, device, noise), len(split), world, device)


def reduced_means(sums: dict[str, torch.Tensor], n: int, world: World, device: torch.device) -> dict[str, float]:
    names = sorted(sums)
    totals = world.sum(torch.stack([torch.as_tensor(sums[k], dtype=torch.float64, device=device) for k in names]))
    return dict(zip(names, (totals / n).tolist()))


def prefixed(prefix: str, terms: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in terms.items()}


def summary_line(row: dict, epochs: int, second_stage: bool = False) -> str:
    parts = [f"epoch {row['epoch']:>{len(str(epochs))}}/{epochs}" + (" (second stage)" if second_stage else "")]
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
