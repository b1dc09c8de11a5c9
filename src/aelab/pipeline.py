"""The whole flow: data -> model -> train -> evaluate. The CLI and the Python API call these."""

from __future__ import annotations

import dataclasses
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from aelab.checkpoint import load_checkpoint
from aelab.config import RunConfig, load_config_file
from aelab.data import ImageDataset, Splits
from aelab.documents import EvaluationDocument
from aelab.engine import World, host_settings, joined, placed, resolve_device
from aelab.errors import ConfigError
from aelab.evaluate import RECONSTRUCTION_METRIC_TERMS, reconstruction_metrics
from aelab.io import write_json
from aelab.likelihood import LIKELIHOOD_TERMS, importance_sampled_log_likelihood, require_vae
from aelab.loading import channel_means, load_model, prepare_data
from aelab.models import Autoencoder, build_model
from aelab.models.binarize import evaluation_binarization
from aelab.plots import save_loss_curves, save_reconstruction_pairs, save_samples
from aelab.run_files import RunFiles
from aelab.terms import LOSS, term_named
from aelab.tracking import open_trackers, require_trackers
from aelab.train import fit, make_optimizer, strip_images, write_epoch_files

if TYPE_CHECKING:
    from aelab.generation import GenerationConfig

Log = Callable[[str], None]
SAMPLE_GRID = 10  # prior samples written as a 10 x 10 grid


def train(config: RunConfig, out: str | Path | None = None, *, progress: bool = True, log: Log = print) -> Path:
    """Train a new run into `out` (default `runs/<model>-<dataset>-<time>`); return its folder.

    Everything is checked (config, device, data, the folder) before the folder is made; a
    folder whose run never finished an epoch is started again. Under torchrun, every rank
    calls this and rank 0 writes the folder."""
    run = RunFiles(Path(out) if out else default_run_dir(config))
    device = resolve_device(config.train.device, local_rank())
    run.check_can_start()
    dataset, splits = prepare_data(config.data, config.train.seed)
    pixel_mean = channel_means(splits.train)
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, input_shape=dataset.image_shape, pixel_mean=pixel_mean,
                                          train_images=len(splits.train))
    )
    build_model(config.model)  # a shape that does not fit fails here, before the folder exists
    require_trackers(config.train.log)  # and a tracker that is not installed
    with joined(device.type) as world, run.owned() if world.is_main else nullcontext():
        if world.is_main:
            run.check_can_start()  # again, now that the folder is ours
            write_json(run.config, config.to_dict())
        return _train(config, run, dataset, splits, device, world, False, progress, log)


def resume(run_dir: str | Path, *, epochs: int | None = None, device: str | None = None,
           progress: bool = True, log: Log = print) -> Path:
    """Continue a run from its last finished epoch (optionally to a new epoch count, or on
    another device; nothing else may change). A run that never finished an epoch starts
    again from its config.json; a finished one has its files rewritten from its checkpoint."""
    run = RunFiles(Path(run_dir)).require()
    config = load_config_file(run.config)
    changes = {k: v for k, v in (("epochs", epochs), ("device", device)) if v is not None and v != getattr(config.train, k)}
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, **changes))
    resolved = resolve_device(config.train.device, local_rank())
    require_trackers(config.train.log)
    dataset, splits = prepare_data(config.data, config.train.seed)
    with joined(resolved.type) as world, run.owned() if world.is_main else nullcontext():
        if world.is_main and changes:
            write_json(run.config, config.to_dict())
        resuming = run.checkpoint.exists()
        if not resuming and world.is_main:
            log(f"{run.root} had no finished epoch: starting it again from its config.json")
        return _train(config, run, dataset, splits, resolved, world, resuming, progress, log)


