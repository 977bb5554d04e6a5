"""The paper's claims on the benchmark world, fine-tuning from the pretrained stand-in, against
baselines trained in the same runs (issue 16).

On the target world (`kgtoolkit synth --world target`, full nuisances, 64 px; the stand-in and the
probe floor of BENCHMARKS.md "A benchmark world"), every model fine-tunes `pipelines/tiny.yaml`
(kg-tiny-rn from the stand-in) with one thing changed, the same data and seed:

- KG-CLIP: kgtoolkit's model (two towers, `triplet_mixing: none`, pairwise inverse score);
- KG-CLIP (authors): the authors' effective computation (`triplet_mixing: batch`: attention across
  the batch at each position; `inverse_score: authors`: their test code's averaged inverse score);
- CLIP-only: `use_graph: false` (the CLIP loss, S_output = S_mm);
- CLIP + movement head: CLIP-only plus a multi-label loss over the movements each video shows
  (`model.movement_head`), the same annotations as the graph's v-b edges without a Triplet Encoder.

Settings: 8, 4, 2 and 1 frames on all training videos, then 40, 20 and 10% of each class's training
videos at 8 frames (`data.train_fraction`, stratified, seeded). `--random` adds each model once from
random weights (seed 0, 8 frames, all data). The floor (a linear probe on motion features,
`kgtoolkit.baselines`) is measured on the same training and test videos. Finished runs go to a
JSON-lines file (--results) and are never redone, so a grid stopped part-way resumes, and `--seeds`
adds seeds to what is there. The summary: per setting and model the mean test top-1 over seeds and,
against the same seed's CLIP-only run, the mean paired difference with its 95% confidence interval
(Student's t); and a plot (accuracy against frames and against data, one line per model, 95%
intervals over seeds).

Model selection is validation (for the KG-CLIP models only among the epochs after the graph
warm-up; `SELECT`, set on every run: tiny.yaml itself now tests the last epoch); `--last` scores
every finished run's last-epoch checkpoint on the test clips as well (RESULTS.last.jsonl), the grid
without model selection, with its own tables and plot.

    .venv/bin/python pipelines/bench_claims.py --seeds 0            # one seed: 28 runs, 31-40 min at 1 thread
    .venv/bin/python pipelines/bench_claims.py --seeds 0 1 2 3 4 --random
    .venv/bin/python pipelines/bench_claims.py --last               # last epochs (2 s a run), then the summary
    .venv/bin/python pipelines/bench_claims.py --summary            # the tables and the plots of what ran

The thread count changes a run's numbers: the committed results all ran with OMP_NUM_THREADS=1.
Two seeds run side by side in two processes with OMP_NUM_THREADS=1 (one --seeds each, the same
--results: each appends whole lines) in about the time of one on 2 cores.
"""

from __future__ import annotations

import kgtoolkit  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

import argparse
import itertools
import json
import math
import statistics
from pathlib import Path

import pandas as pd

from bench_accuracy import add_run_arguments, dataset, floor, load_results, record, run_once
from kgtoolkit.baselines import labelled_clips, probe_all
from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.tables import write_tables
from kgtoolkit.train.sampler import TripletSampler
from kgtoolkit.vocab import action_name

MODELS = {
    "KG-CLIP": [],
    "KG-CLIP (authors)": ["model.triplet_mixing=batch", "model.inverse_score=authors"],
    "CLIP-only": ["model.use_graph=false"],
    "CLIP + movement head": ["model.use_graph=false", "model.movement_head=1.0"],
}
BASELINE = "CLIP-only"
GRAPH_MODELS = ("KG-CLIP", "KG-CLIP (authors)")  # with a Triplet Encoder: S_output mixes S_mm and S_tri
RANDOM = ["model.pretrained=null"]  # the same model from random weights
# The grid selects on validation, as it was measured (tiny.yaml tests the last epoch since, which is
# what `--last` scores).
SELECT = ["optim.select=validation"]


def settings(frames: list[int], fractions: list[float]) -> list[tuple[int, float]]:
    """(frames, training fraction): the main setting first, then fewer frames, then less data."""
    grid = [(8, 1.0)] + [(f, 1.0) for f in sorted(frames, reverse=True) if f != 8]
    return grid + [(8, p) for p in sorted(fractions, reverse=True) if p != 1.0]


def t95(n: int) -> float:
    """Student's t quantile for a two-sided 95% interval with n - 1 degrees of freedom."""
    table = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}
    return table.get(n, 1.96 + 2.4 / max(n - 1, 1))


