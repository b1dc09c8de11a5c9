"""VQ-VAE: nearest-code quantisation, straight-through gradients, EMA updates, usage, the causal prior."""

from __future__ import annotations

import math

import torch

from aelab.models import create_model
from aelab.models.pixelcnn import PixelCNNPrior
from aelab.models.vq_vae import VectorQuantizer, codebook_usage


def vq(**options):
    torch.manual_seed(0)
    return create_model("vq-vae", channels=(4, 8), code_dim=3, codebook_size=5, prior_width=8, **options)


def test_each_position_takes_its_nearest_codebook_vector():
    q = VectorQuantizer(5, 3, ema=False)
    z_e = torch.randn(2, 3, 4, 4)
    vectors = z_e.permute(0, 2, 3, 1).reshape(-1, 3)
    brute = torch.tensor([min(range(5), key=lambda k: (v - q.codebook[k]).pow(2).sum().item()) for v in vectors])
    assert torch.equal(q.indices(z_e).flatten(), brute)
    assert torch.equal(q(z_e).permute(0, 2, 3, 1).reshape(-1, 3), q.codebook[brute])


def test_gradients_go_straight_through_and_the_codebook_learns_by_its_loss():
    model = vq(ema=False)
    model.loss(torch.rand(4, 1, 28, 28)).total.backward()
    assert model.encoder.body[0][0].weight.grad.abs().sum() > 0  # through the argmin, by straight-through
    assert model.quantizer.codebook.grad.abs().sum() > 0
    assert not model.capabilities.batch_coupled  # no EMA side effect on shared buffers


def test_ema_moves_a_used_code_towards_its_vectors_and_is_saved():
    model = vq(ema=True, ema_decay=0.5)
    q = model.quantizer
    z_e = torch.randn(1, 3, 2, 2)
    indices = torch.zeros(1, 2, 2, dtype=torch.long)  # every vector assigned to code 0
    size, total = q.cluster_size.clone(), q.cluster_sum.clone()
    q.ema_update(z_e, indices, 0.5)
    expected_size, expected_sum = 0.5 * size[0] + 0.5 * 4, 0.5 * total[0] + 0.5 * z_e.sum((0, 2, 3))
    torch.testing.assert_close(q.cluster_size[0], expected_size)
    n = q.cluster_size.sum()
    torch.testing.assert_close(q.codebook[0], expected_sum / ((expected_size + 1e-5) / (n + 5e-5) * n))
    assert "encoder.quantizer.codebook" in model.state_dict() and model.capabilities.batch_coupled


def test_usage_counts_codes():
    usage = codebook_usage(torch.arange(8).repeat(3), 16)
    assert math.isclose(usage["perplexity"].item(), 8, rel_tol=1e-5) and usage["codes_used"].item() == 0.5


def test_the_prior_sees_only_earlier_positions():
    torch.manual_seed(0)
    prior = PixelCNNPrior(5, (4, 4), width=8, layers=3)
    grid = torch.randint(5, (1, 4, 4))
    changed = grid.clone()
    changed[0, 2, 1] = (grid[0, 2, 1] + 1) % 5  # position 9 in raster order
    a, b = prior(grid)[0].flatten(1), prior(changed)[0].flatten(1)  # (K, 16)
    differs = (a - b).abs().amax(0) > 0
    assert not differs[:10].any() and differs[10:].any()


def test_samples_decode_prior_grids_and_single_entries():
    model = vq().eval()
    assert model.sample(3, torch.Generator().manual_seed(0)).shape == (3, 1, 28, 28)
    assert model.code_indices(torch.rand(2, 1, 28, 28)).shape == (2, 7, 7)
    assert model.decode_entries(torch.arange(5)).shape == (5, 1, 28, 28)


def test_the_first_stage_trains_the_autoencoder_and_the_second_only_the_prior():
    model = vq(ema=True).train()
    x = torch.rand(4, 1, 28, 28)
    out = model.loss(x)
    assert "prior_nll" not in out.terms  # not trained yet, so not computed on training batches
    out.total.backward()
    assert model.encoder.body[0][0].weight.grad is not None and all(p.grad is None for p in model.prior.parameters())
    model.zero_grad(set_to_none=True)
    model.enter_stage(True)
    codebook = model.quantizer.codebook.clone()
    out = model.loss(x)
    out.total.backward()
    assert all(p.grad is None for n, p in model.named_parameters() if not n.startswith("prior."))  # frozen
    assert all(p.grad is not None for p in model.prior.parameters())
    assert torch.equal(model.quantizer.codebook, codebook)  # no EMA update either
    torch.testing.assert_close(out.total, out.terms["prior_nll"] / 784)
    assert model.config.second_stage_epochs() == model.config.prior_epochs == 5


def test_held_out_splits_log_the_prior_in_both_stages():
    model = vq().eval()
    assert "prior_nll" in model.loss(torch.rand(2, 1, 28, 28)).terms
