"""One contract test over every registered model: a new model is covered for free."""

from __future__ import annotations

import pytest
import torch

from aelab.checkpoint import load_weights, save_weights
from aelab.models import Autoencoder, build_model, create_model, list_models, model_config_class

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


def learnable_batch(n: int = 16, size: int = 28) -> torch.Tensor:
    """Binary images with structure to learn: a square in one of four quadrants, plus 5% flipped pixels.

    Pure noise would not do: a likelihood summed over pixels already starts near its
    floor (the noise's entropy), so only memorising the noise could lower it.
    """
    generator = torch.Generator().manual_seed(0)
    x = torch.zeros(n, 1, size, size)
    half = size // 2
    for i in range(n):
        r, c = divmod(i % 4, 2)
        x[i, :, r * half : r * half + half - 2, c * half : c * half + half - 2] = 1
    flips = torch.rand(x.shape, generator=generator) < 0.05
    return torch.where(flips, 1 - x, x)


@pytest.mark.parametrize("name", list_models())
def test_loss_is_finite_and_falls(name):
    model = tiny(name, (1, 28, 28))
    x = learnable_batch()  # a fixed batch to overfit
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
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
