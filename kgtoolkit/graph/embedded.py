"""`EmbeddedGraphStore`: the graph store with nothing running, kept in one local directory.

SQLite in WAL mode holds nodes, relationships and embeddings; every contract call that writes is
one SQLite transaction, so a process killed mid-write leaves each batch either fully written or
not at all, and the file always opens. Nearest neighbours are exact (numpy over all vectors of a
label). It has no Cypher engine: it is not a `CypherStore` (`cypher_store` says what to do).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from kgtoolkit.errors import ConfigurationError, GraphStoreError
from kgtoolkit.graph.base import (
    GraphStore,
    Neighbour,
    NodeRow,
    RelRow,
    RelWriteResult,
    SchemaResult,
    as_unit_rows,
    check_end,
    check_id,
    check_props,
    mixed_dimensions,
)
from kgtoolkit.schema import EMBEDDING, LABELS, REL_TYPES, check_label, check_rel_type, check_vector_property

DB_FILE = "graph.sqlite"
SCHEMA_VERSION = "1"

_TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS nodes (label TEXT NOT NULL, id TEXT NOT NULL, props TEXT NOT NULL,"
    " PRIMARY KEY (label, id)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS relationships (type TEXT NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL,"
    " props TEXT NOT NULL, PRIMARY KEY (type, src, dst)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS embeddings (label TEXT NOT NULL, id TEXT NOT NULL, run TEXT NOT NULL,"
    " vector BLOB NOT NULL, PRIMARY KEY (label, id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS relationships_by_dst ON relationships (type, dst)",
)


class EmbeddedGraphStore(GraphStore):
    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        if self.path.exists() and not self.path.is_dir():
            raise ConfigurationError(f"{self.path}: the embedded graph is a directory, and this is a file")
        self.path.mkdir(parents=True, exist_ok=True)
        self.uri = str(self.path)
        try:
            self._db = sqlite3.connect(self.path / DB_FILE, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process
            for statement in _TABLES:
                self._db.execute(statement)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
        except sqlite3.DatabaseError as error:
            raise GraphStoreError(f"{self.path / DB_FILE}: not a readable kgtoolkit graph ({error})") from None

    # --- helpers ----------------------------------------------------------------------------
    def _transaction(self):
        return _Transaction(self._db)

    # --- schema and writes ----------------------------------------------------------------
    def apply_schema(self) -> SchemaResult:
        # The tables and primary keys above are the schema (uniqueness of id per label); what
        # is new here is recorded so that a second apply reports that it changed nothing.
        with self._transaction():
            cursor = self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_applied', '1')")
        return SchemaResult(statements=len(_TABLES), created=cursor.rowcount)

    def upsert_nodes(self, label: str, rows: Sequence[NodeRow]) -> int:
        check_label(label)
        payload = [
            (label, check_id(r.id, f"{label} node"), json.dumps(check_props(r.props, f"{label} {r.id!r}")))
            for r in rows
        ]
        with self._transaction():
            # json_patch gives Neo4j's `SET n += row.props`: a None value removes that key.
            self._db.executemany(
                "INSERT INTO nodes (label, id, props) VALUES (?1, ?2, json_patch('{}', ?3)) "
                "ON CONFLICT (label, id) DO UPDATE SET props = json_patch(nodes.props, ?3)",
                payload,
            )
        return len(payload)

    def upsert_relationships(self, rel_type: str, rows: Sequence[RelRow]) -> RelWriteResult:
        rel = check_rel_type(rel_type)
        payload = [
            (r.src, r.dst, json.dumps(check_props(r.props, f"{rel_type} {r.src!r}->{r.dst!r}"))) for r in rows
        ]
        with self._transaction():
            self._db.execute(
                "CREATE TEMP TABLE IF NOT EXISTS incoming (seq INTEGER PRIMARY KEY, src TEXT, dst TEXT, props TEXT)"
            )
            self._db.execute("DELETE FROM incoming")
            self._db.executemany("INSERT INTO incoming (src, dst, props) VALUES (?, ?, ?)", payload)
            missing = self._db.execute(
                "SELECT i.seq FROM incoming i "
                "LEFT JOIN nodes a ON a.label = ? AND a.id = i.src "
                "LEFT JOIN nodes b ON b.label = ? AND b.id = i.dst "
                "WHERE a.id IS NULL OR b.id IS NULL ORDER BY i.seq",
                (rel.source, rel.target),
            ).fetchall()
            self._db.execute(
                "UPDATE relationships SET props = json_patch(relationships.props, i.props) FROM incoming i "
                "WHERE relationships.type = ? AND relationships.src = i.src AND relationships.dst = i.dst",
                (rel.name,),
            )
            self._db.execute(
                "INSERT OR IGNORE INTO relationships (type, src, dst, props) "
                "SELECT ?, i.src, i.dst, json_patch('{}', i.props) FROM incoming i "
                "JOIN nodes a ON a.label = ? AND a.id = i.src "
                "JOIN nodes b ON b.label = ? AND b.id = i.dst ORDER BY i.seq",
                (rel.name, rel.source, rel.target),
            )
            self._db.execute("DELETE FROM incoming")
        missing_rows = [rows[seq - 1] for (seq,) in missing]
        return RelWriteResult(len(rows) - len(missing_rows), missing_rows)

    # --- reads ----------------------------------------------------------------------------
    def count_nodes(self) -> dict[str, int]:
        counts = dict(self._db.execute("SELECT label, count(*) FROM nodes GROUP BY label").fetchall())
        return {label: counts.get(label, 0) for label in LABELS}

    def count_relationships(self) -> dict[str, int]:
        counts = dict(self._db.execute("SELECT type, count(*) FROM relationships GROUP BY type").fetchall())
        return {name: counts.get(name, 0) for name in REL_TYPES}

    def iter_nodes(self, label: str, page_size: int = 5000) -> Iterator[list[NodeRow]]:
        check_label(label)
        last = ""
        while True:
            page = self._db.execute(
                "SELECT id, props FROM nodes WHERE label = ? AND id > ? ORDER BY id LIMIT ?",
                (label, last, page_size),
            ).fetchall()
            if not page:
                return
            yield [NodeRow(i, json.loads(p)) for i, p in page]
            last = page[-1][0]

    def iter_relationships(self, rel_type: str, page_size: int = 5000) -> Iterator[list[RelRow]]:
        check_rel_type(rel_type)
        last = ("", "")
        while True:
            page = self._db.execute(
                "SELECT src, dst, props FROM relationships WHERE type = ? AND (src, dst) > (?, ?) "
                "ORDER BY src, dst LIMIT ?",
                (rel_type, *last, page_size),
            ).fetchall()
            if not page:
                return
            yield [RelRow(s, d, json.loads(p)) for s, d, p in page]
            last = (page[-1][0], page[-1][1])

    def get_nodes(self, label: str, ids: Sequence[str]) -> dict[str, NodeRow]:
        check_label(label)
        found: dict[str, NodeRow] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for i, p in self._db.execute(
                f"SELECT id, props FROM nodes WHERE label = ? AND id IN ({marks})", (label, *chunk)
            ):
                found[i] = NodeRow(i, json.loads(p))
        return found

    def relationships_of(self, rel_type: str, node_id: str, end: str = "src") -> list[RelRow]:
        check_rel_type(rel_type)
        column = check_end(end)  # "src" or "dst": one of two fixed column names
        rows = self._db.execute(
            f"SELECT src, dst, props FROM relationships WHERE type = ? AND {column} = ? ORDER BY src, dst",
            (rel_type, node_id),
        ).fetchall()
        return [RelRow(s, d, json.loads(p)) for s, d, p in rows]

    # --- embeddings -----------------------------------------------------------------------
    @staticmethod
    def _vector_key(label: str, prop: str) -> str:
        """The `label` column of the embeddings table: `Action` for `embedding`, `Action.showsKey`
        for another vector property (so files written before those existed open unchanged)."""
        check_vector_property(label, prop)
        return label if prop == EMBEDDING else f"{label}.{prop}"

    def write_embeddings(self, label: str, ids: Sequence[str], vectors: np.ndarray, run: str,
                         prop: str = EMBEDDING) -> int:
        key = self._vector_key(label, prop)
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(ids) != len(vectors):
            raise GraphStoreError(f"{len(ids)} ids but {len(vectors)} vectors")
        with self._transaction():
            existing = self.get_nodes(label, ids)
            rows = [(key, i, run, v.tobytes()) for i, v in zip(ids, vectors) if i in existing]
            self._db.executemany(
                "INSERT INTO embeddings (label, id, run, vector) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (label, id) DO UPDATE SET run = excluded.run, vector = excluded.vector",
                rows,
            )
        return len(rows)

    def clear_embeddings(self, label: str, keep_run: str | None = None, prop: str = EMBEDDING) -> int:
        key = self._vector_key(label, prop)
        with self._transaction():
            cursor = self._db.execute(
                "DELETE FROM embeddings WHERE label = ? AND (? IS NULL OR run <> ?)", (key, keep_run, keep_run)
            )
        return cursor.rowcount

    def ensure_vector_index(self, label: str, dimensions: int, prop: str = EMBEDDING) -> None:
        key = self._vector_key(label, prop)
        dims = {
            len(v) // 4
            for (v,) in self._db.execute("SELECT vector FROM embeddings WHERE label = ? LIMIT 1000", (key,))
        }
        if dims - {int(dimensions)}:
            raise GraphStoreError(f"{label} {prop} vectors have dimension {sorted(dims)}, not {dimensions}")

    def embeddings(self, label: str, prop: str = EMBEDDING) -> tuple[list[str], np.ndarray, list[str]]:
        """All (ids, vectors, runs) of a label's vector property, ordered by id."""
        rows = self._db.execute(
            "SELECT id, run, vector FROM embeddings WHERE label = ? ORDER BY id", (self._vector_key(label, prop),)
        ).fetchall()
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32), []
        dims = sorted({len(v) // 4 for _, _, v in rows})
        if len(dims) > 1:  # a write-back of a run with another dimension stopped half-way
            raise mixed_dimensions(label, prop, dims, sorted({r for _, r, _ in rows}))
        vectors = np.stack([np.frombuffer(v, dtype=np.float32) for _, _, v in rows])
        return [r[0] for r in rows], vectors, [r[1] for r in rows]

    def get_embedding(self, label: str, node_id: str, prop: str = EMBEDDING) -> tuple[np.ndarray, str] | None:
        row = self._db.execute(
            "SELECT vector, run FROM embeddings WHERE label = ? AND id = ?", (self._vector_key(label, prop), node_id)
        ).fetchone()
        return (np.frombuffer(row[0], dtype=np.float32).copy(), row[1]) if row else None

    def nearest(self, label: str, vector: Sequence[float], k: int = 10, prop: str = EMBEDDING) -> list[Neighbour]:
        ids, vectors, _ = self.embeddings(label, prop)
        if not ids:
            return []
        query = as_unit_rows(np.asarray(vector, dtype=np.float32)[None, :])[0]
        if vectors.shape[1] != query.shape[0]:
            raise GraphStoreError(f"query has dimension {query.shape[0]}, {label} {prop} vectors {vectors.shape[1]}")
        scores = as_unit_rows(vectors) @ query
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[: int(k)]
        names = self.get_nodes(label, [ids[i] for i in order])
        return [Neighbour(ids[i], names[ids[i]].props.get("name"), float(scores[i])) for i in order]

    def close(self) -> None:
        self._db.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: one batch, all or nothing."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
