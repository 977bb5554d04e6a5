"""Embeddings in Neo4j after a real (tiny) training run: vector indexes online, every query of
graph_schema/QUERIES.md returning rows, `similar` agreeing between Neo4j and the embedded store,
`kgtoolkit query` read-only by default, and `classify` on held-out clips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kgtoolkit.classify import ClipResult
from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.ingest import ingest
from kgtoolkit.synth import generate
from kgtoolkit.train.embed import write_run_embeddings

REPO = Path(__file__).resolve().parents[1]
QUERIES = REPO / "graph_schema" / "QUERIES.md"


def kgtoolkit(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "kgtoolkit", *args], capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, neo4j_uri: str):
    """A tiny run trained on the embedded store, its embeddings written to both stores."""
    from conftest import wipe_neo4j
    from kgtoolkit.graph.neo4j_store import Neo4jGraphStore

    base = tmp_path_factory.mktemp("queries")
    generate(base / "ktps", classes=4, train_per_class=5, test_per_class=2, frames=8, size=64, seed=11)
    embedded = base / "graph"
    with EmbeddedGraphStore(embedded) as store:
        ingest(base / "ktps", store)
    kgtoolkit("train", "--graph", str(embedded), "--config", str(REPO / "pipelines" / "tiny-scratch.yaml"),
              "--out", str(base / "run"), "--set", "optim.epochs=2", "--set", "optim.graph_warmup_epochs=1", "--set", "optim.batch_size=4",
              "--set", "data.workers=0", "--set", "data.frames=4")
    with Neo4jGraphStore(neo4j_uri) as neo4j:
        wipe_neo4j(neo4j)
        ingest(base / "ktps", neo4j)
        write_run_embeddings(base / "run", neo4j)
    return {"base": base, "run": base / "run", "embedded": embedded, "uri": neo4j_uri}


def _queries() -> list[tuple[str, str, dict]]:
    from kgtoolkit.server.browser import cookbook_queries  # the parser Neo4j Browser's guide is built with

    return [(q.title, q.cypher, q.params) for q in cookbook_queries(QUERIES.read_text())]


def test_vector_indexes_are_online(trained):
    rows = json.loads(kgtoolkit("query", "SHOW VECTOR INDEXES YIELD name, state RETURN name, state ORDER BY name",
                                "--graph", trained["uri"], "--format", "json").stdout)
    assert rows == [{"name": n, "state": "ONLINE"} for n in ("action_embedding", "action_shows_key",
                                                             "body_movement_embedding", "body_movement_exhibits_key",
                                                             "video_embedding")]


def test_every_cookbook_query_returns_rows(trained):
    from kgtoolkit.graph.neo4j_store import Neo4jGraphStore

    queries = _queries()
    assert len(queries) == 8
    with Neo4jGraphStore(trained["uri"]) as store:
        video = store.cypher("MATCH (v:Video {split: 'test'}) RETURN v.id AS id ORDER BY id LIMIT 1")[0]["id"]
        pair = store.cypher(
            "MATCH (a:Action)-[:INVOLVES]->(:BodyMovement)<-[:INVOLVES]-(b:Action) WHERE a.id < b.id "
            "RETURN a.id AS a, b.id AS b ORDER BY a, b LIMIT 1")[0]
        movement = store.cypher("MATCH (m:BodyMovement) RETURN m.id AS id ORDER BY id LIMIT 1")[0]["id"]
        values = {"$VIDEO": video, "$ACTION": pair["a"], "$OTHER_ACTION": pair["b"], "$MOVEMENT": movement}
        for title, query, params in queries:
            params = {k: values.get(v, v) for k, v in params.items()}
            rows = store.cypher(query, params)
            assert rows, title


def test_the_vector_index_query_of_a_videos_actions_agrees_with_classify(trained):
    """Cookbook: "A stored video's actions, ranked as classify ranks them", against a real Neo4j,
    gives classify's top-5 on the same run, in the same order, with the same S_output."""
    from kgtoolkit.graph.neo4j_store import Neo4jGraphStore

    query = next(q for title, q, _ in _queries() if title.startswith("A stored video's actions"))
    movements_query = next(q for title, q, _ in _queries() if title.startswith("The body movements a stored video"))
    with Neo4jGraphStore(trained["uri"]) as store:
        videos = store.cypher("MATCH (v:Video {split: 'test'}) RETURN v.id AS id, v.path AS path ORDER BY id")
        classified = json.loads(kgtoolkit("classify", *[v["path"] for v in videos], "--run", str(trained["run"]),
                                          "--graph", trained["uri"], "--json", "-k", "5").stdout)
        for video, clip in zip(videos, classified):
            rows = store.cypher(query, {"video": video["id"], "k": 5})
            assert [r["id"] for r in rows] == [t["id"] for t in clip["top"]]
            assert [r["s_output"] for r in rows] == pytest.approx([t["score"] for t in clip["top"]], abs=2e-4)
            shown = {r["movement"]: r["score"] for r in store.cypher(movements_query, {"video": video["id"], "k": 50})}
            for m in clip["movements"]:
                assert shown[m["movement"]] == pytest.approx(m["similarity"], abs=2e-4)


