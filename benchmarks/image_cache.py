"""Training from the memory-mapped image cache against training from the same images in memory.

    PYTHONPATH=src python benchmarks/image_cache.py [--images 20000] [--size 64] [--steps 30] [--rounds 2]
    PYTHONPATH=src python benchmarks/image_cache.py --images 200000     # CelebA's scale, 2.4 GB of pixels

Writes a folder of `--images` RGB PNGs of `--size` pixels (smooth random blobs, so that they
compress like photos) into a temporary folder, then measures, in this order:

    build      loading the folder the first time: decoding every PNG into the cache (parallel threads)
    reuse      loading it again: a stat of every file and the map, nothing decoded
    cold       training steps from the map right after its pages were evicted (posix_fadvise DONTNEED;
               `fincore` reports how much of the file was still resident)
    mapped     training steps from the map once the page cache is warm (the file read once)
    memory     the same steps, same shuffle and same initial weights, from an in-memory copy

Training is aelab's own step (`aelab.engine.make_step`: on CPUs the thread split) on the
conv AE (Q1 = Q2 = 32, K = 10) at the images' size, batch 128, from batches shuffled over the
whole training split. Mapped and memory passes alternate for `--rounds` rounds; medians are reported, with every pass.
Memory is read every 20 ms from /proc/PID/status by a separate watcher process (nothing is
sampled inside the timed process): RssAnon (memory the process owns) and RssFile (pages of
mapped files, the page cache: shared and reclaimable).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aelab.config import TrainConfig
from aelab.data import ImagePolicy, batches, epoch_generator, load_dataset
from aelab.data.image_cache import IMAGES, cache_folder
from aelab.engine import World, make_step
from aelab.models import build_model, model_config_class

BATCH = 128


def write_pngs(folder: Path, n: int, size: int) -> None:
    """n PNGs of size x size: 4x4 random colours upscaled smoothly, different for every image."""
    folder.mkdir(parents=True)

    def write(i: int) -> None:
        rng = np.random.default_rng(i)
        small = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
        small.resize((size, size), Image.Resampling.BICUBIC).save(folder / f"{i:06d}.png")

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(write, range(n)))


def anonymous_mib() -> int:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(status["RssAnon"].split()[0]) // 1024


WATCH = """
import json, select, sys
path, peaks, phase = f"/proc/{sys.argv[1]}/status", {}, None
def sample():
    for line in open(path):
        key, _, value = line.partition(":")
        if phase and key in ("RssAnon", "RssFile"):
            peaks[phase][key] = max(peaks[phase].get(key, 0), int(value.split()[0]) // 1024)
while True:
    if select.select([sys.stdin], [], [], 0.02)[0]:
        line = sys.stdin.readline()
        sample()
        if not line:
            break
        phase = line.strip() or None
        peaks.setdefault(phase, {}) if phase else None
    else:
        sample()
print(json.dumps(peaks))
"""


class MemoryWatch:
    """Peak RssAnon and RssFile (MiB) of this process per named phase, read every 20 ms from
    /proc/PID/status by a separate process: nothing is sampled inside the process being timed."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-c", WATCH, str(os.getpid())], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    @contextmanager
    def phase(self, name: str):
        self.process.stdin.write(name + "\n")
        self.process.stdin.flush()
        time.sleep(0.05)  # the watcher has taken the phase before the work starts
        try:
            yield
        finally:
            self.process.stdin.write("\n")
            self.process.stdin.flush()

    def peaks(self) -> dict[str, dict[str, int]]:
        out, _ = self.process.communicate()
        return json.loads(out)


def train_steps(split, steps: int, size: int) -> float:
    """Images/s of `steps` training steps from `split` (after 3 warm-up steps), same weights every time."""
    torch.manual_seed(0)
    config = model_config_class("conv-ae")(input_shape=(3, size, size))
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = make_step(model, optimizer, TrainConfig(batch_size=BATCH), World())
    model.train()
    stream = endless_batches(split)
    try:
        with step.training_pass():
            for _ in range(3):
                step(next(stream)[0])
            start = time.perf_counter()
            for _ in range(steps):
                step(next(stream)[0])
            seconds = time.perf_counter() - start
    finally:
        step.close()
    return steps * BATCH / seconds


