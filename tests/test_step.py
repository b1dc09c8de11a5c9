"""The sharded step: the same update as the full-batch step, on threads or worker processes,
reproducible noise, whole batches where needed, and workers that fail without losing a step."""

from __future__ import annotations

import copy
import gc
import os
import signal
import subprocess
import sys

import pytest
import torch

from aelab.models import create_model
from aelab.part_worker import can_fork
from aelab.step import ShardedStep, auto_shards

needs_fork = pytest.mark.skipif(not can_fork(), reason="worker processes are forked, on Linux only")


def twin_steps(name: str, shards: int, parallel: str = "processes", **options):
    torch.manual_seed(0)
    model = create_model(name, **options)
    twin = copy.deepcopy(model)
    plain = ShardedStep(model, torch.optim.SGD(model.parameters(), lr=0.1), 1)
    sharded = ShardedStep(twin, torch.optim.SGD(twin.parameters(), lr=0.1), shards, parallel=parallel)
    return model, twin, plain, sharded


@pytest.mark.parametrize("shards", [2, 3])
@pytest.mark.parametrize("parallel", ["processes", "threads"])
def test_sharded_update_equals_the_full_batch_update(shards, parallel):
    model, twin, plain, sharded = twin_steps("conv-ae", shards, parallel, channels=(8, 8), latent_dim=4)
    x = torch.rand(30, 1, 28, 28)  # 30 images: unequal parts when split in 3 or 4
    a, b = plain(x), sharded(x)
    assert len(sharded.workers) == (shards - 1 if parallel == "processes" and can_fork() else 0)
    torch.testing.assert_close(b["loss"], a["loss"], rtol=1e-5, atol=1e-7)
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6)
    sharded.close()


def test_sharded_noise_is_reproducible():
    """A VAE draws eps (and dynamic binarisations) per part from generators seeded by the global RNG."""
    x = torch.rand(32, 1, 28, 28)
    losses = []
    for _ in range(2):
        _, twin, _, sharded = twin_steps("vae", 2, latent_dim=2)
        torch.manual_seed(1)
        losses.append([sharded(x)["loss"].item() for _ in range(3)])
        sharded.close()
    assert losses[0] == losses[1]


def test_models_whose_loss_couples_the_batch_are_never_split():
    cpu = torch.device("cpu")
    assert auto_shards(create_model("conv-ae"), 64, cpu) >= 1
    for name in ("mmd-vae", "fc-wta-ae", "conv-wta-ae"):
        assert auto_shards(create_model(name), 64, cpu) == 1, name
    assert auto_shards(create_model("conv-wta-ae", lifetime_rate=None), 64, cpu) >= 1
    assert auto_shards(create_model("conv-ae"), 8, cpu) == 1  # parts would be too small to pay off


def test_bf16_autocast_step_stays_close_to_fp32():
    x = torch.rand(32, 1, 28, 28)
    torch.manual_seed(0)
    model = create_model("conv-ae", channels=(8, 8), latent_dim=4)
    fp32 = ShardedStep(model, torch.optim.SGD(model.parameters(), lr=0.0), 2)
    bf16 = ShardedStep(model, torch.optim.SGD(model.parameters(), lr=0.0), 2, precision="bf16")
    a, b = fp32(x)["loss"], bf16(x)["loss"]
    assert b.dtype == torch.float32 or torch.isfinite(b)
    assert a != b and abs(a - b) < 0.02 * a  # really ran in bf16, and stayed within 2%
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    fp32.close()
    bf16.close()


def seeded_model(name: str = "conv-ae", **options):
    torch.manual_seed(0)
    return create_model(name, **{"channels": (8, 8), "latent_dim": 2, **options}).to(memory_format=torch.channels_last)


def adam_step(model, parallel: str = "processes") -> ShardedStep:
    return ShardedStep(model, torch.optim.Adam(model.parameters(), 1e-2, fused=True), 2, parallel=parallel)


