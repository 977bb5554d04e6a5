"""Score a trained run on the test videos of synth-style folders, with how likely the score is by chance.

A test top-1 below chance on a small test set is either a defect (labels permuted, a shortcut that
points the wrong way) or a draw. This script tells them apart: it classifies the test videos of each
folder (the run's own test set and fresh ones, e.g. `kgtoolkit synth OUT --seed 7 --train-per-class
1 --test-per-class 20`), and prints top-1 and top-5 beside chance with the binomial probability of
a score at most this low (and at least this high) for a model at chance. The training videos are
scored too (every 4th), which shows whether the model fits them.

    .venv/bin/python pipelines/score_run.py RUN_DIR GRAPH FOLDER [FOLDER ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from math import comb
from pathlib import Path

import pandas as pd

from kgtoolkit.baselines import labelled_clips
from kgtoolkit.classify import Classifier
from kgtoolkit.graph import open_graph
from kgtoolkit.tables import write_tables
from kgtoolkit.train.run import load_run
from kgtoolkit.vocab import action_name


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    return sum(comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(0, k + 1))


def score(classifier: Classifier, clips: list[tuple[Path, int]], classes: int, label: str) -> dict:
    results = classifier([path for path, _ in clips])
    truth = [action_name(path.parent.name) for path, _ in clips]
    scored = [(r, t) for r, t in zip(results, truth) if r.top]
    n = len(scored)
    top1 = sum(r.top[0].action == t for r, t in scored)
    top5 = sum(t in [a.action for a in r.top[:5]] for r, t in scored)
    chance1, chance5 = 1 / classes, min(5, classes) / classes
    return {"videos": label, "n": n, "top-1 %": 100 * top1 / n, "chance %": 100 * chance1,
            "P(top-1 <= this | chance)": binomial_cdf(top1, n, chance1),
            "P(top-1 >= this | chance)": 1 - binomial_cdf(top1 - 1, n, chance1) if top1 else 1.0,
            "top-5 %": 100 * top5 / n, "top-5 chance %": 100 * chance5,
            "P(top-5 <= this | chance)": binomial_cdf(top5, n, chance5)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a `kgtoolkit train` run directory")
    parser.add_argument("graph", help="the graph it was trained on (embedded folder or bolt:// URI)")
    parser.add_argument("folders", type=Path, nargs="+", help="synth-style folders whose test videos are scored")
    parser.add_argument("--checkpoint", default="best", choices=("best", "last"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    run = load_run(args.run, checkpoint=args.checkpoint)
    rows = []
    with open_graph(args.graph) as store:
        classifier = Classifier(run, store, k=5)
        classes = len(classifier.classes.names)
        for i, folder in enumerate(args.folders):
            rows.append(score(classifier, labelled_clips(folder, "test"), classes, f"{folder.name} test"))
            if i == 0:
                rows.append(score(classifier, labelled_clips(folder, "train")[::4], classes,
                                  f"{folder.name} train (every 4th)"))
    write_tables(args.json, {None: pd.DataFrame(rows)}, floatfmt=".3g")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
