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
    precision: str = "auto"  # TrainConfig.precision

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The dtype autocast runs matrix products and convolutions in (None: plain fp32). Parameters,
        gradients and the optimiser state stay fp32 whatever this says. The authors instead cast CLIP's
        weights to fp16 (OpenAI's `convert_weights`) and step an fp32 copy; the difference is listed
        in docs/PAPER.md."""
        if self.precision == "auto":
            return torch.bfloat16 if self.device.type == "cuda" else None
        return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling for fp16 (whose gradients underflow without it); disabled for the other modes."""
        return torch.amp.GradScaler(self.device.type, enabled=self.autocast_dtype == torch.float16)


def process_rank() -> int:
    """This process's rank under torchrun (RANK), 0 when run alone."""
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """Whether this process reports and writes (rank 0, or the only process)."""
    return process_rank() == 0


def setup_runtime(device: str = "auto", precision: str = "auto") -> Runtime:
    """Single process, or the process group torchrun describes (nccl on GPUs, gloo on CPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = process_rank()
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
    return Runtime(dev, rank, world, precision)


def seed_everything(*parts: object) -> None:
    seed = stable_key(*parts) % (2**31)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