def adam_steps(name: str, parallel: str, batches: list[torch.Tensor], **options):
    """Parameters and loss terms after Adam steps on `batches`, with two parts, and whether
    worker processes were running after each step."""
    model = seeded_model(name, **options)
    step = adam_step(model, parallel)
    try:
        terms, workers = [], []
        for x in batches:
            terms.append(step(x))
            workers.append(bool(step.workers))
        return [p.detach().clone() for p in model.parameters()], terms, workers
    finally:
        step.close()


def assert_same_tensors(expected, got) -> None:
    for p, q in zip(expected, got, strict=True):
        assert torch.equal(p, q)


@needs_fork
@pytest.mark.parametrize("name", ["conv-ae", "vae"])
def test_worker_processes_give_the_same_bits_as_threads(name):
    """Same split, same seeds, same order of summing: the same run, bit for bit (the VAE draws noise)."""
    batches = [torch.rand(24, 1, 28, 28) for _ in range(3)]
    p_threads, t_threads, _ = adam_steps(name, "threads", batches, channels=(8, 8), latent_dim=2)
    p_procs, t_procs, workers = adam_steps(name, "processes", batches, channels=(8, 8), latent_dim=2)
    assert workers == [True, True, True]
    assert_same_tensors(p_threads, p_procs)
    for a, b in zip(t_threads, t_procs):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@needs_fork
def test_a_worker_that_dies_costs_a_warning_not_the_step():
    batches = [torch.rand(24, 1, 28, 28) for _ in range(3)]
    expected, _, _ = adam_steps("conv-ae", "threads", batches, channels=(8, 8), latent_dim=2)
    model = seeded_model()
    step = adam_step(model)
    step(batches[0])
    pid = step.workers[0].pid
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    with pytest.warns(UserWarning, match="worker process failed.*threads"):
        step(batches[1])
    assert not step.workers and not step.use_processes
    step(batches[2])
    step.close()
    assert_same_tensors(expected, model.parameters())


@needs_fork
def test_close_stops_the_workers_and_unshares_the_model():
    torch.manual_seed(0)
    model = create_model("conv-ae", channels=(8, 8), latent_dim=2)
    step = ShardedStep(model, torch.optim.SGD(model.parameters(), lr=0.1), 3, parallel="processes")
    step(torch.rand(24, 1, 28, 28))
    pids, shared = [w.pid for w in step.workers], [p.data_ptr() for p in model.parameters()]
    assert len(pids) == 2
    assert gc.get_freeze_count() > 0  # see share_more_after_fork
    step.close()
    for pid in pids:
        with pytest.raises(ChildProcessError):  # exited and reaped
            os.waitpid(pid, os.WNOHANG)
    assert all(p.data_ptr() != q for p, q in zip(model.parameters(), shared))
    assert gc.get_freeze_count() == 0


REUSE_AFTER_FORK = """
import torch
from aelab.allocator import keep_freed_memory
from aelab.models import create_model
from aelab.step import ShardedStep
assert keep_freed_memory()
model = create_model("conv-ae", channels=(8, 8), latent_dim=2)
step = ShardedStep(model, torch.optim.SGD(model.parameters(), lr=0.1), 2, parallel="processes")
freed = [torch.ones(2**20) for _ in range(32)]  # 128 MB, freed but kept by the heap
del freed
step(torch.rand(32, 1, 28, 28))  # forks the worker
reused = [torch.full((2**20,), 2.0) for _ in range(32)]  # this process writes that memory again
step(torch.rand(32, 1, 28, 28))
rollup = open(f"/proc/{step.workers[0].pid}/smaps_rollup").read().splitlines()[1:]
print(int(dict(line.split(":") for line in rollup)["Private_Dirty"].split()[0]) // 1024)
step.close()
"""


@needs_fork
def test_a_worker_keeps_no_copy_of_memory_freed_before_the_fork():
    out = subprocess.run([sys.executable, "-c", REUSE_AFTER_FORK], check=True, capture_output=True, text=True).stdout
    private_mb = int(out.strip().splitlines()[-1])
    assert private_mb < 64, f"the worker holds {private_mb} MB of stale copies of this process's memory"


