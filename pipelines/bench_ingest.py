"""Benchmark of the Kinetics-TPS ingest: frame-JSON parsing, graph writes, and the whole ingest.

On a synthetic dataset the size of Kinetics-TPS's annotations (kgtoolkit.synth.generate with
share_videos=True: 24 classes x (159 train + 39 test) videos of 151 frames = 3,816 training videos,
936 test videos and 576,216 frame JSONs), it measures and prints:

  1. parse     frame JSONs parsed per second (and per CPU-second of the workers, steadier than wall time
               on a shared machine) by kgtoolkit.ingest.frames.read_video_frames over every
               training video's annotation folder, in a ProcessPoolExecutor of 1 and of 2 workers (as
               kgtoolkit/ingest/ktps.py runs it), after one untimed read of every file (so both runs
               see a warm page cache; that read is reported as the I/O floor).
  2. write     graph write throughput of store.upsert_nodes / store.upsert_relationships in batches of
               5,000 (Video nodes, then Video-[:EXHIBITS]->BodyMovement relationships with the ingest's
               properties) on Neo4j and on the embedded store, each pass from an empty graph (one untimed
               warm-up pass, then the median of --repeat timed passes), against a naive
               baseline on the same rows: one auto-commit statement per row on Neo4j (MERGE ... SET, and
               MATCH/MATCH/MERGE for relationships), one INSERT ... ON CONFLICT and one commit per row on
               the embedded store (a smaller sample; per-row rates are compared).
  3. ingest    `python -m kgtoolkit ingest DATA --graph G --workers 2` in a child process into a fresh
               embedded store and into an emptied Neo4j: time, frame files/s, CPU seconds of the ingest
               process and its workers (from wait4), and peak memory (RSS of the
               ingest process and the sum over its worker processes, polled at 10 Hz with psutil; the
               Neo4j server's own memory is reported apart and is not part of the ingest's).

Targets (PASS/FAIL printed beside the figures): >= 3,000 frame files/s end to end (as the ingest
reports it), Neo4j >= 20,000 relationships/s and >= 10x the naive baseline (relationships and nodes),
peak ingest memory < 1.5 GB (parent + workers at the peak).

Neo4j: NEO4J_URI + NEO4J_PASSWORD when set (the graph there is EMPTIED), else a local Neo4j 5.26 is
started on a free port in a temporary home and stopped at the end (kgtoolkit.testing.ScratchNeo4j, the
test suite's own server fixture).

The dataset is generated once into --data (default /tmp/kgtoolkit-bench-ktps, or ...-quick with
--quick) and reused while its stamp file (bench_ingest_stamp.json) records the same parameters.

    .venv/bin/python pipelines/bench_ingest.py                 # full run (Kinetics-TPS scale)
    .venv/bin/python pipelines/bench_ingest.py --quick         # ~10x smaller, about a minute
    .venv/bin/python pipelines/bench_ingest.py --json out.json # also write the figures as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from itertools import repeat
from pathlib import Path

import pandas as pd
import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kgtoolkit.errors import KgToolkitError  # noqa: E402
from kgtoolkit.graph import NodeRow, RelRow  # noqa: E402
from kgtoolkit.graph.embedded import DB_FILE, EmbeddedGraphStore  # noqa: E402
from kgtoolkit.ingest.frames import read_video_frames  # noqa: E402
from kgtoolkit.ingest.ktps import scan_layout  # noqa: E402
from kgtoolkit.ingest.report import IngestReport  # noqa: E402
from kgtoolkit.synth import generate  # noqa: E402
from kgtoolkit.tables import write_tables  # noqa: E402

STAMP = "bench_ingest_stamp.json"
FULL = {"classes": 24, "train_per_class": 159, "test_per_class": 39, "frames": 151}
QUICK = {"classes": 24, "train_per_class": 16, "test_per_class": 4, "frames": 151}
COMMON = {"size": 64, "fps": 8, "seed": 0, "share_videos": True, "quirks": 1}  # the level measured before issue 12
BATCH = 5000  # rows per write transaction: IngestOptions.batch_size's default
MOVEMENTS_PER_VIDEO = 5
MOVEMENT_POOL = 120

TARGET_FRAMES_PER_S = 3000.0
TARGET_NEO4J_RELS_PER_S = 20000.0
TARGET_NAIVE_RATIO = 10.0
TARGET_PEAK_BYTES = 1.5e9


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], epilog="\n\n".join(doc.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a ~10x smaller run: 24 x (16 + 4) videos (57,984 frame JSONs), 5,000 relationships "
                             "for the batched writes and 300 rows for the naive ones")
    parser.add_argument("--data", type=Path, default=None,
                        help="where the generated dataset is kept and reused "
                             "(default /tmp/kgtoolkit-bench-ktps, or /tmp/kgtoolkit-bench-ktps-quick with --quick)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure as JSON to this file")
    parser.add_argument("--rels", type=int, default=None,
                        help="relationships for the batched write test (default 50,000; 5,000 with --quick); "
                             f"the Video nodes are a fifth of that ({MOVEMENTS_PER_VIDEO} movements per video)")
    parser.add_argument("--naive-rows", type=int, default=None,
                        help="rows of each kind (nodes, relationships) for the naive one-statement-per-row "
                             "baseline (default 3,000; 300 with --quick)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed passes of the batched writes (after one untimed warm-up pass); the median "
                             "of each rate is reported")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the end-to-end ingests")
    parser.add_argument("--only", choices=("parse", "write", "ingest"), action="append", default=None,
                        help="run only this part (repeatable); default: all three")
    parser.add_argument("--no-neo4j", action="store_true",
                        help="skip everything that needs Neo4j (its figures and targets are left out)")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    args.params = {**scale, **COMMON}
    args.data = args.data or Path("/tmp/kgtoolkit-bench-ktps" + ("-quick" if args.quick else ""))
    args.rels = args.rels or (5000 if args.quick else 50000)
    args.naive_rows = args.naive_rows or (300 if args.quick else 3000)
    args.only = set(args.only or ("parse", "write", "ingest"))
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the dataset ----------------------------------------------------------------------------------------
def ensure_dataset(data: Path, params: dict) -> dict:
    """The stamp of a dataset generated with `params` in `data`, generating it when needed."""
    stamp_path = data / STAMP
    if stamp_path.is_file():
        stamp = json.loads(stamp_path.read_text())
        if {"quirks": 1, **stamp.get("params", {})} == params:  # stamps from before quirk levels: level 1
            log(f"dataset: reusing {data} ({stamp['summary']['frame_jsons']:,} frame JSONs)")
            return stamp
        log(f"dataset: {data} was generated with other parameters; generating it again")
        shutil.rmtree(data)
    elif data.exists():
        if data.is_dir() and not any(data.iterdir()):
            data.rmdir()
        else:
            raise SystemExit(f"{data} exists and has no {STAMP}: not a dataset of this benchmark; "
                             "give another --data or remove it")
    partial = data.with_name(data.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    log(f"dataset: generating {data} with {params} (once; later runs reuse it)")
    summary = generate(partial, **params)
    stamp = {"generator": "kgtoolkit.synth.generate", "params": params, "summary": {
        "train_videos": summary.train_videos, "test_videos": summary.test_videos,
        "frame_jsons": summary.frame_jsons, "rendered_videos": summary.rendered_videos,
        "codec": summary.codec, "seconds": round(summary.seconds, 1)}}
    (partial / STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
    partial.rename(data)
    log(f"dataset: generated in {summary.seconds:.0f} s")
    return stamp


# --- 1. parsing -----------------------------------------------------------------------------------------
def annotation_tasks(data: Path) -> tuple[list[Path], list[str], frozenset[str]]:
    """Every training video's annotation folder, found by the ingest's own layout scan."""
    layout = scan_layout(data, IngestReport(source=str(data), kind="ktps", graph="-"))
    tasks = [t for t in layout.tasks if t.annotation_dir is not None]
    rels = [f"train_annotations/{t.label}/{t.name}/{t.name}" for t in tasks]
    return [t.annotation_dir for t in tasks], rels, layout.parts  # type: ignore[misc]


def _read_all(folder: Path) -> tuple[int, int]:
    files = size = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            with open(entry.path, "rb") as handle:
                size += len(handle.read())
            files += 1
    return files, size


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_parse(data: Path) -> dict:
    folders, rels, parts = annotation_tasks(data)
    started = time.perf_counter()
    files = size = 0
    for folder in folders:
        f, s = _read_all(folder)
        files += f
        size += s
    read_s = time.perf_counter() - started
    log(f"parse: {len(folders):,} annotation folders, {files:,} files, {size / 1e6:.1f} MB; "
        f"plain read (1 process, warms the page cache): {read_s:.1f} s = {files / read_s:,.0f} files/s")
    result = {"videos": len(folders), "files": files, "bytes": size, "read_only_s": round(read_s, 2),
              "read_only_files_per_s": round(files / read_s, 1), "workers": {}}
    for workers in (1, 2):
        started = time.perf_counter()
        cpu_before = _children_cpu_s()
        parsed = problems = 0
        with ProcessPoolExecutor(max_workers=workers) as pool:
            frame_size = repeat((COMMON["size"], COMMON["size"]))  # boxes checked, as the ingest does
            for frames in pool.map(read_video_frames, folders, rels, repeat(parts), frame_size, chunksize=4):
                parsed += frames.frame_files
                problems += len(frames.problems)
        seconds = time.perf_counter() - started
        cpu = _children_cpu_s() - cpu_before  # the pool's workers, reaped when the pool shut down
        rate = parsed / seconds
        log(f"parse: {workers} worker(s): {parsed:,} frame files in {seconds:.1f} s = {rate:,.0f} files/s "
            f"(CPU {cpu:.1f} s = {parsed / cpu:,.0f} files per CPU-second; {problems} problems)")
        result["workers"][str(workers)] = {"files": parsed, "problems": problems, "seconds": round(seconds, 2),
                                           "files_per_s": round(rate, 1), "cpu_s": round(cpu, 2),
                                           "files_per_cpu_s": round(parsed / cpu, 1)}
    return result


# --- 2. graph writes -------------------------------------------------------------------------------------
def write_rows(n_rels: int) -> tuple[list[NodeRow], list[NodeRow], list[RelRow]]:
    """BodyMovement nodes, Video nodes and EXHIBITS relationships shaped as the ingest writes them."""
    movements = [NodeRow(f"movement:part{m % 10}/state{m}", {
        "name": f"part{m % 10} state{m}", "part": f"part{m % 10}", "state": f"state{m}", "object": None})
        for m in range(MOVEMENT_POOL)]
    n_videos = -(-n_rels // MOVEMENTS_PER_VIDEO)
    videos = [NodeRow(f"video:class{v % 24:02d}/vid{v:07d}", {
        "name": f"vid{v:07d}", "split": "train", "action": f"class{v % 24:02d}",
        "path": f"/data/train_videos/class{v % 24:02d}/vid{v:07d}.mp4", "numFrames": 151, "fps": 8.0,
        "width": 64, "height": 64, "annotatedFrames": 151}) for v in range(n_videos)]
    rels: list[RelRow] = []
    for v, video in enumerate(videos):
        for k in range(MOVEMENTS_PER_VIDEO):
            frames = 91 + (v * 7 + k * 13) % 60
            rels.append(RelRow(video.id, movements[(v * 11 + k * 29) % MOVEMENT_POOL].id, {
                "frames": frames, "firstFrame": 1 + k, "lastFrame": frames + k, "coverage": round(frames / 151, 4)}))
    return movements, videos, rels[:n_rels]


def _batched(store, movements, videos, rels) -> dict:
    store.apply_schema()
    store.upsert_nodes("BodyMovement", movements)
    started = time.perf_counter()
    for start in range(0, len(videos), BATCH):
        assert store.upsert_nodes("Video", videos[start:start + BATCH]) == len(videos[start:start + BATCH])
    nodes_s = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(rels), BATCH):
        result = store.upsert_relationships("EXHIBITS", rels[start:start + BATCH])
        assert result.written == len(rels[start:start + BATCH]) and not result.missing, result.written
    rels_s = time.perf_counter() - started
    return _rates(len(videos), nodes_s, len(rels), rels_s)


def _rates(nodes: int, nodes_s: float, rels: int, rels_s: float) -> dict:
    return {"nodes": nodes, "nodes_s": round(nodes_s, 3), "nodes_per_s": round(nodes / nodes_s, 1),
            "rels": rels, "rels_s": round(rels_s, 3), "rels_per_s": round(rels / rels_s, 1),
            "rows_per_s": round((nodes + rels) / (nodes_s + rels_s), 1)}


def _median(passes: list[dict]) -> dict:
    """Each rate's median over the timed passes (the machine is shared: one pass can be unlucky)."""
    median = dict(passes[0])
    for key in ("nodes_per_s", "rels_per_s", "rows_per_s"):
        values = sorted(p[key] for p in passes)
        median[key] = values[len(values) // 2] if len(values) % 2 else round(
            (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2, 1)
    median["passes"] = passes
    return median


def _ratios(batched: dict, naive: dict) -> dict:
    return {key: round(batched[key] / naive[key], 1) for key in ("nodes_per_s", "rels_per_s", "rows_per_s")}


def bench_neo4j_writes(uri: str, n_rels: int, n_naive: int, repeat: int) -> dict:
    import neo4j

    from kgtoolkit.graph.neo4j_store import Neo4jGraphStore, neo4j_auth_from_env
    from kgtoolkit.testing import wipe_neo4j

    movements, videos, rels = write_rows(n_rels)
    store = Neo4jGraphStore(uri)
    driver = neo4j.GraphDatabase.driver(uri, auth=neo4j_auth_from_env(), notifications_min_severity="OFF")
    try:
        # One untimed pass (JIT, query plans), then `repeat` timed ones, each from an empty graph.
        passes = []
        for index in range(repeat + 1):
            wipe_neo4j(store)
            figures = _batched(store, movements, videos, rels)
            if index:
                passes.append(figures)
        batched = _median(passes)
        log(f"write: neo4j batched, median of {len(passes)} passes: {batched['nodes']:,} Video nodes "
            f"{batched['nodes_per_s']:,.0f}/s, "
            f"{batched['rels']:,} EXHIBITS {batched['rels_per_s']:,.0f}/s (passes: "
            f"{', '.join(format(p['rels_per_s'], ',.0f') for p in passes)} rels/s)")

        wipe_neo4j(store)
        store.apply_schema()
        store.upsert_nodes("BodyMovement", movements)
        sample_nodes, sample_rels = videos[:n_naive], rels[:n_naive]
        with driver.session(database=store.database) as session:  # auto-commit: one transaction per run()
            started = time.perf_counter()
            for row in sample_nodes:
                session.run("MERGE (n:Video {id: $id}) SET n += $props", id=row.id, props=dict(row.props)).consume()
            nodes_s = time.perf_counter() - started
            started = time.perf_counter()
            for row in sample_rels:
                session.run("MATCH (a:Video {id: $src}) MATCH (b:BodyMovement {id: $dst}) "
                            "MERGE (a)-[r:EXHIBITS]->(b) SET r += $props",
                            src=row.src, dst=row.dst, props=dict(row.props)).consume()
            rels_s = time.perf_counter() - started
        naive = _rates(len(sample_nodes), nodes_s, len(sample_rels), rels_s)
        counts = store.count_relationships()["EXHIBITS"]
        assert counts == len(sample_rels), counts
        log(f"write: neo4j naive: {naive['nodes']:,} nodes {naive['nodes_per_s']:,.0f}/s, "
            f"{naive['rels']:,} relationships {naive['rels_per_s']:,.0f}/s")
        wipe_neo4j(store)
    finally:
        driver.close()
        store.close()
    return {"batched": batched, "naive": naive, "ratio": _ratios(batched, naive)}


def bench_embedded_writes(n_rels: int, n_naive: int, scratch: Path, repeat: int) -> dict:
    movements, videos, rels = write_rows(n_rels)
    passes = []
    for index in range(repeat + 1):  # one untimed pass, then `repeat` timed ones, each in a fresh directory
        store = EmbeddedGraphStore(scratch / f"batched-{index}")
        try:
            figures = _batched(store, movements, videos, rels)
        finally:
            store.close()
        if index:
            passes.append(figures)
    batched = _median(passes)
    log(f"write: embedded batched, median of {len(passes)} passes: {batched['nodes']:,} Video nodes "
            f"{batched['nodes_per_s']:,.0f}/s, "
        f"{batched['rels']:,} EXHIBITS {batched['rels_per_s']:,.0f}/s (passes: "
            f"{', '.join(format(p['rels_per_s'], ',.0f') for p in passes)} rels/s)")

    store = EmbeddedGraphStore(scratch / "naive")  # creates the tables; then plain sqlite3, as a naive writer would
    store.apply_schema()
    store.upsert_nodes("BodyMovement", movements)
    store.close()
    db = sqlite3.connect(scratch / "naive" / DB_FILE, timeout=60, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    sample_nodes, sample_rels = videos[:n_naive], rels[:n_naive]
    try:
        started = time.perf_counter()
        for row in sample_nodes:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO nodes (label, id, props) VALUES ('Video', ?1, json_patch('{}', ?2)) "
                       "ON CONFLICT (label, id) DO UPDATE SET props = json_patch(nodes.props, ?2)",
                       (row.id, json.dumps(dict(row.props))))
            db.execute("COMMIT")
        nodes_s = time.perf_counter() - started
        started = time.perf_counter()
        for row in sample_rels:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO relationships (type, src, dst, props) "
                       "SELECT 'EXHIBITS', ?1, ?2, json_patch('{}', ?3) "
                       "WHERE EXISTS (SELECT 1 FROM nodes WHERE label = 'Video' AND id = ?1) "
                       "AND EXISTS (SELECT 1 FROM nodes WHERE label = 'BodyMovement' AND id = ?2) "
                       "ON CONFLICT (type, src, dst) DO UPDATE SET props = json_patch(relationships.props, ?3)",
                       (row.src, row.dst, json.dumps(dict(row.props))))
            db.execute("COMMIT")
        rels_s = time.perf_counter() - started
        count = db.execute("SELECT count(*) FROM relationships WHERE type = 'EXHIBITS'").fetchone()[0]
        assert count == len(sample_rels), count
    finally:
        db.close()
    naive = _rates(len(sample_nodes), nodes_s, len(sample_rels), rels_s)
    log(f"write: embedded naive: {naive['nodes']:,} nodes {naive['nodes_per_s']:,.0f}/s, "
        f"{naive['rels']:,} relationships {naive['rels_per_s']:,.0f}/s")
    return {"batched": batched, "naive": naive, "ratio": _ratios(batched, naive)}