def _train(config: RunConfig, run: RunFiles, dataset: ImageDataset, splits: Splits, device: torch.device,
           world: World, resuming: bool, progress: bool, log: Log) -> Path:
    log = log if world.is_main else _silent
    torch.manual_seed(config.train.seed)
    model = placed(build_model(config.model), device)
    optimizer = make_optimizer(model, config.train)
    history, step_state = [], {}
    if resuming:
        state = load_checkpoint(run.checkpoint, model, optimizer)
        if state.world_size != world.size:
            raise ConfigError(
                f"{run.root} was trained by {state.world_size} process(es) and is resumed by {world.size}: each process "
                f"draws its own noise, so the result would differ. Resume it with "
                f"`torchrun --nproc_per_node={state.world_size} -m aelab train --resume {run.root}`"
                + (" (or without torchrun)." if state.world_size == 1 else ".")
            )
        history, step_state = state.history, state.step_state
        if world.is_main:
            write_epoch_files(run, model, history, strip_images(splits, config.train, device))  # repair, see train.py
        if state.epoch >= config.all_epochs:
            extra = config.all_epochs - config.train.epochs
            log(f"{run.root} is already finished ({state.epoch} epochs): nothing to train. "
                f"Give --epochs {config.train.epochs + 10} (or any number above {config.train.epochs}) with --resume to train it further"
                + (f" (the model's second stage adds {extra} after them)." if extra else "."))
        else:
            log(f"resuming {run.root} after epoch {state.epoch}")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"data  {dataset.name} from {dataset.location}: train {len(splits.train):,}, "
        f"{'val = test' if splits.val_is_test else f'val {len(splits.val):,}'}, test {len(splits.test):,}")
    where = f"{world.size} processes on {device.type}" if world.size > 1 else str(device)
    log(f"model {config.model.name}: {n_params:,} parameters, code {tuple(model.code_shape)}, on {where}")
    if model.loss_description():
        log(model.loss_description())
    start = time.perf_counter()
    with open_trackers(config.train.log, run, world.is_main) as trackers:
        trackers.log_config(config.to_dict())
        with host_settings(device):
            history = fit(model, optimizer, on_device(splits, device), config.train, run, history, progress, log, world, step_state, trackers)
        if world.is_main:
            write_final_files(model, splits, config, run, device)
            if trackers:
                trackers.finish(reconstruction_metrics(model, splits.test, config.train.eval_batch_size, device))
            log(f"done in {time.perf_counter() - start:.1f} s: {run.root}")
    return run.root


def write_final_files(model: Autoencoder, splits: Splits, config: RunConfig, run: RunFiles, device: torch.device) -> None:
    """The run's closing figures, all derived from the last checkpoint's state."""
    save_loss_curves(run.read_metrics(), run.loss_plot, ylabel=term_named(model.metric_terms(), LOSS).title,
                     second_stage_after=config.train.epochs if config.model.second_stage_epochs() else None)
    if model.capabilities.sample:
        save_samples(model.sample(SAMPLE_GRID**2, torch.Generator().manual_seed(config.train.seed)), run.samples, SAMPLE_GRID)
    pairs = splits.val.subset(slice(0, 50)).images.float().div(255).to(device)
    with torch.inference_mode():
        model.eval()
        save_reconstruction_pairs(pairs, model(pairs), run.reconstructions)  # last: marks the run complete


def on_device(splits: Splits, device: torch.device) -> Splits:
    """On a GPU, the training images moved there once when they take under a quarter of its free
    memory, so batches are cut on the device; elsewhere the splits as they are."""
    if device.type != "cuda":
        return splits
    free, _ = torch.cuda.mem_get_info(device)
    if splits.train.nbytes > free / 4:
        return splits
    return dataclasses.replace(splits, train=splits.train.to(device))


def local_rank() -> int:
    """This process's index on its machine under torchrun (0 alone): which GPU it takes."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def _silent(_: str) -> None:
    """The log of ranks other than 0."""


def evaluate(
    run_dir: str | Path,
    *,
    device: str = "auto",
    batch_size: int = 1000,
    nll_samples: int | None = None,
    nll_subset: int | None = None,
    generation: bool | GenerationConfig = False,
) -> EvaluationDocument:
    """Reconstruction metrics of a run on its test split; also written to evaluation.json.

    With `nll_samples` K, also the importance-sampled log-likelihood (IWAE bound with K
    samples) and the ELBO, nats per image, on the first `nll_subset` test images (all if None).
    """
    run = RunFiles(Path(run_dir)).require()
    config = load_config_file(run.config)
    device = resolve_device(device)
    dataset, splits = prepare_data(config.data, config.train.seed)
    model = load_model(run.root, device)
    metrics = {"split": "test", **reconstruction_metrics(model, splits.test, batch_size, device)}
    terms = list(RECONSTRUCTION_METRIC_TERMS)
    if nll_samples is not None:
        test = splits.test if nll_subset is None else splits.test.subset(slice(0, nll_subset))
        view = require_vae(model).evaluation_view(test)
        metrics |= importance_sampled_log_likelihood(model, view, nll_samples, seed=config.train.seed, device=device)
        metrics["nll_binarize"] = evaluation_binarization(model.config.binarize)  # what was scored, not the training mode
        terms += LIKELIHOOD_TERMS
    if generation:
        from aelab.generation import GenerationConfig, generation_scores  # scikit-learn and torchmetrics load only here

        options = generation if isinstance(generation, GenerationConfig) else GenerationConfig()
        metrics["generation"] = generation_scores(model, dataset, splits.train, splits.test, run, options, device=device)
    document = EvaluationDocument(**metrics, terms=terms)
    document.write(run.evaluation)
    return document


def default_run_dir(config: RunConfig) -> Path:
    return Path("runs") / f"{config.model.name}-{Path(config.data.name).name}-{time.strftime('%Y%m%d-%H%M%S')}"
