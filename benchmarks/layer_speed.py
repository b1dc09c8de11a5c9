"""aelab's CPU layers (`models/cpu_layers.py`) against PyTorch's, forward and backward, one thread.

    python benchmarks/layer_speed.py [--batch 32] [--repeat 9]

For each transposed convolution in the default conv AE and VAE decoders, times PyTorch's layer and
aelab's drop-in replacement (the same parameters) in fp32 and under bf16 autocast, channels-last,
on one intra-op thread, as a training part runs; prints the medians and the ratios, and checks that
the two give the same outputs and gradients.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from aelab.models.cpu_layers import ConvTranspose2d, OneChannelConvTranspose2d

# (what, c_in, c_out, kernel, input size): the decoders of `conv-ae` (seed 004) and `vae`
LAYERS = [
    ("conv AE 32 -> 32, 5x5", 32, 32, 5, 7),
    ("conv AE 32 -> 1, 5x5", 32, 1, 5, 14),
    ("VAE 64 -> 32, 3x3", 64, 32, 3, 7),
    ("VAE 32 -> 1, 3x3", 32, 1, 3, 14),
]


def forward_backward(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor, bf16: bool) -> list[torch.Tensor]:
    layer.zero_grad(set_to_none=True)
    x = x.detach().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y = layer(x)
    y.float().backward(grad)
    return [y.float(), x.grad, layer.weight.grad, layer.bias.grad]


def median_ms(fn, repeat: int, calls: int = 20) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="images per part (a batch of 64 on two cores)")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"forward + backward on {args.batch} images, one thread, channels-last; medians of {args.repeat}")
    for what, c_in, c_out, k, size in LAYERS:
        torch.manual_seed(0)
        ours_type = OneChannelConvTranspose2d if c_out == 1 else ConvTranspose2d
        theirs = nn.ConvTranspose2d(c_in, c_out, k, stride=2, padding=k // 2, output_padding=1)
        ours = ours_type(c_in, c_out, k, stride=2, padding=k // 2, output_padding=1)
        ours.load_state_dict(theirs.state_dict())
        ours, theirs = (m.to(memory_format=torch.channels_last) for m in (ours, theirs))
        x = torch.randn(args.batch, c_in, size, size).contiguous(memory_format=torch.channels_last)
        grad = torch.randn(args.batch, c_out, 2 * size, 2 * size).contiguous(memory_format=torch.channels_last)
        for bf16 in (False, True):
            same = all(
                torch.allclose(a, b, rtol=0.05 if bf16 else 1e-4, atol=(0.05 if bf16 else 1e-4) * b.abs().max().item())
                for a, b in zip(forward_backward(ours, x, grad, bf16), forward_backward(theirs, x, grad, bf16))
            )
            t_theirs = median_ms(lambda: forward_backward(theirs, x, grad, bf16), args.repeat)
            t_ours = median_ms(lambda: forward_backward(ours, x, grad, bf16), args.repeat)
            print(f"  {what:<24} {'bf16' if bf16 else 'fp32'}  PyTorch {t_theirs:6.2f} ms  aelab {t_ours:6.2f} ms  "
                  f"({t_theirs / t_ours:.2f}x)  same results: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
