"""Security: hostile names stay data (no Cypher injection through class folders, annotations, node
ids or query parameters, no terminal markup through what the CLI prints), checkpoints and pickles
cannot run code, the Neo4j password comes only from the environment and shows up nowhere, and
names in a dataset cannot lead a read outside it.

`kgtoolkit query` refusing writes without --write is tested in tests/test_queries.py, OpenAI's
TorchScript weight files (model.pretrained) in tests/test_recipe.py, the release
reader refusing a code-running pickle in tests/test_ingest_release.py, hostile labels and property
keys at the store API in tests/test_graph_contract.py, and symlinked video files, encoded slashes
and control characters in names in tests/test_ingest_ktps.py.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import snapshot, wipe_neo4j
from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.ingest import IngestOptions, ingest
from kgtoolkit.schema import EMBEDDED_LABELS, LABELS, REL_TYPES
from kgtoolkit.synth import generate

REPO = Path(__file__).resolve().parents[1]
KGTOOLKIT = [sys.executable, "-m", "kgtoolkit"]

# Class folders (no '/' can be in a file name) and annotation text that would be Cypher or markup
# if they were ever formatted into a query or a rich string.
HOSTILE_CLASSES = ("a'}) MATCH (n) DETACH DELETE n", "x` }) DETACH DELETE n", "[red]x")
HOSTILE_OBJECT = "ball'}) MATCH (n) DETACH DELETE n RETURN 1 AS `x"
HOSTILE_IDS = ("x` }) DETACH DELETE n //", "a'}) MATCH (n) DETACH DELETE n //", "[/red]",
               "action:x` }) DETACH DELETE n //")


def kgtoolkit(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*KGTOOLKIT, *args], capture_output=True, text=True, env=env, timeout=timeout)


def one_clear_line(result: subprocess.CompletedProcess) -> str:
    """The error of a failed command: one line on stderr, no traceback."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- hostile names stay data --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dataset whose three class folders have hostile names, with a hostile object class and
    a body part named like a markup closing tag in one frame file."""
    root = tmp_path_factory.mktemp("hostile") / "ktps"
    generate(root, classes=3, train_per_class=2, test_per_class=1, frames=4, size=32, seed=9)
    truth = json.loads((root / "list" / "synth_truth.json").read_text())
    renames = dict(zip(sorted(a["folder"] for a in truth["actions"]), HOSTILE_CLASSES))
    for top in ("train_videos", "test_videos", "train_annotations"):
        for old, new in renames.items():
            (root / top / old).rename(root / top / new)
    for flist in (root / "list").glob("*_flist.csv"):
        text = flist.read_text()
        for old, new in renames.items():
            text = text.replace(f"\n{old}/", f"\n{new}/")
        flist.write_text(text)
    frame = sorted((root / "train_annotations" / HOSTILE_CLASSES[0]).glob("*/*/img_00002.json"))[0]
    frame.write_text(json.dumps({"humans": [{"parts": [
        {"name": "right_hand", "verb": "hold", "obj_class": HOSTILE_OBJECT},
        {"name": "[/red]", "verb": "hold"},
    ]}]}))
    return root


@pytest.mark.neo4j
def test_hostile_names_are_data_in_neo4j_through_ingest_similar_and_query(hostile_dataset, neo4j_store, tmp_path):
    uri = neo4j_store.uri
    with EmbeddedGraphStore(tmp_path / "reference") as reference:  # no Cypher there: the graph as data
        ingest(hostile_dataset, reference, IngestOptions(workers=1))
        expected = snapshot(reference)

    ingested = kgtoolkit("ingest", str(hostile_dataset), "--graph", uri, "--workers", "1")
    assert ingested.returncode == 3, ingested.stderr  # the unknown body part is reported ...
    assert "Traceback" not in ingested.stderr
    assert "unknown body part '[/red]'" in ingested.stdout  # ... and printed as text, not as markup
    assert snapshot(neo4j_store) == expected
    names = {n.props["name"] for page in neo4j_store.iter_nodes("Action") for n in page}
    assert names == set(HOSTILE_CLASSES)
    assert f"right hand hold {HOSTILE_OBJECT}" in {n.props["name"] for page in neo4j_store.iter_nodes("BodyMovement")
                                                 for n in page}
    assert {r["label"] for r in neo4j_store.cypher("CALL db.labels() YIELD label RETURN label")} == set(LABELS)
    assert {r["t"] for r in neo4j_store.cypher("CALL db.relationshipTypes() YIELD relationshipType AS t "
                                               "RETURN t")} == set(REL_TYPES)

    rng = np.random.default_rng(1)
    for label in EMBEDDED_LABELS:
        ids = [n.id for page in neo4j_store.iter_nodes(label) for n in page]
        neo4j_store.write_embeddings(label, ids, rng.normal(size=(len(ids), 8)), run="security")
        neo4j_store.ensure_vector_index(label, 8)
    before = snapshot(neo4j_store)

    for hostile in HOSTILE_CLASSES:  # a hostile node that exists: its neighbours, names printed as text
        found = kgtoolkit("similar", f"action:{hostile}", "--graph", uri, "-k", "2", "--json")
        assert found.returncode == 0, found.stderr
        assert {n["name"] for n in json.loads(found.stdout)} == set(HOSTILE_CLASSES) - {hostile}
    table = kgtoolkit("similar", "action:a'}) MATCH (n) DETACH DELETE n", "--graph", uri, "-k", "2")
    assert table.returncode == 0 and "[red]x" in table.stdout, table.stdout + table.stderr
    for hostile in HOSTILE_IDS:  # hostile ids that do not exist
        missing = kgtoolkit("similar", hostile, "--graph", uri)
        assert missing.returncode == 2 and "has no embedding" in one_clear_line(missing)
    for hostile in HOSTILE_IDS[:3]:  # hostile labels
        label = kgtoolkit("similar", "action:x", "--label", hostile, "--graph", uri)
        assert label.returncode == 2 and "--label" in one_clear_line(label)

    query = "MATCH (a:Action {id: $id}) RETURN a.name AS name"
    for hostile in (*HOSTILE_IDS, *HOSTILE_CLASSES):  # parameters are values, even with --write
        result = kgtoolkit("query", query, "--param", f"id=action:{hostile}", "--graph", uri, "--format", "json",
                           "--write")
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)
        assert rows == ([{"name": hostile}] if hostile in HOSTILE_CLASSES else []), (hostile, rows)
    shown = kgtoolkit("query", "MATCH (a:Action) RETURN a.name AS name ORDER BY name", "--graph", uri)
    assert shown.returncode == 0 and "[red]x" in shown.stdout, shown.stdout + shown.stderr
    assert snapshot(neo4j_store) == before  # nothing was deleted, added or changed


# --- code cannot ride in on a checkpoint --------------------------------------------------------------------
def test_paths_that_look_like_markup_are_printed_as_text(tmp_path):
    out_dir = tmp_path / "[red]data[/red] [/]x"  # an unmatched closing tag would make rich raise
    made = kgtoolkit("synth", str(out_dir), "--classes", "2", "--train-per-class", "1", "--test-per-class", "1",
                     "--frames", "4", "--size", "32")
    assert made.returncode == 0, made.stderr
    assert f"{out_dir}: 2 actions" in "".join(made.stdout.splitlines()), made.stdout
    graph = tmp_path / "[bold]graph"
    schema = kgtoolkit("schema", "apply", "--graph", str(graph))
    assert schema.returncode == 0 and str(graph) in "".join(schema.stdout.splitlines()), schema.stdout + schema.stderr


class _Exploit:
    def __init__(self, victim: Path):
        self.victim = victim

    def __reduce__(self):
        return (shutil.rmtree, (str(self.victim),))


def _deletes_when_unpickled(victim: Path) -> _Exploit:
    """An object whose unpickling deletes `victim` (a folder made here): what a hostile file holds."""
    victim.mkdir()
    return _Exploit(victim)


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path: Path):
    import torch

    from kgtoolkit.train.checkpoint import FORMAT, VERSION, CheckpointError, load_checkpoint

    victim = tmp_path / "victim"
    path = tmp_path / "best.pt"
    torch.save({"format": FORMAT, "version": VERSION, "model": _deletes_when_unpickled(victim)}, path)
    with pytest.raises(CheckpointError, match="not a kgtoolkit checkpoint"):
        load_checkpoint(path)
    assert victim.is_dir()


def test_pretrained_weights_that_would_run_code_are_refused(tmp_path: Path):
    """model.pretrained takes a state dict (read with weights_only=True) or an OpenAI TorchScript
    release (tests/test_recipe.py); a plain pickle that would run code is neither."""
    import torch

    from kgtoolkit.errors import ConfigurationError
    from kgtoolkit.model.backbone import is_torchscript_archive, load_backbone

    victim = tmp_path / "victim"
    path = tmp_path / "weights.pt"
    torch.save({"visual.conv1.weight": _deletes_when_unpickled(victim)}, path)
    assert not is_torchscript_archive(path)
    with pytest.raises(ConfigurationError, match="cannot load CLIP weights"):
        load_backbone("kg-tiny", str(path))
    assert victim.is_dir()


# --- the password: from the environment only, and never shown -------------------------------------------------
def _commands(group=None, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the CLI (`db up`, `ingest`, ...), whatever commands exist."""
    import click
    import typer

    from kgtoolkit.cli import app

    group = group or typer.main.get_command(app)
    paths = [prefix]
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            paths += _commands(command, (*prefix, name))
    return paths