def interval(values: list[float]) -> tuple[float, float | None]:
    """(mean, half-width of the 95% interval; None for one value)."""
    if len(values) < 2:
        return statistics.mean(values), None
    return statistics.mean(values), t95(len(values)) * statistics.stdev(values) / math.sqrt(len(values))


def run_key(row: dict) -> tuple:
    """(model, frames, fraction, seed, weights): what makes a run of the grid."""
    return row["model"], row["frames"], row["fraction"], row["seed"], row.get("weights", "stand-in")


def fine_tuned(rows: list[dict]) -> dict[tuple, dict]:
    """The runs from the stand-in by (model, frames, fraction, seed)."""
    return {run_key(r)[:4]: r for r in rows if run_key(r)[4] == "stand-in"}


def run_grid(args: argparse.Namespace) -> None:
    _, graph = dataset(args.data, args)
    models = args.models or list(MODELS)
    done = {run_key(r) for r in load_results(args.results)}
    plan = [(model, frames, fraction, seed, "stand-in")
            for seed, (frames, fraction), model in itertools.product(args.seeds, settings(args.frames, args.fractions),
                                                                    models)]
    if args.random:
        plan += [(model, 8, 1.0, 0, "random") for model in models]
    for model, frames, fraction, seed, weights in plan:
        if (model, frames, fraction, seed, weights) in done:
            continue
        overrides = [*SELECT, *MODELS[model], f"data.frames={frames}", f"data.train_fraction={fraction}", f"seed={seed}",
                     *(RANDOM if weights == "random" else [])]
        name = f"{model}-f{frames}-p{fraction:g}-s{seed}-{weights}".replace(" ", "_").replace("(", "").replace(")", "")
        print(f"run {model}, {frames} frames, {fraction:.0%} of the training videos, seed {seed}, {weights}", flush=True)
        row = run_once(graph, args.data / "runs" / name, args, overrides)
        row.update(model=model, frames=frames, fraction=fraction, seed=seed, weights=weights, overrides=args.set)
        record(args.results, row)
        print(f"  test top-1 {row['top1']:.1%} (S_mm {row['s_mm_top1']:.1%}) in {row['train_seconds']:.0f} s", flush=True)
    summarise_results(args)


def fraction_floor(folder: Path, graph: Path, fraction: float, seed: int) -> float:
    """The floor of a setting: the linear probe on motion features (`motion_grid`) fitted on the very
    training videos a run with this fraction and seed trains on (the graph's training split, less
    its validation videos, `data.train_fraction`'s stratified subset), scored on the test videos.
    Cached beside the folder."""
    cache = folder.with_name(f"floor-{folder.name}-p{fraction:g}-s{seed if fraction < 1 else 0}.json")
    if not cache.exists():
        with EmbeddedGraphStore(graph) as store:
            trained = {Path(v.path).resolve() for v in TripletSampler(store).load(train_fraction=fraction, seed=seed)
                       .split("train") if v.path}
        train = [(path, label) for path, label in labelled_clips(folder, "train") if path.resolve() in trained]
        result = probe_all(train, labelled_clips(folder, "test"), sets=["motion_grid"])[0]
        cache.write_text(json.dumps({"floor_top1": result.accuracy, "videos": len(train)}) + "\n")
    return json.loads(cache.read_text())["floor_top1"]


def claims_table(rows: list[dict], floors: dict[tuple[float, int], float] | None = None) -> pd.DataFrame:
    """Per setting and model: mean test top-1 over seeds (points), seeds, and the paired difference
    against the same seed's CLIP-only run: mean and 95% interval; with `floors` ((fraction, seed) ->
    the probe's top-1), the setting's floor averaged over the same seeds."""
    by = fine_tuned(rows)
    out = []
    for frames, fraction in sorted({key[1:3] for key in by}, key=lambda s: (-s[1], -s[0])):
        for model in MODELS:
            mine = [r for (m, f, p, _), r in by.items() if (m, f, p) == (model, frames, fraction)]
            if not mine:
                continue
            top1, half = interval([100 * r["top1"] for r in mine])
            diffs = [100 * (r["top1"] - by[(BASELINE, frames, fraction, r["seed"])]["top1"]) for r in mine
                     if (BASELINE, frames, fraction, r["seed"]) in by] if model != BASELINE else []
            diff, diff_half = interval(diffs) if diffs else (None, None)
            entry = {"frames": frames, "data (%)": round(100 * fraction), "model": model, "seeds": len(mine),
                     "top-1": top1, "± 95%": half, f"- {BASELINE}": diff, "diff ± 95%": diff_half}
            if model in GRAPH_MODELS and all(r.get("s_tri_top1") is not None for r in mine):  # S_output's parts
                entry["S_mm"] = statistics.mean(100 * r["s_mm_top1"] for r in mine)
                entry["S_tri"] = statistics.mean(100 * r["s_tri_top1"] for r in mine)
            if floors is not None:
                entry["floor"] = statistics.mean(100 * floors[(fraction, r["seed"])] for r in mine)
            out.append(entry)
    return pd.DataFrame(out)


