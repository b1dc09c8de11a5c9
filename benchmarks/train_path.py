"""How far a newcomer must read to follow `aelab train`: the aelab files it passes through and
the deepest aelab call stack, measured on a real (tiny) run through the CLI's main().

    PYTHONPATH=src python benchmarks/train_path.py [--list]

Counts every aelab function that runs (sys.setprofile, on every thread) after the imports are
done, so module bodies and registration at import time are not counted; depth is the most aelab
frames on the stack at once (frames of torch and other libraries are skipped, not counted).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

import aelab.cli
import aelab.pipeline  # noqa: F401  the imports happen before counting

SRC = str(Path(aelab.cli.__file__).resolve().parents[1])


def tiny_dataset(path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8), y_train=rng.integers(0, 4, 64),
             x_test=rng.integers(0, 256, (16, 28, 28), dtype=np.uint8), y_test=rng.integers(0, 4, 16))
    return path


def trace_train(folder: Path) -> tuple[set[str], int]:
    files: set[str] = set()
    depth = {"now": 0, "max": 0}

    def profile(frame, event, arg):
        name = frame.f_code.co_filename
        if not name.startswith(SRC) or frame.f_code.co_name == "<module>":
            return
        if event == "call":
            files.add(os.path.relpath(name, SRC))
            depth["now"] += 1
            depth["max"] = max(depth["max"], depth["now"])
        elif event == "return":
            depth["now"] -= 1

    argv = ["train", "--dataset", str(tiny_dataset(folder / "tiny.npz")), "--epochs", "1", "--batch-size", "32",
            "--set", "model.channels=[4,4]", "--set", 'train.device="cpu"', "--out", str(folder / "run"), "--no-progress"]
    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        aelab.cli.main(argv)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    return files, depth["max"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="also list the files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files, depth = trace_train(Path(tmp))
    print(f"aelab train: {len(files)} aelab files, call depth {depth} (aelab frames)")
    if args.list:
        print("\n".join(sorted(files)))


if __name__ == "__main__":
    main()
