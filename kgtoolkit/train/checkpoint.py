"""Checkpoints: written atomically (temp file + rename), read with `torch.load(weights_only=True)`
(no arbitrary unpickling), and checked for kgtoolkit's own format marker."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from kgtoolkit.errors import CheckpointError

__all__ = ["FORMAT", "VERSION", "CheckpointError", "load_checkpoint", "save_checkpoint"]

FORMAT = "kgtoolkit-checkpoint"
VERSION = 1


def save_checkpoint(state: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save({"format": FORMAT, "version": VERSION, **state}, tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path, mmap: bool = False) -> dict:
    """`mmap`: tensors are read from the file when touched (a model's weights without its optimizer state)."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint there")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:  # truncated zip, foreign pickle (refused by weights_only), ...
        reason = " ".join(str(error).split())[:200]
        raise CheckpointError(f"{path}: truncated or not a kgtoolkit checkpoint ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a kgtoolkit checkpoint (no {FORMAT!r} marker)")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {state.get('version')}, this kgtoolkit reads {VERSION}")
    return state
