"""torchrun support with PyTorch's own engine: process group from the environment, DDP, all-reduce.

A single process is simply ``DistContext()`` (rank 0 of 1) and every helper is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist
from torch import Tensor, nn


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls, device: torch.device) -> DistContext:
        """Join the process group torchrun set up (NCCL on GPUs, gloo on CPU); single process otherwise."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank = int(os.environ["RANK"])
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if not tdist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            if device.type == "cuda":
                torch.cuda.set_device(local)
            tdist.init_process_group(backend=backend)
        return cls(rank=rank, world_size=world, local_rank=local)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def all_reduce_sum(self, t: Tensor) -> Tensor:
        if not self.enabled:
            return t
        t = t.clone()
        tdist.all_reduce(t, op=tdist.ReduceOp.SUM)
        return t

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when it is true on any (a stop reaches all ranks on the same step)."""
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def min_int(self, value: int, device: torch.device) -> int:
        """The smallest ``value`` over all ranks, so every rank runs as many steps (else DDP hangs)."""
        if not self.enabled:
            return int(value)
        t = torch.tensor([int(value)], dtype=torch.long, device=device)
        tdist.all_reduce(t, op=tdist.ReduceOp.MIN)
        return int(t.item())

    def broadcast_object(self, obj: object) -> object:
        if not self.enabled:
            return obj
        box = [obj]
        tdist.broadcast_object_list(box, src=0)
        return box[0]

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        if not self.enabled:
            return model
        ids = (
            [device.index if device.index is not None else self.local_rank] if device.type == "cuda" else None
        )
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def all_reduce_grads(self, params) -> None:
        """Average gradients across ranks (manual-mode models that are not DDP-wrapped)."""
        if not self.enabled:
            return
        for p in params:
            if p.grad is not None:
                tdist.all_reduce(p.grad, op=tdist.ReduceOp.SUM)
                p.grad /= self.world_size

    def barrier(self) -> None:
        if self.enabled:
            tdist.barrier()

    def close(self) -> None:
        if self.enabled and tdist.is_initialized():
            tdist.destroy_process_group()
