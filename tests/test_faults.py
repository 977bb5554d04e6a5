"""Faults survived: an ingest killed with SIGKILL half-way, the Neo4j server stopped during an
ingest, an embedding write-back interrupted, two ingests at once, and fuzzed frame annotations.

After each fault, running the same command again ends with the graph of one clean ingest: the same
nodes and relationships with the same properties, nothing duplicated. The stores are real (the
session's Neo4j, a Neo4j of this module's own that a test stops and starts, the embedded store);
where a fault is injected in-process, a thin wrapper around the real store raises it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import snapshot, wipe_neo4j
from helpers import untrained_run
from kgtoolkit.errors import GraphStoreError
from kgtoolkit.graph.embedded import DB_FILE, EmbeddedGraphStore
from kgtoolkit.graph.neo4j_store import Neo4jGraphStore
from kgtoolkit.ingest import IngestOptions, ingest
from kgtoolkit.schema import EMBEDDED_LABELS, EMBEDDING, LABELS
from kgtoolkit.server.local import LocalNeo4j, free_port
from kgtoolkit.synth import generate
from kgtoolkit.vocab import BODY_PARTS

REPO = Path(__file__).resolve().parents[1]
KGTOOLKIT = [sys.executable, "-m", "kgtoolkit"]

# `kgtoolkit` itself, except that it kills itself with SIGKILL inside its Nth embedded-store
# transaction: after the batch is written, before COMMIT (the worst moment for a writer).
SIGKILL_INSIDE_TRANSACTION = textwrap.dedent(
    """
    import os, signal, sys
    from kgtoolkit.cli import main
    from kgtoolkit.graph import embedded

    kill_at = int(sys.argv.pop(1))
    seen = 0
    close = embedded._Transaction.__exit__

    def close_or_die(self, *exc):
        global seen
        seen += 1
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return close(self, *exc)

    embedded._Transaction.__exit__ = close_or_die
    sys.argv[0] = "kgtoolkit"
    main()
    """
)


# --- shared data and helpers -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults") / "ktps"
    generate(root, classes=3, train_per_class=4, test_per_class=1, frames=6, size=48, seed=21)
    return root


@pytest.fixture(scope="module")
def clean(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The graph of one clean ingest (embedded; a clean Neo4j ingest is the same graph, which
    tests/test_ingest_ktps.py checks and the reruns below confirm)."""
    with EmbeddedGraphStore(tmp_path_factory.mktemp("clean") / "graph") as store:
        report = ingest(dataset, store, IngestOptions(workers=1))
        assert report.rejected == []
        return snapshot(store)


