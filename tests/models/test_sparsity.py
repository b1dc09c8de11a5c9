"""Winner-take-all sparsity keeps exactly the stated winners, and gradients reach only them."""

import pytest
import torch

from aelab.models.sparsity import (
    conv_lifetime_sparsity,
    lifetime_sparsity,
    spatial_sparsity,
    winners_per_unit,
)


def test_lifetime_keeps_top_k_per_unit_across_the_batch():
    torch.manual_seed(0)
    h = torch.rand(40, 7)
    out = lifetime_sparsity(h, 0.1)  # k = 4 of 40
    assert ((out != 0).sum(0) == 4).all()
    for unit in range(7):
        kept = out[:, unit][out[:, unit] != 0].sort().values
        assert torch.equal(kept, h[:, unit].topk(4).values.sort().values)


def test_lifetime_keeps_at_least_one_and_exactly_k_with_ties():
    assert winners_per_unit(10, 0.01) == 1 and winners_per_unit(100, 0.05) == 5
    h = torch.ones(10, 3)  # all tied: still exactly k winners
    assert ((lifetime_sparsity(h, 0.3) != 0).sum(0) == 3).all()


def test_spatial_keeps_one_winner_per_map_and_image():
    torch.manual_seed(0)
    h = torch.rand(3, 5, 6, 6)
    out = spatial_sparsity(h)
    assert ((out != 0).flatten(2).sum(2) == 1).all()
    assert torch.equal(out.flatten(2).amax(2), h.flatten(2).amax(2))


def test_conv_lifetime_keeps_the_largest_winners_per_map():
    torch.manual_seed(0)
    h = spatial_sparsity(torch.rand(10, 4, 5, 5))
    out = conv_lifetime_sparsity(h, 0.2)  # 2 of 10 images keep each map's winner
    alive = out.flatten(2).amax(2) != 0  # (B, C)
    assert (alive.sum(0) == 2).all()
    winners = h.flatten(2).amax(2)
    for c in range(4):
        assert set(alive[:, c].nonzero().flatten().tolist()) == set(winners[:, c].topk(2).indices.tolist())


def test_gradient_flows_only_through_winners():
    h = torch.rand(2, 3, 4, 4, requires_grad=True)
    spatial_sparsity(h).sum().backward()
    assert torch.equal(h.grad != 0, spatial_sparsity(h.detach()) != 0)


def test_bad_rate_is_refused():
    with pytest.raises(ValueError, match="rate"):
        lifetime_sparsity(torch.rand(4, 2), 0.0)
