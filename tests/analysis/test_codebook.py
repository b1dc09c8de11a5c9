"""The codebook analysis on a tiny trained VQ-VAE, and the analyses that do not apply to a discrete code."""

from __future__ import annotations

import torch

from aelab.analysis import ANALYSES, AnalysisContext
from aelab.analysis.runner import skip_reason
from aelab.config import make_config
from aelab.data import batches
from aelab.pipeline import train


def test_codebook_counts_every_position_and_walks_are_refused(tmp_path, blobs_file):
    torch.manual_seed(0)
    config = make_config({"data.name": str(blobs_file), "data.val_fraction": 0.0, "train.epochs": 1, "train.batch_size": 32,
                          "model.name": "vq-vae", "model.channels": [4, 4], "model.codebook_size": 8, "model.code_dim": 2,
                          "model.prior_width": 8, "train.device": "cpu"})
    ctx = AnalysisContext(train(config, tmp_path / "vq", progress=False, log=lambda _: None), device="cpu")
    result = ANALYSES.get("codebook").run(ctx)
    grid = ctx.model.prior.grid
    assert result.numbers["positions"] == len(ctx.test) * grid[0] * grid[1]
    used = torch.unique(torch.cat([ctx.model.code_indices(x).flatten() for x, _ in batches(ctx.test, 100)]))
    assert result.numbers["dead_codes"] == 8 - len(used) and 1 <= result.numbers["perplexity"] <= len(used)
    assert [name for name, _ in result.figures] == ["usage", "entries"]
    for name in ("traversals", "interpolation", "decoder_grid"):
        assert "leaves the codebook" in skip_reason(ANALYSES.get(name), ctx)
    assert skip_reason(ANALYSES.get("prior_samples"), ctx) is None and not ctx.variational
