"""Forked worker processes that each train one part of every batch, for `aelab.step`.

Why processes and not threads: a thread running a training step of a small model holds
Python's GIL for about 14% of the step (module calls, autograd Functions, the optimizer's
Python), so two threads in lockstep wait for each other. A forked process has its own GIL.

How: before the fork, the model's parameters and buffers move into one anonymous shared
mapping (`SharedArena`), next to a gradient slot per parameter and an input slot for each
worker. The forked child therefore sees every optimizer update the parent makes, in place,
and the parent reads the child's gradients where the child wrote them; nothing is pickled
and any model works. A step sends the worker its part's size, weight and noise seed down a
pipe and reads back the loss terms. Both sides spin on a non-blocking read for a while before
they block, because a blocked process takes up to about a millisecond to wake here, a tenth
of a step. The pipes are also what orders the memory: a write to a pipe happens before the
read that sees it.

Forking is safe here because the child runs torch on one thread only (no OpenMP team to
inherit) and never returns into the parent's Python: it leaves with `os._exit`. Linux only:
on macOS, forking a process that has loaded system frameworks is not safe, and Windows has
no fork; there `aelab.step` uses threads.
"""

from __future__ import annotations

import gc
import json
import mmap
import os
import select
import signal
import struct
import sys
import time
import traceback
import warnings
from typing import Callable

import torch

from aelab.allocator import release_freed_memory

SPIN_SECONDS = 0.05  # spin this long on a read before blocking; steps come every ~10 ms
ALIGN = 64  # bytes; a cache line, so no two tensors share one
HEADER = struct.Struct("<I")  # each message: its length, then that much JSON

PartFn = Callable[[torch.Tensor, float, int], dict[str, torch.Tensor]]
_PARENT_ENDS: set[int] = set()  # this process's ends of its workers' pipes, which no child may keep


def can_fork() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def is_dense(t: torch.Tensor) -> bool:
    """No gaps or overlaps in memory, in any dimension order (empty_like keeps such strides only)."""
    return torch.empty_like(t).stride() == t.stride()


