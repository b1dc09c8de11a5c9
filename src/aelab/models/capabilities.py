"""What a model can do, declared once on its class, so that callers read it instead of guessing
from attributes or types.

    class MyVAE(Autoencoder):
        capabilities = Capabilities(sample=True, posterior=True, likelihood=True)

Where one depends on the config, `__init__` replaces the class's with its own:
`self.capabilities = dataclasses.replace(self.capabilities, batch_coupled=config.ema)`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Capabilities:
    sample: bool = False  # `sample(n, generator)` draws images (n, C, H, W) from a prior
    posterior: bool = False  # `encode_distribution(x) -> (mu, logvar)` of a Gaussian q(z|x), each (B, K)
    # the importance-sampled log p(x) of likelihood.py is defined: p(x|z) (`decode_logits`, `log_likelihood`,
    # `targets`), a Gaussian posterior and a N(0, I) prior, with no class on the side (p(x), not p(x|y))
    likelihood: bool = False
    # the loss of one image depends on the others in its batch (ranking the batch, comparing it with prior
    # draws, a batch statistic): such a loss must see whole batches, never split over threads or processes
    batch_coupled: bool = False
    # the code is a grid of codebook entries (`code_indices(x)`): walking single numbers of it, or mixing
    # two codes, leaves the codebook
    discrete_code: bool = False
    labels: bool = False  # the loss reads each image's class, through `batch_loss(x, labels)`; `sample(n, label=c)`
    denoise: bool = False  # trained to undo noise: `corrupt(x, generator)` gives the noisy input it learned to clean

    def __post_init__(self) -> None:
        if self.likelihood and not self.posterior:
            raise TypeError("Capabilities(likelihood=True) needs posterior=True: the estimate draws z from q(z|x).")

    def declared(self) -> list[str]:
        """The names of what the model can do, e.g. ['sample', 'posterior']."""
        return [f.name for f in fields(self) if getattr(self, f.name)]