@needs_fork
def test_parts_larger_than_the_first_batch_s_run_on_threads():
    small, large = torch.rand(8, 1, 28, 28), torch.rand(40, 1, 28, 28)
    expected, _, _ = adam_steps("conv-ae", "threads", [small, large], channels=(8, 8), latent_dim=2)
    got, _, workers = adam_steps("conv-ae", "processes", [small, large], channels=(8, 8), latent_dim=2)
    assert workers == [True, True]  # still there for the next batch that fits
    assert_same_tensors(expected, got)


@needs_fork
def test_parameters_no_part_reaches_keep_no_gradient():
    torch.manual_seed(0)
    model = create_model("conv-ae", channels=(8, 8), latent_dim=2)
    model.unused = torch.nn.Parameter(torch.ones(3))
    step = ShardedStep(model, torch.optim.SGD(model.parameters(), lr=0.1), 2, parallel="processes")
    step(torch.rand(16, 1, 28, 28))
    assert step.workers and model.unused.grad is None and model.encoder[-1].weight.grad is not None
    step.close()


@needs_fork
def test_an_error_in_a_worker_is_reported_and_its_part_trained_here():
    batches = [torch.rand(24, 1, 28, 28) for _ in range(2)]
    expected, _, _ = adam_steps("conv-ae", "threads", batches, channels=(8, 8), latent_dim=2)
    model = seeded_model()
    parent, loss = os.getpid(), model.loss

    def fails_in_a_worker(x):
        if os.getpid() != parent:
            raise RuntimeError("boom in the worker")
        return loss(x)

    model.loss = fails_in_a_worker
    step = adam_step(model)
    with pytest.warns(UserWarning, match="boom in the worker"):
        step(batches[0])
    step(batches[1])
    step.close()
    assert_same_tensors(expected, model.parameters())


@needs_fork
def test_a_model_that_cannot_be_shared_trains_on_threads():
    model = seeded_model()
    model.strided = torch.nn.Parameter(torch.ones(8)[::2])  # not dense: no place in shared memory
    step = ShardedStep(model, torch.optim.SGD(model.parameters(), lr=0.1), 2, parallel="processes")
    step(torch.rand(16, 1, 28, 28))
    assert not step.workers and step.pool is not None
    step.close()


@needs_fork
def test_workers_that_cannot_be_started_cost_a_warning_not_the_run(monkeypatch):
    """fork failing (EAGAIN: out of processes) leaves nothing behind: no shared model, no frozen
    GC, no open pipes; the step trains on threads, with the same result."""
    batches = [torch.rand(24, 1, 28, 28) for _ in range(2)]
    expected, _, _ = adam_steps("conv-ae", "threads", batches, channels=(8, 8), latent_dim=2)

    def no_process(*args, **kwargs):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_process)
    model = seeded_model()
    open_files = len(os.listdir("/proc/self/fd"))
    step = adam_step(model)
    with pytest.warns(UserWarning, match="could not start training worker processes.*threads"):
        step(batches[0])
    assert not step.workers and not step.use_processes and step.pool is not None
    assert gc.get_freeze_count() == 0
    assert len(os.listdir("/proc/self/fd")) == open_files
    assert not step._shared  # the model is back in private memory
    step(batches[1])
    step.close()
    assert_same_tensors(expected, model.parameters())


@needs_fork
def test_objects_the_program_froze_stay_frozen():
    """The step freezes the GC for its workers only where nothing was frozen: unfreezing after them
    would also thaw what the program froze itself."""
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        step = adam_step(seeded_model())
        step(torch.rand(16, 1, 28, 28))
        assert step.workers
        step.close()
        assert gc.get_freeze_count() > frozen // 2  # not thawed (a few frozen objects are freed as usual)
    finally:
        gc.unfreeze()
