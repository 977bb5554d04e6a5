"""Writing a run's embeddings back onto the graph's nodes (`embedding`, `embeddingRun`), with
one cosine vector index per label. With a two-tower Triplet Encoder also the relation-space
vectors (schema.VECTOR_PROPERTIES): `showsKey` on actions and `exhibitsKey` on body movements
(indexed), `showsQuery` and `exhibitsQuery` on videos, whose dot products are the scores
`classify` ranks by (kgtoolkit/model/kgclip.py `RelationKeys`), so a stored video's actions
and movements are one vector-index query (with mixing "batch" a key depends on the set encoded
with it: here every action or every movement of the graph, in `classify` the actions and the
movements that INVOLVES links, so its movement scores can differ slightly from the stored ones).
Vectors of every other run are removed afterwards, so
once this returns no node carries a vector from another run; rerunning after an interruption
finishes the job. A video whose file is gone or cannot be decoded gets no vector and is named in
the result (`skipped`); the others are written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from kgtoolkit.graph import GraphStore
from kgtoolkit.model.kgclip import CLASS_WEIGHTS, MOVEMENT_WEIGHTS
from kgtoolkit.schema import EMBEDDING, INDEXED_VECTORS, REL_VA, REL_VB, VECTOR_PROPERTIES
from kgtoolkit.media import ClipSpec
from kgtoolkit.runs import LoadedRun, load_run

BATCH = 500


def _write(store: GraphStore, label: str, ids: list[str], vectors: np.ndarray, run_id: str,
           prop: str = EMBEDDING) -> int:
    written = 0
    for start in range(0, len(ids), BATCH):
        written += store.write_embeddings(label, ids[start : start + BATCH], vectors[start : start + BATCH], run_id,
                                          prop)
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
    text = {}
    for label, nodes in (("Action", actions), ("BodyMovement", movements)):
        text[label] = run.text_embeddings([n.props.get("name", n.id) for n in nodes])
        vectors = torch.nn.functional.normalize(text[label], dim=-1).cpu().numpy()
        counts[label] = _write(store, label, [n.id for n in nodes], vectors, run.run_id)
    specs = [ClipSpec(n.props["path"], int(n.props.get("numFrames") or 0), int(n.props.get("width") or 0),
                      int(n.props.get("height") or 0)) for n in videos]
    video, kept, skipped = run.encode_clips(specs, workers=2)
    video_ids = [videos[i].id for i in kept]
    vectors = torch.nn.functional.normalize(video, dim=-1).cpu().numpy()
    counts["Video"] = _write(store, "Video", video_ids, vectors, run.run_id)
    written = {(label, EMBEDDING): run.model.embed_dim for label in ("Video", "Action", "BodyMovement")}
    model = run.model
    if model.use_graph and model.two_tower:
        for label, nodes, relation, weights, (key, query) in (
                ("Action", actions, REL_VA, CLASS_WEIGHTS, ("showsKey", "showsQuery")),
                ("BodyMovement", movements, REL_VB, MOVEMENT_WEIGHTS, ("exhibitsKey", "exhibitsQuery"))):
            if not nodes:
                continue
            keys = model.relation_keys(text[label], relation, weights)
            tails = keys.key().cpu().numpy()
            _write(store, label, [n.id for n in nodes], tails, run.run_id, key)
            queries = torch.cat([model.relation_query(video[i : i + BATCH], keys) for i in range(0, len(video), BATCH)]
                                ) if len(video) else torch.zeros(0, tails.shape[1])
            _write(store, "Video", video_ids, queries.cpu().numpy(), run.run_id, query)
            written[label, key] = written["Video", query] = tails.shape[1]
    for label, props in VECTOR_PROPERTIES.items():
        for prop in props:
            store.clear_embeddings(label, keep_run=run.run_id, prop=prop)
    for label, prop in INDEXED_VECTORS:
        if (label, prop) in written:
            store.ensure_vector_index(label, written[label, prop], prop)
    return WrittenEmbeddings(counts, skipped)
