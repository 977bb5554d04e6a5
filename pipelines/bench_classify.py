"""Latency of `kgtoolkit classify` on this machine: cold start (process start to the first
answer, as a user runs it) and warm per-clip latency (model loaded once, one clip at a time),
for the tiny model and for open_clip ViT-B-32 with random weights, 8 frames.

    python pipelines/bench_classify.py [--repeats 10] [--models kg-tiny ViT-B-32]

Runs are made on the spot (random weights; a latency benchmark needs no training) over a small
synthetic set, so nothing is downloaded.
"""

from __future__ import annotations

import kgtoolkit  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from kgtoolkit.classify import Classifier
from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.ingest import ingest
from kgtoolkit.synth import generate
from kgtoolkit.tables import write_tables
from kgtoolkit.train.config import load_config
from kgtoolkit.runs import RunDir, load_run
from kgtoolkit.train.sampler import TripletSampler


def untrained_run(model_name: str, frames: int, graph: Path, out: Path) -> Path:
    config = load_config(None, [f"model.name={model_name}", f"data.frames={frames}"])
    with EmbeddedGraphStore(graph) as store:
        id_maps = TripletSampler(store).load().id_maps()
    return RunDir(out).write_untrained(config, id_maps, status="untrained (benchmark)").path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["kg-tiny", "ViT-B-32"])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root / "ktps", classes=6, train_per_class=2, test_per_class=2, frames=32, size=224, seed=0,
                 quirks=1)  # the annotation quirks its BENCHMARKS figures were measured with
        with EmbeddedGraphStore(root / "graph") as store:
            ingest(root / "ktps", store)
        clips = sorted((root / "ktps" / "test_videos").rglob("*.mp4"))
        for name in args.models:
            run = untrained_run(name, args.frames, root / "graph", root / f"run-{name}")
            cold = []
            for _ in range(3):
                started = time.perf_counter()
                result = subprocess.run([sys.executable, "-m", "kgtoolkit", "classify", str(clips[0]), "--run", str(run),
                                         "--graph", str(root / "graph"), "--json"], capture_output=True, text=True)
                cold.append(time.perf_counter() - started)
                assert result.returncode == 0, result.stderr
            loaded = load_run(run, "cuda" if torch.cuda.is_available() else "cpu")
            store = EmbeddedGraphStore(root / "graph")
            classifier = Classifier(loaded, store)
            classifier([clips[0]])  # warm-up
            warm = []
            for i in range(args.repeats):
                started = time.perf_counter()
                classifier([clips[i % len(clips)]])
                warm.append(time.perf_counter() - started)
            store.close()
            rows.append({"model": name, "frames": args.frames, "image_size": loaded.backbone.image_size,
                         "cold_start_s": round(statistics.median(cold), 2),
                         "warm_per_clip_ms": round(1000 * statistics.median(warm), 1),
                         "threads": torch.get_num_threads()})
    load = os.getloadavg()
    print(f"classify latency, {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    table = pd.DataFrame(rows).assign(model=lambda f: f["model"] + " (random weights)").rename(columns={
        "image_size": "input px", "cold_start_s": "cold start (s, median of 3)",
        "warm_per_clip_ms": f"warm per clip (ms, median of {args.repeats})"})
    write_tables(args.json, {None: table.drop(columns="threads")}, floatfmt="g")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
