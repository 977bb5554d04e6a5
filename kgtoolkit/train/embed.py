"""Writing a run's embeddings back onto the graph's nodes (`embedding`, `embeddingRun`), with
one cosine vector index per label. Vectors of every other run are removed afterwards, so once
this returns no node carries a vector from another run; rerunning after an interruption
finishes the job. A video whose file is gone or cannot be decoded gets no vector and is named in
the result (`skipped`); the others are written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from kgtoolkit.graph import GraphStore
from kgtoolkit.train.clips import ClipSpec
from kgtoolkit.train.run import LoadedRun, load_run

BATCH = 500


def _write(store: GraphStore, label: str, ids: list[str], vectors: np.ndarray, run_id: str) -> int:
    written = 0
    for start in range(0, len(ids), BATCH):
        written += store.write_embeddings(label, ids[start : start + BATCH], vectors[start : start + BATCH], run_id)
    return written


@dataclass
class WrittenEmbeddings:
    counts: dict[str, int]  # label -> nodes written
    skipped: list[str] = field(default_factory=list)  # "PATH: problem" of each video left without a vector

    def __getitem__(self, label: str) -> int:
        return self.counts[label]

    def summary(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.counts.items()) + (
            f" ({len(self.skipped)} videos could not be decoded)" if self.skipped else "")


def write_run_embeddings(run_dir: Path, store: GraphStore, run: LoadedRun | None = None,
                         device: str | None = None) -> WrittenEmbeddings:
    run = run or load_run(run_dir, device or ("cuda" if torch.cuda.is_available() else "cpu"))
    counts: dict[str, int] = {}
    movements = [n for page in store.iter_nodes("BodyMovement") for n in page]
    actions = [n for page in store.iter_nodes("Action") for n in page]
    videos = [n for page in store.iter_nodes("Video") for n in page if n.props.get("path")]
    for label, nodes in (("Action", actions), ("BodyMovement", movements)):
        names = [n.props.get("name", n.id) for n in nodes]
        vectors = torch.nn.functional.normalize(run.text_embeddings(names), dim=-1).cpu().numpy()
        counts[label] = _write(store, label, [n.id for n in nodes], vectors, run.run_id)
    specs = [ClipSpec(n.props["path"], int(n.props.get("numFrames") or 0), int(n.props.get("width") or 0),
                      int(n.props.get("height") or 0)) for n in videos]
    vectors, kept, skipped = run.encode_clips(specs, workers=2)
    vectors = torch.nn.functional.normalize(vectors, dim=-1).cpu().numpy()
    counts["Video"] = _write(store, "Video", [videos[i].id for i in kept], vectors, run.run_id)
    for label in ("Video", "Action", "BodyMovement"):
        store.clear_embeddings(label, keep_run=run.run_id)
        store.ensure_vector_index(label, run.model.embed_dim)
    return WrittenEmbeddings(counts, skipped)
