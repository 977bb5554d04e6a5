"""Shared fixtures. The Neo4j tests talk to a real Neo4j 5.26 over Bolt: the one NEO4J_URI names
(with NEO4J_PASSWORD), or else one this session starts from Maven Central artifacts on Java 17
(`kgtoolkit.server.local.LocalNeo4j`) on a free port, and stops at the end. A Neo4j that cannot
be had is a test failure, never a skip. The server this session starts lets LOAD CSV read files from
its home's import/ folder only (`neo4j_import_dir`); a server of NEO4J_URI names its folder in
NEO4J_IMPORT_DIR. The server this session starts also serves Neo4j Browser on a free HTTP port
(`neo4j_browser_url`); a server of NEO4J_URI names its Browser in NEO4J_BROWSER_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.graph.neo4j_store import Neo4jGraphStore
from kgtoolkit.schema import LABELS, REL_TYPES
from kgtoolkit.testing import ScratchNeo4j, wipe_neo4j  # noqa: F401  (wipe_neo4j: imported from here by tests)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RELEASE_DIR = SHARED / "data" / "kg_clip_release"


@pytest.fixture(scope="session")
def neo4j_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:  # the one folder LOAD CSV may read: the home's import/; Neo4j Browser on a free HTTP port
        neo4j = ScratchNeo4j.start(tmp_path_factory.mktemp("neo4j-home"), file_import=True, browser=True)
    except Exception as error:  # noqa: BLE001 - reported as a failure with its cause
        pytest.fail(f"could not start the local Neo4j for the tests: {error}")
    if neo4j.server is None:  # NEO4J_URI's own server
        yield neo4j.uri
        return
    print(f"\n[tests] Neo4j {neo4j.info.version} started at {neo4j.uri} (pid {neo4j.pid})")
    os.environ["NEO4J_URI"] = neo4j.uri
    os.environ["NEO4J_IMPORT_DIR"] = str(neo4j.import_dir)
    os.environ["NEO4J_BROWSER_URL"] = neo4j.info.browser_url
    try:
        yield neo4j.uri
    finally:
        neo4j.stop()
        for name in ("NEO4J_URI", "NEO4J_IMPORT_DIR", "NEO4J_BROWSER_URL"):
            os.environ.pop(name, None)


def _own_server_setting(name: str, what: str) -> str:
    """A setting the suite's own server exports; with NEO4J_URI naming another server, the user sets it."""
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"NEO4J_URI names a server of your own: set {name} to {what}")
    return value


@pytest.fixture(scope="session")
def neo4j_import_dir(neo4j_uri: str) -> Path:
    """The one folder whose files the test server's LOAD CSV may read."""
    return Path(_own_server_setting("NEO4J_IMPORT_DIR", "its import folder (server.directories.import, with "
                                                         "dbms.security.allow_csv_import_from_file_urls=true)"))


@pytest.fixture(scope="session")
def neo4j_browser_url(neo4j_uri: str) -> str:
    """Neo4j Browser of the test server (http://127.0.0.1:PORT/browser/)."""
    return _own_server_setting("NEO4J_BROWSER_URL", "its Neo4j Browser (http://HOST:PORT/browser/)")


def snapshot(store) -> dict:
    """Every node and every relationship of the graph, with its properties."""
    return {
        "nodes": {label: {n.id: dict(n.props) for page in store.iter_nodes(label) for n in page} for label in LABELS},
        "relationships": {rel: {(r.src, r.dst): dict(r.props) for page in store.iter_relationships(rel) for r in page}
                          for rel in REL_TYPES},
    }


@pytest.fixture
def neo4j_store(neo4j_uri: str) -> Iterator[Neo4jGraphStore]:
    store = Neo4jGraphStore(neo4j_uri)
    wipe_neo4j(store)
    store.apply_schema()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def embedded_store(tmp_path: Path) -> Iterator[EmbeddedGraphStore]:
    store = EmbeddedGraphStore(tmp_path / "graph")
    store.apply_schema()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(params=["embedded", "neo4j"])
def store(request: pytest.FixtureRequest):
    """The contract suite's store: each test runs once per implementation."""
    return request.getfixturevalue(f"{request.param}_store")
