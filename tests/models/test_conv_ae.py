import pytest
import torch

from aelab.errors import ConfigError
from aelab.models import create_model


def test_seed_004_output_size_check():
    """Seed 004, Test 1: Q1 = Q2 = 32, K = 10 gives a 10-d code and 28x28 outputs in [0, 1]."""
    model = create_model("conv-ae", channels=(32, 32), kernel_size=5, latent_dim=10)
    x = torch.rand(5, 1, 28, 28)
    z = model.encode(x)
    assert z.shape == (5, 10)
    y = model.decode(z)
    assert y.shape == (5, 1, 28, 28) and 0 <= y.min() and y.max() <= 1
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [(32, (5, 5), (2, 2))] * 2


@pytest.mark.parametrize("input_shape", [(1, 28, 28), (3, 32, 32), (1, 27, 30), (3, 9, 9)])
@pytest.mark.parametrize("downsample,upsample", [("stride", "transpose"), ("pool", "interpolate"), ("pool", "transpose")])
def test_odd_and_colour_sizes_round_trip(input_shape, downsample, upsample):
    model = create_model("conv-ae", input_shape=input_shape, channels=(8, 8, 8), kernel_size=3, downsample=downsample, upsample=upsample)
    assert model(torch.rand(2, *input_shape)).shape == (2, *input_shape)


def test_without_dense_layer_the_code_is_a_feature_map():
    model = create_model("conv-ae", channels=(16, 4), kernel_size=3, latent_dim=None)
    assert model.code_shape == (4, 7, 7)


def test_unknown_option_lists_valid_ones():
    with pytest.raises(ConfigError, match="latent_dim"):
        create_model("conv-ae", latent_dims=3)


def test_unknown_model_suggests_the_close_one():
    with pytest.raises(ConfigError, match="did you mean 'conv-ae'"):
        create_model("conv-a")


def test_even_kernel_is_refused():
    with pytest.raises(ConfigError, match="odd"):
        create_model("conv-ae", kernel_size=4)


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match="model.latent_dim must be int"):
        create_model("conv-ae", latent_dim="ten")