def start_ingest(dataset: Path, graph: str, *extra: str, env: dict | None = None,
                 prefix: list[str] | None = None) -> subprocess.Popen:
    command = (prefix or KGTOOLKIT) + ["ingest", str(dataset), "--graph", graph, "--workers", "1", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(process: subprocess.Popen) -> tuple[str, str]:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, f"exit {process.returncode}\n{out}\n{err}"
    assert "Traceback" not in err
    return out, err


def video_count(store) -> int:
    return store.count_nodes()["Video"]


def wait_for_videos(store, process: subprocess.Popen, at_least: int) -> int:
    """Poll the graph until the running ingest has written `at_least` videos."""
    while process.poll() is None:
        count = video_count(store)
        if count >= at_least:
            return count
        time.sleep(0.02)
    out, err = process.communicate()
    pytest.fail(f"the ingest ended (exit {process.returncode}) before it wrote {at_least} videos:\n{out}\n{err}")


def assert_no_duplicate_ids(store: Neo4jGraphStore) -> None:
    duplicates = store.cypher("MATCH (n) WITH labels(n) AS labels, n.id AS id, count(*) AS copies "
                              "WHERE copies > 1 RETURN labels, id, copies LIMIT 5")
    assert duplicates == []
    duplicate_edges = store.cypher("MATCH (a)-[r]->(b) WITH a, b, type(r) AS type, count(*) AS copies "
                                   "WHERE copies > 1 RETURN a.id AS a, type, b.id AS b LIMIT 5")
    assert duplicate_edges == []


# --- 1. SIGKILL half-way, then the same ingest again ------------------------------------------------
@pytest.mark.neo4j
def test_ingest_killed_half_way_then_rerun_equals_one_clean_ingest_on_neo4j(dataset, clean, neo4j_store):
    total = len(clean["nodes"]["Video"])
    process = start_ingest(dataset, neo4j_store.uri, "--batch-size", "4")  # many small transactions
    wait_for_videos(neo4j_store, process, at_least=total // 3)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert 0 < video_count(neo4j_store) < total, "the kill must land half-way"
    finish(start_ingest(dataset, neo4j_store.uri))
    assert snapshot(neo4j_store) == clean
    assert_no_duplicate_ids(neo4j_store)


def test_ingest_killed_inside_a_transaction_then_rerun_equals_one_clean_ingest_embedded(dataset, clean, tmp_path):
    graph = tmp_path / "graph"
    total = len(clean["nodes"]["Video"])
    killed = start_ingest(dataset, str(graph), "--batch-size", "4",
                          prefix=[sys.executable, "-c", SIGKILL_INSIDE_TRANSACTION, "12"])
    killed.communicate(timeout=600)
    assert killed.returncode == -signal.SIGKILL
    import sqlite3

    with sqlite3.connect(graph / DB_FILE) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with EmbeddedGraphStore(graph) as store:
        assert 0 < video_count(store) < total, "the kill must land half-way"
    finish(start_ingest(dataset, str(graph)))
    with EmbeddedGraphStore(graph) as store:
        assert snapshot(store) == clean


# --- 2. the Neo4j server stopped during an ingest -------------------------------------------------------
@pytest.fixture(scope="module")
def own_neo4j(tmp_path_factory: pytest.TempPathFactory, neo4j_uri: str):
    """A Neo4j of this module's own, on its own port, that a test may stop and start again (same
    password as the session's server: NEO4J_PASSWORD)."""
    server = LocalNeo4j(tmp_path_factory.mktemp("own-neo4j"), port=free_port())
    try:
        server.up()
    except Exception as error:  # noqa: BLE001 - reported as a failure with its cause
        pytest.fail(f"could not start a second local Neo4j: {error}")
    try:
        yield server
    finally:
        server.down()


@pytest.mark.neo4j
def test_neo4j_stopped_during_an_ingest_then_rerun_completes_the_graph(dataset, clean, own_neo4j):
    uri = own_neo4j.bolt_uri
    total = len(clean["nodes"]["Video"])
    with Neo4jGraphStore(uri) as store:
        wipe_neo4j(store)
    env = {**os.environ, "KGTOOLKIT_NEO4J_RETRY_SECONDS": "2"}
    process = start_ingest(dataset, uri, "--batch-size", "4", env=env)
    with Neo4jGraphStore(uri) as store:
        wait_for_videos(store, process, at_least=3)
    own_neo4j.down()  # SIGTERM: Neo4j shuts down, rolling back what is in flight
    out, err = process.communicate(timeout=600)

    assert process.returncode == 1, f"{out}\n{err}"
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith(f"error: Neo4j at {uri} became unavailable and did not come back within 2 s "
                                "of retries (KGTOOLKIT_NEO4J_RETRY_SECONDS)"), err
    assert "run the command again" in lines[-1]
    retries = [line for line in lines[:-1] if "retrying in" in line]
    assert retries and all(line.startswith("Neo4j: ") for line in retries), err  # one line per retry

    own_neo4j.up()
    with Neo4jGraphStore(uri) as store:
        assert 0 < video_count(store) < total  # what committed before the stop is there, the rest is not
    finish(start_ingest(dataset, uri, env=env))
    with Neo4jGraphStore(uri) as store:
        assert snapshot(store) == clean
        assert_no_duplicate_ids(store)


# --- 3. the embedding write-back interrupted, then run again ----------------------------------------------
class WriteFailsAt:
    """The real store, except that its `write_embeddings` call number `fail_at` raises (the calls
    before it really write)."""

    def __init__(self, store, fail_at: int):
        self._store = store
        self._fail_at = fail_at
        self.calls = 0

    def write_embeddings(self, label, ids, vectors, run, prop=EMBEDDING):
        self.calls += 1
        if self.calls == self._fail_at:
            raise GraphStoreError("injected fault: the connection dropped")
        return self._store.write_embeddings(label, ids, vectors, run, prop)

    def __getattr__(self, name):
        return getattr(self._store, name)


def embedding_runs(store) -> dict[str, dict[str, tuple[str, int] | None]]:
    """label -> node id -> (run, dimension) of its embedding, or None."""
    runs: dict[str, dict[str, tuple[str, int] | None]] = {}
    for label in EMBEDDED_LABELS:
        runs[label] = {}
        for page in store.iter_nodes(label):
            for node in page:
                found = store.get_embedding(label, node.id)
                runs[label][node.id] = (found[1], len(found[0])) if found else None
    return runs


def test_embedding_write_back_interrupted_then_rerun_leaves_only_the_new_run(store, dataset, monkeypatch, tmp_path):
    from kgtoolkit.train import embed

    ingest(dataset, store, IngestOptions(workers=1))
    rng = np.random.default_rng(0)
    for label in EMBEDDED_LABELS:  # an older run, of another dimension, on every node
        ids = [n.id for page in store.iter_nodes(label) for n in page]
        store.write_embeddings(label, ids, rng.normal(size=(len(ids), 16)), run="old-run")
        store.ensure_vector_index(label, 16)
    new = untrained_run(tmp_path, "new-run")
    dims = new.model.embed_dim
    monkeypatch.setattr(embed, "BATCH", 4)
    # calls: Action (3 nodes) 1, then BodyMovement in batches of 4: the 3rd call is the 2nd movement batch
    with pytest.raises(GraphStoreError, match="injected fault"):
        embed.write_run_embeddings(Path("unused"), WriteFailsAt(store, fail_at=3), run=new)

    torn = embedding_runs(store)
    assert set(torn["Action"].values()) == {("new-run", dims)}
    assert set(torn["BodyMovement"].values()) == {("new-run", dims), ("old-run", 16)}, "the fault lands mid-label"
    assert set(torn["Video"].values()) == {("old-run", 16)}
    query = store.get_embedding("BodyMovement", next(i for i, v in torn["BodyMovement"].items() if v[0] == "new-run"))[0]
    try:  # meanwhile a search either answers or says what is wrong, in one line
        store.nearest("BodyMovement", query, k=3)
    except GraphStoreError as error:
        assert "\n" not in str(error)

    written = embed.write_run_embeddings(Path("unused"), store, run=new)
    final = embedding_runs(store)
    for label in EMBEDDED_LABELS:
        assert written[label] == len(final[label]) > 0
        assert set(final[label].values()) == {("new-run", dims)}, label
        some_id = sorted(final[label])[0]
        vector, _ = store.get_embedding(label, some_id)
        best = store.nearest(label, vector, k=2)[0]
        assert best.score == pytest.approx(1.0, abs=1e-4)
    # the two-tower run's relation-space vectors are there too, each with its run
    for label, prop in (("Action", "showsKey"), ("BodyMovement", "exhibitsKey"), ("Video", "showsQuery")):
        assert {store.get_embedding(label, i, prop)[1] for i in final[label]} == {"new-run"}, (label, prop)


def test_embedding_write_back_names_videos_that_no_longer_decode_and_writes_the_rest(store, tmp_path):
    from kgtoolkit.train import embed

    root = tmp_path / "ktps"
    generate(root, classes=3, train_per_class=2, test_per_class=1, frames=6, size=48, seed=5)
    ingest(root, store, IngestOptions(workers=1))
    videos = sorted(p.resolve() for p in root.rglob("*.mp4"))
    gone, broken = videos[0], videos[1]
    gone.unlink()
    broken.write_bytes(b"\x00not a video any more" * 8)

    written = embed.write_run_embeddings(Path("unused"), store, run=untrained_run(tmp_path, "after-damage"))
    assert written["Video"] == len(videos) - 2
    assert len(written.skipped) == 2
    assert f"{gone}: no such file" in written.skipped
    assert any(p.startswith(f"{broken}: cannot decode: ") and "\n" not in p for p in written.skipped)
    runs = embedding_runs(store)["Video"]
    assert sum(v is not None for v in runs.values()) == len(videos) - 2
    assert "2 videos could not be decoded" in written.summary()


# --- 4. two ingests of the same data at once ------------------------------------------------------------------
def drop_schema(store: Neo4jGraphStore) -> None:
    """Back to a fresh database's schema: no constraints, no range indexes."""
    schema = store.cypher("SHOW CONSTRAINTS YIELD name RETURN name")
    schema += store.cypher("SHOW INDEXES YIELD name, type WHERE type = 'RANGE' RETURN name")
    for row in schema:  # DDL takes no parameters; the names are the server's own, from SHOW
        store.cypher(f"DROP CONSTRAINT `{row['name']}` IF EXISTS", write=True)
        store.cypher(f"DROP INDEX `{row['name']}` IF EXISTS", write=True)


@pytest.mark.neo4j
def test_two_clients_creating_the_schema_at_the_same_moment_both_succeed(neo4j_store, neo4j_uri):
    """Schema statements of two clients deadlock on the label lock; the deadlock is retried."""
    import threading

    try:
        for _ in range(2):
            drop_schema(neo4j_store)
            clients = [Neo4jGraphStore(neo4j_uri) for _ in range(2)]
            start = threading.Barrier(len(clients))
            results: list = []

            def apply(client: Neo4jGraphStore) -> None:
                start.wait()
                try:
                    results.append(client.apply_schema())
                except Exception as error:  # noqa: BLE001 - collected, asserted below
                    results.append(error)
                finally:
                    client.close()

            threads = [threading.Thread(target=apply, args=(client,)) for client in clients]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not [r for r in results if isinstance(r, Exception)], results
            assert sum(r.created for r in results) == results[0].statements  # each rule created once
    finally:
        neo4j_store.apply_schema()


@pytest.mark.neo4j
def test_two_ingests_at_once_into_a_fresh_neo4j_give_one_clean_graph(dataset, clean, neo4j_store):
    try:
        drop_schema(neo4j_store)  # a fresh database: both processes race to create the schema too
        first = start_ingest(dataset, neo4j_store.uri, "--batch-size", "3")
        second = start_ingest(dataset, neo4j_store.uri, "--batch-size", "5")
        finish(first)
        finish(second)
        assert snapshot(neo4j_store) == clean
        assert_no_duplicate_ids(neo4j_store)
        constraints = neo4j_store.cypher("SHOW CONSTRAINTS YIELD labelsOrTypes, properties, type "
                                         "RETURN labelsOrTypes[0] AS label, properties, type")
        assert {c["label"] for c in constraints if c["properties"] == ["id"] and c["type"] == "UNIQUENESS"} \
            == set(LABELS)
    finally:
        neo4j_store.apply_schema()


# --- 5. fuzzed frame annotations -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzz_dataset(tmp_path_factory: pytest.TempPathFactory):
    """A tiny dataset, its frame files, and the EXHIBITS of each video after a clean ingest."""
    root = tmp_path_factory.mktemp("fuzz") / "ktps"
    generate(root, classes=2, train_per_class=3, test_per_class=1, frames=4, size=32, seed=5)
    with EmbeddedGraphStore(tmp_path_factory.mktemp("fuzz-clean") / "graph") as store:
        report = ingest(root, store, IngestOptions(workers=1))
        assert report.rejected == []
        exhibits = _exhibits_by_video(store)
    frames = sorted(root.glob("train_annotations/*/*/*/img_*.json"))
    return root, frames, exhibits, report.nodes["Video"]


def _exhibits_by_video(store) -> dict[str, dict]:
    by_video: dict[str, dict] = {}
    for page in store.iter_relationships("EXHIBITS"):
        for r in page:
            by_video.setdefault(r.src, {})[r.dst] = r.props
    return by_video


def _is_frame_document(data: bytes) -> bool:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("humans"), list)


WEIRD_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["NaN", "Infinity", "-1e999", "\ud800", "a\x00b", "\u202e", "\u200b", "[/red]", "a/b",
                     "x` }) DETACH DELETE n //", "é" * 150, "🏋️ lift", " \t\n "]),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**30) | st.floats() | WEIRD_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WEIRD_TEXT, inner, max_size=3),
    max_leaves=8,
)
GOOD_PART = st.fixed_dictionaries({"name": st.sampled_from(BODY_PARTS), "verb": st.sampled_from(["hold", "bend", "step on"])})
BAD_PART = st.one_of(
    JSON_VALUES.filter(lambda v: not isinstance(v, dict)),
    st.fixed_dictionaries({"name": JSON_VALUES.filter(lambda v: v not in BODY_PARTS), "verb": st.just("hold")}),
    st.fixed_dictionaries({"name": st.sampled_from(BODY_PARTS),
                           "verb": JSON_VALUES.filter(lambda v: not isinstance(v, str) or not v.strip())}),
    st.fixed_dictionaries({"name": st.sampled_from(BODY_PARTS), "verb": st.just("hold"),
                           "obj_class": JSON_VALUES.filter(lambda v: v is not None and (not isinstance(v, str) or not v.strip()))}),
    st.fixed_dictionaries({"name": st.sampled_from(BODY_PARTS), "verb": st.just("hold"),
                           "box": JSON_VALUES.filter(lambda v: v is not None)}).filter(
        lambda p: not (isinstance(p["box"], list) and len(p["box"]) == 4
                       and all(type(x) in (int, float) for x in p["box"]))),
    st.fixed_dictionaries({"name": st.sampled_from(BODY_PARTS),
                           "verb": st.sampled_from(["\ud800", "a\x00b", "a/b", "x" * 101, "\u200b", "\u202egnirts"])}),
)
BAD_DOCUMENT = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps(v).encode()).filter(lambda b: not _is_frame_document(b)),
    st.tuples(st.lists(GOOD_PART, max_size=2), BAD_PART).map(
        lambda t: json.dumps({"humans": [{"box": [1, 2, 3, 4], "parts": [*t[0], t[1]]}]}).encode()),
    JSON_VALUES.filter(lambda v: not isinstance(v, dict)).map(lambda h: json.dumps({"humans": [h]}).encode()),
    JSON_VALUES.filter(lambda v: not isinstance(v, (list, dict))).map(  # parts keyed by name are read too
        lambda p: json.dumps({"humans": [{"parts": p}]}).encode()),
    st.sampled_from([b"", b"  \n", b"{", b'{"humans": [', b"\xff\xfe\x00",
                     b"NaN", b"[" * 50_000, b"1" * 5000, b'{"humans": NaN}', b'{"humans": {"0": []}}',
                     b'\xef\xbb\xbf["a UTF-8 BOM before a list"]']),
    st.binary(max_size=40).filter(lambda b: not _is_frame_document(b)),
)
# Anything at all where the annotations would be: good, bad or in between (no claim on the report).
WILD_DOCUMENT = st.tuples(st.sampled_from(BODY_PARTS), WEIRD_TEXT, st.none() | WEIRD_TEXT,
                          st.none() | st.just([0, 0.5, 1e999, 10]) | JSON_VALUES).map(
    lambda t: json.dumps({"humans": [{"parts": [{"name": t[0], "verb": t[1], "obj_class": t[2], "box": t[3]}]}]},
                         allow_nan=True).encode())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_fuzzed_frame_annotations_are_reported_by_name_and_the_rest_ingested(fuzz_dataset, data):
    root, frames, clean_exhibits, videos = fuzz_dataset
    chosen = data.draw(st.lists(st.sampled_from(frames), min_size=1, max_size=3, unique=True), label="files")
    surely_bad = {path for path in chosen if data.draw(st.booleans(), label=f"{path.name} bad")}
    contents = {path: data.draw(BAD_DOCUMENT if path in surely_bad else WILD_DOCUMENT, label=path.name)
                for path in chosen}
    originals = {path: path.read_bytes() for path in chosen}
    try:
        for path, content in contents.items():
            path.write_bytes(content)
        with tempfile.TemporaryDirectory() as graph, EmbeddedGraphStore(graph) as store:
            report = ingest(root, store, IngestOptions(workers=1))
            exhibits = _exhibits_by_video(store)
            movement_names = [n.props["name"] for page in store.iter_nodes("BodyMovement") for n in page]
    finally:
        for path, content in originals.items():
            path.write_bytes(content)

    json.dumps(report.to_json(), ensure_ascii=False).encode("utf-8")  # the report can be written as UTF-8
    reported = {p.path for p in report.errors}
    for path in surely_bad:
        assert str(path.relative_to(root)) in reported, (path, contents[path][:200], report.rejected)
    assert report.nodes["Video"] == videos  # every video is still there
    touched = {f"video:{p.parts[-4]}/{p.parts[-3]}" for p in chosen}
    for video, edges in clean_exhibits.items():
        if video not in touched:
            assert exhibits.get(video) == edges, video  # untouched videos are ingested as before
    for name in movement_names:  # what was accepted is text any store and terminal can hold
        assert name.isprintable() and len(name) < 300
        name.encode("utf-8")


