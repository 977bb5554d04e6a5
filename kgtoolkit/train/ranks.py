"""Under torchrun every rank reads the graph itself (its own TripletSampler over the same store):
`graph_digest` fingerprints what a rank read, and `same_graph_on_every_rank` compares the ranks'
fingerprints, so that a graph written to while the ranks start (an ingest still running) is a clear
error instead of ranks training on different id maps. The digests go into run.json (`graph_digests`,
one per rank)."""

from __future__ import annotations

import hashlib
import json

import torch

from kgtoolkit.errors import DataError
from kgtoolkit.train.runtime import Runtime
from kgtoolkit.train.sampler import GraphTriplets


def graph_digest(data: GraphTriplets) -> str:
    """sha256 of the id maps, every video (id, path, split, action, movements) and the INVOLVES pairs."""
    content = {"id_maps": data.id_maps(), "involves": sorted(data.involves),
               "videos": [(v.id, v.path, v.split, v.action, list(v.movements)) for v in data.videos]}
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def same_graph_on_every_rank(data: GraphTriplets, runtime: Runtime) -> list[str]:
    """Every rank's digest, in rank order (one entry without torchrun); DataError when they differ."""
    digest = graph_digest(data)
    if not runtime.distributed:
        return [digest]
    digests: list[str] = [""] * runtime.world
    torch.distributed.all_gather_object(digests, digest)
    if len(set(digests)) != 1:
        differ = [r for r, d in enumerate(digests) if d != digests[0]]
        raise DataError(f"ranks {differ} read another graph than rank 0 (was it written to while the ranks started?): "
                        "wait for the ingest to finish, then start the run again")
    return digests
