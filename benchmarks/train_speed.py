"""Training speed of aelab against plain PyTorch loops, whole runs in alternating rounds.

    python benchmarks/train_speed.py --data-dir ../shared/datasets --epochs 3 --rounds 3 \
        [--only reference,aelab,...] [--out docs/performance-train.md]

Every round trains the seed-004 conv AE (Q1 = Q2 = 32, K = 10) on all 60,000 Fashion-MNIST
training images, batch 64, Adam 1e-3, once per configuration, each in a fresh process:

    reference            a plain loop written here (no aelab code; its own IDX reader), PyTorch's threads
    reference-bf16       the same loop with one line of bf16 autocast: what a user gets for free
    reference-1thread    the plain loop on one thread: the unit for the scaling figures
    aelab                aelab's default path (`aelab.train`)
    aelab KEY=VALUE ...  aelab with config overrides, e.g. "aelab train.shards=1" (no thread split)
    torchrun-2           `torchrun --nproc_per_node=2 -m aelab train`: two gloo processes of one thread

Images/s is the median over epochs 2..E of the training pass alone (evaluation excluded, for
all). Nothing is sampled inside a timed process: its peak memory is read by this parent, from
`wait4` for one process (the kernel's exact peak RSS) and, for torchrun, as the sum of each
process's peak (VmHWM, read once a second; shared library pages count once per process, so
it is an upper bound). Test MSE per pixel after the last epoch is computed after timing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

CONFIGS = ["reference", "reference-bf16", "reference-1thread", "aelab", "aelab train.shards=1", "torchrun-2"]


def reference_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, 2, 2), nn.ReLU(), nn.Conv2d(32, 32, 5, 2, 2), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
        nn.Linear(10, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),
        nn.ConvTranspose2d(32, 32, 5, 2, 2, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 5, 2, 2, output_padding=1), nn.Sigmoid(),
    )


def read_idx_images(path: Path) -> torch.Tensor:
    """An IDX image file (gzip) as float (N, 1, 28, 28) in [0, 1], read without aelab."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    n, h, w = (int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12))
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, h, w).copy()).float().div(255)


def find(data_dir: str, stem: str) -> Path:
    folder = Path(data_dir) / "fashion-mnist"
    return next(p for p in (folder / f"{stem}.gz", folder / stem) if p.exists())


