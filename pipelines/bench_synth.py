"""Benchmark of `kgtoolkit.synth.generate`: videos/s and frame JSONs/s, for a normal and a share_videos run.

The normal run renders and encodes every video (default 12 classes x (20 train + 5 test), 16 frames,
112 px). The share_videos run renders one mp4 per (class, split), hard-links it for the others and
writes every training video's frame JSONs: it measures the annotation path that the ingest benchmark
needs (default 24 classes x (20 + 5) videos of 151 frames; `--kinetics-scale` gives the size of
Kinetics-TPS: 24 x (159 + 39) = 4,752 videos, 576,216 frame JSONs). Each run writes into a fresh
temporary folder (or under --out) that is deleted afterwards unless --keep is given.

    .venv/bin/python pipelines/bench_synth.py
    .venv/bin/python pipelines/bench_synth.py --kinetics-scale --skip-normal
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
from pathlib import Path

from kgtoolkit.synth import SynthSummary, generate

KINETICS_SCALE = {"classes": 24, "train_per_class": 159, "test_per_class": 39, "frames": 151}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=12)
    parser.add_argument("--train-per-class", type=int, default=20)
    parser.add_argument("--test-per-class", type=int, default=5)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--fps", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--share-classes", type=int, default=24)
    parser.add_argument("--share-train-per-class", type=int, default=20)
    parser.add_argument("--share-test-per-class", type=int, default=5)
    parser.add_argument("--share-frames", type=int, default=151)
    parser.add_argument("--kinetics-scale", action="store_true",
                        help="share run at Kinetics-TPS size: 24 classes x (159 + 39) videos, 151 frames")
    parser.add_argument("--skip-normal", action="store_true")
    parser.add_argument("--skip-share", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="parent folder for the runs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    return parser.parse_args(argv)


def report(label: str, summary: SynthSummary) -> None:
    videos = summary.train_videos + summary.test_videos
    print(f"{label}: {videos} videos ({summary.rendered_videos} rendered, {summary.codec}), "
          f"{summary.frame_jsons} frame JSONs in {summary.seconds:.2f} s -> "
          f"{summary.videos_per_second:.1f} videos/s, {summary.frame_jsons_per_second:.0f} frame JSONs/s",
          flush=True)


def run(label: str, parent: Path, keep: bool, **options: object) -> SynthSummary:
    out = parent / label
    try:
        summary = generate(out, **options)  # type: ignore[arg-type]
    finally:
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
    report(label, summary)
    return summary


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"kgtoolkit synth benchmark: python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{platform.machine()}", flush=True)
    parent = args.out or Path(tempfile.mkdtemp(prefix="bench_synth_"))
    parent.mkdir(parents=True, exist_ok=True)
    common = {"size": args.size, "fps": args.fps, "seed": args.seed, "quirks": 1}  # the quirks its BENCHMARKS figures were measured with
    try:
        if not args.skip_normal:
            run("normal", parent, args.keep, classes=args.classes, train_per_class=args.train_per_class,
                test_per_class=args.test_per_class, frames=args.frames, **common)
        if not args.skip_share:
            share = KINETICS_SCALE if args.kinetics_scale else {
                "classes": args.share_classes, "train_per_class": args.share_train_per_class,
                "test_per_class": args.share_test_per_class, "frames": args.share_frames}
            run("share_videos", parent, args.keep, share_videos=True, **share, **common)
    finally:
        if args.out is None and not args.keep:
            shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