# --- 3. end-to-end ingest --------------------------------------------------------------------------------
def _tree_rss(process: psutil.Process) -> tuple[int, int, int]:
    """(RSS of the process, sum of RSS over its descendants, number of descendants)."""
    try:
        parent = process.memory_info().rss
    except psutil.Error:
        return 0, 0, 0
    total = count = 0
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
            count += 1
        except psutil.Error:
            pass
    return parent, total, count


def run_ingest(data: Path, graph: str, workers: int, scratch: Path, label: str) -> dict:
    report_path = scratch / f"report-{label}.json"
    log_path = scratch / f"ingest-{label}.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "kgtoolkit", "ingest", str(data), "--graph", graph,
               "--workers", str(workers), "--report", str(report_path)]
    peak = {"parent": 0, "children": 0, "total": 0, "children_at_peak": 0, "parent_at_peak": 0, "workers": 0}
    samples = 0
    with open(log_path, "wb") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=scratch, env=env)
        process = psutil.Process(child.pid)
        status = rusage = None
        while True:
            parent, children, count = _tree_rss(process)
            samples += 1
            peak["parent"] = max(peak["parent"], parent)
            peak["children"] = max(peak["children"], children)
            peak["workers"] = max(peak["workers"], count)
            if parent + children > peak["total"]:
                peak.update(total=parent + children, parent_at_peak=parent, children_at_peak=children)
            pid, status, rusage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.1)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 3) or not report_path.is_file():
        raise SystemExit(f"ingest into {graph} failed (exit {child.returncode}); see {log_path}:\n"
                         + log_path.read_text(errors="replace")[-3000:])
    report = json.loads(report_path.read_text())
    errors = [p for p in report["rejected"] if p["severity"] == "error"]
    result = {
        "graph": graph, "exit": child.returncode, "wall_s": round(wall, 2), "ingest_s": report["seconds"],
        "frame_files": report["frame_files"], "videos": report["videos"],
        "frame_files_per_s": report["frame_files_per_second"],
        "frame_files_per_s_wall": round(report["frame_files"] / wall, 1),
        "nodes": sum(report["nodes"].values()), "relationships": sum(report["relationships"].values()),
        "rejected_errors": len(errors), "rejected_warnings": len(report["rejected"]) - len(errors),
        "peak_total_bytes": peak["total"], "peak_parent_at_peak_bytes": peak["parent_at_peak"],
        "peak_children_at_peak_bytes": peak["children_at_peak"], "max_parent_bytes": peak["parent"],
        "max_children_sum_bytes": peak["children"], "max_processes_below": peak["workers"],
        "max_single_process_rss_wait4_bytes": rusage.ru_maxrss * 1024, "rss_samples": samples,
        # CPU seconds of the ingest process and its (reaped) workers: steadier than wall time on a shared machine
        "cpu_s": round(rusage.ru_utime + rusage.ru_stime, 2),
        "frame_files_per_cpu_s": round(report["frame_files"] / max(rusage.ru_utime + rusage.ru_stime, 1e-9), 1),
    }
    log(f"ingest -> {label}: {result['frame_files']:,} frame files, {result['videos']:,} videos in "
        f"{result['ingest_s']:.1f} s (wall {wall:.1f} s, CPU {result['cpu_s']:.1f} s) = "
        f"{result['frame_files_per_s']:,.0f} frame files/s; "
        f"peak RSS {mb(peak['total'])} (parent {mb(peak['parent_at_peak'])} + workers "
        f"{mb(peak['children_at_peak'])}); exit {child.returncode}, {len(errors)} rejected, "
        f"{result['rejected_warnings']} warnings")
    return result


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


