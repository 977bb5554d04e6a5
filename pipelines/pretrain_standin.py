"""Build (or find) the pretrained stand-in CLIP (kgtoolkit.pretrain) and print its path and cost.

Generates the source corpus (`kgtoolkit synth --world source`, full nuisances) and trains the tiny
CLIP on it, both cached under --cache by a hash of every input, so the second call returns at once.
Fine-tune from it with `--set model.pretrained=PATH` (or `model.pretrained: PATH` in a config).

    .venv/bin/python pipelines/pretrain_standin.py                 # prints the checkpoint path last
    .venv/bin/python pipelines/pretrain_standin.py --json /tmp/standin.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

from kgtoolkit.model.backbone import PACKAGE_CONFIGS
from kgtoolkit.pretrain import CorpusOptions, PretrainOptions, hashed_name, pretrain
from kgtoolkit.synth import generate

DEFAULT_CACHE = Path(os.environ.get("KGTOOLKIT_CACHE", Path.home() / ".cache" / "kgtoolkit")) / "standin"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"cache folder (default {DEFAULT_CACHE})")
    for group in (CorpusOptions, PretrainOptions):
        prefix = "corpus-" if group is CorpusOptions else ""
        for f in fields(group):
            many = isinstance(f.default, tuple)
            parser.add_argument(f"--{prefix}{f.name.replace('_', '-')}", type=type(f.default[0]) if many else type(f.default),
                                default=f.default, nargs="+" if many else None, dest=f"{prefix.replace('-', '_')}{f.name}")
    parser.add_argument("--json", type=Path, default=None, help="write the cost and the per-epoch log here")
    parser.add_argument("--force", action="store_true", help="train again even when the cached file exists")
    return parser.parse_args(argv)


def model_config(name: str) -> dict:
    path = Path(PACKAGE_CONFIGS) / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {"open_clip": name}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = CorpusOptions(**{f.name: (tuple(v) if isinstance(v, list) else v)
                              for f in fields(CorpusOptions) for v in [getattr(args, f"corpus_{f.name}")]})
    options = PretrainOptions(**{f.name: getattr(args, f.name) for f in fields(PretrainOptions)})
    out = args.cache / hashed_name(corpus, options, model_config(options.model))
    if out.is_file() and not args.force:
        print(f"cached: {out}", file=sys.stderr)
        print(out)
        return 0
    corpus_key = hashlib.sha256(json.dumps(asdict(corpus), sort_keys=True).encode()).hexdigest()[:12]
    began = time.perf_counter()
    folders = []
    for nuisance, per_class, seed in corpus.parts():
        folder = args.cache / f"corpus-{corpus_key}-n{nuisance:g}"
        if not (folder / "list" / "synth_truth.json").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            summary = generate(folder, classes=corpus.classes, train_per_class=per_class, test_per_class=0,
                               frames=corpus.frames, size=corpus.size, nuisance=nuisance, seed=seed, quirks=0,
                               world="source")
            print(f"corpus: {summary.train_videos} videos in {summary.seconds:.0f} s -> {folder}", file=sys.stderr)
        folders.append(folder)
    synth_seconds = time.perf_counter() - began
    result = pretrain(folders, out, options, log=lambda line: print(line, file=sys.stderr, flush=True))
    report = {"checkpoint": str(out), "corpus": asdict(corpus), "pretrain": asdict(options),
              "corpus_seconds": round(synth_seconds, 1), "pretrain_seconds": round(result.seconds, 1),
              "clips_seen": result.clips_seen, "epochs": result.epochs}
    print(json.dumps({k: v for k, v in report.items() if k != "epochs"}), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