def _aligned(nbytes: int) -> int:
    return -(-nbytes // ALIGN) * ALIGN


class SharedArena:
    """Tensors carved out of one anonymous shared mapping, which a forked child shares."""

    def __init__(self, nbytes: int):
        self._buffer = mmap.mmap(-1, max(nbytes, ALIGN))  # MAP_SHARED | MAP_ANONYMOUS
        self._flat = torch.frombuffer(self._buffer, dtype=torch.uint8)  # keeps the mapping alive
        self._used = 0

    @staticmethod
    def bytes_for(tensors: list[torch.Tensor]) -> int:
        return sum(_aligned(t.numel() * t.element_size()) for t in tensors)

    def empty_like(self, t: torch.Tensor) -> torch.Tensor:
        """A tensor in the arena with t's shape, dtype and strides (t dense, e.g. channels-last)."""
        if not is_dense(t):
            raise ValueError("only dense tensors can be placed in shared memory")
        nbytes = t.numel() * t.element_size()
        chunk = self._flat[self._used : self._used + nbytes]
        self._used += _aligned(nbytes)
        return chunk.view(t.dtype).as_strided(t.shape, t.stride())


def move_to_arena(tensors: list[torch.Tensor], arena: SharedArena) -> None:
    """Rebind each tensor (parameters, buffers) to a copy in the arena: same objects, shared memory."""
    for t in tensors:
        shared = arena.empty_like(t)
        shared.copy_(t.detach())
        t.data = shared


def move_to_private(tensors: list[torch.Tensor]) -> None:
    for t in tensors:
        t.data = t.data.clone()  # clone keeps the strides of a dense tensor


def share_more_after_fork() -> bool:
    """Call before forking: the fewer pages this process writes after the fork, the fewer stale
    copies the child keeps. Collect garbage and freeze the survivors, so that later collections
    here do not write to their pages (CPython's advice for `gc.freeze`), and hand the heap's free
    memory back to the OS, so that reusing it here copies nothing. Together they cut a worker's
    private memory (Private_Dirty in /proc/PID/smaps_rollup) over a 2-epoch conv-AE run from
    about 150 MB to about 30.

    True if it froze the GC: then call `gc.unfreeze()` once the workers are gone. Where the
    program had frozen objects of its own it leaves the GC alone, as unfreezing would thaw those too.
    """
    gc.collect()
    froze = gc.get_freeze_count() == 0
    if froze:
        gc.freeze()
    release_freed_memory()
    return froze


class PartWorker:
    """A forked child that runs `run_part` on the part of a batch it is sent, writing the
    parameters' gradients into `grads` (slots in a SharedArena) instead of `.grad`."""

    def __init__(self, params: list[torch.Tensor], grads: list[torch.Tensor], inputs: torch.Tensor, run_part: PartFn):
        self.params, self.grads, self.inputs = params, grads, inputs
        self._lost = ""
        go_read, self._go = os.pipe()
        self._done, done_write = os.pipe()
        try:
            with warnings.catch_warnings():  # Python 3.12+ warns on fork in a threaded process; see the module docstring
                warnings.simplefilter("ignore", DeprecationWarning)
                self.pid = os.fork()
        except OSError:
            for fd in (go_read, self._go, self._done, done_write):
                os.close(fd)
            raise
        if self.pid == 0:  # the child: serve until the parent closes the pipe, then leave without cleanup
            code = 1
            try:
                for fd in _PARENT_ENDS | {self._go, self._done}:  # else a sibling would never see EOF
                    os.close(fd)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, whose exit stops us
                code = _serve(go_read, done_write, params, grads, inputs, run_part)
            finally:
                os._exit(code)
        os.close(go_read)
        os.close(done_write)
        os.set_blocking(self._done, False)
        _PARENT_ENDS.update((self._go, self._done))

    def submit(self, x: torch.Tensor, weight: float, seed: int) -> None:
        self.inputs[: len(x)].copy_(x)
        try:
            _send(self._go, {"n": len(x), "weight": weight, "seed": seed})
        except OSError as err:  # the worker has gone: collect() says so
            self._lost = f"the worker process could not be reached ({err})"

    def collect(self) -> dict[str, torch.Tensor] | str:
        """Add this worker's gradients to `.grad` and return its loss terms; or, where the
        worker failed or is gone, a line saying why (and `.grad` untouched)."""
        if self._lost:
            return self._lost
        reply = _receive(self._done)
        if reply is None:
            return "the worker process exited"
        if "error" in reply:
            return reply["error"]
        missing = set(reply["missing"])
        present = [(p, g) for i, (p, g) in enumerate(zip(self.params, self.grads)) if i not in missing]
        totals, parts = [], []
        for p, g in present:
            if p.grad is None:  # no other part reached this parameter
                p.grad = g.clone()
            else:
                totals.append(p.grad)
                parts.append(g)
        if totals:
            torch._foreach_add_(totals, parts)
        return {name: torch.tensor(value, dtype=torch.float32) for name, value in reply["terms"].items()}

    def close(self) -> None:
        try:
            _send(self._go, {"stop": True})
        except OSError:  # it has gone already
            pass
        for fd in (self._go, self._done):
            _PARENT_ENDS.discard(fd)
            os.close(fd)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:  # reaped already
            pass


def _serve(go: int, done: int, params, grads, inputs: torch.Tensor, run_part: PartFn) -> int:
    torch.set_num_threads(1)
    os.set_blocking(go, False)
    while (order := _receive(go)) is not None and not order.get("stop"):
        try:
            for p in params:
                p.grad = None
            terms = run_part(inputs[: order["n"]], order["weight"], order["seed"])
            missing = []
            for i, (p, g) in enumerate(zip(params, grads)):
                if p.grad is None:
                    missing.append(i)
                else:
                    g.copy_(p.grad)
            _send(done, {"terms": {k: v.item() for k, v in terms.items()}, "missing": missing})
        except Exception:
            _send(done, {"error": traceback.format_exc(limit=-3)})
            return 1
    return 0


def _send(fd: int, message: dict) -> None:
    payload = json.dumps(message).encode()
    data = HEADER.pack(len(payload)) + payload
    while data:
        data = data[os.write(fd, data) :]


def _receive(fd: int) -> dict | None:
    """The next message on a non-blocking pipe, or None when the other end has closed it."""
    header = _read_exactly(fd, HEADER.size)
    if header is None:
        return None
    payload = _read_exactly(fd, HEADER.unpack(header)[0])
    return None if payload is None else json.loads(payload)


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks, deadline = [], time.perf_counter() + SPIN_SECONDS
    while n:
        try:
            chunk = os.read(fd, n)
        except BlockingIOError:
            if time.perf_counter() > deadline:
                select.select([fd], [], [])
            continue
        except OSError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
