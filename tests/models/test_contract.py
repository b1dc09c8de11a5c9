"""One contract test over every registered model: a new model is covered for free."""

from __future__ import annotations

import math

import pytest
import torch

from aelab.checkpoint import load_weights, save_weights
from aelab.data import Split
from aelab.errors import ConfigError
from aelab.likelihood import importance_sampled_log_likelihood, require_vae
from aelab.models import Autoencoder, Capabilities, build_model, create_model, list_models, model_config_class

INPUT_SHAPES = [(1, 28, 28), (3, 32, 32)]


def tiny(name: str, input_shape) -> Autoencoder:
    torch.manual_seed(0)
    return create_model(name, input_shape=input_shape)


@pytest.mark.parametrize("input_shape", INPUT_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", list_models())
def test_shapes_and_range(name, input_shape):
    model = tiny(name, input_shape).eval()
    x = torch.rand(4, *input_shape)
    z = model.encode(x)
    assert z.shape == (4, *model.code_shape)
    x_hat = model.decode(z)
    assert x_hat.shape == x.shape
    assert torch.equal(model(x), x_hat)  # forward is decode(encode(x))
    if getattr(model.config, "output_activation", "sigmoid") == "sigmoid":
        assert x_hat.min() >= 0 and x_hat.max() <= 1


@pytest.mark.parametrize("name", list_models())
def test_encoder_and_decoder_run_alone(name):
    model = tiny(name, (1, 28, 28)).eval()
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(model.decoder(model.encoder(x)), model(x))


def two_pattern_batch(n: int = 16, size: int = 28) -> torch.Tensor:
    """A 4x4 checkerboard or its inverse per image: the pixel means are all 0.5, so the
    loss falls below the constant-output level only if the code tells the two apart.
    Learnable through any bottleneck, even seed 001's 2-number code (random noise is not)."""
    cells = torch.arange(size) * 4 // size
    board = ((cells[:, None] + cells[None, :]) % 2).float()
    which = torch.randint(0, 2, (n, 1, 1, 1), generator=torch.Generator().manual_seed(0)).float()
    return which * board + (1 - which) * (1 - board)


SLOW_TO_FALL = {"conv-wta-ae", "contractive-ae"}  # several seconds of steps each: in the full tier only


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow if n in SLOW_TO_FALL else ()) for n in list_models()])
def test_loss_is_finite_and_falls(name):
    model = tiny(name, (1, 28, 28))
    x = two_pattern_batch()  # a fixed batch to overfit
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        out = model.loss(x)
        assert torch.isfinite(out.total) and out.total.ndim == 0
        assert all(torch.isfinite(v) for v in out.terms.values())
        optimizer.zero_grad()
        out.total.backward()
        optimizer.step()
        losses.append(out.total.item())
    assert min(losses[-5:]) < 0.9 * losses[0]


@pytest.mark.parametrize("name", list_models())
def test_save_load_round_trip(name, tmp_path):
    model = tiny(name, (1, 28, 28)).eval()
    save_weights(model, tmp_path / "model.safetensors")
    torch.manual_seed(123)  # a differently initialised twin
    twin = build_model(model.config).eval()
    x = torch.rand(3, 1, 28, 28)
    assert not torch.equal(twin(x), model(x))
    load_weights(twin, tmp_path / "model.safetensors")
    assert torch.equal(twin(x), model(x))


@pytest.mark.parametrize("name", list_models())
def test_config_has_typed_defaults(name):
    config = model_config_class(name)()
    assert config.name == name


@pytest.mark.parametrize("name", list_models())
def test_capabilities_are_declared_on_the_class_and_hold(name):
    """What a model declares is what it does: callers read `capabilities` and never look further."""
    model = tiny(name, (1, 28, 28)).eval()
    assert "capabilities" in vars(type(model)), f"{type(model).__name__} declares no `capabilities` of its own"
    caps, x, seeded = model.capabilities, torch.rand(3, 1, 28, 28), lambda: torch.Generator().manual_seed(0)
    assert isinstance(caps, Capabilities)
    assert hasattr(model, "encode_distribution") == caps.posterior
    if caps.posterior:
        mu, logvar = model.encode_distribution(x)
        assert mu.shape == logvar.shape and len(mu) == 3
    if caps.sample:
        assert model.sample(2, seeded()).shape == (2, 1, 28, 28)
    else:
        with pytest.raises(NotImplementedError):
            model.sample(2)
    if caps.discrete_code:
        assert model.code_indices(x).shape[0] == 3 and model.code_indices(x).dtype == torch.long
    if caps.likelihood:
        estimate = importance_sampled_log_likelihood(require_vae(model), Split((x * 255).to(torch.uint8)), 2, progress=False, log=lambda _: None)
        assert math.isfinite(estimate["log_px_iwae"]) and estimate["log_px_iwae"] >= estimate["elbo"]
    else:
        with pytest.raises(ConfigError):
            require_vae(model)
    one, other = model.batch_loss(x, torch.tensor([0, 0, 0]), seeded()).total, model.batch_loss(x, torch.tensor([1, 2, 1]), seeded()).total
    assert torch.equal(one, other) != caps.labels  # the loss reads the labels exactly where it says so