# --- Neo4j ------------------------------------------------------------------------------------------------
class Neo4jServer:
    """The tests' Neo4j (kgtoolkit.testing.ScratchNeo4j): NEO4J_URI when given, else a LocalNeo4j in a
    temporary home, stopped by `stop`."""

    def __init__(self) -> None:
        from kgtoolkit.testing import ScratchNeo4j

        self.home = Path(tempfile.mkdtemp(prefix="kgtoolkit-bench-neo4j-"))
        started = time.perf_counter()
        try:
            self.neo4j = ScratchNeo4j.start(self.home)
        except KgToolkitError as error:
            raise SystemExit(str(error)) from None
        self.uri = self.neo4j.uri
        if self.neo4j.server is None:
            log(f"neo4j: using {self.uri} from NEO4J_URI (its graph is emptied)")
        else:
            log(f"neo4j: started {self.neo4j.info.version} at {self.uri} (pid {self.neo4j.pid}, heap "
                f"{self.neo4j.server.heap}, page cache {self.neo4j.server.pagecache}) in "
                f"{time.perf_counter() - started:.0f} s")

    def rss(self) -> int | None:
        try:
            return psutil.Process(self.neo4j.pid).memory_info().rss if self.neo4j.pid else None
        except psutil.Error:
            return None

    def stop(self) -> None:
        if self.neo4j.server is not None:
            self.neo4j.stop()
            log("neo4j: stopped")
        shutil.rmtree(self.home, ignore_errors=True)


