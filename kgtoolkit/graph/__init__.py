"""Graph stores, chosen by URI: `bolt://` / `neo4j://` (and their +s variants) mean Neo4j, a path
(or `file://` path) means the embedded store. `resolve_graph_uri` gives the documented order:
the `--graph` option, then KGTOOLKIT_GRAPH, then DEFAULT_GRAPH_PATH."""

from __future__ import annotations

import os
from pathlib import Path

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph.base import (NEO4J_SCHEMES, CypherStore, GraphStore, Neighbour, NodeRow, RelRow, RelWriteResult,
                                  SchemaResult, cypher_store)

DEFAULT_GRAPH_PATH = Path(".kgtoolkit") / "graph"
GRAPH_ENV = "KGTOOLKIT_GRAPH"

__all__ = [
    "DEFAULT_GRAPH_PATH",
    "NEO4J_SCHEMES",
    "CypherStore",
    "GraphStore",
    "Neighbour",
    "NodeRow",
    "RelRow",
    "RelWriteResult",
    "SchemaResult",
    "cypher_store",
    "is_neo4j_uri",
    "open_graph",
    "resolve_graph_uri",
]


def resolve_graph_uri(uri: str | None = None) -> str:
    return uri or os.environ.get(GRAPH_ENV) or str(DEFAULT_GRAPH_PATH)


def is_neo4j_uri(uri: str) -> bool:
    """Whether the URI names Neo4j (without importing the driver)."""
    return uri.startswith(NEO4J_SCHEMES)


def open_graph(uri: str | None = None) -> GraphStore:
    """Open the store that `uri` names (resolved as `resolve_graph_uri` says)."""
    uri = resolve_graph_uri(uri)
    if is_neo4j_uri(uri):
        from kgtoolkit.graph.neo4j_store import Neo4jGraphStore

        return Neo4jGraphStore(uri)
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    if "://" in uri:
        raise ConfigurationError(
            f"graph URI {uri!r}: use bolt://host:port or neo4j://host:port for Neo4j, "
            "or a directory path for the embedded store"
        )
    from kgtoolkit.graph.embedded import EmbeddedGraphStore

    return EmbeddedGraphStore(Path(uri))
