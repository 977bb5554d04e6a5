"""The floor and the shortcut audit of a Kinetics-TPS-style video set (kgtoolkit.baselines).

For a folder laid out as `kgtoolkit synth` writes it (train_videos/<action>/*.mp4 and
test_videos/<action>/*.mp4), a linear probe is trained on the training videos and scored on the test
videos for each feature set:

- shortcut audit, features blind to the body: `colour` (colour statistics), `energy` (global
  motion energy and its time profile), `frames` (frame count), `blind` (the three together). On a
  good benchmark each is close to chance;
- the floor, `motion_grid`: frame-difference energy on a 4 x 4 grid in 3 time segments (48
  numbers). A model that does not beat it by a clear margin has not learned the task yet.

    .venv/bin/python pipelines/probe_floor.py DATA/ktps
    .venv/bin/python pipelines/probe_floor.py --synth "--classes 12 --train-per-class 20 --test-per-class 5" \\
        --json /tmp/floor.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from kgtoolkit.baselines import FEATURE_SETS, labelled_clips, probe_all
from kgtoolkit.tables import write_tables


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, help="a synth-style folder (train_videos/, test_videos/)")
    parser.add_argument("--synth", default=None, help="generate the folder first with these `kgtoolkit synth` options")
    parser.add_argument("--sets", nargs="+", choices=FEATURE_SETS, default=list(FEATURE_SETS))
    parser.add_argument("--short", type=int, default=64, help="decode at this short side (pixels)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here (and .md/.csv beside it)")
    return parser.parse_args(argv)


def floor_table(folder: Path, sets=FEATURE_SETS, short: int = 64) -> pd.DataFrame:
    train, test = labelled_clips(folder, "train"), labelled_clips(folder, "test")
    return pd.DataFrame([r.row() for r in probe_all(train, test, sets=sets, short=short)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder
        if args.synth is not None:
            folder = folder or Path(scratch) / "ktps"
            subprocess.run([sys.executable, "-m", "kgtoolkit", "synth", str(folder), *shlex.split(args.synth)],
                           check=True, stdout=subprocess.DEVNULL)
        if folder is None:
            raise SystemExit("give a folder or --synth OPTIONS")
        start = time.perf_counter()
        table = floor_table(folder, args.sets, args.short)
        seconds = time.perf_counter() - start
    write_tables(args.json, {None: table}, floatfmt=".4g")
    print(f"\n{folder}: {seconds:.1f} s")
    if args.json:
        args.json.with_suffix(".meta.json").write_text(json.dumps({"folder": str(folder), "synth": args.synth,
                                                                   "seconds": round(seconds, 1)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