def empty_neo4j(uri: str) -> None:
    from kgtoolkit.graph.neo4j_store import Neo4jGraphStore
    from kgtoolkit.testing import wipe_neo4j

    with Neo4jGraphStore(uri) as store:
        wipe_neo4j(store)


# --- the report -------------------------------------------------------------------------------------------
def verdict(ok: bool | None) -> str:
    return "not run" if ok is None else ("PASS" if ok else "FAIL")


def table(results: dict) -> tuple[pd.DataFrame, list[dict]]:
    """The report as one DataFrame (part, what, figure, target) and the targets as records."""
    rows: list[tuple[str, str, str, str]] = []
    targets: list[dict] = []

    def target(name: str, value: float | None, ok: bool | None, goal: str) -> str:
        targets.append({"target": name, "goal": goal, "value": value, "result": verdict(ok)})
        return f"{goal}: {verdict(ok)}"

    parse = results.get("parse")
    if parse:
        rows.append(("parse", "plain read, 1 process (I/O floor)", f"{parse['read_only_files_per_s']:,.0f} files/s", ""))
        for workers, fig in parse["workers"].items():
            rows.append(("parse", f"read_video_frames, {workers} worker(s)",
                         f"{fig['files_per_s']:,.0f} files/s ({fig['files']:,} in {fig['seconds']:.1f} s); "
                         f"{fig['files_per_cpu_s']:,.0f} per CPU-s", ""))
    for store in ("neo4j", "embedded"):
        fig = results.get("write", {}).get(store)
        if not fig:
            continue
        b, n, r = fig["batched"], fig["naive"], fig["ratio"]
        rows.append((f"write {store}", f"batched Video nodes ({b['nodes']:,}), median of {len(b['passes'])}", f"{b['nodes_per_s']:,.0f} nodes/s", ""))
        goal = ""
        if store == "neo4j":
            goal = target("neo4j relationships/s", b["rels_per_s"], b["rels_per_s"] >= TARGET_NEO4J_RELS_PER_S,
                          f">= {TARGET_NEO4J_RELS_PER_S:,.0f}/s")
        rows.append((f"write {store}", f"batched EXHIBITS ({b['rels']:,}), median of {len(b['passes'])}", f"{b['rels_per_s']:,.0f} rels/s", goal))
        rows.append((f"write {store}", "batched nodes + relationships", f"{b['rows_per_s']:,.0f} rows/s", ""))
        rows.append((f"write {store}", f"naive per row ({n['nodes']:,} nodes, {n['rels']:,} rels)",
                     f"{n['nodes_per_s']:,.0f} nodes/s, {n['rels_per_s']:,.0f} rels/s", ""))
        goal = ""
        if store == "neo4j":
            ok = r["nodes_per_s"] >= TARGET_NAIVE_RATIO and r["rels_per_s"] >= TARGET_NAIVE_RATIO
            goal = target("neo4j batched / naive", min(r["nodes_per_s"], r["rels_per_s"]), ok,
                          f">= {TARGET_NAIVE_RATIO:.0f}x (nodes and rels)")
        rows.append((f"write {store}", "batched / naive", f"nodes {r['nodes_per_s']}x, rels {r['rels_per_s']}x, "
                     f"rows {r['rows_per_s']}x", goal))
    for store, fig in results.get("ingest", {}).items():
        if store == "neo4j_server_rss_bytes":
            continue
        goal = target(f"ingest {store} frame files/s", fig["frame_files_per_s"],
                      fig["frame_files_per_s"] >= TARGET_FRAMES_PER_S, f">= {TARGET_FRAMES_PER_S:,.0f}/s")
        rows.append((f"ingest {store}", f"{fig['frame_files']:,} frame files, {fig['videos']:,} videos",
                     f"{fig['ingest_s']:.1f} s (process wall {fig['wall_s']:.1f} s) = "
                     f"{fig['frame_files_per_s']:,.0f} frame files/s; CPU {fig['cpu_s']:.1f} s = "
                     f"{fig['frame_files_per_cpu_s']:,.0f} per CPU-s", goal))
        goal = target(f"ingest {store} peak memory", fig["peak_total_bytes"],
                      fig["peak_total_bytes"] < TARGET_PEAK_BYTES, f"< {TARGET_PEAK_BYTES / 1e9:.1f} GB")
        rows.append((f"ingest {store}", "peak RSS, parent + workers",
                     f"{mb(fig['peak_total_bytes'])} = {mb(fig['peak_parent_at_peak_bytes'])} + "
                     f"{mb(fig['peak_children_at_peak_bytes'])}", goal))
    if "neo4j_server_rss_bytes" in results.get("ingest", {}) and results["ingest"]["neo4j_server_rss_bytes"]:
        rows.append(("neo4j server", "RSS after the ingests (not counted above)",
                     mb(results["ingest"]["neo4j_server_rss_bytes"]), ""))
    return pd.DataFrame(rows, columns=["part", "what", "figure", "target"]), targets


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    load = os.getloadavg()
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
               "memory_bytes": psutil.virtual_memory().total, "loadavg_start": [round(x, 2) for x in load],
               "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    log(f"kgtoolkit ingest benchmark ({'quick' if args.quick else 'full'}): python {machine['python']}, "
        f"{machine['cpus']} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    stamp = ensure_dataset(args.data, args.params)
    s = stamp["summary"]
    log(f"dataset: {s['train_videos']:,} train + {s['test_videos']:,} test videos, {s['frame_jsons']:,} frame JSONs")
    results: dict = {"mode": "quick" if args.quick else "full", "command": " ".join([Path(sys.executable).name,
                     *sys.argv]) if argv is None else None, "dataset": {"path": str(args.data), **stamp},
                     "machine": machine}
    scratch = Path(tempfile.mkdtemp(prefix="kgtoolkit-bench-ingest-"))
    neo4j_server: Neo4jServer | None = None
    try:
        if "parse" in args.only:
            results["parse"] = bench_parse(args.data)
        if not args.no_neo4j and args.only & {"write", "ingest"}:
            neo4j_server = Neo4jServer()
        if "write" in args.only:
            results["write"] = {}
            if neo4j_server:
                results["write"]["neo4j"] = bench_neo4j_writes(neo4j_server.uri, args.rels, args.naive_rows, args.repeat)
            results["write"]["embedded"] = bench_embedded_writes(args.rels, args.naive_rows, scratch / "write", args.repeat)
        if "ingest" in args.only:
            results["ingest"] = {"embedded": run_ingest(args.data, str(scratch / "ingest-graph"), args.workers,
                                                        scratch, "embedded")}
            if neo4j_server:
                empty_neo4j(neo4j_server.uri)
                results["ingest"]["neo4j"] = run_ingest(args.data, neo4j_server.uri, args.workers, scratch, "neo4j")
                results["ingest"]["neo4j_server_rss_bytes"] = neo4j_server.rss()
                empty_neo4j(neo4j_server.uri)
    finally:
        if neo4j_server:
            neo4j_server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - began, 1)
    rows, targets = table(results)
    results["targets"] = targets
    print()
    print(f"Kinetics-TPS-scale ingest benchmark ({results['mode']}): {s['train_videos']:,} train + "
          f"{s['test_videos']:,} test videos, {s['frame_jsons']:,} frame JSONs; {machine['cpus']} CPUs, load "
          f"average {' '.join(map(str, machine['loadavg_start']))} at start, "
          f"{' '.join(map(str, machine['loadavg_end']))} at end; {machine['date_utc']}; {results['seconds']:.0f} s")
    write_tables(args.json, {None: rows, "targets": pd.DataFrame(targets, columns=["target", "goal", "value", "result"])},
                 floatfmt=",.1f")
    failed = [t["target"] for t in targets if t["result"] == "FAIL"]
    print(f"targets: {len(targets) - len(failed)} of {len(targets)} met" + (f"; missed: {', '.join(failed)}" if failed else ""))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print(f"figures written to {args.json} (tables as .md and .csv beside it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
