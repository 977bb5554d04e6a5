"""The Triplet Encoder's cost by token mixing: the graph branch of a training step, and scoring a
clip against every action and every body movement at classification.

    python pipelines/bench_triplet.py                      # D = 512 (ViT-B/16's), batches 15 and 64
    python pipelines/bench_triplet.py --batches 15 --repeats 5

Training: forward + backward of the KG-CLIP loss's graph branch alone (v-b, a-b and v-a, each
1/2 (forward + inverse) + lambda L_mm), the clip and text embeddings given, for each mixing; also
"sequence + pair loss", the joint encoder with the per-pair v-a term (`optim.pair_weight: 1`) as
pipelines/tiny-scratch.yaml trained before the two towers (run at batches up to 32 only: at batch 64 it
held over 13 GB and was killed for memory on a 24 GB machine). Classification: one clip's scores against the
KG-CLIP release's 24 actions (S_output) and 391 body movements (v-b score), the video embedding
given: the joint encoder runs one sequence per (clip, action) pair each way; two towers encode the
clip once per direction and use the actions' and movements' keys, computed once when the
classifier is made (`KGClip.relation_keys`; that one-off cost is printed too). Random weights: the
cost does not depend on them. Median wall time of --repeats runs, on the CPU threads torch has.
"""

from __future__ import annotations

import kgtoolkit  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

import argparse
import json
import statistics
import time
from pathlib import Path

import pandas as pd
import torch

from kgtoolkit.model.backbone import load_backbone
from kgtoolkit.model.kgclip import CLASS_WEIGHTS, MOVEMENT_WEIGHTS, KGClip
from kgtoolkit.model.triplet import MIXINGS
from kgtoolkit.schema import REL_AB, REL_VA, REL_VB
from kgtoolkit.tables import write_tables

ACTIONS, MOVEMENTS = 24, 391  # the KG-CLIP release graph


def median_seconds(fn, repeats: int, warmup: bool = True) -> float:
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def graph_step(model: KGClip, batch: int, pair_weight: float) -> None:
    d = model.embed_dim
    video = torch.randn(batch, d, requires_grad=True)
    actions = torch.randn(ACTIONS, d, requires_grad=True)
    movements = torch.randn(batch, d, requires_grad=True)
    targets = torch.randint(0, ACTIONS, (batch,))
    loss = model.relation_loss(video, REL_VA, actions[targets], targets, lam=0.1)
    loss = loss + model.relation_loss(video, REL_VB, movements, torch.arange(batch), lam=0.1)
    loss = loss + model.relation_loss(actions[targets], REL_AB, movements, torch.arange(batch), lam=0.1)
    if pair_weight:
        loss = loss + pair_weight * model.pair_loss(video, actions, targets)
    loss.backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-16", help="open_clip model whose embedding width is used")
    parser.add_argument("--batches", type=int, nargs="+", default=[15, 64])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sequence-repeats", type=int, default=1,
                        help="repeats for the joint encoder at batches over 32, without a warm-up (each step takes minutes)")
    parser.add_argument("--json", type=Path, help="write the figures here (and the tables as Markdown + CSV beside it)")
    args = parser.parse_args()
    torch.manual_seed(0)
    backbone = load_backbone(args.model)
    print(f"{args.model} embeddings (D = {backbone.embed_dim}), {torch.get_num_threads()} CPU threads, "
          f"torch {torch.__version__}; median of {args.repeats} (sequence at batches over 32: "
          f"{args.sequence_repeats})", flush=True)
    models = {m: KGClip(backbone, frames=8, triplet_mixing=m).train() for m in MIXINGS}

    step: dict[str, dict[int, float]] = {}
    for mixing, pair in [(m, 0.0) for m in MIXINGS] + [("sequence", 1.0)]:
        name = mixing + (" + pair loss" if pair else "")
        step[name] = {}
        for b in args.batches:
            if pair and b > 32:  # the joint encoder's per-pair terms at batch 64: over 13 GB (docstring)
                continue
            slow = mixing == "sequence" and b > 32  # minutes a step: no warm-up, --sequence-repeats
            repeats = args.sequence_repeats if slow else args.repeats
            step[name][b] = median_seconds(lambda: graph_step(models[mixing], b, pair), repeats, warmup=not slow)
            print(f"  training step, {name}, batch {b}: {1000 * step[name][b]:,.0f} ms", flush=True)

    video = torch.randn(1, backbone.embed_dim)
    actions, movements = torch.randn(ACTIONS, backbone.embed_dim), torch.randn(MOVEMENTS, backbone.embed_dim)
    latency: dict[str, dict[str, float]] = {}
    for mixing in MIXINGS:
        model = models[mixing].eval()
        if model.two_tower:
            def make_keys(model=model):
                return (model.relation_keys(actions, REL_VA, CLASS_WEIGHTS),
                        model.relation_keys(movements, REL_VB, MOVEMENT_WEIGHTS))
            class_keys, movement_keys = make_keys()
            latency[mixing] = {"keys": median_seconds(make_keys, args.repeats),
                               "actions": median_seconds(lambda: model.keyed_scores(video, class_keys), args.repeats),
                               "movements": median_seconds(lambda: model.keyed_scores(video, movement_keys),
                                                           args.repeats)}
        else:
            latency[mixing] = {"actions": median_seconds(lambda: model.class_scores(video, actions), args.repeats),
                               "movements": median_seconds(lambda: model.movement_scores(video, movements),
                                                           args.repeats)}
        print(f"  classification, {mixing}: {latency[mixing]}", flush=True)

    ms = lambda seconds: None if seconds is None else round(1000 * seconds, 1)  # noqa: E731
    training = pd.DataFrame([{"graph branch, forward + backward": name,
                              **{f"batch {b} (ms)": ms(times.get(b)) for b in args.batches},
                              **{f"sequence + pair loss / this, batch {b}": step["sequence + pair loss"][b] / times[b]
                                 for b in args.batches if b in step["sequence + pair loss"] and b in times},
                              **{f"sequence / this, batch {b}": step["sequence"][b] / times[b]
                                 for b in args.batches if b in times}}
                             for name, times in step.items()])
    scoring = pd.DataFrame([{"one clip": mixing, f"{ACTIONS} actions (ms)": ms(t["actions"]),
                             f"{MOVEMENTS} movements (ms)": ms(t["movements"]),
                             "keys, once per classifier (ms)": ms(t.get("keys")),
                             "sequence / this, actions": latency["sequence"]["actions"] / t["actions"],
                             "sequence / this, movements": latency["sequence"]["movements"] / t["movements"]}
                            for mixing, t in latency.items()])
    print()
    write_tables(args.json, {None: training, "scoring": scoring}, floatfmt=",.1f")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "threads": torch.get_num_threads(),
                                         "torch": torch.__version__, "step_seconds": step,
                                         "scoring_seconds": latency}, indent=1))


if __name__ == "__main__":
    main()