def test_cli_query_runs_the_cookbook_and_refuses_writes(trained):
    out = kgtoolkit("query", "MATCH (a:Action {id: $id}) RETURN a.name AS name", "--param", "id=action:squat",
                    "--graph", trained["uri"], "--format", "csv").stdout
    assert out.splitlines() == ["name", "squat"]
    refused = kgtoolkit("query", "MATCH (a:Action) SET a.hacked = true", "--graph", trained["uri"], check=False)
    assert refused.returncode != 0 and "read-only" in refused.stderr and "--write" in refused.stderr
    assert "Traceback" not in refused.stderr
    broken = kgtoolkit("query", "MATCH (a:Action RETURN a", "--graph", trained["uri"], check=False)
    assert broken.returncode != 0 and len(broken.stderr.strip().splitlines()) <= 2
    on_embedded = kgtoolkit("query", "RETURN 1", "--graph", str(trained["embedded"]), check=False)
    assert on_embedded.returncode == 2 and "Cypher needs Neo4j" in on_embedded.stderr


@pytest.mark.parametrize("node,label", [("action:squat", None), ("action:squat", "BodyMovement"),
                                        ("movement:left_leg/bend", None)])
def test_similar_agrees_between_neo4j_and_the_embedded_store(trained, node, label):
    args = ["similar", node, "-k", "5", "--json"] + (["--label", label] if label else [])
    neo4j = json.loads(kgtoolkit(*args, "--graph", trained["uri"]).stdout)
    embedded = json.loads(kgtoolkit(*args, "--graph", str(trained["embedded"])).stdout)
    assert [n["id"] for n in neo4j] == [n["id"] for n in embedded]
    assert [n["score"] for n in neo4j] == pytest.approx([n["score"] for n in embedded], abs=1e-4)


def test_classify_json_follows_its_schema_and_reports_bad_clips(trained, tmp_path: Path):
    clips = sorted((trained["base"] / "ktps" / "test_videos").rglob("*.mp4"))
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    result = kgtoolkit("classify", *map(str, clips), str(bad), str(tmp_path / "missing.mp4"), "--run",
                       str(trained["run"]), "--graph", str(trained["embedded"]), "--json", "-k", "4", check=False)
    assert result.returncode == 3
    parsed = [ClipResult.model_validate(item) for item in json.loads(result.stdout)]
    assert [p.clip for p in parsed] == [*map(str, clips), str(bad), str(tmp_path / "missing.mp4")]
    good, failed = parsed[:-2], parsed[-2:]
    assert all(p.error is None and len(p.top) == 4 for p in good)
    assert all(p.top[0].score >= p.top[-1].score for p in good)
    for p in good:  # S_output is the fusion of its parts
        for t in p.top:
            assert t.score == pytest.approx(0.5 * t.s_mm + 0.5 * t.s_tri, abs=2e-4)
    # every clip's true action is among the 4 of 4 classes, so check something stronger: the movements
    # offered as support are linked to the top action in the graph
    with EmbeddedGraphStore(trained["embedded"]) as store:
        involves = {(r.src, r.dst) for page in store.iter_relationships("INVOLVES") for r in page}
    for p in good:
        assert all((p.top[0].id, m.id) in involves for m in p.movements)
    assert "not a readable video" in failed[0].error and failed[1].error == "no such file"


