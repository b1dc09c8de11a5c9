"""The allocator setting: training steps stop page-faulting their activations back in."""

from __future__ import annotations

import subprocess
import sys

import pytest

STEPS = """
import resource, sys, torch
from aelab.allocator import keep_freed_memory
from aelab.models import create_model
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.set_num_threads(1)
model = create_model("conv-ae", input_shape=(1, 28, 28))
x = torch.rand(64, 1, 28, 28)
for _ in range(3):
    model.loss(x).total.backward()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    model.loss(x).total.backward()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def minor_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", STEPS, mode], check=True, capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")
@pytest.mark.slow  # a subprocess that trains and reads its own page faults
def test_kept_memory_is_not_faulted_back_in_each_step():
    default, kept = minor_faults("default"), minor_faults("keep")
    assert default > 500, f"expected glibc to return freed activations to the OS ({default} faults in 10 steps)"
    assert kept < default / 5


RELEASE = """
import resource, torch
from aelab.allocator import keep_freed_memory, release_freed_memory
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() / 2**20
assert keep_freed_memory()
before = rss_mb()
kept = [torch.ones(2**20) for _ in range(32)]  # 128 MB in 4 MB blocks, from the heap
del kept
held = rss_mb()
assert release_freed_memory()
print(held - before, rss_mb() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's (Linux)")
@pytest.mark.slow  # a subprocess that trains and reads its own page faults
def test_released_memory_leaves_the_process():
    out = subprocess.run([sys.executable, "-c", RELEASE], check=True, capture_output=True, text=True).stdout
    held, released = map(float, out.split())
    assert held > 100, f"expected the freed 128 MB to stay with the process ({held:.0f} MB)"
    assert released < 30
