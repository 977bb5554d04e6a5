"""`ingest(path, store)`: a Kinetics-TPS root or a KG-CLIP release folder -> the graph model."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph import GraphStore
from kgtoolkit.ingest.ktps import IngestOptions, ingest_ktps, is_ktps_root
from kgtoolkit.ingest.release import ingest_release, is_release_dir
from kgtoolkit.ingest.report import IngestReport, Problem
from kgtoolkit.ingest.writer import GraphWriter

__all__ = ["IngestOptions", "IngestReport", "Problem", "detect_source", "ingest"]


def detect_source(path: Path) -> str:
    if not path.exists():
        raise ConfigurationError(f"{path}: no such file or directory")
    if not path.is_dir():
        raise ConfigurationError(f"{path}: expected a dataset folder, found a file")
    if is_release_dir(path):
        return "kgclip-release"
    if is_ktps_root(path):
        return "ktps"
    raise ConfigurationError(
        f"{path}: neither a Kinetics-TPS root (train_videos/, test_videos/, train_annotations/, list/) "
        "nor a KG-CLIP release folder (kg_idx.json and the triplet pickles)"
    )


def ingest(
    path: Path,
    store: GraphStore,
    options: IngestOptions = IngestOptions(),
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    path = Path(path).resolve()
    kind = detect_source(path)
    report = IngestReport(source=str(path), kind=kind, graph=store.uri)
    started = time.perf_counter()
    store.apply_schema()
    writer = GraphWriter(store, report, batch_size=options.batch_size)
    if kind == "ktps":
        ingest_ktps(path, writer, report, options, progress)
    else:
        ingest_release(path, writer, report, options)
    writer.flush()
    report.seconds = time.perf_counter() - started
    report.nodes = store.count_nodes()
    report.relationships = store.count_relationships()
    return report
