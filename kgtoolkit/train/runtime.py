"""Devices, seeds and torchrun's distributed set-up."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch

from kgtoolkit.ingest.splits import stable_key


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.device.type == "cuda" else None


def setup_runtime(device: str = "auto") -> Runtime:
    """Single process, or the process group torchrun describes (nccl on GPUs, gloo on CPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
    return Runtime(dev, rank, world)


def seed_everything(*parts: object) -> None:
    seed = stable_key(*parts) % (2**31)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
