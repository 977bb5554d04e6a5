"""Training throughput of KG-CLIP on this machine, and the clip loader's own throughput in the
same run, so that one can see whether the loader or the model is the bottleneck.

    python pipelines/bench_train.py                 # tiny config, CPU, a generated synthetic set
    python pipelines/bench_train.py --config pipelines/vit-b-16.yaml --set model.pretrained=null

Prints: loader alone (clips/s, DataLoader with the config's workers, no model), model step alone
(clips/s on clips already decoded in memory: forward + backward + optimizer step), and the
training loop end to end (clips/s as `kgtoolkit train` reports it), and the ratio loader / model.
Every timed step uses the whole KG-CLIP loss (`optim.graph_warmup_epochs=0` unless --set says otherwise).
"""

from __future__ import annotations

import kgtoolkit  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader

from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.ingest import ingest
from kgtoolkit.synth import generate
from kgtoolkit.tables import write_tables
from kgtoolkit.media import ClipDataset, ClipDecoder, collate_edges
from kgtoolkit.train.clips import EdgeBatches, EpochBatches
from kgtoolkit.train.config import load_config
from kgtoolkit.train.loop import clip_specs, train
from kgtoolkit.runs import build_model, tokenize
from kgtoolkit.train.runtime import setup_runtime
from kgtoolkit.train.sampler import TripletSampler
from kgtoolkit.train.step import TrainStep, vb_edges

REPO = Path(__file__).resolve().parents[1]


def dataset(root: Path, classes: int, per_class: int) -> Path:
    graph = root / f"graph-{classes}x{per_class}"
    if not graph.exists():
        generate(root / f"ktps-{classes}x{per_class}", classes=classes, train_per_class=per_class, test_per_class=2,
                 frames=16, size=112, seed=0, quirks=1)  # as its BENCHMARKS figures were measured
        with EmbeddedGraphStore(graph) as store:
            ingest(root / f"ktps-{classes}x{per_class}", store)
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "pipelines" / "tiny-scratch.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override key=value")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "kgtoolkit-bench-train")
    parser.add_argument("--classes", type=int, default=12)
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--batches", type=int, default=12, help="batches timed for the loader and the model")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    # every timed step uses the whole KG-CLIP loss (a graph warm-up's first epochs are CLIP-only and cheaper)
    config = load_config(args.config, ["optim.graph_warmup_epochs=0", *args.overrides, "write_embeddings=false"])
    graph = dataset(args.data, args.classes, args.per_class)
    runtime = setup_runtime(config.device, config.precision)
    store = EmbeddedGraphStore(graph)
    data = TripletSampler(store).load(seed=config.seed)
    model, backbone = build_model(config)
    model.to(runtime.device)
    decoder = ClipDecoder(config.data.frames, backbone.image_size, backbone.mean, backbone.std, config.data.augment)
    train_set = ClipDataset(clip_specs(data.videos), decoder, train=True, seed=config.seed)
    indices = [v.index for v in data.split("train")]
    bs = config.optim.batch_size
    edges = vb_edges(data) if config.data.vb_sampling == "per_edge" else None

    def loader(epoch: int) -> DataLoader:
        batches = EpochBatches(indices, bs, config.seed, epoch) if edges is None else \
            EdgeBatches(indices, bs, config.seed, epoch, edges)
        return DataLoader(train_set, batch_sampler=batches, num_workers=config.data.workers, collate_fn=collate_edges,
                          prefetch_factor=4 if config.data.workers else None)

    # 1. the loader alone (first batch excluded: worker start-up)
    batches, clips, started = [], 0, None
    for epoch in range(100):
        for frames, idx, clip_edges, _ in loader(epoch):  # generated clips all decode
            if started is None:
                started = time.perf_counter()
            else:
                clips += len(idx)
            batches.append((frames, idx, clip_edges))
            if len(batches) > args.batches:
                break
        if len(batches) > args.batches:
            break
    loader_rate = clips / (time.perf_counter() - started)

    # 2. the model step alone (train()'s own TrainStep, without the schedule), on those decoded clips
    action_tokens = tokenize(backbone, data.action_names, config.model.prompt_templates).to(runtime.device)
    movement_tokens = tokenize(backbone, data.movement_names, config.model.prompt_templates).to(runtime.device)
    train_step = TrainStep(model, config, runtime, action_tokens, movement_tokens)
    model.train()
    timed = 0
    for step, (frames, idx, clip_edges) in enumerate(batches):
        if step == 1:
            if runtime.device.type == "cuda":
                torch.cuda.synchronize()
            started, timed = time.perf_counter(), 0
        train_step(train_step.batch(frames, idx, data, 0, step, clip_edges, edges))
        timed += len(idx) if step >= 1 else 0
    if runtime.device.type == "cuda":
        torch.cuda.synchronize()
    model_rate = timed / (time.perf_counter() - started)

    # 3. the training loop end to end (two epochs; the second is reported: no start-up costs)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(args.config, ["optim.graph_warmup_epochs=0", *args.overrides, "write_embeddings=false",
                                        "optim.epochs=2"])
        records: list[dict] = []
        train(cfg, store, Path(tmp) / "run", on_epoch=records.append)
    loop = records[-1]

    figures = {
        "config": str(args.config), "device": str(runtime.device), "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(), "frames": config.data.frames, "image_size": backbone.image_size,
        "batch_size": bs, "workers": config.data.workers, "train_videos": len(indices),
        "loader_clips_per_s": round(loader_rate, 1), "model_step_clips_per_s": round(model_rate, 1),
        "loop_clips_per_s": loop["clips_per_s"], "loop_loader_wait_s": loop["loader_wait_s"],
        "loop_epoch_s": loop["seconds"], "loader_over_model": round(loader_rate / model_rate, 2),
    }
    print(f"KG-CLIP training throughput: {args.config.name}, {runtime.device}, {figures['threads']} threads, "
          f"{config.data.frames} frames at {backbone.image_size} px, batch {bs}, {config.data.workers} loader workers")
    write_tables(args.json, {None: pd.DataFrame({"what": [
        "loader alone", "model step alone (decoded clips in memory)",
        f"training loop end to end (epoch 2: {loop['seconds']} s, waiting on the loader {loop['loader_wait_s']} s)"],
        "clips/s": [figures["loader_clips_per_s"], figures["model_step_clips_per_s"], figures["loop_clips_per_s"]]})},
        floatfmt="g")
    verdict = "the loader is not the bottleneck" if loader_rate >= model_rate else "the LOADER is the bottleneck"
    print(f"loader / model = {figures['loader_over_model']}: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    store.close()


if __name__ == "__main__":
    main()
