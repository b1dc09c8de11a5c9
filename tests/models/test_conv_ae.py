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


@pytest.mark.parametrize("in_size, kernel, output_padding", [((14, 14), 5, 1), ((14, 14), 3, 1), ((7, 9), 3, 0), ((4, 5), 5, 1)])
@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_one_channel_transposed_conv_equals_pytorchs(in_size, kernel, output_padding, layout):
    from torch import nn

    from aelab.models.layers import OneChannelConvTranspose2d

    torch.manual_seed(0)
    ours = OneChannelConvTranspose2d(8, 1, kernel, stride=2, padding=kernel // 2, output_padding=output_padding)
    theirs = nn.ConvTranspose2d(8, 1, kernel, stride=2, padding=kernel // 2, output_padding=output_padding)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(3, 8, *in_size, requires_grad=True)
    x2 = x.detach().clone().contiguous(memory_format=layout).requires_grad_()
    a, b = ours(x2), theirs(x)
    assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)
    grad = torch.randn_like(b)
    a.backward(grad)
    b.backward(grad)
    assert torch.allclose(x2.grad, x.grad, atol=1e-5)
    assert torch.allclose(ours.weight.grad, theirs.weight.grad, atol=1e-4)
    assert torch.allclose(ours.bias.grad, theirs.bias.grad, atol=1e-4)


def test_one_channel_transposed_conv_under_bf16_autocast():
    from torch import nn

    from aelab.models.layers import OneChannelConvTranspose2d

    torch.manual_seed(0)
    ours = OneChannelConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1)
    theirs = nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(4, 8, 7, 7)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a = ours(x.bfloat16())
        b = theirs(x.bfloat16())
    assert a.dtype == b.dtype == torch.bfloat16
    assert torch.allclose(a.float(), b.float(), atol=0.05)
    a.float().sum().backward()
    assert ours.weight.grad.dtype == torch.float32 and ours.bias.grad.dtype == torch.float32
    b.float().sum().backward()
    assert torch.allclose(ours.weight.grad, theirs.weight.grad, rtol=0.02, atol=0.5)


def test_flatten_hands_back_channels_last_gradients_with_the_same_values():
    from torch import nn

    from aelab.models.layers import Flatten

    x = torch.randn(3, 4, 5, 5).contiguous(memory_format=torch.channels_last).requires_grad_()
    ours, theirs = Flatten()(x), nn.Flatten()(x)
    assert torch.equal(ours, theirs)
    weights = torch.randn_like(ours)
    (grad_ours,) = torch.autograd.grad((ours * weights).sum(), x)
    (grad_theirs,) = torch.autograd.grad((theirs * weights).sum(), x)
    assert torch.equal(grad_ours, grad_theirs)
    assert grad_ours.is_contiguous(memory_format=torch.channels_last) and not grad_theirs.is_contiguous(memory_format=torch.channels_last)

