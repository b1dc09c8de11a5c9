"""Drop-in replacements for PyTorch layers, faster on CPUs: the same parameters, state dicts
and results (to float rounding), each working around one measured slow path of PyTorch's CPU
kernels. On other devices they are PyTorch's own layers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Flatten(nn.Flatten):
    """nn.Flatten whose backward hands the gradient back in the input's memory layout.

    Flattening a channels-last feature map copies it into channel-major order, so the plain
    backward returns a channel-major gradient, and the ReLU before the flatten then computes its
    backward across two layouts, about 9x slower than within one (VAE, 32 x 64 x 7 x 7: 408 us
    instead of 44). Same values either way."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.start_dim, self.end_dim) == (1, -1) and x.dim() == 4 and x.requires_grad and not x.is_contiguous():
            if x.is_contiguous(memory_format=torch.channels_last):
                return _FlattenChannelsLast.apply(x)
        return super().forward(x)


class _FlattenChannelsLast(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.flatten(1)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape).contiguous(memory_format=torch.channels_last)


class OneChannelConvTranspose2d(nn.ConvTranspose2d):
    """A transposed convolution to ONE output channel (a grey image): the same parameters and
    results as nn.ConvTranspose2d (to float rounding), computed with matrix products laid out so
    that the small dimension (kernel taps) is never a product's column count, where CPU BLAS is
    slowest. PyTorch's own CPU kernel takes a slow path for one output channel: forward and backward
    of 32 -> 1, stride 2, 14x14 -> 28x28 on 32 images, one thread, fp32, take 1.06 ms instead of
    2.78 ms (5x5) and 0.60 ms instead of 1.46 ms (3x3) (`benchmarks/layer_speed.py`). With more
    output channels PyTorch's kernel is faster, so it is used only here. Under bf16 autocast the
    col2im runs in float32, where it is 3x faster, so the output is float32, as for PyTorch's ops
    on autocast's float32 list."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if x.device.type != "cpu" or output_size is not None or x.dim() != 4 or self.groups != 1 or self.dilation != (1, 1):
            return super().forward(x, output_size)
        h, w = x.shape[-2:]
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        out_h = (h - 1) * sh - 2 * ph + kh + self.output_padding[0]
        out_w = (w - 1) * sw - 2 * pw + kw + self.output_padding[1]
        out = _ToOneChannel.apply(x, self.weight, self.kernel_size, self.stride, self.padding, (out_h, out_w))
        return out + self.bias.to(out.dtype).view(1, -1, 1, 1) if self.bias is not None else out


class _ToOneChannel(torch.autograd.Function):
    """x (B, C, h, w) -> (B, 1, out_h, out_w). Forward: taps = W^T X (one product, X the image
    pixels by channel, a view of a channels-last x), then col2im (`F.fold`). Backward: the output
    gradient's taps as one strided view (im2col without a kernel), then two products."""

    @staticmethod
    def forward(ctx, x, weight, kernel, stride, padding, out_size):
        b, c, h, w = x.shape
        (kh, kw), (ph, pw) = kernel, padding
        pixels = x.permute(0, 2, 3, 1).reshape(b * h * w, c)  # a view when x is channels-last
        taps = weight.to(x.dtype).reshape(c, kh * kw)
        columns = (taps.t() @ pixels.t()).view(kh * kw, b, h * w).transpose(0, 1)  # (B, kh*kw, h*w)
        # transpose first, then cast: one copy (bf16: 256 us, against 1,016 for casting the strided view)
        columns = columns.contiguous().to(torch.promote_types(columns.dtype, torch.float32))
        full = F.fold(columns, (out_size[0] + 2 * ph, out_size[1] + 2 * pw), kernel, stride=stride)
        ctx.save_for_backward(pixels, taps)
        ctx.geometry = (b, c, h, w, kernel, stride, padding, weight.dtype)
        return full[:, :, ph : ph + out_size[0], pw : pw + out_size[1]]

    @staticmethod
    def backward(ctx, grad):
        pixels, taps = ctx.saved_tensors
        b, c, h, w, (kh, kw), (sh, sw), (ph, pw), weight_dtype = ctx.geometry
        padded = F.pad(grad.to(pixels.dtype), (pw, pw, ph, ph)).contiguous()
        hp, wp = padded.shape[-2:]
        grad_columns = padded.as_strided(  # (kh, kw, B, h, w): tap (r, s) of output block (i, j)
            (kh, kw, b, h, w), (wp, 1, hp * wp, sh * wp, sw), padded.storage_offset()
        ).reshape(kh * kw, b * h * w)
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad_columns.t() @ taps.t()).view(b, h, w, c).permute(0, 3, 1, 2)
        if ctx.needs_input_grad[1]:
            grad_weight = (grad_columns @ pixels).t().reshape(c, 1, kh, kw).to(weight_dtype)
        return grad_x, grad_weight, None, None, None, None


class ConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d with a faster CPU backward: the same parameters and results.

    PyTorch's CPU backward asks oneDNN for the input and the weight gradient in one call, which
    for transposed convolutions takes far longer than two calls, one for each; the input gradient
    is then a plain convolution of the output gradient. Forward and backward on 32 images, one
    thread (`benchmarks/layer_speed.py`): 32 -> 32 channels, 5x5, stride 2, 1.04x in fp32 and
    1.19x in bf16; the VAE's 64 -> 32, 3x3, 1.09x and 1.29x. Plain convolutions gain nothing
    from the same split (0.92-0.98x in paired training steps)."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if x.device.type != "cpu" or output_size is not None or x.dim() != 4 or self.groups != 1:
            return super().forward(x, output_size)
        weight, bias = self.weight, self.bias
        if torch.is_autocast_enabled("cpu"):  # cast as F.conv_transpose2d would, so the Function sees one dtype
            dtype = torch.get_autocast_dtype("cpu")
            x, weight, bias = x.to(dtype), weight.to(dtype), None if bias is None else bias.to(dtype)
        return _TransposedSplitBackward.apply(x, weight, bias, (self.stride, self.padding, self.output_padding, self.dilation))


class _TransposedSplitBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, geometry):
        stride, padding, output_padding, dilation = geometry
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.has_bias = geometry, bias is not None
        with torch.autocast("cpu", enabled=False):
            return F.conv_transpose2d(x, weight, bias, stride, padding, output_padding, 1, dilation)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, output_padding, dilation = ctx.geometry
        grad = grad.to(x.dtype)
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = F.conv2d(grad, weight, None, stride, padding, dilation)
        if ctx.needs_input_grad[1]:
            grad_weight = torch.ops.aten.convolution_backward(
                grad, x, weight, None, stride, padding, dilation, True, output_padding, 1, (False, True, False)
            )[1]
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3))
        return grad_x, grad_weight, grad_bias, None


STANDARD = {Flatten: nn.Flatten, OneChannelConvTranspose2d: nn.ConvTranspose2d, ConvTranspose2d: nn.ConvTranspose2d}


def standard_layers(module: nn.Module) -> nn.Module:
    """`module` with each layer above turned back into the PyTorch layer it stands in for, in
    place, for tools that trace PyTorch's own layers (ONNX export). Safe because the subclasses add
    no parameters, buffers or attributes, only a faster forward and backward."""
    for layer in module.modules():
        if type(layer) in STANDARD:
            layer.__class__ = STANDARD[type(layer)]
    return module
