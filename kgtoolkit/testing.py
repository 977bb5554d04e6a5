"""A Neo4j to test or benchmark against, and an empty graph on it: shared by tests/conftest.py and
pipelines/bench_ingest.py; and a small synthetic graph on the embedded store (`synthetic_graph`) for
the tests that train or classify. The server NEO4J_URI names (with NEO4J_PASSWORD), or else a local
Neo4j 5.26 (`LocalNeo4j`) started on a free port in a scratch home with a generated password,
which is in NEO4J_PASSWORD while it runs."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from kgtoolkit.errors import ServerError
from kgtoolkit.graph.neo4j_store import Neo4jGraphStore
from kgtoolkit.server.local import LocalNeo4j, ServerInfo, free_port


@dataclass
class ScratchNeo4j:
    uri: str
    server: LocalNeo4j | None = None  # None: the server of NEO4J_URI, not ours to stop
    info: ServerInfo | None = None
    import_dir: Path | None = None  # the one folder whose files LOAD CSV may read, when there is one
    _previous_password: str | None = None

    @classmethod
    def start(cls, home: Path, *, file_import: bool = False, browser: bool = False) -> "ScratchNeo4j":
        """NEO4J_URI's server, or a local one in `home` (LOAD CSV reading `home/import` only, when
        `file_import`; Neo4j Browser on a free HTTP port, when `browser`)."""
        uri = os.environ.get("NEO4J_URI")
        if uri:
            if not os.environ.get("NEO4J_PASSWORD"):
                raise ServerError("NEO4J_URI is set but NEO4J_PASSWORD is not: export the server's password")
            folder = os.environ.get("NEO4J_IMPORT_DIR")
            return cls(uri, import_dir=Path(folder) if folder else None)
        previous = os.environ.get("NEO4J_PASSWORD")
        os.environ["NEO4J_PASSWORD"] = secrets.token_urlsafe(16)
        import_dir = Path(home) / "import" if file_import else None
        server = LocalNeo4j(Path(home), port=free_port(), file_import=import_dir,
                            http_port=free_port() if browser else None)
        try:
            info = server.up()
        except BaseException:
            _restore_password(previous)
            raise
        return cls(info.bolt_uri, server, info, import_dir, previous)

    @property
    def pid(self) -> int | None:
        return self.info.pid if self.info else None

    def stop(self) -> None:
        """Stop the server this started (NEO4J_URI's is left running) and restore NEO4J_PASSWORD."""
        if self.server is not None:
            self.server.down()
            _restore_password(self._previous_password)
            self.server = None


def _restore_password(previous: str | None) -> None:
    if previous is None:
        os.environ.pop("NEO4J_PASSWORD", None)
    else:
        os.environ["NEO4J_PASSWORD"] = previous


def wipe_neo4j(store: Neo4jGraphStore) -> None:
    """Start from an empty graph: no nodes and no vector indexes (constraints and the other indexes
    stay). Nodes go in batches of 10,000, each its own transaction, so a benchmark-sized graph does
    not have to fit in one."""
    store.delete_all_nodes()
    for row in store.cypher("SHOW VECTOR INDEXES YIELD name RETURN name"):
        store.cypher(f"DROP INDEX `{row['name']}` IF EXISTS", write=True)


def synthetic_graph(base: Path, ingest_options=None, **synth) -> Path:
    """`kgtoolkit.synth.generate(base / "ktps", **synth)` ingested (with `ingest_options`) into the
    embedded store `base / "graph"`; that store's path."""
    from kgtoolkit.graph.embedded import EmbeddedGraphStore
    from kgtoolkit.ingest import IngestOptions, ingest
    from kgtoolkit.synth import generate

    generate(base / "ktps", **synth)
    with EmbeddedGraphStore(base / "graph") as store:
        ingest(base / "ktps", store, ingest_options or IngestOptions())
    return base / "graph"
