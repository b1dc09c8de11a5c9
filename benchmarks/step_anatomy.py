"""Where one training step's time goes on a CPU core: the figures behind docs/performance.md's "Why not 2x yet".

    python benchmarks/step_anatomy.py [--model conv-ae] [--batch 32] [--repeat 9]

aelab trains a batch of 64 as two parts of 32 images, one per core, each on one intra-op thread
(`engine/threads.py`). For one such part of the given model (fused Adam, as training runs it) this prints:

1. the FLOPs of one training step per image (`torch.utils.flop_counter`), and the convolutions' share;
2. the step's time on one thread, fp32 and bf16, split into forward, backward and optimizer, and
   the same step on one image: what a step costs whatever its size;
3. each convolution's forward and backward time on its own and its GFLOP/s, against a large
   matrix product on the same core (what BLAS reaches at best);
4. two one-thread training loops side by side, as two threads of one process and as two processes,
   against one loop alone, and the same for matrix products: how much the second core gives; and
   aelab's own step (`ThreadSplitStep`, two parts of one batch on two threads), per part.

All times are medians over --repeat blocks; this machine is noisy, so read ratios within one run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import threading
import time
from collections import defaultdict

import torch
from layer_speed import median_ms  # benchmarks/ is on the path when run as a script
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from aelab.engine import ThreadSplitStep
from aelab.models import create_model

PRECISIONS = ("fp32", "bf16")


def autocast(precision: str) -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


class Trainer:
    """One model, its fused Adam and a fixed batch: a training part as `ThreadSplitStep` runs it."""

    def __init__(self, model_name: str, batch: int, precision: str = "fp32", seed: int = 0):
        torch.manual_seed(seed)
        self.model = create_model(model_name, input_shape=(1, 28, 28))
        self.optimizer = torch.optim.Adam(self.model.parameters(), 1e-3, fused=True)
        self.x, self.precision = torch.rand(batch, 1, 28, 28), precision

    def forward(self) -> torch.Tensor:
        with autocast(self.precision):
            return self.model.loss(self.x).total

    def step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.forward().backward()
        self.optimizer.step()

    def phases_ms(self, repeat: int, calls: int = 10) -> dict[str, float]:
        """Median ms of forward, backward, and optimizer step + zero_grad, timed inside whole steps."""
        for _ in range(20):
            self.step()
        times = defaultdict(list)
        self.optimizer.zero_grad(set_to_none=True)
        for _ in range(repeat * calls):
            t0 = time.perf_counter()
            loss = self.forward()
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            t3 = time.perf_counter()
            for phase, seconds in (("forward", t1 - t0), ("backward", t2 - t1), ("optimizer", t3 - t2)):
                times[phase].append(seconds * 1e3)
        return {phase: statistics.median(ms) for phase, ms in times.items()}


def flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def convolutions(trainer: Trainer) -> list[tuple[str, nn.Module, torch.Size]]:
    """(name, layer, input shape) of each convolution, read off one forward pass."""
    found = []
    hooks = [
        module.register_forward_hook(lambda m, args, out, name=name: found.append((name, m, args[0].shape)))
        for name, module in trainer.model.named_modules()
        if isinstance(module, nn.modules.conv._ConvNd)
    ]
    with torch.no_grad():
        trainer.forward()
    for hook in hooks:
        hook.remove()
    return found


def layer_rows(trainer: Trainer, repeat: int) -> tuple[list[str], float]:
    """Each convolution alone, forward and backward, fp32 and bf16; and their FLOPs per image."""
    rows, work_per_image = [], 0.0
    for i, (name, layer, shape) in enumerate(convolutions(trainer)):
        x = torch.randn(shape)
        x.requires_grad_(i > 0)  # the first convolution reads the image: no input gradient
        k = "x".join(map(str, layer.kernel_size))
        cells = [f"{name}: {type(layer).__name__} {layer.in_channels}->{layer.out_channels} {k}, {shape[-2]}x{shape[-1]} in"]
        for precision in PRECISIONS:

            def forward(precision=precision):
                with torch.no_grad(), autocast(precision):
                    return layer(x)

            grad = torch.randn_like(forward())  # in the output's dtype, as in training

            def forward_backward(precision=precision, grad=grad):
                layer.zero_grad(set_to_none=True)
                x.grad = None
                with autocast(precision):
                    y = layer(x)
                y.backward(grad)

            work = flops(forward_backward)
            fwd_ms, total_ms = median_ms(forward, repeat, calls=10), median_ms(forward_backward, repeat, calls=10)
            cells.append(f"{fwd_ms:.2f} + {total_ms - fwd_ms:.2f} ms = {work / total_ms / 1e6:.0f} GF/s")
        work_per_image += work / shape[0]
        rows.append(" | ".join(cells))
    return rows, work_per_image


def matmul_gflops(precision: str, repeat: int, n: int = 1024) -> float:
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / median_ms(lambda: a @ b, repeat, calls=5) / 1e6


# --- two loops side by side -------------------------------------------------------------------

def loop_ms(what: str, model_name: str, batch: int, steps: int, start, seed: int) -> float:
    """Median ms per step of `batch` images (per matrix product for "matmul") of one loop on one
    thread; "sharded": per step of aelab's `ThreadSplitStep` on twice the batch, in two parts."""
    torch.set_num_threads(1)
    if what == "matmul":
        a, b = torch.randn(512, 512), torch.randn(512, 512)
        work = lambda: a @ b  # noqa: E731
        steps *= 10
    elif what == "sharded":
        trainer = Trainer(model_name, 2 * batch, seed=seed)
        step = ThreadSplitStep(trainer.model, trainer.optimizer, 2)
        work = lambda: step(trainer.x)  # noqa: E731
    else:
        trainer = Trainer(model_name, batch, seed=seed)
        work = trainer.step
    for _ in range(5):
        work()
    start.wait()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        work()
        times.append((time.perf_counter() - t) * 1e3)
    if what == "sharded":
        step.close()
    return statistics.median(times)


