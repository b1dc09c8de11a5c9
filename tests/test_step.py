"""The sharded step: the same update as the full-batch step, reproducible noise, whole batches where needed."""

from __future__ import annotations

import copy

import pytest
import torch

from aelab.models import create_model
from aelab.step import ShardedStep, auto_shards


def twin_steps(name: str, shards: int, **options):
    torch.manual_seed(0)
    model = create_model(name, **options)
    twin = copy.deepcopy(model)
    plain = ShardedStep(model, torch.optim.SGD(model.parameters(), lr=0.1), 1)
    sharded = ShardedStep(twin, torch.optim.SGD(twin.parameters(), lr=0.1), shards)
    return model, twin, plain, sharded


@pytest.mark.parametrize("shards", [2, 3])
def test_sharded_update_equals_the_full_batch_update(shards):
    model, twin, plain, sharded = twin_steps("conv-ae", shards, channels=(8, 8), latent_dim=4)
    x = torch.rand(30, 1, 28, 28)  # 30 images: unequal parts when split in 3 or 4
    a, b = plain(x), sharded(x)
    torch.testing.assert_close(b["loss"], a["loss"], rtol=1e-5, atol=1e-7)
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)
    sharded.close()


def test_sharded_noise_is_reproducible():
    """A VAE draws eps (and dynamic binarisations) per part from generators seeded by the global RNG."""
    x = torch.rand(32, 1, 28, 28)
    losses = []
    for _ in range(2):
        _, twin, _, sharded = twin_steps("vae", 2, latent_dim=2)
        torch.manual_seed(1)
        losses.append([sharded(x)["loss"].item() for _ in range(3)])
        sharded.close()
    assert losses[0] == losses[1]


def test_models_whose_loss_couples_the_batch_are_never_split():
    cpu = torch.device("cpu")
    assert auto_shards(create_model("conv-ae"), 64, cpu) >= 1
    for name in ("mmd-vae", "fc-wta-ae", "conv-wta-ae"):
        assert auto_shards(create_model(name), 64, cpu) == 1, name
    assert auto_shards(create_model("conv-wta-ae", lifetime_rate=None), 64, cpu) >= 1
    assert auto_shards(create_model("conv-ae"), 8, cpu) == 1  # parts would be too small to pay off


def test_bf16_autocast_step_stays_close_to_fp32():
    x = torch.rand(32, 1, 28, 28)
    torch.manual_seed(0)
    model = create_model("conv-ae", channels=(8, 8), latent_dim=4)
    fp32 = ShardedStep(model, torch.optim.SGD(model.parameters(), lr=0.0), 2)
    bf16 = ShardedStep(model, torch.optim.SGD(model.parameters(), lr=0.0), 2, precision="bf16")
    a, b = fp32(x)["loss"], bf16(x)["loss"]
    assert b.dtype == torch.float32 or torch.isfinite(b)
    assert a != b and abs(a - b) < 0.02 * a  # really ran in bf16, and stayed within 2%
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    fp32.close()
    bf16.close()
