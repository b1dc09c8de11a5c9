"""Speed of `aelab analyze`: the time of each analysis and of the shared steps on one run.

    python benchmarks/analyze_speed.py RUN [--repeat 2] [--threads N]

The issue's benchmark is a 10-epoch Fashion-MNIST conv-AE run (`aelab train --config
recipes/default.toml --out runs/default`), with 1-NN over all 60,000 training codes and
t-SNE of 1,000 test codes, which should take well under a minute on 2 cores. Each
repeat runs in a fresh process (nothing cached between them); the load average is
printed because other processes on a small machine change the times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, sys, time, torch
if {threads}: torch.set_num_threads({threads})
start = time.perf_counter()
from aelab.analysis import analyze
analyze(sys.argv[1], log=lambda _: None)
print(json.dumps({{"wall": time.perf_counter() - start}}))
"""


def one(run: Path, threads: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(threads=threads), str(run)], check=True, capture_output=True, text=True)
    summary = json.loads((run / "analysis.json").read_text())
    times = {f"(shared) {k}": v for k, v in summary["shared_seconds"].items()}
    times |= {a["name"]: a["seconds"] for a in summary["analyses"]}
    return {"times": times, "total": summary["total_seconds"], "wall": json.loads(out.stdout.splitlines()[-1])["wall"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    results = []
    for i in range(args.repeat):
        load = os.getloadavg()[0]
        results.append(one(args.run, args.threads))
        print(f"repeat {i + 1}: analyses + shared steps {results[-1]['total']:.1f} s, process wall {results[-1]['wall']:.1f} s "
              f"(load average before: {load:.1f})", flush=True)
    print(f"\n{'step':<32}{'median s':>10}")
    for key in results[0]["times"]:
        print(f"{key:<32}{statistics.median(r['times'][key] for r in results):>10.2f}")
    print(f"{'total (analyses + shared)':<32}{statistics.median(r['total'] for r in results):>10.2f}")
    print(f"{'process wall (with imports)':<32}{statistics.median(r['wall'] for r in results):>10.2f}")


if __name__ == "__main__":
    main()