def run_reference(args: argparse.Namespace, variant: str) -> dict:
    if variant == "reference-1thread":
        torch.set_num_threads(1)
    train, test = read_idx_images(find(args.data_dir, "train-images-idx3-ubyte")), read_idx_images(find(args.data_dir, "t10k-images-idx3-ubyte"))
    torch.manual_seed(args.seed)
    model, loss_fn = reference_model(), nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        for idx in torch.randperm(len(train)).split(64):
            x = train[idx]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant == "reference-bf16"):
                loss = loss_fn(model(x), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    with torch.no_grad():
        mse = sum(nn.functional.mse_loss(model(x), x).item() * len(x) for x in test.split(1000)) / len(test)
    return {"images_per_s": statistics.median(len(train) / s for s in seconds[1:] or seconds), "test_mse": mse}


def aelab_config(args: argparse.Namespace, overrides: dict) -> dict:
    return {"data.name": "fashion-mnist", "data.data_dir": args.data_dir, "data.val_fraction": 0.0,
            "train.epochs": args.epochs, "train.seed": args.seed, "train.test_each_epoch": False, **overrides}


def run_aelab(args: argparse.Namespace, variant: str) -> dict:
    import aelab
    from aelab.config import parse_assignment

    overrides = dict(parse_assignment(item) for item in variant.split()[1:])
    with tempfile.TemporaryDirectory() as tmp:
        run = aelab.train(aelab.make_config(aelab_config(args, overrides)), Path(tmp) / "run", progress=False, log=lambda s: None)
        return read_aelab_run(run)


def read_aelab_run(run: Path) -> dict:
    import aelab

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    speeds = [r["images_per_s"] for r in rows]
    return {"images_per_s": statistics.median(speeds[1:] or speeds), "test_mse": aelab.evaluate(run, device="cpu").mse_per_pixel}


def child(args: argparse.Namespace) -> None:
    result = run_reference(args, args.child) if args.child.startswith("reference") else run_aelab(args, args.child)
    print(json.dumps(result))


def torchrun_round(args: argparse.Namespace, processes: int) -> dict:
    """aelab under torchrun, from the command line as a user runs it; memory summed over its processes."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "aelab", "train", "--out", f"{tmp}/run", "--no-progress"]
        cmd += [f"--set={k}={json.dumps(v)}" for k, v in aelab_config(args, {}).items()]
        peak_mb = watch(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        import aelab  # noqa: F401  (here only, after the timed processes ended)

        return {**read_aelab_run(Path(tmp) / "run"), "peak_mb": peak_mb}


def watch(process: subprocess.Popen) -> float:
    """Wait for `process`; the sum over it and its descendants of each one's peak RSS, in MB."""
    peaks: dict[int, int] = {}
    while process.poll() is None:
        for pid in descendants(process.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                peaks[pid] = max(peaks.get(pid, 0), int(status.split("VmHWM:")[1].split()[0]))
            except (OSError, IndexError):
                continue
        time.sleep(1.0)
    if process.returncode != 0:
        raise SystemExit(f"{process.args} failed:\n{process.stderr.read().decode()[-2000:]}")
    return sum(peaks.values()) / 1024


def descendants(pid: int) -> list[int]:
    found, todo = [pid], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [int(c) for t in Path(f"/proc/{p}/task").iterdir() for c in (t / "children").read_text().split()]
        except OSError:
            continue
        found += kids
        todo += kids
    return found


def one_round(args: argparse.Namespace, name: str) -> dict:
    if name.startswith("torchrun-"):
        return torchrun_round(args, int(name.split("-")[1]))
    cmd = [sys.executable, __file__, "--child", name, "--epochs", str(args.epochs), "--seed", str(args.seed), "--data-dir", args.data_dir]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    out, err = process.stdout.read(), process.stderr.read()
    if status != 0:
        raise SystemExit(f"{name} failed:\n{err[-2000:]}")
    return {**json.loads(out.strip().splitlines()[-1]), "peak_mb": usage.ru_maxrss / 1024}


def table(args: argparse.Namespace, results: dict[str, list[dict]]) -> str:
    med = {n: {k: statistics.median(r[k] for r in rows) for k in ("images_per_s", "test_mse", "peak_mb")} for n, rows in results.items()}
    ref, one = med.get("reference"), med.get("reference-1thread")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"Seed-004 conv AE, Fashion-MNIST 60,000, batch 64, {args.epochs} epochs; medians (and ranges) over {args.rounds} "
        f"alternating rounds. Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, commit {commit}.",
        f"Command: `python benchmarks/train_speed.py --data-dir DATA --epochs {args.epochs} --rounds {args.rounds}"
        + (f" --only {','.join(results)}" if list(results) != CONFIGS else "") + "`",
        "",
        "| configuration | images/s (range) | vs reference | vs one thread | aelab ÷ it, paired by round | test MSE | peak memory |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, rows in results.items():
        m, speeds = med[name], [r["images_per_s"] for r in rows]
        vs = lambda base: f"{m['images_per_s'] / base['images_per_s']:.2f}x" if base else "-"  # noqa: E731
        lines.append(f"| {name} | {m['images_per_s']:,.0f} ({min(speeds):,.0f}-{max(speeds):,.0f}) | {vs(ref)} | {vs(one)} | "
                     f"{paired(results.get('aelab'), rows) if name != 'aelab' else '-'} | {m['test_mse']:.5f} | {m['peak_mb']:,.0f} MB |")
    return "\n".join(lines) + "\n"


def paired(aelab: list[dict] | None, rows: list[dict]) -> str:
    """aelab's images/s over this configuration's, round by round (neighbours in time share the
    machine's mood): the median and range of those ratios."""
    if not aelab:
        return "-"
    ratios = [a["images_per_s"] / r["images_per_s"] for a, r in zip(aelab, rows)]
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with fashion-mnist/ in it")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help=f"comma-separated configurations (default: {', '.join(CONFIGS)})")
    parser.add_argument("--out", help="also write the table (Markdown) to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    names = [n.strip() for n in args.only.split(",")] if args.only else CONFIGS
    results: dict[str, list[dict]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        for name in names:
            r = one_round(args, name)
            results[name].append(r)
            print(f"round {round_ + 1} {name:<22} {r['images_per_s']:8,.0f} img/s  test MSE {r['test_mse']:.5f}  "
                  f"peak {r['peak_mb']:,.0f} MB", flush=True)
    text = table(args, results)
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
