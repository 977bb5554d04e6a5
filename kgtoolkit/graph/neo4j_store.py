"""`Neo4jGraphStore`: the graph store on a Neo4j 5.26 server over Bolt.

Credentials come from the environment only (NEO4J_USERNAME, NEO4J_PASSWORD, NEO4J_DATABASE); a URI
that carries them is refused. Writes go through `execute_write`, reads through `execute_read` or a
READ session iterated with a fetch size, every call names its database. The driver retries
transient errors (deadlocks, a database or server that is unavailable) with exponential back-off
for up to KGTOOLKIT_NEO4J_RETRY_SECONDS (30), printing one line per retry; the toolkit's own writes
are idempotent upserts, so they are also retried when the connection drops during COMMIT. What is
still failing after that becomes a one-line `GraphStoreError`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import neo4j
import numpy as np
from neo4j.exceptions import (
    AuthError,
    ConnectionPoolError,
    DriverError,
    IncompleteCommit,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from kgtoolkit.errors import ConfigurationError, GraphStoreError, ReadOnlyQueryError
from kgtoolkit.graph import queries as q
from kgtoolkit.graph.base import (
    CypherStore,
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
from kgtoolkit.schema import EMBEDDING, LABELS, REL_TYPES, schema_statements, vector_index_name

RETRY_ENV = "KGTOOLKIT_NEO4J_RETRY_SECONDS"
_UNREACHABLE = (ServiceUnavailable, SessionExpired, ConnectionPoolError)


def neo4j_auth_from_env() -> tuple[str, str]:
    user = os.environ.get("NEO4J_USERNAME", "neo4j")
    password = os.environ.get("NEO4J_PASSWORD")
    if not password:
        raise ConfigurationError(
            "NEO4J_PASSWORD is not set. Export the server's password; for a server started by "
            "`kgtoolkit db up` without one, `kgtoolkit db status` says where its generated password is."
        )
    return user, password


def retry_seconds_from_env() -> float:
    raw = os.environ.get(RETRY_ENV, "30")
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ConfigurationError(f"{RETRY_ENV}={raw!r}: expected a number of seconds, e.g. 30")
    return seconds


def check_graph_uri(uri: str) -> str:
    """The URI itself, once it is known to carry no credentials (those come from the environment only)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as error:
        raise ConfigurationError(f"graph URI: {error}; expected bolt://HOST:PORT or neo4j://HOST:PORT") from None
    if "@" in parts.netloc:
        address = f"{parts.scheme}://{parts.hostname or 'HOST'}" + (f":{port}" if port else "")
        raise ConfigurationError(
            f"the graph URI carries credentials (user:password@); kgtoolkit takes them from NEO4J_USERNAME and "
            f"NEO4J_PASSWORD only: pass --graph {address} and export NEO4J_PASSWORD"
        )
    return uri


def one_line(error: Neo4jError | Exception) -> str:
    """A Neo4j error as one readable line (its code and first message line)."""
    message = getattr(error, "message", None) or str(error)
    message = " ".join(str(message).split())
    code = getattr(error, "code", None)
    return f"{message} [{code}]" if code else message


