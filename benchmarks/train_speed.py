"""Training speed and quality: aelab against a plain PyTorch loop, alternately, in one run.

    python benchmarks/train_speed.py --data-dir ../shared/datasets --epochs 4 --rounds 3 [--model vae]

Each round trains the seed-004 conv AE (Q1 = Q2 = 32, K = 10), or with `--model vae`
aelab's default conv VAE (2-d code, Bernoulli likelihood on dynamically binarised
pixels, analytic KL), on all 60,000 Fashion-MNIST training images, batch 64, Adam
1e-3, once with a reference loop written here (the same network, the usual
`for x in batches: step`) and once with `aelab.train`, each in its own process so
peak memory is its own. Prints images/s (median over epochs), test MSE per pixel
(for the VAE: of the decoded posterior means) and peak memory, then medians over
rounds and the aelab / reference ratios. Peak memory is the largest of the process's
RSS plus the private memory of its child processes (aelab's forked workers share the
rest of their pages with it, which their RSS would count again), sampled every 0.1 s,
and the process's own peak RSS.

With `--target-mse 0.0143`, time to quality as well: the training seconds (evaluation
excluded, for both) until the test MSE after an epoch first reaches the target. Variants
may then change the recipe, e.g. `--variant "aelab train.lr=0.002 train.precision=bf16"`.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from torch import nn


def reference_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, 2, 2), nn.ReLU(), nn.Conv2d(32, 32, 5, 2, 2), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
        nn.Linear(10, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),
        nn.ConvTranspose2d(32, 32, 5, 2, 2, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 5, 2, 2, output_padding=1), nn.Sigmoid(),
    )


class ReferenceVAE(nn.Module):
    """aelab's default `vae`, written out: conv 32, 64 (3x3, stride 2) -> mean, log-variance;
    dense -> 64x7x7 -> transposed convs back to logits."""

    def __init__(self, latent: int = 2):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.Flatten())
        self.mean, self.logvar = nn.Linear(64 * 7 * 7, latent), nn.Linear(64 * 7 * 7, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, 2, 1, output_padding=1),
        )

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.bernoulli(x)  # dynamic binarisation
        h = self.body(x)
        mu, logvar = self.mean(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        rec = nn.functional.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return (rec + kl).mean()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # the decoded posterior mean
        return torch.sigmoid(self.decoder(self.mean(self.body(x))))


def seconds_to_target(seconds: list[float], test_mse: list[float], target: float | None) -> float | None:
    """Training seconds until the first epoch whose test MSE is at most `target`."""
    if target is None:
        return None
    elapsed = 0.0
    for s, mse in zip(seconds, test_mse):
        elapsed += s
        if mse <= target:
            return elapsed
    return None


def test_mse_of(model: nn.Module, test: torch.Tensor) -> float:
    with torch.no_grad():
        return sum(nn.functional.mse_loss(model(x), x).item() * len(x) for x in test.split(1000)) / len(test)


def run_reference(data_dir: str, epochs: int, seed: int, model_name: str, target: float | None) -> dict:
    from aelab.data import load_dataset

    data = load_dataset("fashion-mnist", data_dir)
    train = data.train.images.float().div(255)
    test = data.test.images.float().div(255)
    torch.manual_seed(seed)
    model = ReferenceVAE() if model_name == "vae" else reference_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    seconds, curve = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        for idx in torch.randperm(len(train)).split(64):
            x = train[idx]
            loss = model.loss(x) if model_name == "vae" else loss_fn(model(x), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
        if target is not None:
            curve.append(test_mse_of(model, test))
    return {"images_per_s": statistics.median(len(train) / s for s in seconds), "test_mse": test_mse_of(model, test),
            "seconds_to_target": seconds_to_target(seconds, curve, target)}


def run_aelab(data_dir: str, epochs: int, seed: int, model_name: str, overrides: dict, target: float | None) -> dict:
    import aelab

    config = aelab.make_config({
        "model.name": model_name, "data.name": "fashion-mnist", "data.data_dir": data_dir, "data.val_fraction": 0.0,
        "train.epochs": epochs, "train.seed": seed, "train.test_each_epoch": False, **overrides,
    })
    with tempfile.TemporaryDirectory() as tmp:
        run = aelab.train(config, Path(tmp) / "run", progress=False, log=lambda s: None)
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        mse = aelab.evaluate(run, device="cpu")["mse_per_pixel"]
    curve = [r.get("val_mse", float("inf")) for r in rows]  # val is the test split here (val_fraction = 0)
    return {"images_per_s": statistics.median(r["images_per_s"] for r in rows), "test_mse": mse,
            "seconds_to_target": seconds_to_target([r["seconds"] for r in rows], curve, target)}


class PeakMemory(threading.Thread):
    """Samples this process's RSS plus its children's private memory (Linux /proc), in MB."""

    def __init__(self, every_s: float = 0.1):
        super().__init__(daemon=True)
        self.every_s, self.peak_mb, self.stopped = every_s, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                kb = rollup("self")["Rss"] + sum(private_kb(pid) for pid in child_pids())
            except OSError:  # no /proc, or a child that just exited
                continue
            self.peak_mb = max(self.peak_mb, kb / 1024)


def rollup(pid: str) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    return {line.split(":")[0]: int(line.split()[1]) for line in lines if line.endswith("kB")}


def private_kb(pid: str) -> int:
    fields = rollup(pid)
    return fields["Private_Clean"] + fields["Private_Dirty"]


def child_pids() -> list[str]:
    return [pid for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()]


def child(args: argparse.Namespace) -> None:
    memory = PeakMemory()
    memory.start()
    if args.child == "reference":
        result = run_reference(args.data_dir, args.epochs, args.seed, args.model, args.target_mse)
    else:
        from aelab.config import parse_assignment

        overrides = dict(parse_assignment(item) for item in args.child.split()[1:])
        result = run_aelab(args.data_dir, args.epochs, args.seed, args.model, overrides, args.target_mse)
    memory.stopped.set()
    result["peak_mb"] = max(memory.peak_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=["conv-ae", "vae"], default="conv-ae")
    parser.add_argument("--target-mse", type=float, default=None, help="also time training until this test MSE")
    parser.add_argument("--variant", action="append", default=[], metavar="'aelab KEY=VALUE ...'",
                        help="extra aelab configurations to time, e.g. 'aelab train.shards=1'")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    results: dict[str, list[dict]] = {name: [] for name in ["reference", "aelab", *args.variant]}
    for round_ in range(args.rounds):
        for name in results:
            cmd = [sys.executable, __file__, "--child", name, "--model", args.model, "--epochs", str(args.epochs),
                   "--seed", str(args.seed + round_)] + (["--target-mse", str(args.target_mse)] if args.target_mse else [])
            if args.data_dir:
                cmd += ["--data-dir", args.data_dir]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[name].append(json.loads(out.strip().splitlines()[-1]))
            r = results[name][-1]
            reached = "" if r["seconds_to_target"] is None else f"  {r['seconds_to_target']:.1f} s to MSE {args.target_mse}"
            print(f"round {round_ + 1} {name:<24} {r['images_per_s']:8,.0f} img/s  test MSE {r['test_mse']:.5f}  "
                  f"peak memory {r['peak_mb']:,.0f} MB{reached}", flush=True)
    medians = {name: {k: statistics.median(r[k] for r in rows) for k in ("images_per_s", "test_mse", "peak_mb")}
               for name, rows in results.items()}
    for name, rows in results.items():  # time to quality: the median, if every round got there
        times = [r["seconds_to_target"] for r in rows]
        medians[name]["to_target"] = statistics.median(times) if None not in times else None
    print(f"\n{args.model}: medians over {args.rounds} rounds, {args.epochs} epochs:")
    for name, m in medians.items():
        to_target = "" if not args.target_mse else (
            f"  {m['to_target']:.1f} s to MSE {args.target_mse}" if m["to_target"] else "  target not reached in every round")
        print(f"  {name:<24} {m['images_per_s']:8,.0f} img/s  test MSE {m['test_mse']:.5f}  peak memory {m['peak_mb']:,.0f} MB{to_target}")
    r = medians["reference"]
    for name, a in medians.items():
        if name != "reference":
            quality = f", time to MSE {args.target_mse} {a['to_target'] / r['to_target']:.2f}x" if a["to_target"] and r["to_target"] else ""
            print(f"  {name} / reference: speed {a['images_per_s'] / r['images_per_s']:.2f}x, "
                  f"test MSE {a['test_mse'] / r['test_mse']:.3f}, peak memory {a['peak_mb'] / r['peak_mb']:.2f}{quality}")


if __name__ == "__main__":
    main()
