"""Process-group plumbing for ``torchrun``: setup, reductions, identical buffers, a state hash.

Without ``torchrun`` (no ``WORLD_SIZE`` in the environment) everything here is a
no-op on one process, so the training code has a single path.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.distributed as dist


@dataclass
class Dist:
    """Where this process sits: ``rank`` of ``world`` processes, its ``device``."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: Optional[str] = None

    @property
    def main(self) -> bool:
        """Rank 0: the only process that writes the run directory and prints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:<local rank>`` when CUDA is available, else ``cpu``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"train.device={name} but CUDA is not available "
                               "(use train.device=cpu or auto)")
        if name == "cuda":
            return torch.device(f"cuda:{local_rank}")
    return torch.device(name)


def setup(device_name: str) -> Dist:
    """Join the process group that ``torchrun`` describes (NCCL on GPUs, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world <= 1:
        return Dist(device=device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(dist.get_rank(), dist.get_world_size(), local_rank, device, backend)


def teardown(d: Dist) -> None:
    if d.active and dist.is_initialized():
        dist.destroy_process_group()


def barrier(d: Dist) -> None:
    if d.active:
        dist.barrier()


def all_sum(d: Dist, values: Sequence[float]) -> List[float]:
    """Element-wise sum of ``values`` over all processes (float64)."""
    if not d.active:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64,
                     device=d.device if d.backend == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().tolist()


def broadcast_object(d: Dist, obj: Any) -> Any:
    """Rank 0's ``obj`` on every process."""
    if not d.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(d: Dist, obj: Any) -> List[Any]:
    """Every process's ``obj``, in rank order (on every process)."""
    if not d.active:
        return [obj]
    out: List[Any] = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


@torch.no_grad()
def average_buffers(d: Dist, module: torch.nn.Module) -> None:
    """Average floating-point buffers (BatchNorm running stats) over the processes.

    DDP broadcasts rank 0's buffers at the start of every forward, but the last
    training forward of an epoch updates each rank's running stats with its own
    shard; averaging them after each epoch makes every rank hold the same model
    (and a better estimate than rank 0's alone).
    """
    if not d.active:
        return
    for buf in module.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf, op=dist.ReduceOp.SUM)
            buf.div_(d.world)


def state_hash(module: Union[torch.nn.Module, Dict[str, torch.Tensor]]) -> str:
    """SHA-256 (16 hex digits) of every parameter and buffer (or of a state dict), bit for bit."""
    state = module.state_dict() if isinstance(module, torch.nn.Module) else module
    h = hashlib.sha256()
    for name, t in sorted(state.items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
