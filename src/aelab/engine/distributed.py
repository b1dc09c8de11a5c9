"""Many processes, one run: torch.distributed as torchrun sets it up (`env://`).

`torchrun --nproc_per_node=N -m aelab train ...` starts N copies of aelab with RANK,
WORLD_SIZE, LOCAL_RANK and the rendezvous address in the environment; `World.from_env`
reads them and joins the group (nccl on CUDA, gloo on CPU). Without them the world is
one process and every collective below is a no-op, so the training loop has one form.
"""

from __future__ import annotations

import datetime
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist

from aelab.errors import AelabError

JOIN_TIMEOUT = datetime.timedelta(minutes=5)  # a rank that never arrives ends the run
# How gloo and NCCL word a collective whose peer is gone (they raise plain RuntimeErrors).
LOST_PEER_SIGNS = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "NCCL communicator was aborted", "timed out")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we joined the group, so we leave it

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes files and logs."""
        return self.rank == 0

    @staticmethod
    def launched() -> bool:
        """Whether torchrun (or another env:// launcher) started this process as one of several."""
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 or (dist.is_available() and dist.is_initialized())

    @classmethod
    def from_env(cls, device_type: str) -> World:
        """Join the process group torchrun describes (or the one the caller already made)."""
        if not cls.launched():
            return cls()
        if not dist.is_available():
            raise AelabError("this torch build has no torch.distributed: run aelab in one process, without torchrun.")
        if dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
        backend = "nccl" if device_type == "cuda" else "gloo"
        try:
            dist.init_process_group(backend, init_method="env://", timeout=JOIN_TIMEOUT)
        except (RuntimeError, ValueError) as err:
            raise AelabError(
                f"could not join the other training processes ({err}). Check that torchrun's "
                "--nnodes, --rdzv-endpoint (or MASTER_ADDR/MASTER_PORT) are the same on every machine."
            ) from None
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)), owns_group=True)

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """`values` added up over every rank (in place; float64 keeps sums exact enough)."""
        if self.size > 1:
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def all_true(self, flag: bool, device: torch.device) -> bool:
        """Whether `flag` holds on every rank, so that all ranks take the same branch."""
        if self.size == 1:
            return flag
        value = torch.tensor([0.0 if flag else 1.0], device=device)
        return self.sum(value).item() == 0

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def leave(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


@contextmanager
def joined(device_type: str) -> Iterator[World]:
    """This process's world for the block: a collective that fails because another rank
    died becomes one clear error, and a group joined here is left at the end, by every rank
    together when the block ends well (a rank that tore its connections down while rank 0
    still wrote the run's last files could abort in gloo's teardown)."""
    world = World.from_env(device_type)
    try:
        yield world
        world.barrier()
    except RuntimeError as err:
        if world.size == 1 or not lost_peer(err):
            raise
        raise AelabError(
            f"another training process stopped ({str(err).splitlines()[0][:200]}), so this one stops too. Finished "
            "epochs are kept in the run folder: run the same torchrun command with `aelab train --resume RUN` to continue."
        ) from None
    finally:
        world.leave()


def lost_peer(err: RuntimeError) -> bool:
    """Whether a collective failed because another rank is gone (not a bug of our own)."""
    return isinstance(err, getattr(dist, "DistError", ())) or any(sign in str(err) for sign in LOST_PEER_SIGNS)