def test_add_action_through_the_graph_then_classify_scores_it(trained, tmp_path: Path):
    """`add-action` on both stores (twice: nothing duplicated, an unknown body part refused by name);
    `classify --movement-weight` then scores the new action through its movements, no retraining."""
    import shutil

    from kgtoolkit.graph.neo4j_store import Neo4jGraphStore

    graph = tmp_path / "graph"
    shutil.copytree(trained["embedded"], graph)
    with EmbeddedGraphStore(graph) as store:
        involves = sorted((r.src, r.dst) for page in store.iter_relationships("INVOLVES") for r in page)
        names = {n.id: n.props["name"] for page in store.iter_nodes("BodyMovement") for n in page}
    first_action = involves[0][0]
    known = [names[m] for a, m in involves if a == first_action][:2]
    movements = [*known, "left foot tap"]  # two the graph has, one new to it
    args = ["add-action", "tap dance", *[x for m in movements for x in ("--movement", m)]]
    for where in (str(graph), trained["uri"]):
        before = None
        for _ in range(2):
            out = kgtoolkit(*args, "--graph", where).stdout
            assert "action:tap_dance" in out and "3 movements" in out
            with (EmbeddedGraphStore(graph) if where == str(graph) else Neo4jGraphStore(where)) as store:
                counts = (store.count_nodes(), store.count_relationships())
                linked = {r.dst for page in store.iter_relationships("INVOLVES") for r in page if r.src == "action:tap_dance"}
            assert linked == {"movement:left_foot/tap", *(m for m, n in names.items() if n in known)}
            assert before is None or counts == before  # the second time changes nothing
            before = counts
    bad = kgtoolkit("add-action", "x", "--movement", "left wing flap", "--graph", str(graph), check=False)
    assert bad.returncode != 0 and "left wing flap" in bad.stderr and "Traceback" not in bad.stderr

    clips = sorted((trained["base"] / "ktps" / "test_videos").rglob("*.mp4"))[:2]
    w = 0.5
    result = kgtoolkit("classify", *map(str, clips), "--run", str(trained["run"]), "--graph", str(graph),
                       "--json", "-k", "5", "--movement-weight", str(w))
    for clip in [ClipResult.model_validate(item) for item in json.loads(result.stdout)]:
        assert "tap dance" in [t.action for t in clip.top]  # 5 actions now: the new one is scored
        for t in clip.top:
            assert t.s_kg is not None
            assert t.score == pytest.approx((1 - w) * (0.5 * t.s_mm + 0.5 * t.s_tri) + w * t.s_kg, abs=3e-4)
    # --calibrate: the trained actions keep the paper's score; the new one's S_kg is put on their scale,
    # clip by clip (their mean and spread of S_kg and of S_output), then mixed in
    result = kgtoolkit("classify", *map(str, clips), "--run", str(trained["run"]), "--graph", str(graph),
                       "--json", "-k", "5", "--movement-weight", str(w), "--calibrate")
    for clip in [ClipResult.model_validate(item) for item in json.loads(result.stdout)]:
        old = [t for t in clip.top if t.action != "tap dance"]
        new = next(t for t in clip.top if t.action == "tap dance")
        assert len(old) == 4 and all(t.score == pytest.approx(0.5 * t.s_mm + 0.5 * t.s_tri, abs=2e-4) for t in old)
        kg, out = torch.tensor([t.s_kg for t in old]), torch.tensor([0.5 * t.s_mm + 0.5 * t.s_tri for t in old])
        on_scale = out.mean() + out.std() * (new.s_kg - kg.mean()) / kg.std()
        assert new.score == pytest.approx((1 - w) * (0.5 * new.s_mm + 0.5 * new.s_tri) + w * float(on_scale), abs=2e-3)
    with Neo4jGraphStore(trained["uri"]) as store:  # leave the shared server as the other tests expect
        store.cypher("MATCH (n) WHERE n.id IN $ids DETACH DELETE n", {"ids": ["action:tap_dance", "movement:left_foot/tap"]},
                     write=True)
