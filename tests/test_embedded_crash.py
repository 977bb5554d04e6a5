"""A process killed with SIGKILL in the middle of large embedded-store writes leaves a store that
opens, passes SQLite's integrity check, and holds each batch either whole or not at all."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kgtoolkit.graph.embedded import DB_FILE, EmbeddedGraphStore

WRITER = textwrap.dedent(
    """
    import sys
    from kgtoolkit.graph import NodeRow, RelRow
    from kgtoolkit.graph.embedded import EmbeddedGraphStore

    store = EmbeddedGraphStore(sys.argv[1])
    store.upsert_nodes("Action", [NodeRow("action:a", {"name": "a"})])
    batch = 0
    while True:
        batch += 1
        # each batch rewrites the same 5,000 nodes and adds 1,000 new ones with their edges
        rows = [NodeRow(f"video:old{i}", {"batch": batch, "pad": "x" * 200}) for i in range(5000)]
        rows += [NodeRow(f"video:b{batch}-{j}", {"batch": batch}) for j in range(1000)]
        store.upsert_nodes("Video", rows)
        store.upsert_relationships("SHOWS", [RelRow(f"video:b{batch}-{j}", "action:a", {"batch": batch})
                                             for j in range(1000)])
        print(batch, flush=True)
    """
)


def test_sigkill_mid_write_leaves_whole_batches(tmp_path: Path):
    graph = tmp_path / "graph"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(graph)], stdout=subprocess.PIPE, text=True)
    completed = 0
    deadline = time.monotonic() + 120
    while completed < 5 and time.monotonic() < deadline:  # let several batches commit, then kill mid-way
        completed = int(process.stdout.readline())
    time.sleep(0.15)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert completed >= 5

    import sqlite3

    with sqlite3.connect(graph / DB_FILE) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = EmbeddedGraphStore(graph)
    old = [n for page in store.iter_nodes("Video") for n in page if n.id.startswith("video:old")]
    batches = {n.props["batch"] for n in old}
    assert len(old) == 5000 and len(batches) == 1, "a batch of node updates was torn"
    last = batches.pop()
    assert last >= completed
    assert store.count_nodes()["Video"] == 5000 + 1000 * last
    # the edges of the last node batch may or may not have committed, but only as a whole batch
    edges = store.count_relationships()["SHOWS"]
    assert edges in (1000 * last, 1000 * (last - 1))
    store.close()
