"""Statistics of the action-movement graph (kgtoolkit.composition): the KG-CLIP release beside the
synthetic vocabulary, and a picture of one action's neighbourhood.

For the release (read from its files, or from an ingested graph with --graph) and for the synthetic
default vocabulary of --classes actions: movements per action, actions per movement, movements
shared by two or more actions, pairs of actions that differ in one or two movements, each action's
distance to its nearest other action, movements per video where videos are known, and the degree
distributions. Tables are printed as Markdown and, with --json, written as JSON + Markdown + CSV.
--png draws --show's neighbourhood in the release graph (ingested into a temporary embedded store
unless --graph names one), as `kgtoolkit show` does: the README's picture.

    .venv/bin/python pipelines/composition_stats.py
    .venv/bin/python pipelines/composition_stats.py --json /tmp/composition.json \\
        --png pipelines/plots/show_hammer_throw.png     # the README's picture
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd

from kgtoolkit.composition import (
    composition_stats,
    degree_distribution,
    from_release,
    from_store,
    from_synth,
    from_vocabulary,
    visible_share,
)
from kgtoolkit.graph import open_graph
from kgtoolkit.ingest import ingest
from kgtoolkit.neighbourhood import draw, neighbourhood
from kgtoolkit.synth import default_vocabulary
from kgtoolkit.tables import write_tables

REPO = Path(__file__).resolve().parents[1]
RELEASE = REPO.parent / "shared" / "data" / "kg_clip_release"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--release", type=Path, default=RELEASE, help="KG-CLIP release folder")
    parser.add_argument("--graph", default=None, help="read the release from this ingested graph instead of its files")
    parser.add_argument("--classes", type=int, default=12, help="actions of the synthetic default vocabulary")
    parser.add_argument("--synth", type=Path, action="append", default=[],
                        help="also a generated synth folder (e.g. `kgtoolkit synth --world target`), with its videos")
    parser.add_argument("--json", type=Path, default=None, help="write the results here (and .md/.csv beside it)")
    parser.add_argument("--png", type=Path, default=None, help="draw --show's neighbourhood to this PNG")
    parser.add_argument("--show", default="action:hammer_throw", help="the node drawn with --png")
    return parser.parse_args(argv)


def side_by_side(stats: dict[str, object]) -> pd.DataFrame:
    """One row per statistic, one column per source."""
    columns = {name: s.table().set_index("statistic")["value"] for name, s in stats.items()}
    return pd.DataFrame(columns).drop(index="source").reset_index(names="statistic")


def degree_table(stats: dict[str, object]) -> pd.DataFrame:
    """Degree distributions: how many actions have d movements, how many movements d actions."""
    parts = []
    for name, s in stats.items():
        for what, values in (("movements per action", s.movements_per_action),
                             ("actions per movement", s.actions_per_movement),
                             ("movements per video", s.movements_per_video)):
            if values is not None and not values.empty:
                dist = degree_distribution(values).reset_index()
                parts.append(dist.assign(source=name, distribution=what))
    return pd.concat(parts, ignore_index=True)[["source", "distribution", "degree", "nodes"]]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        if args.graph is None and args.png is None:
            release = from_release(args.release)
        else:
            with open_graph(args.graph or str(Path(scratch) / "graph")) as store:
                if args.graph is None:
                    ingest(args.release, store)
                release = from_store(store) if args.graph else from_release(args.release)
                if args.png is not None:
                    args.png.parent.mkdir(parents=True, exist_ok=True)
                    draw(neighbourhood(store, args.show), args.png)
                    print(f"{args.show}: neighbourhood drawn to {args.png}")
    stats = {"KG-CLIP release": composition_stats(release),
             f"synthetic ({args.classes} actions)": composition_stats(from_vocabulary(default_vocabulary(args.classes)))}
    visible = {}
    for folder in args.synth:
        name = f"{folder.name} (synth folder)"
        stats[name] = composition_stats(from_synth(folder))
        visible[name] = visible_share(folder)
    close = pd.concat([s.close_pairs(4).assign(source=name) for name, s in stats.items()], ignore_index=True).round(3)
    nearest = pd.concat([s.nearest_action_distance().rename("fewest differing movements").reset_index().assign(source=name)
                         for name, s in stats.items()], ignore_index=True)
    table = side_by_side(stats)
    if visible:  # the share of frames in which a shown movement is annotated (synthetic annotations only)
        table.loc[len(table)] = {"statistic": "visible_share_of_frames", **visible}
    write_tables(args.json, {None: table, "close_pairs": close, "nearest": nearest,
                             "degrees": degree_table(stats)}, floatfmt="g")
    if args.json is not None:
        args.json.write_text(json.dumps({name: s.summary() for name, s in stats.items()}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
