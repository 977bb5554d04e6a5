"""Build (or find) the pretrained stand-in CLIP (kgtoolkit.pretrain) and print its path and cost.

Generates the source corpus (`kgtoolkit synth --world source`, nuisances 0, 0.5 and 1) and trains the
tiny CLIP on it, both cached under --cache by a hash of every input, so the second call returns at
once. `kgtoolkit pretrain` does the same with the default options. Fine-tune from it with
`--set model.pretrained=PATH` (or `model.pretrained: PATH` in a config).

    .venv/bin/python pipelines/pretrain_standin.py                 # prints the checkpoint path last
    .venv/bin/python pipelines/pretrain_standin.py --json /tmp/standin.json
"""

from __future__ import annotations

import kgtoolkit  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from kgtoolkit.pretrain import DEFAULT_CACHE, CorpusOptions, PretrainOptions, standin


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = CorpusOptions(**{f.name: (tuple(v) if isinstance(v, list) else v)
                              for f in fields(CorpusOptions) for v in [getattr(args, f"corpus_{f.name}")]})
    options = PretrainOptions(**{f.name: getattr(args, f.name) for f in fields(PretrainOptions)})
    built = standin(args.cache, corpus, options, force=args.force,
                    log=lambda line: print(line, file=sys.stderr, flush=True))
    report = built.report(corpus, options)
    print(json.dumps({k: v for k, v in report.items() if k != "epochs"}), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(built.path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