def _text_files(folder: Path, limit: int = 5 * 1024 * 1024):
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= limit:
            yield path


@pytest.mark.neo4j
def test_the_password_never_shows_in_output_help_errors_or_files(
        neo4j_uri, hostile_dataset, tmp_path, tmp_path_factory):
    password = os.environ["NEO4J_PASSWORD"]
    wrong = f"Wr0ng-{secrets.token_urlsafe(12)}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("KGTOOLKIT_GRAPH", None)
    host = neo4j_uri.split("://", 1)[1]
    outputs: list[subprocess.CompletedProcess] = []

    def run(*args: str, expect: int | None = 0, environment: dict | None = None) -> subprocess.CompletedProcess:
        result = kgtoolkit(*args, env=environment or env)
        outputs.append(result)
        if expect is not None:
            assert result.returncode == expect, (args, result.stdout, result.stderr)
        return result

    for path in _commands():
        run(*path, "--help")
    run("db", "status", "--home", str(tmp_path / "no-server"), expect=3)
    from kgtoolkit.graph.neo4j_store import Neo4jGraphStore

    with Neo4jGraphStore(neo4j_uri) as store:
        wipe_neo4j(store)
    run("ingest", str(hostile_dataset), "--graph", neo4j_uri, "--report", str(tmp_path / "report.json"), expect=3)
    run("ingest", str(tmp_path / "missing"), "--graph", neo4j_uri, expect=2)
    run("stats", "--graph", neo4j_uri)
    run("query", "MATCH (a:Action RETURN a", "--graph", neo4j_uri, expect=1)  # a syntax error
    run("query", "MATCH (a:Action) SET a.x = 1", "--graph", neo4j_uri, expect=1)  # a write, refused
    run("query", "RETURN $p", "--param", "not a param", "--graph", neo4j_uri, expect=2)
    run("query", "CALL dbms.security.listUsers()", "--graph", neo4j_uri, expect=None)
    for bad in (f"bolt://neo4j:{password}@{host}", f"neo4j://neo4j:{password}@{host}"):
        refused = run("stats", "--graph", bad, expect=2)
        assert "carries credentials" in one_clear_line(refused)
    denied = run("stats", "--graph", neo4j_uri, environment={**env, "NEO4J_PASSWORD": wrong}, expect=2)
    assert "refused the credentials" in one_clear_line(denied)
    unset = {k: v for k, v in env.items() if k != "NEO4J_PASSWORD"}
    assert "NEO4J_PASSWORD is not set" in one_clear_line(run("stats", "--graph", neo4j_uri, environment=unset,
                                                             expect=2))
    run_dir = tmp_path / "run"
    run("train", "--graph", neo4j_uri, "--config", str(REPO / "pipelines" / "tiny-scratch.yaml"), "--out", str(run_dir),
        "--set", "optim.epochs=1", "--set", "optim.batch_size=2", "--set", "data.workers=0",
        "--set", "data.frames=2", "--set", "eval_batch_size=4")
    assert (run_dir / "run.json").is_file()

    for secret in (password, wrong):
        for result in outputs:
            assert secret not in result.stdout and secret not in result.stderr, result.args
        # this test's files (the run directory, the report) and everything else the session wrote,
        # the local Neo4j servers' homes (conf, logs, run files) included
        for path in _text_files(tmp_path_factory.getbasetemp()):
            assert secret.encode() not in path.read_bytes(), path