def sign_test(ahead: int, behind: int) -> float:
    """Two-sided binomial sign test of ahead against behind (ties left out)."""
    n = ahead + behind
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(max(ahead, behind), n + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def pooled_table(rows: list[dict]) -> pd.DataFrame:
    """Per model, every (setting, seed) pair against the same CLIP-only run pooled: how often the
    model is ahead, level or behind (with the sign test's p), the mean paired difference with its
    95% interval over the pairs, and the stricter interval over seeds, each seed's pairs averaged
    first (the settings of one seed share its initialisation and data order)."""
    tuned = fine_tuned(rows)
    out = []
    for model in [m for m in MODELS if m != BASELINE]:
        pairs = {key: 100 * (r["top1"] - tuned[(BASELINE, *key[1:])]["top1"]) for key, r in tuned.items()
                 if key[0] == model and (BASELINE, *key[1:]) in tuned}
        if not pairs:
            continue
        diffs = list(pairs.values())
        mean, half = interval(diffs)
        seeds = sorted({key[3] for key in pairs})
        _, seed_half = interval([statistics.mean(d for key, d in pairs.items() if key[3] == seed) for seed in seeds])
        ahead, behind = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
        out.append({"model": model, "pairs": len(diffs), "ahead": ahead, "level": len(diffs) - ahead - behind,
                    "behind": behind, "sign test p (%)": 100 * sign_test(ahead, behind), f"- {BASELINE}": mean,
                    "± 95% (pairs)": half, "± 95% (seeds)": seed_half})
    return pd.DataFrame(out)


def random_table(rows: list[dict]) -> pd.DataFrame:
    """Each model from random weights against the same seed, frames and data from the stand-in."""
    tuned = fine_tuned(rows)
    out = []
    for r in [r for r in rows if r.get("weights") == "random"]:
        pretrained = tuned.get(run_key(r)[:4])
        out.append({"model": r["model"], "seed": r["seed"], "from random": 100 * r["top1"],
                    "from the stand-in": 100 * pretrained["top1"] if pretrained else None})
    return pd.DataFrame(out)


def summarise(rows: list[dict], probe: dict, results: Path | None = None,
              floors: dict[tuple[float, int], float] | None = None) -> None:
    if not rows:
        print("no finished runs yet")
        return
    print()
    table = claims_table(rows, floors)
    tables = {None: table, "pooled": pooled_table(rows)}
    if any(r.get("weights") == "random" for r in rows):
        tables["random"] = random_table(rows)
    write_tables(results, tables, floatfmt=".1f")
    print(f"\ntest top-1 (S_output) in points over {len(rows)} runs; ± 95%: Student's t interval over "
          f"seeds; - {BASELINE}: the same seed's {BASELINE} run subtracted; floor: a linear probe on motion "
          f"features (all frames) fitted on the setting's training videos, mean over its seeds; pooled: every "
          f"setting and seed. Chance {100 * probe['chance']:.1f}")
    if results is not None:
        plot(table, probe, results.with_suffix(".png"))


def plot(table: pd.DataFrame, probe: dict, path: Path, checkpoint: str = "validation-selected") -> None:
    """Top row: test top-1 against frames and against data, one line per model, the floor and chance.
    Bottom row: each model's paired difference against CLIP-only, the line at 0 is CLIP-only. Bars:
    95% intervals over seeds; the models are shifted a little sideways so that bars do not cover
    each other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex="col", sharey="row",
                                gridspec_kw={"height_ratios": [3, 2]})
    panels = (("frames", ("data (%)", 100), "frames per clip (all training data)"),
              ("data (%)", ("frames", 8), "training videos per class (%), 8 frames"))
    for col, (column, fixed, label) in enumerate(panels):
        part = table[table[fixed[0]] == fixed[1]]
        top, bottom = axes[0, col], axes[1, col]
        for n, model in enumerate(MODELS):
            line = part[part.model == model].sort_values(column)
            if not len(line):
                continue
            shift = 2 ** (0.04 * (n - 1.5))  # log axis: a factor
            colour = f"C{n}"
            top.errorbar(line[column] * shift, line["top-1"], yerr=line["± 95%"].fillna(0), marker="o", capsize=3,
                         label=model, color=colour)
            if model != BASELINE:
                bottom.errorbar(line[column] * shift, line[f"- {BASELINE}"], yerr=line["diff ± 95%"].fillna(0),
                                marker="o", capsize=3, label=f"{model} - {BASELINE}", color=colour)
        if "floor" in part:
            floor_line = part.drop_duplicates(column).sort_values(column)
            top.plot(floor_line[column], floor_line["floor"], color="grey", linestyle="--", marker="x",
                     label="floor (linear probe)")
        else:
            top.axhline(100 * probe["floor_top1"], color="grey", linestyle="--", label="floor (linear probe)")
        top.axhline(100 * probe["chance"], color="grey", linestyle=":", label="chance")
        bottom.axhline(0, color="C2", linewidth=1)
        bottom.set_xlabel(label)
        for ax in (top, bottom):
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(part[column].unique()), [f"{v:g}" for v in sorted(part[column].unique())])
            ax.minorticks_off()
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test top-1 (%)")
    axes[1, 0].set_ylabel(f"paired difference vs {BASELINE}\n(points)")
    axes[0, 1].legend(fontsize=8)
    figure.suptitle(f"Target world, fine-tuned from the stand-in, {checkpoint} (mean over seeds, 95% intervals)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    print(f"plot: {path}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(parser, config="tiny.yaml", data="kgtoolkit-bench-claims", nuisance=1.0, world="target")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--frames", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--fractions", type=float, nargs="*", default=[0.1, 0.2, 0.4])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), help="default: all")
    parser.add_argument("--random", action="store_true", help="also each model from random weights (seed 0, once)")
    parser.add_argument("--summary", action="store_true", help="print the tables and plot of the finished runs only")
    parser.add_argument("--last", action="store_true",
                        help="score every finished run's last-epoch checkpoint on the test clips (no model selection)")
    args = parser.parse_args(argv)
    args.results = args.results or args.data / "claims.jsonl"
    return args


def last_epochs(args: argparse.Namespace) -> None:
    """Each finished run's last-epoch checkpoint scored on the test clips (`classify`'s S_output,
    what the run's own test measured with the selected one): the grid without model selection.
    Recorded in RESULTS.last.jsonl, never redone; the run's selected checkpoint is scored the same way
    beside it, which must give the run's own test top-1."""
    from kgtoolkit.classify import Classifier
    from kgtoolkit.runs import load_run

    folder, graph = dataset(args.data, args)
    path = args.results.with_suffix(".last.jsonl")
    done = {tuple(r["key"]) for r in load_results(path)}
    clips = sorted((folder / "test_videos").glob("*/*.mp4"))
    truth = [action_name(c.parent.name) for c in clips]
    with EmbeddedGraphStore(graph) as store:
        for row in load_results(args.results):
            key = run_key(row)
            if key in done or key[4] != "stand-in":
                continue
            scores = {}
            for checkpoint in ("last", "best"):
                results = Classifier(load_run(Path(row["run_dir"]), "cpu", checkpoint), store, k=1)(clips)
                scores[checkpoint] = statistics.mean(r.top[0].action == t for r, t in zip(results, truth))
            record(path, {"key": list(key), "last_top1": scores["last"], "best_top1": scores["best"]})
            print(f"{key}: last epoch {scores['last']:.1%}, selected {scores['best']:.1%} "
                  f"(its test: {row['top1']:.1%})", flush=True)


def with_last_epochs(rows: list[dict], path: Path) -> list[dict]:
    """The rows with top1 replaced by their last epoch's (the runs scored by `--last`; S_output only)."""
    last = {tuple(r["key"]): r["last_top1"] for r in load_results(path)}
    return [{**r, "top1": last[run_key(r)], "s_mm_top1": None, "s_tri_top1": None} for r in rows if run_key(r) in last]


def summarise_results(args: argparse.Namespace) -> None:
    """The tables and the plot of every finished run in --results, each setting beside its floor."""
    folder, graph = dataset(args.data, args)
    rows = load_results(args.results)
    keys = {(fraction, seed) for _, _, fraction, seed in fine_tuned(rows)}
    floors = {key: fraction_floor(folder, graph, *key) for key in sorted(keys)}
    probe = floor(folder)
    summarise(rows, probe, args.results, floors)
    last = with_last_epochs(rows, args.results.with_suffix(".last.jsonl"))
    if last:
        print("\nthe same runs at their last epoch (no model selection):")
        table = claims_table(last, floors)
        write_tables(args.results.with_suffix(".last.json"), {None: table, "pooled": pooled_table(last)},
                     floatfmt=".1f")
        plot(table, probe, args.results.with_suffix(".last.png"), "at the last epoch")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.last:
        last_epochs(args)
        summarise_results(args)
    elif args.summary:
        summarise_results(args)
    else:
        run_grid(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
