"""One contract, two stores: every test here runs against the embedded store and a real Neo4j."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from kgtoolkit.errors import CypherNotSupportedError, GraphStoreError, ReadOnlyQueryError, SchemaError
from kgtoolkit.graph import CypherStore, NodeRow, RelRow, cypher_store, is_neo4j_uri
from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.schema import LABELS, REL_TYPES


def seed_small_graph(store) -> None:
    store.upsert_nodes("Action", [NodeRow("action:push_up", {"name": "push up", "classIndex": 0}),
                                  NodeRow("action:salsa", {"name": "salsa dancing", "classIndex": 1})])
    store.upsert_nodes("Video", [NodeRow(f"video:v{i}", {"name": f"v{i}", "split": "train" if i < 3 else "test",
                                                         "numFrames": 10 + i}) for i in range(5)])
    store.upsert_nodes("BodyMovement", [NodeRow("bm:left_arm/bend", {"name": "left arm bend", "part": "left_arm",
                                                                     "state": "bend", "object": None})])


def test_schema_apply_is_idempotent(store):
    again = store.apply_schema()  # the fixture applied it once already
    assert again.created == 0
    assert again.statements > 0


def test_counts_cover_every_label_and_type(store):
    seed_small_graph(store)
    nodes = store.count_nodes()
    assert set(nodes) == set(LABELS)
    assert nodes["Video"] == 5 and nodes["Action"] == 2 and nodes["BodyMovement"] == 1 and nodes["Object"] == 0
    assert set(store.count_relationships()) == set(REL_TYPES)


def test_upsert_nodes_is_idempotent_and_merges_properties(store):
    seed_small_graph(store)
    seed_small_graph(store)
    assert store.count_nodes()["Video"] == 5
    store.upsert_nodes("Video", [NodeRow("video:v1", {"fps": 25.0, "split": None})])
    v1 = store.get_nodes("Video", ["video:v1", "video:missing"])
    assert list(v1) == ["video:v1"]
    assert v1["video:v1"].props == {"name": "v1", "numFrames": 11, "fps": 25.0}


def test_relationships_merge_and_report_missing_endpoints(store):
    seed_small_graph(store)
    rows = [RelRow(f"video:v{i}", "action:push_up", {"split": "train"}) for i in range(3)]
    rows.append(RelRow("video:nope", "action:push_up", {}))
    rows.append(RelRow("video:v4", "action:nope", {}))
    result = store.upsert_relationships("SHOWS", rows)
    assert result.written == 3
    assert [(r.src, r.dst) for r in result.missing] == [("video:nope", "action:push_up"), ("video:v4", "action:nope")]
    store.upsert_relationships("SHOWS", rows[:3])
    assert store.count_relationships()["SHOWS"] == 3
    store.upsert_relationships("SHOWS", [RelRow("video:v0", "action:push_up", {"split": None, "weight": 2})])
    shows = {(r.src, r.dst): r.props for page in store.iter_relationships("SHOWS") for r in page}
    assert shows[("video:v0", "action:push_up")] == {"weight": 2}
    assert shows[("video:v1", "action:push_up")] == {"split": "train"}


def test_relationships_of_one_node_either_end(store):
    seed_small_graph(store)
    store.upsert_nodes("BodyMovement", [NodeRow("bm:head/nod", {"name": "head nod"})])
    store.upsert_relationships("SHOWS", [RelRow(f"video:v{i}", "action:push_up", {"i": i}) for i in (2, 0, 1)])
    store.upsert_relationships("EXHIBITS", [RelRow("video:v0", m, {"frames": 3}) for m in ("bm:left_arm/bend", "bm:head/nod")])
    into = store.relationships_of("SHOWS", "action:push_up", "dst")
    assert [(r.src, r.dst, dict(r.props)) for r in into] == [(f"video:v{i}", "action:push_up", {"i": i}) for i in range(3)]
    out = store.relationships_of("EXHIBITS", "video:v0", "src")
    assert [(r.src, r.dst) for r in out] == [("video:v0", "bm:head/nod"), ("video:v0", "bm:left_arm/bend")]
    assert store.relationships_of("SHOWS", "action:push_up", "src") == []  # an Action is no SHOWS source
    assert store.relationships_of("SHOWS", "action:salsa", "dst") == []
    with pytest.raises(SchemaError):
        store.relationships_of("SHOWS]->() DETACH DELETE a //", "action:push_up")
    with pytest.raises(SchemaError):
        store.relationships_of("SHOWS", "action:push_up", "src = 1 OR 1")


def test_iteration_is_paged_and_complete(store):
    store.upsert_nodes("Video", [NodeRow(f"video:{i:04d}", {"name": str(i)}) for i in range(1234)])
    store.upsert_nodes("Action", [NodeRow("action:a", {"name": "a"})])
    store.upsert_relationships("SHOWS", [RelRow(f"video:{i:04d}", "action:a", {"i": i}) for i in range(1234)])
    pages = list(store.iter_nodes("Video", page_size=100))
    assert [len(p) for p in pages] == [100] * 12 + [34]
    ids = [n.id for p in pages for n in p]
    assert ids == sorted(ids) and len(set(ids)) == 1234
    rel_pages = list(store.iter_relationships("SHOWS", page_size=500))
    assert max(len(p) for p in rel_pages) <= 500
    assert sorted(r.props["i"] for p in rel_pages for r in p) == list(range(1234))


def test_embeddings_and_exact_nearest(store):
    seed_small_graph(store)
    rng = np.random.default_rng(0)
    ids = [f"video:v{i}" for i in range(5)]
    vectors = rng.normal(size=(5, 16)).astype(np.float32)
    assert store.write_embeddings("Video", ids, vectors, run="run-a") == 5
    store.ensure_vector_index("Video", 16)
    found = store.nearest("Video", vectors[2], k=3)
    assert found[0].id == "video:v2" and found[0].name == "v2"
    assert found[0].score == pytest.approx(1.0, abs=1e-4)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = np.argsort(-(unit @ unit[2]))[:3]
    assert [n.id for n in found] == [ids[i] for i in expected]
    assert [n.score for n in found] == pytest.approx(list((unit @ unit[2])[expected]), abs=1e-4)


def test_embeddings_replace_and_clear_by_run(store):
    seed_small_graph(store)
    ids = [f"video:v{i}" for i in range(5)]
    store.write_embeddings("Video", ids, np.eye(5, 8, dtype=np.float32), run="old")
    store.write_embeddings("Video", ids[:2], np.eye(2, 8, dtype=np.float32), run="new")
    assert store.clear_embeddings("Video", keep_run="new") == 3
    store.ensure_vector_index("Video", 8)
    assert {n.id for n in store.nearest("Video", np.ones(8), k=10)} == set(ids[:2])


def test_embeddings_lists_every_vector_of_a_label_in_id_order(store):
    seed_small_graph(store)
    empty_ids, empty, empty_runs = store.embeddings("Video")
    assert empty_ids == [] and empty_runs == [] and empty.size == 0
    ids = [f"video:v{i}" for i in (3, 0, 4)]
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    store.write_embeddings("Video", ids, vectors, run="run-a")
    store.write_embeddings("Video", ["video:v1"], np.ones((1, 4), dtype=np.float32), run="run-b")
    found_ids, found, runs = store.embeddings("Video")
    assert found_ids == ["video:v0", "video:v1", "video:v3", "video:v4"]
    assert runs == ["run-a", "run-b", "run-a", "run-a"]
    assert found.dtype == np.float32 and found.shape == (4, 4)
    np.testing.assert_allclose(found, np.stack([vectors[1], np.ones(4), vectors[0], vectors[2]]))
    store.write_embeddings("Video", ["video:v2"], np.ones((1, 6), dtype=np.float32), run="run-c")  # torn write-back
    with pytest.raises(GraphStoreError, match="kgtoolkit embed"):
        store.embeddings("Video")


def test_telling_a_neo4j_uri_apart_imports_no_driver():
    code = ("import sys; from kgtoolkit.graph import is_neo4j_uri; "
            "print(is_neo4j_uri('bolt://h:7687'), is_neo4j_uri('neo4j+s://h'), is_neo4j_uri('/tmp/graph'), "
            "'neo4j' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "False", "False"]
    assert is_neo4j_uri("bolt+ssc://h:1") and not is_neo4j_uri("file:///tmp/graph")


def test_hostile_names_never_reach_cypher(store):
    with pytest.raises(SchemaError):
        store.upsert_nodes("Video) DETACH DELETE (n", [NodeRow("x", {})])
    with pytest.raises(SchemaError):
        store.upsert_relationships("SHOWS]->() DETACH DELETE a //", [RelRow("a", "b", {})])
    with pytest.raises(SchemaError):
        store.upsert_nodes("Video", [NodeRow("video:x", {"name} DETACH DELETE n //": 1})])
    with pytest.raises(SchemaError):
        store.upsert_nodes("Video", [NodeRow("video:x", {"nested": {"a": 1}})])
    # a hostile *value* is just data
    store.upsert_nodes("Video", [NodeRow("video:'}) DETACH DELETE n //", {"name": "x'}) MATCH (m) DELETE m"})])
    assert store.count_nodes()["Video"] == 1


def test_cypher_is_neo4j_only_and_read_only_by_default(store):
    seed_small_graph(store)
    if isinstance(store, EmbeddedGraphStore):
        assert not isinstance(store, CypherStore) and not hasattr(store, "cypher")
        with pytest.raises(CypherNotSupportedError, match="Cypher needs Neo4j"):
            cypher_store(store)
        return
    cypher = cypher_store(store)
    assert cypher is store
    rows = cypher.cypher("MATCH (v:Video {split: $split}) RETURN v.id AS id ORDER BY id", {"split": "test"})
    assert rows == [{"id": "video:v3"}, {"id": "video:v4"}]
    with pytest.raises(ReadOnlyQueryError, match="read-only"):
        cypher.cypher("CREATE (:Video {id: 'video:new'})")
    with pytest.raises(ReadOnlyQueryError, match="read-only"):  # a new property key token, as `SET` makes one
        cypher.cypher("MATCH (v:Video) SET v.neverSeenBefore = true")
    assert store.count_nodes()["Video"] == 5
    cypher.cypher("CREATE (:Video {id: 'video:new'})", write=True)
    assert store.count_nodes()["Video"] == 6


def test_get_embedding_round_trips(store):
    seed_small_graph(store)
    vector = np.arange(6, dtype=np.float32) / 10
    store.write_embeddings("Action", ["action:salsa"], vector[None], run="r1")
    got, run = store.get_embedding("Action", "action:salsa")
    assert run == "r1" and np.allclose(got, vector)
    assert store.get_embedding("Action", "action:push_up") is None
    assert store.get_embedding("Video", "video:none") is None
