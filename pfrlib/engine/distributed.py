"""DistributedDataParallel plumbing for ``torchrun --nproc_per_node=N -m pfrlib.train``.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`init_from_env` joins the
process group (gloo on CPU, nccl on GPU) when ``WORLD_SIZE > 1`` and is a no-op otherwise, so the
same training code runs on one process or many. Only rank 0 logs and writes checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "init_from_env", "joined", "cleanup", "barrier", "all_reduce_sum", "broadcast_tensors", "broadcast_object",
           "same_on_all_ranks", "replicas_identical"]


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job (``rank`` 0 of ``world_size`` 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device_type: str = "cpu") -> DistInfo:
    """Join the process group described by torchrun's environment variables, if any.

    Args:
        device_type: ``"cpu"`` (gloo backend) or ``"cuda"`` (nccl backend).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank)


def joined() -> bool:
    """Whether this process is already in a process group (one its caller joined: a script that
    trains several runs in one ``torchrun`` launch keeps the group between them)."""
    return dist.is_available() and dist.is_initialized()


def cleanup() -> None:
    """Leave the process group (safe to call when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over ranks in place (no-op when not distributed); returns ``t``."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_tensors(tensors: Iterable[torch.Tensor], src: int = 0) -> None:
    """Overwrite each of ``tensors`` on every rank with rank ``src``'s, in place (e.g. a model's
    ``state_dict().values()``; no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        for t in tensors:
            dist.broadcast(t, src=src)


def broadcast_object(obj, src: int = 0):
    """Send a picklable object from rank ``src`` to every rank (identity when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]
    return obj


def same_on_all_ranks(t: torch.Tensor) -> bool:
    """Whether ``t`` is bitwise the same on every rank (True when not distributed).

    Compares the elementwise maximum and minimum over ranks; used to check that
    DistributedDataParallel kept the replicas identical (e.g. per-parameter sums of the weights).
    """
    if not (dist.is_available() and dist.is_initialized()):
        return True
    hi, lo = t.clone(), t.clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    return bool(torch.equal(hi, lo))


def replicas_identical(parameters: Iterable[torch.Tensor], device: torch.device) -> bool:
    """Whether every rank holds bitwise the same weights (compares per-parameter float64 sums;
    on a non-CUDA device they are reduced on the CPU, as gloo needs)."""
    sums = torch.stack([p.detach().double().sum() for p in parameters])
    if device.type != "cuda":
        sums = sums.cpu()
    return same_on_all_ranks(sums)
