"""`similar(store, node_id)`: a node's nearest neighbours by embedding (cosine), on either store."""

from __future__ import annotations

from dataclasses import dataclass

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph import GraphStore, Neighbour
from kgtoolkit.schema import EMBEDDED_LABELS
from kgtoolkit.vocab import label_of_id


@dataclass(frozen=True)
class Similar:
    node_id: str
    label: str  # the label searched
    run_id: str  # the run the node's embedding comes from
    neighbours: list[Neighbour]  # best first, without the node itself


def similar(store: GraphStore, node_id: str, label: str | None = None, k: int = 10) -> Similar:
    """The k nodes of `label` (default: the node's own) nearest to the node's embedding. The node's
    label is read from its id (`vocab.label_of_id`); an id of another form is looked up under every
    label that has embeddings."""
    if label is not None and label not in EMBEDDED_LABELS:
        raise ConfigurationError(f"--label {label!r}: use one of {', '.join(EMBEDDED_LABELS)}")
    own = label_of_id(node_id)
    for candidate in [own] if own in EMBEDDED_LABELS else list(EMBEDDED_LABELS):
        found = store.get_embedding(candidate, node_id)
        if found is not None:
            vector, run_id = found
            target = label or candidate
            neighbours = [n for n in store.nearest(target, vector, k + 1) if n.id != node_id][:k]
            return Similar(node_id, target, run_id, neighbours)
    raise ConfigurationError(
        f"{node_id!r} has no embedding in {store.uri}: check the id (`kgtoolkit query` or `stats`) and "
        "that a run's embeddings were written (`kgtoolkit embed`)")
