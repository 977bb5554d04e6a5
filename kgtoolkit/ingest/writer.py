"""`GraphWriter`: buffers nodes and relationships and writes them in batches (each batch one
transaction: `UNWIND $rows MERGE` on Neo4j), nodes before the relationships that need them."""

from __future__ import annotations

from collections import defaultdict

from kgtoolkit.graph import GraphStore, NodeRow, RelRow
from kgtoolkit.ingest.report import IngestReport
from kgtoolkit.schema import LABELS, REL_TYPES, check_label, check_rel_type


class GraphWriter:
    def __init__(self, store: GraphStore, report: IngestReport, batch_size: int = 5000):
        self.store = store
        self.report = report
        self.batch_size = batch_size
        self._nodes: dict[str, dict[str, NodeRow]] = defaultdict(dict)
        self._rels: dict[str, dict[tuple[str, str], RelRow]] = defaultdict(dict)
        self._pending = 0
        self._once: set[tuple[str, str]] = set()

    def node_once(self, label: str, node_id: str, **props) -> bool:
        """Write a node the first time this run meets it; True if this was the first time."""
        if (label, node_id) in self._once:
            return False
        self._once.add((label, node_id))
        self.node(label, node_id, **props)
        return True

    def node(self, label: str, node_id: str, **props) -> None:
        check_label(label)
        self._nodes[label][node_id] = NodeRow(node_id, props)  # the last write of an id in a batch wins
        self._tick()

    def rel(self, rel_type: str, src: str, dst: str, **props) -> None:
        check_rel_type(rel_type)
        self._rels[rel_type][(src, dst)] = RelRow(src, dst, props)
        self._tick()

    def _tick(self) -> None:
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        for label in LABELS:  # nodes first: relationships MATCH their endpoints
            rows = list(self._nodes.pop(label, {}).values())
            for start in range(0, len(rows), self.batch_size):
                written = self.store.upsert_nodes(label, rows[start : start + self.batch_size])
                self.report.written[label] = self.report.written.get(label, 0) + written
        for rel_type in REL_TYPES:
            rows = list(self._rels.pop(rel_type, {}).values())
            for start in range(0, len(rows), self.batch_size):
                result = self.store.upsert_relationships(rel_type, rows[start : start + self.batch_size])
                self.report.written[rel_type] = self.report.written.get(rel_type, 0) + result.written
                for row in result.missing:
                    self.report.reject(f"{rel_type} {row.src} -> {row.dst}", "an endpoint node does not exist")
        self._pending = 0