def _process_main(what: str, model_name: str, batch: int, steps: int, loops: int, barrier, results, first: int) -> None:
    """A fresh process running `loops` one-thread loops, each on its own thread."""
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(first + i, loop_ms(what, model_name, batch, steps, barrier, first + i)))
        for i in range(loops)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


LAYOUTS = {"alone": [1], "two threads": [2], "two processes": [1, 1]}  # loops per process
SHARDED = "aelab's step"


def side_by_side(what: str, model_name: str, batch: int, steps: int, rounds: int) -> dict[str, list[float]]:
    """Median ms per step of each loop, every layout in fresh processes, alternating; medians over rounds."""
    context = mp.get_context("spawn")
    manager = context.Manager()
    timings = defaultdict(list)
    layouts = LAYOUTS | ({} if what == "matmul" else {SHARDED: [1]})
    for _ in range(rounds):
        for layout, loops_per_process in layouts.items():
            results, barrier = manager.list([0.0] * sum(loops_per_process)), context.Barrier(sum(loops_per_process))
            processes = [
                context.Process(
                    target=_process_main,
                    args=("sharded" if layout == SHARDED else what, model_name, batch, steps, loops, barrier, results, first),
                )
                for first, loops in zip((0, 1), loops_per_process)
            ]
            for process in processes:
                process.start()
            for process in processes:
                process.join()
            timings[layout].append(list(results))
    return {layout: [statistics.median(column) for column in zip(*rows)] for layout, rows in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="conv-ae")
    parser.add_argument("--batch", type=int, default=32, help="images per part (a batch of 64 on two cores)")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--pair-steps", type=int, default=100, help="steps of each loop in section 4")
    parser.add_argument("--pair-rounds", type=int, default=5, help="rounds of section 4 (alone, threads, processes)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    step_flops = flops(Trainer(args.model, args.batch).step) / args.batch

    print(f"== {args.model}, {args.batch} images, one thread; medians of {args.repeat}")
    print(f"\n1. one training step: {step_flops / 1e6:.1f} MFLOP per image")
    rows, conv_flops = layer_rows(Trainer(args.model, args.batch), args.repeat)
    print(f"   of which the convolutions' forward and backward: {conv_flops / 1e6:.1f} MFLOP ({conv_flops / step_flops:.0%})")

    print("\n2. the step on one thread (forward + backward + Adam and zero_grad = step)")
    for precision in PRECISIONS:
        for batch in (args.batch, 1):
            phases = Trainer(args.model, batch, precision).phases_ms(args.repeat)
            parts = " + ".join(f"{ms:.2f}" for ms in phases.values())
            rate = f", {batch / sum(phases.values()) * 1e3:,.0f} images/s" if batch > 1 else "  (fixed cost of a step)"
            print(f"   {precision} {batch:>3} image{'s' if batch > 1 else ' '}: {parts} = {sum(phases.values()):.2f} ms{rate}")

    print("\n3. each convolution alone, forward + backward | fp32 | bf16")
    for row in rows:
        print(f"   {row}")
    print("   a 1024x1024 matrix product: " + ", ".join(f"{p} {matmul_gflops(p, args.repeat):.0f} GF/s" for p in PRECISIONS))

    print(f"\n4. one-thread loops side by side, median ms per step (per 512x512 product for matmul), {args.pair_rounds} rounds")
    for what in (args.model, "matmul"):
        timings = side_by_side("matmul" if what == "matmul" else "train", args.model, args.batch, args.pair_steps, args.pair_rounds)
        sharded = timings.pop(SHARDED, None)
        cells = ", ".join(f"{how} {' and '.join(f'{ms:.2f}' for ms in values)}" for how, values in timings.items())
        side_by_side_ms = statistics.mean(timings["two threads"] + timings["two processes"])
        print(f"   {what}: {cells}  (side by side {side_by_side_ms / timings['alone'][0]:.2f}x the time alone)")
        if sharded:
            print(
                f"   aelab's step on {2 * args.batch} images in two parts (ThreadSplitStep): {sharded[0]:.2f} ms, "
                f"{2 * args.batch / sharded[0] * 1e3:,.0f} images/s, {side_by_side_ms / sharded[0]:.0%} of two loops side by side"
            )


if __name__ == "__main__":
    main()