def test_docker_compose_takes_the_password_from_the_environment():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    neo4j = compose["services"]["neo4j"]
    assert re.fullmatch(r"neo4j/\$\{NEO4J_PASSWORD(:\?[^}]*)?\}", neo4j["environment"]["NEO4J_AUTH"])
    healthcheck = " ".join(neo4j["healthcheck"]["test"])
    assert not re.search(r"(^|\s)(-p|--password)(\s|=)", healthcheck)  # never on a command line
    assert "NEO4J_PASSWORD=" in healthcheck
    text = (REPO / "docker-compose.yml").read_text()
    assert not re.search(r"NEO4J_AUTH:\s*\"?neo4j/[^$]", text)  # no literal password anywhere


# --- names in a dataset cannot lead reads outside it ---------------------------------------------------------
@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("paths") / "ktps"
    generate(root, classes=2, train_per_class=2, test_per_class=1, frames=4, size=32, seed=4)
    return root


def test_links_fifos_and_flist_paths_cannot_lead_outside_the_dataset(small_dataset, tmp_path):
    root = tmp_path / "ktps"
    shutil.copytree(small_dataset, root)
    outside = tmp_path / "outside"
    shutil.copytree(small_dataset, outside)  # valid videos and annotations, outside the dataset
    label = sorted(p.name for p in (root / "train_videos").iterdir())[0]
    video = sorted((root / "train_videos" / label).glob("*.mp4"))[0].stem
    other = sorted((root / "train_videos" / label).glob("*.mp4"))[1].stem
    ann = root / "train_annotations" / label

    os.symlink(outside / "train_videos" / label, root / "train_videos" / "linked_class")
    os.symlink(outside / "train_annotations" / label, root / "train_annotations" / "linked_class")
    shutil.rmtree(ann / other)
    os.symlink(outside / "train_annotations" / label / other, ann / other)  # a linked video folder
    shutil.rmtree(ann / video / video)
    (ann / video / video).mkdir()
    frames = sorted((outside / "train_annotations" / label / video / video).glob("img_*.json"))
    os.symlink(frames[0], ann / video / video / frames[0].name)  # a linked frame file
    for frame in frames[1:-1]:
        shutil.copy(frame, ann / video / video / frame.name)
    os.mkfifo(ann / video / video / frames[-1].name)  # a FIFO: opening it for reading would wait forever
    os.mkfifo(root / "test_videos" / label / "pipe.mp4")
    flist = root / "list" / "video_train_flist.csv"
    flist.write_text(flist.read_text().rstrip("\n") + f"\n../outside/train_videos/{label}/{video},4\n"
                     f"{outside}/train_videos/{label}/{video},4\n")
    before = sorted((p.relative_to(tmp_path), p.lstat().st_mtime_ns) for p in tmp_path.rglob("*"))

    report_file = tmp_path / "report.json"
    result = subprocess.run([*KGTOOLKIT, "ingest", str(root), "--graph", str(tmp_path / "graph"), "--workers", "1",
                             "--report", str(report_file)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    problems = [(p["path"], p["reason"]) for p in json.loads(report_file.read_text())["rejected"]]

    def reported(path: str, reason: str) -> bool:
        return any(p == path and reason in r for p, r in problems)

    assert reported("train_videos/linked_class", "symbolic link")
    assert reported("train_annotations/linked_class", "symbolic link")
    assert reported(f"train_annotations/{label}/{other}", "symbolic link")
    assert reported(f"train_annotations/{label}/{video}/{video}/{frames[0].name}", "symbolic link")
    assert reported(f"train_annotations/{label}/{video}/{video}/{frames[-1].name}", "not a regular file")
    assert reported(f"test_videos/{label}/pipe.mp4", "not a regular file")
    assert sum("is not a path inside the dataset" in r and p.startswith("list/video_train_flist.csv:")
               for p, r in problems) == 2

    with EmbeddedGraphStore(tmp_path / "graph") as store:
        videos = {n.id: n.props for page in store.iter_nodes("Video") for n in page}
        exhibits = [r for page in store.iter_relationships("EXHIBITS") for r in page]
    assert all(Path(p["path"]).resolve().is_relative_to(root.resolve()) for p in videos.values())
    assert not any("linked_class" in v or "outside" in v or "pipe" in v for v in videos)
    assert videos[f"video:{label}/{video}"]["annotatedFrames"] == len(frames) - 2  # only its own plain files
    assert not any(r.src == f"video:{label}/{other}" for r in exhibits)  # its annotations were a link
    after = sorted((p.relative_to(tmp_path), p.lstat().st_mtime_ns) for p in tmp_path.rglob("*")
                   if not p.is_relative_to(tmp_path / "graph") and p != report_file)
    assert after == before  # nothing inside or outside the dataset was written


# --- the local Neo4j reads no file outside its import folder, and no local network --------------------------
@pytest.mark.neo4j
def test_load_csv_reads_the_import_folder_only(neo4j_uri: str, neo4j_import_dir: Path, tmp_path: Path):
    from kgtoolkit.errors import GraphStoreError
    from kgtoolkit.graph.neo4j_store import Neo4jGraphStore

    (neo4j_import_dir / "sub").mkdir(exist_ok=True)
    (neo4j_import_dir / "sub" / "inside.csv").write_text("video,frames\nx,8\n")
    secret = tmp_path / "secret.csv"
    secret.write_text("the secret,42\n")
    load = "LOAD CSV FROM $url AS row RETURN row"
    with Neo4jGraphStore(neo4j_uri) as store:
        assert store.cypher(load, {"url": "file:///sub/inside.csv"}) == [{"row": ["video", "frames"]},
                                                                         {"row": ["x", "8"]}]
        refused = [f"file://{secret}", "file:///../../../../../../../../etc/passwd", "file:///sub/../../secret.csv",
                   f"file:{secret}", "file:///%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"]
        for url in refused:
            with pytest.raises(GraphStoreError, match="Cannot load from URL .*ExternalResourceFailed") as error:
                store.cypher(load, {"url": url})
            assert "the secret" not in str(error.value) and "root:" not in str(error.value)
        procedures = {row["name"] for row in store.cypher("SHOW PROCEDURES YIELD name RETURN name")}
        assert not {p for p in procedures if p.startswith("apoc.") or re.search(r"load|import|file|url|http", p, re.I)}
    out = kgtoolkit("query", f"LOAD CSV FROM 'file://{secret}' AS row RETURN row", "--graph", neo4j_uri)
    assert "Couldn't load the external resource" in one_clear_line(out) and "the secret" not in out.stdout + out.stderr


@pytest.mark.neo4j
def test_load_csv_cannot_reach_services_on_this_machine(neo4j_uri: str, tmp_path: Path):
    """LOAD CSV over http(s)/ftp is refused for loopback, private and link-local hosts (the host's own
    services, a cloud metadata endpoint), however the address is written."""
    import functools
    import http.server
    import threading

    from kgtoolkit.errors import GraphStoreError
    from kgtoolkit.graph.neo4j_store import Neo4jGraphStore
    from kgtoolkit.server.local import free_port

    (tmp_path / "w.csv").write_text("served,1\n")
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        import urllib.request

        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/w.csv").read() == b"served,1\n"  # it does answer
        with Neo4jGraphStore(neo4j_uri) as store:
            for url in (f"http://127.0.0.1:{port}/w.csv", f"http://localhost:{port}/w.csv", f"http://[::1]:{port}/w.csv",
                        f"http://2130706433:{port}/w.csv", f"ftp://127.0.0.1:{port}/w.csv",
                        "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x.csv"):
                with pytest.raises(GraphStoreError, match="blocked via the configuration property"):
                    store.cypher("LOAD CSV FROM $url AS row RETURN row", {"url": url})
    finally:
        server.shutdown()


def test_local_server_configuration_is_loopback_only_and_file_import_off_by_default(tmp_path: Path):
    from kgtoolkit.errors import ServerError
    from kgtoolkit.server.local import LocalNeo4j

    def conf(server: LocalNeo4j) -> dict[str, str]:
        return dict(line.split("=", 1) for line in server._conf().splitlines() if line and not line.startswith("#"))

    default = conf(LocalNeo4j(tmp_path / "home", port=7999))
    assert default["dbms.security.allow_csv_import_from_file_urls"] == "false"
    assert default["server.directories.import"] == str((tmp_path / "home" / "import").resolve())
    assert default["server.default_listen_address"] == "127.0.0.1"
    assert default["server.bolt.listen_address"] == "127.0.0.1:7999"
    assert default["server.http.enabled"] == default["server.https.enabled"] == "false"
    browser = conf(LocalNeo4j(tmp_path / "home", port=7999, http_port=7998))  # HTTP for the Browser: loopback only
    assert browser["server.http.enabled"] == "true" and browser["server.https.enabled"] == "false"
    assert browser["server.http.listen_address"] == "127.0.0.1:7998"
    assert browser["server.http_enabled_modules"] == "BROWSER,UNMANAGED_EXTENSIONS"  # no HTTP Cypher endpoints
    assert browser["server.unmanaged_extension_classes"] == "kgtoolkit.browser=/kgtoolkit"  # its style and guide
    assert browser["dbms.security.http_auth_allowlist"] == "/,/browser.*,/kgtoolkit/.*"
    assert browser["browser.remote_content_hostname_whitelist"] == "127.0.0.1"
    assert browser["client.allow_telemetry"] == "false"
    assert browser["browser.post_connect_cmd"].startswith("style http://127.0.0.1:7998/kgtoolkit/")
    assert set(browser) - set(default) == {  # what HTTP adds; everything else as without it
        "server.http.listen_address", "server.http.advertised_address", "server.http_enabled_modules",
        "server.unmanaged_extension_classes", "dbms.security.http_auth_allowlist",
        "browser.remote_content_hostname_whitelist", "browser.post_connect_cmd", "client.allow_telemetry"}
    assert {k: v for k, v in browser.items() if k in default and k != "server.http.enabled"} == {
        k: v for k, v in default.items() if k != "server.http.enabled"}
    assert {"127.0.0.0/8", "::1/128", "169.254.0.0/16", "10.0.0.0/8"} <= set(default["internal.dbms.cypher_ip_blocklist"].split(","))
    folder = tmp_path / "csv"
    folder.mkdir()
    allowed = conf(LocalNeo4j(tmp_path / "home", port=7999, file_import=folder))
    assert allowed["dbms.security.allow_csv_import_from_file_urls"] == "true"
    assert allowed["server.directories.import"] == str(folder.resolve())
    with pytest.raises(ServerError, match="--allow-file-import .*missing: not a folder"):
        LocalNeo4j(tmp_path / "home2", port=7998, file_import=tmp_path / "missing").up()


def test_docker_compose_has_the_same_settings():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["neo4j"]
    env = compose["environment"]
    assert env["NEO4J_dbms_security_allow__csv__import__from__file__urls"] == "${NEO4J_ALLOW_FILE_IMPORT:-false}"
    assert env["NEO4J_server_directories_import"] == "/var/lib/neo4j/import"
    from kgtoolkit.server.local import BLOCKED_NETWORKS

    assert env["NEO4J_internal_dbms_cypher__ip__blocklist"] == ",".join(BLOCKED_NETWORKS)
    assert all(port.startswith("127.0.0.1:") for port in compose["ports"])


@pytest.mark.neo4j
def test_the_browser_s_http_serves_the_browser_and_kgtoolkit_s_two_files_only(neo4j_browser_url: str):
    """HTTP (for Neo4j Browser) is on 127.0.0.1 only, has no Cypher endpoint, and the unmanaged
    extension without authentication answers its two fixed names and nothing else of the home."""
    import socket
    import urllib.error
    import urllib.request

    from kgtoolkit.server.browser import GUIDE_NAME, STYLE_NAME

    base = neo4j_browser_url.removesuffix("/browser/")
    port = int(base.rsplit(":", 1)[1])

    def status(path: str, data: bytes | None = None) -> int:
        request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    assert status("/browser/") == status(f"/kgtoolkit/{GUIDE_NAME}") == status(f"/kgtoolkit/{STYLE_NAME}") == 200
    for path in ("/kgtoolkit/password", "/kgtoolkit/..%2Fpassword", "/kgtoolkit/%2e%2e/password",
                 "/kgtoolkit/../password", "/kgtoolkit/conf", "/kgtoolkit/..%2Fconf%2Fneo4j.conf"):
        assert status(path) in (400, 404), path
    statement = json.dumps({"statements": [{"statement": "RETURN 1"}]}).encode()
    for path in ("/db/neo4j/tx/commit", "/db/neo4j/query/v2", "/db/data/transaction/commit"):
        assert status(path, statement) == 404, path  # no HTTP Cypher endpoint at all
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    for address in addresses - {"127.0.0.1"} - {a for a in addresses if a.startswith("127.")}:
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex((address, port)) != 0, address  # not reachable from the network