class _OneLineRetryNotice(logging.Filter):
    """The driver logs each retry as 'Transaction failed and will be retried in %ss (%s)' with the
    server's whole multi-line error; reword it as one line that a user reads as progress."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (isinstance(record.msg, str) and record.msg.startswith("Transaction failed and will be retried")
                and isinstance(record.args, tuple) and len(record.args) == 2):
            delay, error = record.args
            message = " ".join(str(getattr(error, "message", None) or error).split())
            code = getattr(error, "code", None)
            record.msg = "Neo4j: %s%s; retrying in %.1f s"
            record.args = (f"{code}: " if code else "", message[:120] + ("..." if len(message) > 120 else ""),
                           float(delay))
        return True


_SESSION_LOG = logging.getLogger("neo4j.session")
if not any(isinstance(f, _OneLineRetryNotice) for f in _SESSION_LOG.filters):
    _SESSION_LOG.addFilter(_OneLineRetryNotice())


class Neo4jGraphStore(GraphStore, CypherStore):
    def __init__(self, uri: str, *, database: str | None = None, connect_timeout: float = 10.0):
        self.uri = check_graph_uri(uri)
        self.database = database or os.environ.get("NEO4J_DATABASE") or "neo4j"
        self.retry_seconds = retry_seconds_from_env()
        user, password = neo4j_auth_from_env()
        try:
            self._driver = neo4j.GraphDatabase.driver(
                uri, auth=(user, password), connection_timeout=connect_timeout,
                max_transaction_retry_time=self.retry_seconds, notifications_min_severity="OFF",
            )
        except (DriverError, ValueError) as error:
            raise ConfigurationError(f"graph URI {uri!r}: {one_line(error)}") from None
        try:
            self._driver.verify_connectivity()
        except AuthError:
            self._driver.close()
            raise ConfigurationError(
                f"Neo4j at {uri} refused the credentials of NEO4J_USERNAME/NEO4J_PASSWORD"
            ) from None
        except (DriverError, Neo4jError, OSError) as error:
            self._driver.close()
            raise GraphStoreError(
                f"cannot reach Neo4j at {uri}: {one_line(error)}. Start one with `kgtoolkit db up` "
                "or `docker compose up -d`, or pass another --graph."
            ) from None

    # --- helpers ----------------------------------------------------------------------------
    def _failure(self, error: Exception, what: str) -> GraphStoreError:
        """One line for a call that failed for good (after the driver's retries, where it retries)."""
        if isinstance(error, _UNREACHABLE) or (isinstance(error, TransientError) and "unavailable" in str(error).lower()):
            return GraphStoreError(
                f"Neo4j at {self.uri} became unavailable and did not come back within {self.retry_seconds:g} s "
                f"of retries ({RETRY_ENV}): {one_line(error)[:300]}. Once it answers again, run the command "
                "again: ingest and embed are idempotent and finish the job."
            )
        if isinstance(error, TransientError):
            return GraphStoreError(f"Neo4j {what} still failing after {self.retry_seconds:g} s of retries "
                                   f"({RETRY_ENV}): {one_line(error)}")
        return GraphStoreError(f"Neo4j {what} failed: {one_line(error)}")

    def _write(self, query: str, params: Mapping[str, Any] | None = None, *, idempotent: bool = False) -> list[dict]:
        """Run a write transaction. `idempotent` (the toolkit's own MERGE/SET/REMOVE writes) also retries
        a COMMIT whose outcome the dropped connection left unknown; a user's query is never run twice."""
        params = dict(params or {})
        return self._write_work(lambda tx: [record.data() for record in tx.run(query, params)], idempotent=idempotent)

    def _write_work(self, work: Callable[[neo4j.ManagedTransaction], Any], *, idempotent: bool = False) -> Any:
        """`work` in one write transaction (the driver retries it on transient errors); see `_write`."""
        deadline = time.monotonic() + self.retry_seconds
        while True:
            try:
                with self._driver.session(database=self.database) as session:
                    return session.execute_write(work)
            except IncompleteCommit as error:
                if not idempotent or time.monotonic() > deadline:
                    raise self._failure(error, "write") from error
            except (Neo4jError, DriverError) as error:
                raise self._failure(error, "write") from error

    def _read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict]:
        params = dict(params or {})

        def work(tx: neo4j.ManagedTransaction) -> list[dict]:
            return [record.data() for record in tx.run(query, params)]

        try:
            with self._driver.session(database=self.database, default_access_mode=neo4j.READ_ACCESS) as session:
                return session.execute_read(work)
        except (Neo4jError, DriverError) as error:
            raise self._failure(error, "query") from error

    def _stream(self, query: str, page_size: int, params: Mapping[str, Any] | None = None) -> Iterator[list[dict]]:
        try:
            with self._driver.session(
                database=self.database, default_access_mode=neo4j.READ_ACCESS, fetch_size=page_size
            ) as session:
                page: list[dict] = []
                for record in session.run(query, dict(params or {})):
                    page.append(record.data())
                    if len(page) == page_size:
                        yield page
                        page = []
                if page:
                    yield page
        except (Neo4jError, DriverError) as error:
            raise self._failure(error, "read") from error

    # --- schema and writes ----------------------------------------------------------------
    def apply_schema(self) -> SchemaResult:
        """Each statement is its own managed transaction, so a deadlock with another process creating
        the same schema is retried; one that lost the race to create a rule finds it there."""
        created = 0
        statements = schema_statements()
        for statement in statements:
            def work(tx: neo4j.ManagedTransaction, statement: str = statement) -> int:
                counters = tx.run(statement).consume().counters
                return counters.constraints_added + counters.indexes_added

            try:
                with self._driver.session(database=self.database) as session:
                    created += session.execute_write(work)
            except Neo4jError as error:
                if not (error.code or "").startswith("Neo.ClientError.Schema.") or "AlreadyExists" not in error.code:
                    raise self._failure(error, "schema statement") from error
            except DriverError as error:
                raise self._failure(error, "schema statement") from error
        return SchemaResult(statements=len(statements), created=created)

    def upsert_nodes(self, label: str, rows: Sequence[NodeRow]) -> int:
        if not rows:
            return 0
        ids = [check_id(r.id, f"{label} node") for r in rows]
        props = [check_props(r.props, f"{label} {r.id!r}") for r in rows]
        return self._write(q.upsert_nodes(label), {"ids": ids, "props": props}, idempotent=True)[0]["written"]

    def upsert_relationships(self, rel_type: str, rows: Sequence[RelRow]) -> RelWriteResult:
        if not rows:
            return RelWriteResult(0, [])
        columns = {
            "src": [r.src for r in rows],
            "dst": [r.dst for r in rows],
            "props": [check_props(r.props, f"{rel_type} {r.src!r}->{r.dst!r}") for r in rows],
        }
        upsert, find_missing = q.upsert_relationships(rel_type), q.missing_endpoints(rel_type)

        def work(tx: neo4j.ManagedTransaction) -> list[int]:
            """The MERGE and, when some rows were not written, the rows whose endpoints are missing, in
            one transaction: no other writer can add or remove an endpoint in between."""
            written = tx.run(upsert, columns).single()["written"]
            if written == len(rows):
                return []
            return sorted(r["i"] for r in tx.run(find_missing, {"src": columns["src"], "dst": columns["dst"]}))

        missing = [rows[i] for i in self._write_work(work, idempotent=True)]
        return RelWriteResult(len(rows) - len(missing), missing)

    # --- reads ----------------------------------------------------------------------------
    def count_nodes(self) -> dict[str, int]:
        return {label: self._read(q.count_label(label))[0]["count"] for label in LABELS}

    def count_relationships(self) -> dict[str, int]:
        return {name: self._read(q.count_rel_type(name))[0]["count"] for name in REL_TYPES}

    def iter_nodes(self, label: str, page_size: int = 5000) -> Iterator[list[NodeRow]]:
        for page in self._stream(q.stream_nodes(label), page_size):
            yield [NodeRow(r["id"], _without_id(r["props"])) for r in page]

    def iter_relationships(self, rel_type: str, page_size: int = 5000) -> Iterator[list[RelRow]]:
        for page in self._stream(q.stream_relationships(rel_type), page_size):
            yield [RelRow(r["src"], r["dst"], r["props"]) for r in page]

    def get_nodes(self, label: str, ids: Sequence[str]) -> dict[str, NodeRow]:
        rows = self._read(q.get_nodes(label), {"ids": list(ids)})
        return {r["id"]: NodeRow(r["id"], _without_id(r["props"])) for r in rows}

    # --- embeddings -----------------------------------------------------------------------
    def relationships_of(self, rel_type: str, node_id: str, end: str = "src") -> list[RelRow]:
        rows = self._read(q.relationships_of(rel_type, check_end(end)), {"id": node_id})
        return [RelRow(r["src"], r["dst"], r["props"]) for r in rows]

    def write_embeddings(self, label: str, ids: Sequence[str], vectors: np.ndarray, run: str,
                         prop: str = EMBEDDING) -> int:
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(ids) != len(vectors):
            raise GraphStoreError(f"{len(ids)} ids but {len(vectors)} vectors")
        rows = [{"id": i, "embedding": v.tolist()} for i, v in zip(ids, vectors)]
        if not rows:
            return 0
        return self._write(q.write_embeddings(label, prop), {"rows": rows, "run": run}, idempotent=True)[0]["written"]

    def clear_embeddings(self, label: str, keep_run: str | None = None, prop: str = EMBEDDING) -> int:
        return self._write(q.clear_embeddings(label, prop), {"keep_run": keep_run}, idempotent=True)[0]["cleared"]

    def ensure_vector_index(self, label: str, dimensions: int, prop: str = EMBEDDING, timeout: float = 120.0) -> None:
        name = vector_index_name(label, prop)
        existing = self._read(q.SHOW_VECTOR_INDEX, {"name": name})
        if existing and existing[0]["dimensions"] != dimensions:
            self._write(q.drop_vector_index(label, prop), idempotent=True)
        self._write(q.create_vector_index(label, dimensions, prop), idempotent=True)
        deadline = time.monotonic() + timeout
        while True:
            state = self._read(q.SHOW_VECTOR_INDEX, {"name": name})
            if state and state[0]["state"] == "ONLINE":
                return
            if state and state[0]["state"] == "FAILED":
                raise GraphStoreError(f"vector index {name} failed to build")
            if time.monotonic() > deadline:
                raise GraphStoreError(f"vector index {name} not online after {timeout:.0f} s")
            time.sleep(0.2)

    def get_embedding(self, label: str, node_id: str, prop: str = EMBEDDING) -> tuple[np.ndarray, str] | None:
        rows = self._read(q.get_embedding(label, prop), {"id": node_id})
        if not rows or rows[0]["embedding"] is None:
            return None
        return np.asarray(rows[0]["embedding"], dtype=np.float32), rows[0]["run"]

    def embeddings(self, label: str, prop: str = EMBEDDING) -> tuple[list[str], np.ndarray, list[str]]:
        ids, vectors, runs = [], [], []
        for page in self._stream(q.all_embeddings(label, prop), 5000):
            for r in page:
                ids.append(r["id"])
                vectors.append(np.asarray(r["embedding"], dtype=np.float32))
                runs.append(r["run"])
        if not ids:
            return [], np.zeros((0, 0), dtype=np.float32), []
        dims = sorted({len(v) for v in vectors})
        if len(dims) > 1:
            raise mixed_dimensions(label, prop, dims, sorted(set(runs)))
        return ids, np.stack(vectors), runs

    def nearest(self, label: str, vector: Sequence[float], k: int = 10, prop: str = EMBEDDING) -> list[Neighbour]:
        name = vector_index_name(label, prop)
        unit = as_unit_rows(np.asarray(vector, dtype=np.float32)[None, :])[0].tolist()
        index = self._read(q.SHOW_VECTOR_INDEX, {"name": name})
        if index and index[0]["state"] == "ONLINE":
            rows = self._read(q.QUERY_VECTOR_INDEX, {"index": name, "k": int(k), "vector": unit})
        else:  # no index yet: exact scan
            rows = self._read(q.exact_nearest(label, prop), {"k": int(k), "vector": unit})
        # Neo4j reports cosine similarity as (1 + cos) / 2; the contract speaks plain cosine.
        return [Neighbour(r["id"], r["name"], 2.0 * float(r["score"]) - 1.0) for r in rows]

    # --- Cypher ---------------------------------------------------------------------------
    def cypher(self, query: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> list[dict]:
        if write:
            return self._write(query, params)
        try:
            return self._read(query, params)
        except GraphStoreError as error:
            if _writes_in_read_mode(error.__cause__):
                raise ReadOnlyQueryError("this query writes, and it was run read-only (`kgtoolkit query`: add "
                                         "--write if you mean it)") from None
            raise

    def delete_all_nodes(self, batch: int = 10_000) -> None:
        """Delete every node and relationship of the database, `batch` nodes per transaction (tests and
        benchmarks start from an empty graph with it)."""
        try:
            with self._driver.session(database=self.database) as session:  # CALL IN TRANSACTIONS: auto-commit
                session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF $batch ROWS",
                            {"batch": int(batch)}).consume()
        except (Neo4jError, DriverError) as error:
            raise self._failure(error, "delete") from error

    def server_info(self) -> dict[str, str]:
        component = self._read(q.SERVER_COMPONENTS)[0]
        return {"name": component["name"], "version": component["versions"][0], "edition": component["edition"]}

    def close(self) -> None:
        self._driver.close()


def _writes_in_read_mode(error: BaseException | None) -> bool:
    """Whether Neo4j refused a query because it writes in a read transaction (a write, or the new
    property key or label token a write would create)."""
    if not isinstance(error, Neo4jError):
        return False
    if error.code == "Neo.ClientError.Statement.AccessMode":
        return True
    message = str(getattr(error, "message", None) or error).lower()
    return "read access mode" in message or "not allowed for" in message


def _without_id(props: dict) -> dict:
    return {k: v for k, v in props.items() if k != "id"}
