"""Importance-sampled test log-likelihood of a VAE (the IWAE bound, Burda et al. 2016).

With K draws z_k ~ q(z|x) and log-weights log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x):
    log p(x) >= log (1/K) sum_k w_k   (IWAE bound; tightens as K grows, -> log p(x))
             >= (1/K) sum_k log w_k   (the ELBO, Monte-Carlo KL, from the same draws)
Both in nats per image. The first inequality is Jensen's on the same draws, so the
reported ELBO can never exceed the reported estimate. Images are scored as the model's
`evaluation_view` gives them (one fixed binarisation for a dynamically binarised model).
"""

from __future__ import annotations

import math
import time
from typing import Callable, cast

import torch
from tqdm.auto import tqdm

from aelab.data import Split, batches
from aelab.errors import ConfigError
from aelab.models import Autoencoder
from aelab.models.gaussian import log_normal_pdf, log_standard_normal, reparameterize
from aelab.models.vae import VAE
from aelab.terms import MetricTerm

# what `importance_sampled_log_likelihood` (and `aelab evaluate` beside it) writes into evaluation.json
LIKELIHOOD_TERMS = (
    MetricTerm("log_px_iwae", "log p(x) ≥", "IWAE bound, nats per image"),
    MetricTerm("nll_iwae", "negative log-likelihood", "IWAE, nats per image"),
    MetricTerm("elbo", "ELBO", "nats per image"),
    MetricTerm("nll_samples", "importance samples K"), MetricTerm("nll_images", "images scored for log p(x)"),
    MetricTerm("nll_binarize", "images scored as"),
)


def require_vae(model: Autoencoder) -> VAE:
    """The model, where `importance_sampled_log_likelihood` is defined for it (it declares
    `capabilities.likelihood`); else an error that says why not."""
    if model.capabilities.likelihood:
        return cast(VAE, model)
    if not model.capabilities.labels:
        raise ConfigError(
            f"--nll-samples needs a model with a likelihood and an encoder distribution (vae, mmd-vae); "
            f"this run's model is {model.config.name!r}."
        )
    raise ConfigError(
        f"--nll-samples estimates log p(x); {model.config.name!r} models log p(x|y), which needs each image's class, "
        "and the estimate does not pass labels: compare its test ELBO (test_nelbo in metrics.jsonl) instead."
    )


@torch.inference_mode()
def log_weights(model: VAE, x: torch.Tensor, samples: int, generator: torch.Generator | None, max_decodes: int) -> torch.Tensor:
    """log w for `samples` draws per image: x (B, C, H, W) -> (samples, B), in chunks of
    at most `max_decodes` decoder passes so memory stays bounded."""
    target = model.targets(x)
    mu, logvar = model.encode_distribution(x)  # (B, K)
    chunk = max(1, max_decodes // len(x))
    out = []
    for start in range(0, samples, chunk):
        s = min(chunk, samples - start)
        mu_s, logvar_s = mu.expand(s, *mu.shape), logvar.expand(s, *logvar.shape)
        z = reparameterize(mu_s, logvar_s, generator)  # (s, B, K)
        logits = model.decode_logits(z.flatten(0, 1))  # (s*B, C, H, W)
        log_px_z = model.log_likelihood(target.expand(s, *target.shape).flatten(0, 1), logits).view(s, len(x))
        out.append(log_px_z + log_standard_normal(z) - log_normal_pdf(z, mu_s, logvar_s))
    return torch.cat(out)


@torch.inference_mode()
def importance_sampled_log_likelihood(
    model: VAE,
    split: Split,
    samples: int,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    batch_size: int = 100,
    max_decodes: int = 4096,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, float]:
    """Mean IWAE estimate of log p(x) and the ELBO over every image of `split` (already the
    model's evaluation view), nats per image; seeded, so the same call gives the same number.

    K samples cost K decoder passes per image (1,000 on 10,000 images: about half an hour
    on 2 cores), so the time the whole estimate will take is logged after the first batch,
    and a progress bar (on a terminal) shows the rest."""
    if samples < 1:
        raise ConfigError(f"--nll-samples must be at least 1; got {samples}.")
    n = len(split)
    if n == 0:
        raise ConfigError("--nll-samples needs at least one test image; --nll-subset and data.test_subset leave none.")
    model.eval()
    device = torch.device(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    iwae = elbo = 0.0
    done, start = 0, time.perf_counter()
    bar = tqdm(total=n, desc=f"log p(x), K = {samples}", unit="img", disable=None if progress else True)
    for x, _ in batches(split, batch_size, device=device):
        w = log_weights(model, x, samples, generator, max_decodes)  # (K, B)
        iwae += (torch.logsumexp(w, 0) - math.log(samples)).double().sum().item()
        elbo += w.mean(0).double().sum().item()
        if done == 0 and len(x) < n:
            seconds = (time.perf_counter() - start) * n / len(x)
            log(f"estimating log p(x) with K = {samples} samples on {n:,} images: about {format_duration(seconds)}")
        done += len(x)
        bar.update(len(x))
    bar.close()
    return {"log_px_iwae": iwae / n, "nll_iwae": -iwae / n, "elbo": elbo / n, "nll_samples": samples, "nll_images": n}


def format_duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