@settings(max_examples=30, deadline=None)
@given(part=BAD_PART, good=st.lists(GOOD_PART, max_size=2))
def test_a_bad_part_entry_is_always_refused_by_the_parser(part, good):
    """The claim behind "each bad file is reported": every generated bad entry is refused, with a reason."""
    from kgtoolkit.ingest.frames import parse_frame

    doc = json.dumps({"humans": [{"box": [1, 2, 3, 4], "parts": [*good, part]}]}).encode()
    movements, problems, outside = parse_frame(doc)
    assert len(problems) == 1 and problems[0].startswith("humans[0].parts[") and outside == []
    assert len(movements) <= len(good)


# --- odd but valid text reaches Neo4j intact; text Neo4j cannot hold is refused by name --------------------------
@pytest.mark.neo4j
def test_unicode_movements_reach_neo4j_intact_and_unencodable_text_is_reported(dataset, tmp_path, neo4j_store):
    import shutil

    root = tmp_path / "ktps"
    shutil.copytree(dataset, root)
    folder = sorted(root.glob("train_annotations/*/*/*"))[0]
    fine = {"name": "right_hand", "verb": "agarrar", "obj_class": "把握 🏋 barra"}
    refused = {"name": "left_hand", "verb": "\ud800hold"}  # an unpaired surrogate: no UTF-8 encoding exists
    control = {"name": "head", "verb": "nod", "obj_class": "ball\x07"}
    (folder / "img_00002.json").write_text(json.dumps({"humans": [{"parts": [fine, refused, control]}]}))
    report = ingest(root, neo4j_store, IngestOptions(workers=1))
    rel = str((folder / "img_00002.json").relative_to(root))
    reasons = [p.reason for p in report.errors if p.path == rel]
    assert len(reasons) == 2 and all("unpaired surrogate" in r for r in reasons), report.rejected
    names = {n.props["name"] for page in neo4j_store.iter_nodes("BodyMovement") for n in page}
    assert "right hand agarrar 把握 🏋 barra" in names
    assert report.nodes["Video"] == len(sorted(root.glob("*_videos/*/*.mp4")))
