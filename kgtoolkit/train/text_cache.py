"""A run's text embeddings of names (actions, body movements), kept beside its checkpoints in
RUN_DIR/text_embeddings.pt, so that `classify` and `embed` encode each name through the text tower
once per checkpoint instead of at every start (ViT-B-32's text tower took 4 s of CPU for 17 names
on a busy 2-core machine). An entry is used only for the same checkpoint file (name, size,
modification time), prompt templates and device type; names the file lacks (an action added with
`add-action`) are encoded and added. A run directory that cannot be written to is left as it is."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

CACHE_FILE = "text_embeddings.pt"


class TextCache:
    def __init__(self, path: Path, checkpoint: Path, templates: list[str], device: torch.device):
        """`path`: the cache file (`RunDir.text_embeddings`, RUN_DIR/text_embeddings.pt)."""
        self.path = Path(path)
        stat = checkpoint.stat()
        self.key = json.dumps([checkpoint.name, stat.st_size, stat.st_mtime_ns, templates, torch.device(device).type])
        self.vectors: dict[str, torch.Tensor] = {}
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            if isinstance(state, dict) and state.get("key") == self.key:
                self.vectors = dict(zip(state["names"], state["vectors"], strict=True))
        except Exception:  # noqa: BLE001 - no file, another format, a torn write: encoded again
            self.vectors = {}

    def embeddings(self, names: list[str], encode: Callable[[list[str]], torch.Tensor]) -> torch.Tensor:
        """(N, D) fp32 on the CPU: the cached vectors, `encode(missing)` for the others (then saved)."""
        missing = [n for n in dict.fromkeys(names) if n not in self.vectors]
        if missing:
            for name, vector in zip(missing, encode(missing).float().cpu(), strict=True):
                self.vectors[name] = vector.clone()
            self._save()
        return torch.stack([self.vectors[n] for n in names])

    def _save(self) -> None:
        names = list(self.vectors)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        try:
            torch.save({"key": self.key, "names": names, "vectors": torch.stack([self.vectors[n] for n in names])}, tmp)
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
