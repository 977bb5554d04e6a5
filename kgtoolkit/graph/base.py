"""The graph-store contract: what ingest, the sampler, training and the queries need of a store.

Two implementations keep it: `Neo4jGraphStore` (the system of record, Cypher and vector indexes)
and `EmbeddedGraphStore` (SQLite in WAL mode, exact nearest neighbours in numpy), chosen by URI
in `kgtoolkit.graph.open_graph`. tests/test_graph_contract.py runs one suite against both.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kgtoolkit.errors import CypherNotSupportedError, GraphStoreError, SchemaError
from kgtoolkit.schema import EMBEDDING, check_property_key

# URI schemes that mean Neo4j (here, not in neo4j_store, so that telling them apart needs no driver import)
NEO4J_SCHEMES = ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")

PropertyValue = str | int | float | bool | None | list


@dataclass(frozen=True)
class NodeRow:
    id: str
    props: Mapping[str, PropertyValue] = field(default_factory=dict)


@dataclass(frozen=True)
class RelRow:
    src: str
    dst: str
    props: Mapping[str, PropertyValue] = field(default_factory=dict)


@dataclass(frozen=True)
class RelWriteResult:
    written: int
    missing: list[RelRow]  # rows whose source or target node does not exist: nothing was written for them


@dataclass(frozen=True)
class Neighbour:
    id: str
    name: str | None
    score: float  # cosine similarity, in [-1, 1]


@dataclass(frozen=True)
class SchemaResult:
    statements: int  # statements run
    created: int  # constraints and indexes that did not exist before


def check_props(props: Mapping[str, Any], where: str) -> dict[str, PropertyValue]:
    """Property values both stores accept: scalars, None (removes the key) and flat lists of scalars."""
    checked: dict[str, PropertyValue] = {}
    for key, value in props.items():
        check_property_key(key)
        if key == "id":
            raise SchemaError(f"{where}: `id` is the node key, not a property to set")
        if isinstance(value, float) and not math.isfinite(value):
            raise SchemaError(f"{where}: property {key!r} is {value}, which a graph cannot store")
        if isinstance(value, (list, tuple)):
            if not all(isinstance(v, (str, int, float, bool)) for v in value):
                raise SchemaError(f"{where}: property {key!r} must be a flat list of scalars")
            value = list(value)
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            raise SchemaError(f"{where}: property {key!r} has unsupported type {type(value).__name__}")
        checked[key] = value
    return checked


def check_id(node_id: Any, where: str) -> str:
    if not isinstance(node_id, str) or not node_id or len(node_id) > 1024:
        raise SchemaError(f"{where}: node id must be a non-empty string of at most 1024 characters")
    return node_id


def check_end(end: str) -> str:
    """A relationship end to anchor on: "src" or "dst"."""
    if end not in ("src", "dst"):
        raise SchemaError(f"relationship end {end!r}: use 'src' or 'dst'")
    return end


def as_unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


class GraphStore(ABC):
    """A graph of the kgtoolkit model. Writes are idempotent upserts keyed on `id`."""

    uri: str

    # --- schema and writes -------------------------------------------------------------
    @abstractmethod
    def apply_schema(self) -> SchemaResult:
        """Create constraints and indexes if they do not exist; a second call creates nothing."""

    @abstractmethod
    def upsert_nodes(self, label: str, rows: Sequence[NodeRow]) -> int:
        """MERGE nodes on `id` and set their properties (None removes one), as one transaction."""

    @abstractmethod
    def upsert_relationships(self, rel_type: str, rows: Sequence[RelRow]) -> RelWriteResult:
        """MERGE relationships between existing nodes and set their properties, as one transaction."""

    # --- reads ---------------------------------------------------------------------------
    @abstractmethod
    def count_nodes(self) -> dict[str, int]:
        """Label -> node count, for every label of the model (0 where there are none)."""

    @abstractmethod
    def count_relationships(self) -> dict[str, int]:
        """Relationship type -> count, for every type of the model."""

    @abstractmethod
    def iter_nodes(self, label: str, page_size: int = 5000) -> Iterator[list[NodeRow]]:
        """All nodes of a label, in pages, ordered by id, without holding them all at once."""

    @abstractmethod
    def iter_relationships(self, rel_type: str, page_size: int = 5000) -> Iterator[list[RelRow]]:
        """All relationships of a type, in pages, without holding them all at once."""

    @abstractmethod
    def get_nodes(self, label: str, ids: Sequence[str]) -> dict[str, NodeRow]:
        """The nodes among `ids` that exist."""

    @abstractmethod
    def relationships_of(self, rel_type: str, node_id: str, end: str = "src") -> list[RelRow]:
        """The relationships of a type that leave the node (end "src") or reach it (end "dst"),
        ordered by (src, dst)."""

    # --- embeddings -----------------------------------------------------------------------
    @abstractmethod
    def write_embeddings(self, label: str, ids: Sequence[str], vectors: np.ndarray, run: str,
                         prop: str = EMBEDDING) -> int:
        """Set the vector property `prop` (`embedding` unless named: schema.VECTOR_PROPERTIES) and
        `<prop>Run` on the given nodes (one transaction per call)."""

    @abstractmethod
    def clear_embeddings(self, label: str, keep_run: str | None = None, prop: str = EMBEDDING) -> int:
        """Remove `prop`/`<prop>Run` from nodes of a label whose run is not `keep_run`."""

    @abstractmethod
    def ensure_vector_index(self, label: str, dimensions: int, prop: str = EMBEDDING) -> None:
        """Make the cosine vector index of (label, prop) exist with this dimension, and wait until online."""

    @abstractmethod
    def get_embedding(self, label: str, node_id: str, prop: str = EMBEDDING) -> tuple[np.ndarray, str] | None:
        """The node's (vector, run), or None when it has none."""

    @abstractmethod
    def nearest(self, label: str, vector: Sequence[float], k: int = 10, prop: str = EMBEDDING) -> list[Neighbour]:
        """The k nodes of `label` whose vector `prop` is closest (cosine) to `vector`, best first."""

    @abstractmethod
    def embeddings(self, label: str, prop: str = EMBEDDING) -> tuple[list[str], np.ndarray, list[str]]:
        """Every (id, vector, run) of a label's vector property `prop`, ordered by id: (ids, (N, D)
        float32 vectors, runs). Vectors of two dimensions (an interrupted write-back of a run of another
        dimension) are a `GraphStoreError` that says to run `kgtoolkit embed` again."""

    # --- lifecycle ------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "GraphStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CypherStore(ABC):
    """A store that runs Cypher: Neo4j. Not part of the `GraphStore` contract (the embedded store has
    no Cypher engine); ask for it with `cypher_store(store)`, which says what to do when it is missing."""

    uri: str

    @abstractmethod
    def cypher(self, query: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> list[dict]:
        """Run Cypher (read access unless `write`: a query that writes is then a `ReadOnlyQueryError`),
        returning records as dicts."""


def cypher_store(store: GraphStore) -> CypherStore:
    """The store itself when it runs Cypher, else a `CypherNotSupportedError` that says how to get one."""
    if isinstance(store, CypherStore):
        return store
    raise CypherNotSupportedError(
        f"Cypher needs Neo4j, and {store.uri} is the embedded store. Start a server "
        "(`kgtoolkit db up` or `docker compose up -d`), ingest into it, and pass "
        "--graph bolt://127.0.0.1:7687 (or set KGTOOLKIT_GRAPH)."
    )


def mixed_dimensions(label: str, prop: str, dims: Sequence[int], runs: Sequence[str]) -> GraphStoreError:
    """The error of a label whose vectors have several dimensions (a write-back stopped half-way)."""
    return GraphStoreError(
        f"{label} {prop} vectors have {len(dims)} dimensions ({', '.join(map(str, dims))}) from runs "
        f"{', '.join(runs)[:200]}: a write-back was interrupted; run `kgtoolkit embed --run RUN_DIR` again"
    )
