"""The CPU drop-in layers give PyTorch's results and gradients, in both memory layouts and under
bf16 autocast, and the models use them where they are faster."""

import pytest
import torch
from torch import nn

from aelab.models import create_model
from aelab.models.cpu_layers import ConvTranspose2d, Flatten, OneChannelConvTranspose2d


@pytest.mark.parametrize("in_size, kernel, output_padding", [((14, 14), 5, 1), ((14, 14), 3, 1), ((7, 9), 3, 0), ((4, 5), 5, 1)])
@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_one_channel_transposed_conv_equals_pytorchs(in_size, kernel, output_padding, layout):
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
    torch.manual_seed(0)
    ours = OneChannelConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1)
    theirs = nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(4, 8, 7, 7)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a = ours(x.bfloat16())
        b = theirs(x.bfloat16())
    assert a.dtype == torch.float32 and b.dtype == torch.bfloat16  # our col2im runs in float32
    assert torch.allclose(a, b.float(), atol=0.05)
    a.float().sum().backward()
    assert ours.weight.grad.dtype == torch.float32 and ours.bias.grad.dtype == torch.float32
    b.float().sum().backward()
    assert torch.allclose(ours.weight.grad, theirs.weight.grad, rtol=0.02, atol=0.5)


def test_flatten_hands_back_channels_last_gradients_with_the_same_values():
    x = torch.randn(3, 4, 5, 5).contiguous(memory_format=torch.channels_last).requires_grad_()
    ours, theirs = Flatten()(x), nn.Flatten()(x)
    assert torch.equal(ours, theirs)
    weights = torch.randn_like(ours)
    (grad_ours,) = torch.autograd.grad((ours * weights).sum(), x)
    (grad_theirs,) = torch.autograd.grad((theirs * weights).sum(), x)
    assert torch.equal(grad_ours, grad_theirs)
    assert grad_ours.is_contiguous(memory_format=torch.channels_last) and not grad_theirs.is_contiguous(memory_format=torch.channels_last)


def _forward_backward(layer: nn.Module, x: torch.Tensor, bf16: bool = False) -> tuple[torch.Tensor, ...]:
    x = x.detach().clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y = layer(x)
    (y.float() * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    return y.float(), x.grad, layer.weight.grad, layer.bias.grad


@pytest.mark.parametrize("kernel, output_padding, in_size", [(5, 1, (7, 7)), (3, 1, (7, 7)), (3, 0, (4, 5)), (4, 0, (6, 6))])
@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_transposed_conv_equals_pytorchs(kernel, output_padding, in_size, layout):
    torch.manual_seed(0)
    theirs = nn.ConvTranspose2d(16, 8, kernel, stride=2, padding=kernel // 2, output_padding=output_padding)
    ours = ConvTranspose2d(16, 8, kernel, stride=2, padding=kernel // 2, output_padding=output_padding)
    ours.load_state_dict(theirs.state_dict())
    ours, theirs = ours.to(memory_format=layout), theirs.to(memory_format=layout)
    x = torch.randn(4, 16, *in_size).contiguous(memory_format=layout)
    for a, b in zip(_forward_backward(ours, x), _forward_backward(theirs, x)):
        assert a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-5)


def test_transposed_conv_under_bf16_autocast_keeps_float32_gradients():
    torch.manual_seed(0)
    theirs = nn.ConvTranspose2d(16, 8, 5, stride=2, padding=2, output_padding=1)
    ours = ConvTranspose2d(16, 8, 5, stride=2, padding=2, output_padding=1)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(4, 16, 7, 7)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert ours(x).dtype == theirs(x).dtype == torch.bfloat16
    a, b = _forward_backward(ours, x, bf16=True), _forward_backward(theirs, x, bf16=True)
    assert all(g.dtype == torch.float32 for g in a[1:])
    for ours_value, theirs_value in zip(a, b):
        assert torch.allclose(ours_value, theirs_value, rtol=0.02, atol=0.02 * theirs_value.abs().max().item())


def test_transposed_conv_without_bias_or_input_gradient():
    layer = ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1, bias=False)
    y = layer(torch.randn(2, 4, 5, 5))  # an input that needs no gradient: only the weight's is made
    y.sum().backward()
    assert y.shape == (2, 3, 10, 10) and layer.weight.grad is not None and layer.bias is None


@pytest.mark.parametrize("name", ["conv-ae", "vae"])
def test_conv_decoders_use_the_cpu_layers(name):
    """Swapping them back for PyTorch's would keep every result and lose the speed: this catches it."""
    model = create_model(name, input_shape=(1, 28, 28))
    transposed = [m for m in model.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [type(m) for m in transposed] == [ConvTranspose2d, OneChannelConvTranspose2d]
    assert any(type(m) is Flatten for m in model.modules())
