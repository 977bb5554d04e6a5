"""The Triplet Encoder's cost by token mixing: the graph branch of a training step, and scoring a
clip against every action and every body movement at classification.

    python pipelines/bench_triplet.py                      # D = 512 (ViT-B/16's), batches 15 and 64
    python pipelines/bench_triplet.py --batches 15 --repeats 5

Training: forward + backward of the KG-CLIP loss's graph branch alone (v-b, a-b and v-a, each
1/2 (forward + inverse) + lambda L_mm), the clip and text embeddings given, for each mixing; also
"sequence + pair loss", the joint encoder with the per-pair v-a term (`optim.pair_weight: 1`) as
pipelines/tiny.yaml trained before the two towers (run at batches up to 32 only: at batch 64 it
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
import statistics
import time

import torch

from kgtoolkit.model.backbone import load_backbone
from kgtoolkit.model.kgclip import CLASS_WEIGHTS, MOVEMENT_WEIGHTS, REL_AB, REL_VA, REL_VB, KGClip
from kgtoolkit.model.triplet import MIXINGS

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
    args = parser.parse_args()
    torch.manual_seed(0)
    backbone = load_backbone(args.model)
    print(f"{args.model} embeddings (D = {backbone.embed_dim}), {torch.get_num_threads()} CPU threads, "
          f"torch {torch.__version__}; median of {args.repeats} (sequence at batches over 32: "
          f"{args.sequence_repeats})\n")
    variants = [(m, 0.0) for m in MIXINGS] + [("sequence", 1.0)]
    models = {m: KGClip(backbone, frames=8, triplet_mixing=m).train() for m in MIXINGS}

    print("| training: graph branch, forward + backward | " + " | ".join(f"batch {b}" for b in args.batches)
          + " |")
    print("|---|" + "---:|" * len(args.batches))
    step: dict[tuple[str, float], list[float]] = {}
    for mixing, pair in variants:
        model = models[mixing]
        seconds = []
        for b in args.batches:
            if pair and b > 32:  # the joint encoder's per-pair terms at batch 64: over 13 GB (docstring)
                seconds.append(float("nan"))
                continue
            slow = mixing == "sequence" and b > 32  # minutes a step: no warm-up, --sequence-repeats
            repeats = args.sequence_repeats if slow else args.repeats
            seconds.append(median_seconds(lambda: graph_step(model, b, pair), repeats, warmup=not slow))
        step[mixing, pair] = seconds
        name = mixing + (" + pair loss" if pair else "")
        print(f"| {name} | " + " | ".join("not run" if s != s else f"{1000 * s:,.0f} ms" for s in seconds) + " |",
              flush=True)
    for mixing in ("none", "pairs", "batch"):
        for before in (("sequence", 0.0), ("sequence", 1.0)):
            ratios = [(b / a, size) for a, b, size in zip(step[mixing, 0.0], step[before], args.batches) if b == b]
            print(f"{before[0]}{' + pair loss' if before[1] else ''} / {mixing}: "
                  + ", ".join(f"{r:.1f}x at batch {size}" for r, size in ratios))

    print("\n| classification: one clip | 24 actions | 391 movements | keys, once per classifier |")
    print("|---|---:|---:|---:|")
    video = torch.randn(1, backbone.embed_dim)
    actions, movements = torch.randn(ACTIONS, backbone.embed_dim), torch.randn(MOVEMENTS, backbone.embed_dim)
    latency = {}
    for mixing in MIXINGS:
        model = models[mixing].eval()
        if model.two_tower:
            def make_keys(model=model):
                return (model.relation_keys(actions, REL_VA, CLASS_WEIGHTS),
                        model.relation_keys(movements, REL_VB, MOVEMENT_WEIGHTS))
            class_keys, movement_keys = make_keys()
            once = f"{1000 * median_seconds(make_keys, args.repeats):,.1f} ms"
            per_action = median_seconds(lambda: model.keyed_scores(video, class_keys), args.repeats)
            per_movement = median_seconds(lambda: model.keyed_scores(video, movement_keys), args.repeats)
        else:
            once = "-"
            per_action = median_seconds(lambda: model.class_scores(video, actions), args.repeats)
            per_movement = median_seconds(lambda: model.movement_scores(video, movements), args.repeats)
        latency[mixing] = (per_action, per_movement)
        print(f"| {mixing} | {1000 * per_action:,.1f} ms | {1000 * per_movement:,.1f} ms | {once} |", flush=True)
    for mixing in ("none", "pairs", "batch"):
        a, m = (s / t for s, t in zip(latency["sequence"], latency[mixing]))
        print(f"sequence / {mixing}: {a:.0f}x over the actions, {m:.0f}x over the movements")


if __name__ == "__main__":
    main()
