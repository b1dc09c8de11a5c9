"""Initialisation by name, and a decoder whose output starts at the data's mean."""

import math

import pytest
import torch
from torch import nn

from aelab.models import create_model
from aelab.models.init import initialize, start_output_at_mean


def test_glorot_is_keras_default_uniform_weights_and_zero_biases():
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 8, 3)
    initialize(nn.Sequential(conv), "glorot")
    bound = math.sqrt(6 / (16 * 9 + 8 * 9))
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    assert torch.all(conv.bias == 0)


def test_kaiming_keeps_relu_activations_at_scale():
    torch.manual_seed(0)
    layer = nn.Linear(1000, 1000)
    initialize(layer, "kaiming")
    assert layer.weight.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)


def test_pytorch_scheme_leaves_the_layers_alone():
    layer = nn.Linear(4, 4)
    before = layer.weight.clone()
    initialize(layer, "pytorch")
    assert torch.equal(layer.weight, before)


def test_pooled_ae_decodes_a_silent_code_to_the_data_mean():
    model = create_model("pooled-conv-ae", pixel_mean=(0.13,)).eval()
    with torch.no_grad():
        out = model.decode(torch.zeros(3, 1, 2, 1))
    assert torch.allclose(out, torch.full_like(out, 0.13), atol=1e-5)
    plain = create_model("pooled-conv-ae").eval()  # built by hand, no data mean: sigmoid(0)
    with torch.no_grad():
        assert torch.allclose(plain.decode(torch.zeros(1, 1, 2, 1)), torch.tensor(0.5))


def test_dense_output_bias_is_set_per_channel():
    decoder = nn.Sequential(nn.Linear(2, 3 * 4), nn.Identity())
    start_output_at_mean(decoder, "linear", (0.2, 0.4, 0.6))
    assert decoder[0].bias.tolist() == pytest.approx([0.2] * 4 + [0.4] * 4 + [0.6] * 4)
