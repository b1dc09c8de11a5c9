"""The allocator setting: training steps stop page-faulting their activations back in, and the
host's allocator is set back when training ends."""

from __future__ import annotations

import subprocess
import sys

import pytest

STEPS = """
import resource, sys, torch
from aelab.engine.allocator import freed_memory_kept
from aelab.models import create_model
torch.set_num_threads(1)
model = create_model("conv-ae", input_shape=(1, 28, 28))
x = torch.rand(64, 1, 28, 28)

def faults():
    for _ in range(3):
        model.loss(x).total.backward()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        model.loss(x).total.backward()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

default = faults()
with freed_memory_kept() as raised:
    assert raised
    kept = faults()
after = faults()
print(default, kept, after)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")
@pytest.mark.slow  # a subprocess that trains and reads its own page faults
def test_kept_memory_is_not_faulted_back_in_and_the_default_returns():
    out = subprocess.run([sys.executable, "-c", STEPS], check=True, capture_output=True, text=True).stdout
    default, kept, after = map(int, out.split())
    assert default > 500, f"expected glibc to return freed activations to the OS ({default} faults in 10 steps)"
    assert kept < default / 5
    assert after > kept, f"the thresholds were not set back ({after} faults after, {kept} while kept)"