def endless_batches(split):
    """Shuffled batches, epoch after epoch, the same order for every split of the same length."""
    for epoch in itertools.count():
        yield from batches(split, BATCH, generator=epoch_generator(1, epoch))


def resident(path: Path) -> str:
    if shutil.which("fincore") is None:
        return "unknown (no fincore)"
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)], capture_output=True, text=True)
    return f"{int(out.stdout.split()[0]) / 2**20:.0f} MiB" if out.returncode == 0 and out.stdout.strip() else "unknown"


def evict(path: Path) -> None:
    with open(path, "rb") as f:
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per pass (batch 128)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tmp", default=None, help="where the PNGs and the cache go (default: the system's temp)")
    args = parser.parse_args()
    policy = ImagePolicy((args.size, args.size), "resize", 3)
    with tempfile.TemporaryDirectory(prefix="aelab-image-cache-", dir=args.tmp) as tmp:
        os.environ["AELAB_CACHE_DIR"] = str(Path(tmp) / "cache")
        folder = Path(tmp) / "pngs"
        start = time.perf_counter()
        write_pngs(folder, args.images, args.size)
        png_mib = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        print(f"wrote {args.images:,} PNGs of {args.size}x{args.size} ({png_mib:,.0f} MiB) in {time.perf_counter() - start:.1f} s")
        pixels_mib = args.images * 3 * args.size**2 / 2**20

        baseline, watch = anonymous_mib(), MemoryWatch()
        start = time.perf_counter()
        with watch.phase("build"):
            load_dataset(str(folder), policy=policy)
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        dataset = load_dataset(str(folder), policy=policy)
        reuse_s = time.perf_counter() - start
        cache_file = cache_folder(folder, policy) / IMAGES
        del dataset
        evict(cache_file)
        resident_after_eviction = resident(cache_file)
        train = load_dataset(str(folder), policy=policy).train
        with watch.phase("cold"):
            cold = train_steps(train, args.steps, args.size)
        for start_row in range(0, len(train), 4096):  # read once: the page cache is warm
            train.pixels(slice(start_row, start_row + 4096)).sum()
        mapped, memory = [], []
        with watch.phase("mapped"):  # before the in-memory copy exists
            mapped.append(train_steps(train, args.steps, args.size))
        in_memory = train.to("cpu")
        for round_ in range(args.rounds):
            with watch.phase("memory"):
                memory.append(train_steps(in_memory, args.steps, args.size))
            if round_ < args.rounds - 1:
                mapped.append(train_steps(train, args.steps, args.size))
        peaks = watch.peaks()
        median = statistics.median
        passes = lambda values: ", ".join(f"{v:,.0f}" for v in values)  # noqa: E731
        print(f"cache: {pixels_mib:,.0f} MiB of pixels; built in {build_s:.1f} s ({args.images / build_s:,.0f} images/s, "
              f"peak RssAnon {peaks['build']['RssAnon']} MiB); reused in {reuse_s:.2f} s")
        print(f"cold: {resident_after_eviction} of the cache file resident after eviction")
        print(f"training, {len(train):,} training images, batch {BATCH}, {args.steps} steps a pass, "
              f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}; medians of alternating passes:")
        print(f"  memory  {median(memory):8,.0f} images/s  (passes: {passes(memory)})")
        print(f"  mapped  {median(mapped):8,.0f} images/s  = {median(mapped) / median(memory):.1%} of memory  "
              f"(passes: {passes(mapped)}; paired: {passes(a / b * 100 for a, b in zip(mapped, memory))} %)")
        print(f"  cold    {cold:8,.0f} images/s  = {cold / median(memory):.1%} of memory")
        print(f"peak RssAnon training: from the map {peaks['mapped']['RssAnon']} MiB (cold {peaks['cold']['RssAnon']} MiB), "
              f"from memory {peaks['memory']['RssAnon']} MiB, with {baseline} MiB before any data was loaded; "
              f"RssFile from the map {peaks['mapped']['RssFile']} MiB (its page cache); the pixels are {pixels_mib:,.0f} MiB")

if __name__ == "__main__":
    main()
