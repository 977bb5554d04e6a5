"""Accuracy of the tiny KG-CLIP on synthetic Kinetics-TPS sets, on the CPU: trained from random weights
(`pipelines/tiny-scratch.yaml`, the default) or fine-tuned from the stand-in (`--config pipelines/tiny.yaml`).

    python pipelines/bench_accuracy.py main       # 12 classes x 20 training videos: test top-1/top-5, time
    python pipelines/bench_accuracy.py main --set model.triplet_loss=authors   # an ablation: one setting changed
    python pipelines/bench_accuracy.py claims     # the paper's claims: KG-CLIP vs CLIP-only over
                                                  # frames 1/2/4/8 and 20/40/60/80% of the data, 3 seeds
    python pipelines/bench_accuracy.py holdout    # new actions through the graph (add-action)
    python pipelines/bench_accuracy.py mixing     # the Triplet Encoder's token mixing (none, pairs,
                                                  # batch, sequence) against CLIP-only, 3 seeds

Every run: `kgtoolkit synth` (16 frames; 64 px, quirks 1 and `--nuisance` unless given), ingest
into an embedded store, the config (plus `--set` overrides), model selection on the validation
split, test top-1 once at the end. Datasets and graphs are cached under --data (they are deterministic). Each
finished run is appended to --results (JSON lines), so a long grid can be stopped and resumed:
runs already there are not redone.

holdout: the held-out actions are left out of the training set entirely (no video, no
annotation); after training they are added with `kgtoolkit.actions.add_action` (what `kgtoolkit
add-action` does) with the movements the dataset's ground truth gives them, and their test clips
are classified among all actions with `classify --movement-weight w` for several w: w = 0 is
text-only zero-shot (S_mm and the v-a triple score of the name), w > 0 adds S_kg. The held-out
actions are chosen by a stated rule: the ones whose movements the remaining actions cover best
(a movement no training video shows cannot be recognised by its pixels). The weight to use is
chosen on clips outside both training and test (the held-out actions' training videos, which the
graph never held, and the training actions' validation videos), every class weighing the same as in
the test set, and marked "(chosen)". One training run per seed (--seeds), each on its own copy of the
graph; the table is the mean over the seeds in --results.
"""

from __future__ import annotations

import kgtoolkit  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

import argparse
import itertools
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from kgtoolkit.baselines import labelled_clips, probe_all
from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.ingest import ingest
from kgtoolkit.synth import generate
from kgtoolkit.tables import write_tables
from kgtoolkit.train.config import load_config
from kgtoolkit.train.loop import train
from kgtoolkit.vocab import action_name

REPO = Path(__file__).resolve().parents[1]
CHANCE_NOTE = "chance = 1 / classes"


def dataset(root: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    """(synth folder, embedded graph), made once per (world, classes, per-class, nuisance, seed)."""
    world = "" if args.world == "default" else f"{args.world}-"
    size, quirks = getattr(args, "size", 64), getattr(args, "quirks", 1)
    shape = "" if (size, quirks) == (64, 1) else f"-{size}px-q{quirks}"
    name = f"ktps-{world}{args.classes}x{args.per_class}-n{args.nuisance:g}-s{args.data_seed}{shape}"
    folder, graph = root / name, root / f"graph-{name}"
    if not (folder / "list" / "synth_truth.json").exists():
        shutil.rmtree(folder, ignore_errors=True)
        generate(folder, classes=args.classes, train_per_class=args.per_class, test_per_class=args.test_per_class,
                 frames=16, size=size, seed=args.data_seed, nuisance=args.nuisance, world=args.world,
                 quirks=quirks)  # default 64 px and quirks 1: what its BENCHMARKS figures were measured on
    if not graph.exists():
        with EmbeddedGraphStore(graph) as store:
            ingest(folder, store)
    return folder, graph


def floor(folder: Path) -> dict:
    """The linear probe on motion features (kgtoolkit.baselines, `motion_grid`) on the same training
    and test videos: the floor printed beside every accuracy. Cached beside the folder."""
    cache = folder.with_name(f"floor-{folder.name}.json")
    if not cache.exists():
        result = probe_all(labelled_clips(folder, "train"), labelled_clips(folder, "test"), sets=["motion_grid"])[0]
        cache.write_text(json.dumps({"floor_top1": result.accuracy, "chance": result.chance}) + "\n")
    return json.loads(cache.read_text())


def run_once(graph: Path, out: Path, args: argparse.Namespace, overrides: list[str]) -> dict:
    config = load_config(args.config, [*args.set, *overrides, "write_embeddings=false"])
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    with EmbeddedGraphStore(graph) as store:
        result = train(config, store, out)
    seconds = time.perf_counter() - started
    test = result.test
    return {"top1": test["top1"], "top5": test["top5"], "s_mm_top1": test.get("s_mm_top1"),
            "s_tri_top1": test.get("s_tri_top1"), "best_epoch": result.best_epoch, "val_top1": result.best_val_top1,
            "train_seconds": round(seconds, 1), "test_videos": test.get("videos"), "run_dir": str(out)}


def load_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def record(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


# --- main -----------------------------------------------------------------------------------
def cmd_main(args: argparse.Namespace) -> None:
    folder, graph = dataset(args.data, args)
    world = "" if args.world == "default" else f"-{args.world}"
    name = f"main{world}-n{args.nuisance:g}-{args.config.stem}-{args.size}px-q{args.quirks}" + "".join(f"-{o.replace('=', '_').replace('/', '_')}" for o in args.set)
    row = run_once(graph, args.data / "runs" / name, args, [f"seed={args.seeds[0]}"])
    row.update(config=args.config.name, overrides=args.set, seed=args.seeds[0], nuisance=args.nuisance, world=args.world,
               size=args.size, quirks=args.quirks, **floor(folder))
    record(args.results, row)
    print(json.dumps(row, indent=1))
    print(f"\n{args.classes} classes x {args.per_class} training videos (nuisance {args.nuisance:g}), "
          f"{args.config.name}, {torch.get_num_threads()} CPU threads: test top-1 {row['top1']:.1%} "
          f"(S_mm {row['s_mm_top1']:.1%}, S_tri {row['s_tri_top1']:.1%}), top-5 {row['top5']:.1%}, "
          f"chance {1 / args.classes:.1%}, floor (linear probe on motion features) {row['floor_top1']:.1%}; training + evaluation {row['train_seconds']:.0f} s "
          f"({row['train_seconds'] / 60:.1f} min)")


# --- claims ---------------------------------------------------------------------------------
MODELS = {"KG-CLIP": [], "CLIP-only": ["model.use_graph=false"]}


def cmd_claims(args: argparse.Namespace) -> None:
    _, graph = dataset(args.data, args)
    done = {(r["model"], r["frames"], r["fraction"], r["seed"]) for r in load_results(args.results)}
    grid = [(f, 1.0) for f in args.frames] + [(8, p) for p in args.fractions if p != 1.0]
    for (frames, fraction), seed, model in itertools.product(grid, args.seeds, MODELS):
        key = (model, frames, fraction, seed)
        if key in done:
            continue
        overrides = [*MODELS[model], f"data.frames={frames}", f"data.train_fraction={fraction}", f"seed={seed}"]
        out = args.data / "runs" / f"{model}-f{frames}-p{fraction:g}-s{seed}"
        print(f"run {model}, {frames} frames, {fraction:.0%} of the training videos, seed {seed}", flush=True)
        row = run_once(graph, out, args, overrides)
        row.update(model=model, frames=frames, fraction=fraction, seed=seed)
        record(args.results, row)
        print(f"  test top-1 {row['top1']:.1%} in {row['train_seconds']:.0f} s", flush=True)
    summarise(load_results(args.results), args.results)


def claims_table(rows: list[dict]) -> pd.DataFrame:
    """Test top-1 (S_output, %) per setting and model: mean, sample standard deviation and number of seeds."""
    grouped = (pd.DataFrame(rows).groupby(["frames", "fraction", "model"])["top1"]
               .agg(top1="mean", sd="std", n="count").unstack("model"))
    table = pd.DataFrame({"frames": grouped.index.get_level_values("frames"),
                          "training data (%)": 100 * grouped.index.get_level_values("fraction")})
    for model in MODELS:
        if ("top1", model) in grouped:
            table[f"{model} top-1 (%)"] = 100 * grouped["top1", model].to_numpy()
            table[f"{model} sd"] = 100 * grouped["sd", model].to_numpy()
            table[f"{model} n"] = grouped["n", model].fillna(0).astype(int).to_numpy()
    order = table.assign(full=table["training data (%)"] != 100).sort_values(["full", "frames", "training data (%)"])
    return table.loc[order.index].reset_index(drop=True)


def summarise(rows: list[dict], results: Path | None = None) -> None:
    print()
    write_tables(results, {None: claims_table(rows)}, floatfmt=".1f")
    print("\nmean ± sample standard deviation over seeds of the test top-1 (S_output); each run's own "
          "model selection on validation")

    # Pairs: the two models on the same data, seed and setting (all that differs is model.use_graph).
    by = {(r["model"], r["frames"], r["fraction"], r["seed"]): r for r in rows}
    pairs = [(kg, by[("CLIP-only", *key[1:])]) for key, kg in by.items()
             if key[0] == "KG-CLIP" and ("CLIP-only", *key[1:]) in by]
    if len(pairs) < 2:
        return
    diffs = [100 * (kg["top1"] - clip["top1"]) for kg, clip in pairs]
    ahead, behind = sum(d > 1e-6 for d in diffs), sum(d < -1e-6 for d in diffs)
    sd = statistics.stdev(diffs)
    print(f"\npaired runs: {len(pairs)}; KG-CLIP ahead in {ahead}, level in {len(pairs) - ahead - behind}, behind in "
          f"{behind}; KG-CLIP - CLIP-only top-1: mean {statistics.mean(diffs):+.1f} points, sd {sd:.1f}, "
          f"standard error {sd / len(diffs) ** 0.5:.1f}")
    mean = statistics.mean
    print("KG-CLIP's own parts, mean over its runs (points): S_output - S_mm "
          f"{mean([100 * (kg['top1'] - kg['s_mm_top1']) for kg, _ in pairs]):+.1f}, S_tri - S_mm "
          f"{mean([100 * (kg['s_tri_top1'] - kg['s_mm_top1']) for kg, _ in pairs]):+.1f}; "
          f"KG-CLIP's S_mm - CLIP-only's top-1 {mean([100 * (kg['s_mm_top1'] - clip['top1']) for kg, clip in pairs]):+.1f}")


# --- mixing ---------------------------------------------------------------------------------
MIXING_MODELS = {
    "none": ["model.triplet_mixing=none"],
    "pairs": ["model.triplet_mixing=pairs"],
    "batch": ["model.triplet_mixing=batch"],
    "sequence": ["model.triplet_mixing=sequence"],
    "CLIP-only": ["model.use_graph=false"],
}


def cmd_mixing(args: argparse.Namespace) -> None:
    """Each token mixing of the Triplet Encoder (kgtoolkit/model/triplet.py) and CLIP-only, on the
    same data and seeds, 8 frames, all training videos; everything else is the config's."""
    _, graph = dataset(args.data, args)
    models = args.models or list(MIXING_MODELS)
    done = {(r["model"], r["seed"]) for r in load_results(args.results)}
    for seed, model in itertools.product(args.seeds, models):
        if (model, seed) in done:
            continue
        print(f"run {model}, seed {seed}", flush=True)
        row = run_once(graph, args.data / "runs" / f"mixing-{model}-s{seed}", args, [*MIXING_MODELS[model], f"seed={seed}"])
        row.update(model=model, seed=seed, overrides=args.set)
        record(args.results, row)
        print(f"  test top-1 {row['top1']:.1%} in {row['train_seconds']:.0f} s", flush=True)
    summarise_mixing([r for r in load_results(args.results) if r["model"] in models], args.results)


def mixing_table(rows: list[dict]) -> pd.DataFrame:
    """One row per model: test top-1 (and its S_mm, S_tri parts) as mean and sd over seeds in
    points, the paired difference against the same seed's CLIP-only run, and the run time."""
    frame = pd.DataFrame(rows)
    frame["top1_diff"] = frame.apply(lambda r: frame[(frame.model == "CLIP-only") & (frame.seed == r.seed)]["top1"]
                                     .rsub(r.top1).mean(), axis=1)
    out = []
    for model in [m for m in MIXING_MODELS if m in set(frame.model)]:
        mine = frame[frame.model == model]
        graph = model != "CLIP-only"
        diff = mine["top1_diff"].dropna() if graph else pd.Series(dtype=float)
        out.append({"model": model, "seeds": len(mine), "top-1": 100 * mine.top1.mean(),
                    "sd": 100 * mine.top1.std() if len(mine) > 1 else None,
                    "S_mm top-1": 100 * mine.s_mm_top1.mean() if graph else None,
                    "S_tri top-1": 100 * mine.s_tri_top1.mean() if graph else None,
                    "vs CLIP-only": 100 * diff.mean() if len(diff) else None,
                    "diff sd": 100 * diff.std() if len(diff) > 1 else None,
                    "seconds": mine.train_seconds.mean()})
    return pd.DataFrame(out)


def summarise_mixing(rows: list[dict], results: Path | None = None) -> None:
    print()
    write_tables(results, {None: mixing_table(rows)}, floatfmt=".1f")
    print("\ntest top-1 (S_output) in points: mean and sample sd over seeds, each run's own model selection on "
          "validation; vs CLIP-only: the same seed's CLIP-only run subtracted (mean and sd of the differences); "
          "seconds: training + evaluation, mean")


# --- holdout --------------------------------------------------------------------------------
def choose_holdout(actions: list[dict], count: int) -> list[dict]:
    """The `count` actions whose movements the other actions cover best (ties: lower class index)."""
    def covered(held: tuple[int, ...]) -> tuple[float, tuple[int, ...]]:
        seen = {m for a in actions if a["class_index"] not in held for m in a["movements"]}
        movements = [m for a in actions if a["class_index"] in held for m in a["movements"]]
        return (sum(m in seen for m in movements) / len(movements), tuple(-i for i in held))

    best = max(itertools.combinations(range(len(actions)), count), key=covered)
    return [actions[i] for i in best]


def _link_tree(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.is_dir():
            _link_tree(item, target / item.name)
        else:
            try:
                os.link(item, target / item.name)
            except OSError:
                shutil.copy2(item, target / item.name)


def without_actions(folder: Path, held: list[dict], target: Path) -> Path:
    """A copy of a synth folder (hard links) without the held-out actions' videos and annotations."""
    if (target / "list").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    folders = {a["folder"] for a in held}
    for part in ("train_videos", "train_annotations", "test_videos"):
        for child in (folder / part).iterdir():
            if child.name not in folders:
                _link_tree(child, target / part / child.name)
    (target / "list").mkdir(parents=True)
    for item in (folder / "list").iterdir():
        if item.name.endswith("_flist.csv"):
            lines = item.read_text().splitlines()
            kept = [lines[0]] + [line for line in lines[1:] if line.split("/", 1)[0] not in folders]
            (target / "list" / item.name).write_text("".join(f"{line}\n" for line in kept))
        elif item.name != "synth_truth.json":
            shutil.copy2(item, target / "list" / item.name)
    return target


def balanced_top1(hits: list[bool], classes: list[str]) -> float:
    """Top-1 with every class weighing the same (the mean of per-class top-1), as in a test set that
    holds the same number of clips per class."""
    per_class: dict[str, list[bool]] = {}
    for hit, name in zip(hits, classes):
        per_class.setdefault(name, []).append(hit)
    return statistics.mean(statistics.mean(v) for v in per_class.values())


def cmd_holdout(args: argparse.Namespace) -> None:
    """One training run per seed without the held-out actions, then each movement weight on their
    test clips among all actions; the summary over the seeds that ran."""
    folder, _ = dataset(args.data, args)
    truth = json.loads((folder / "list" / "synth_truth.json").read_text())
    held = choose_holdout(truth["actions"], args.holdout)
    seen_movements = {m for a in truth["actions"] if a not in held for m in a["movements"]}
    share = [sum(m in seen_movements for m in a["movements"]) / len(a["movements"]) for a in held]
    print(f"held-out actions: {', '.join(a['name'] for a in held)}; share of their movements that the "
          f"training actions show: {', '.join(f'{s:.0%}' for s in share)}")
    seen_folder = without_actions(folder, held, args.data / f"{folder.name}-without-{len(held)}")
    graph = args.data / f"graph-{seen_folder.name}"
    if not graph.exists():
        with EmbeddedGraphStore(graph) as store:
            ingest(seen_folder, store)
    done = {(r["seed"], r.get("calibrate", False)) for r in load_results(args.results)
            if r.get("config") == args.config.name}
    for seed in args.seeds:
        modes = [calibrate for calibrate in (False, True) if (seed, calibrate) not in done]
        if modes:
            holdout_seed(args, folder, graph, truth, held, seed, modes)
    summarise_holdout([r for r in load_results(args.results) if r.get("config") == args.config.name], args)


def holdout_seed(args: argparse.Namespace, folder: Path, graph: Path, truth: dict, held: list[dict], seed: int,
                 modes: list[bool]) -> None:
    """One seed: the run trained without the held-out actions (reused when it finished before), the
    actions added to its own copy of the graph, then for each mode (`calibrate` off and on) the
    movement weight chosen on the selection clips and every weight scored on the test clips."""
    from kgtoolkit.actions import add_action
    from kgtoolkit.runs import load_run
    from kgtoolkit.train.sampler import TripletSampler

    run_dir = args.data / "runs" / f"holdout-{len(held)}-{args.config.stem}-s{seed}"
    copy = graph.with_name(f"{graph.name}-s{seed}")  # add_action writes to the graph: one copy per seed
    if (run_dir / "test_metrics.json").exists() and copy.exists():
        trained_top1 = json.loads((run_dir / "test_metrics.json").read_text())["top1"]
    else:  # a run that did not finish starts again, on a fresh copy
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(graph, copy)
        # selected on validation, as the committed rows were (tiny.yaml tests the last epoch since)
        trained_top1 = run_once(copy, run_dir, args, ["optim.select=validation", f"seed={seed}"])["top1"]
    print(f"seed {seed}: trained without {', '.join(a['name'] for a in held)}: test top-1 on the "
          f"{args.classes - len(held)} training actions {trained_top1:.1%}", flush=True)
    with EmbeddedGraphStore(copy) as store:
        for action in held:
            add_action(store, action["name"], action["movements"])  # idempotent on a reused copy
        run = load_run(run_dir, torch.device("cpu"))
        held_clips = sorted(p for a in held for p in (folder / "test_videos" / a["folder"]).glob("*.mp4"))
        seen_clips = sorted(p for a in truth["actions"] if a not in held
                            for p in (folder / "test_videos" / a["folder"]).glob("*.mp4"))
        # The weight is chosen on clips that neither training nor the test set holds: the held-out
        # actions' training videos (left out of the graph) and the training actions' validation videos,
        # every class weighing the same, as in the test set (balanced_top1).
        select_clips = sorted(p for a in held for p in (folder / "train_videos" / a["folder"]).glob("*.mp4"))
        select_clips += sorted(Path(v.path) for v in TripletSampler(store).load().split("val") if v.path)
        for calibrate in modes:
            holdout_scores(args, store, run, (held_clips, seen_clips, select_clips), held, seed, calibrate,
                           trained_top1)


def holdout_scores(args: argparse.Namespace, store, run, clips: tuple[list[Path], list[Path], list[Path]],
                   held: list[dict], seed: int, calibrate: bool, trained_top1: float) -> None:
    """One way of mixing S_kg in: each weight on the selection clips, the chosen one, then each weight
    on the test clips (held-out actions' and trained actions'), recorded."""
    from kgtoolkit.classify import Classifier

    held_clips, seen_clips, select_clips = clips
    truth_of = {p: action_name(p.parent.name) for p in held_clips + seen_clips + select_clips}
    held_names = {a["name"] for a in held}
    mode = "calibrated" if calibrate else "as it is"
    scores = {}
    for w in args.weights:
        hits = [r.top[0].action == truth_of[Path(r.clip)]
                for r in Classifier(run, store, k=1, movement_weight=w, calibrate=calibrate)(select_clips)]
        scores[w] = balanced_top1(hits, [truth_of[p] for p in select_clips])
        print(f"  S_kg {mode}, w {w:g}: selection top-1 {scores[w]:.1%} (class-balanced, {len(select_clips)} clips)",
              flush=True)
    chosen = max(args.weights, key=lambda w: (scores[w], -w))
    print(f"  S_kg {mode}: chosen on the selection clips: w = {chosen:g}", flush=True)
    for w in args.weights:
        results = Classifier(run, store, k=args.classes, movement_weight=w, calibrate=calibrate)(held_clips + seen_clips)
        held_hits = [r.top[0].action == truth_of[Path(r.clip)] for r in results[: len(held_clips)]]
        held_only = [next(t.action for t in r.top if t.action in held_names) == truth_of[Path(r.clip)]
                     for r in results[: len(held_clips)]]
        seen_hits = [r.top[0].action == truth_of[Path(r.clip)] for r in results[len(held_clips):]]
        print(f"  S_kg {mode}, w {w:g}: held-out top-1 {statistics.mean(held_hits):.1%}, training actions "
              f"{statistics.mean(seen_hits):.1%}", flush=True)
        record(args.results, {"holdout": [a["name"] for a in held], "weight": w, "seed": seed, "calibrate": calibrate,
                              "held_top1": statistics.mean(held_hits), "held_only_top1": statistics.mean(held_only),
                              "seen_top1": statistics.mean(seen_hits), "all_top1": statistics.mean(held_hits + seen_hits),
                              "selection_top1": scores[w], "chosen_on_selection": w == chosen,
                              "trained_top1": trained_top1, "config": args.config.name})


def holdout_table(rows: list[dict]) -> pd.DataFrame:
    """Per way of mixing S_kg in (as it is, or `calibrate`d) and movement weight, and the weight chosen
    per seed on the selection clips: the mean over seeds of each top-1, in points."""
    parts = {"held-out top-1": "held_top1", "among held-out only": "held_only_top1",
             "training actions top-1": "seen_top1", "all test clips top-1": "all_top1"}
    out = []
    for calibrate in sorted({r.get("calibrate", False) for r in rows}):
        mode = [r for r in rows if r.get("calibrate", False) == calibrate]
        groups = [(f"{w:g}" + (" (text only)" if w == 0 else ""), [r for r in mode if r["weight"] == w])
                  for w in sorted({r["weight"] for r in mode})]
        groups.append(("chosen per seed", [r for r in mode if r["chosen_on_selection"]]))
        for name, mine in groups:
            entry = {"S_kg": "calibrated" if calibrate else "as it is", "movement weight w": name, "seeds": len(mine)}
            for label, key in parts.items():
                entry[f"{label} (%)"] = 100 * statistics.mean(r[key] for r in mine)
            if name == "chosen per seed":
                chosen = ", ".join(f"{r['weight']:g}" for r in sorted(mine, key=lambda r: r["seed"]))
                entry["movement weight w"] += f" ({chosen})"
            out.append(entry)
    return pd.DataFrame(out)


def summarise_holdout(rows: list[dict], args: argparse.Namespace) -> None:
    print()
    write_tables(args.results, {None: holdout_table(rows)}, floatfmt=".1f")
    print(f"\nmean over seeds {sorted({r['seed'] for r in rows})}; top-1 among all {args.classes} actions "
          f"(chance {1 / args.classes:.1%}); among the {args.holdout} held-out actions alone chance is "
          f"{1 / args.holdout:.1%}")


def add_run_arguments(parser: argparse.ArgumentParser, *, config: str, data: str, nuisance: float, world: str) -> None:
    """The options of every run of these benchmarks: the config, and the synth set it trains on."""
    parser.add_argument("--config", type=Path, default=REPO / "pipelines" / config)
    parser.add_argument("--set", action="append", default=[], help="config override key=value (every run)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / data)
    parser.add_argument("--results", type=Path, help="JSON lines of finished runs (default: under DATA)")
    parser.add_argument("--classes", type=int, default=12)
    parser.add_argument("--per-class", type=int, default=20, help="training videos per class")
    parser.add_argument("--test-per-class", type=int, default=5)
    parser.add_argument("--nuisance", type=float, default=nuisance, help="synth --nuisance (0 to 1)")
    parser.add_argument("--world", choices=("default", "target"), default=world,
                        help="synth --world: target is the benchmark world of kgtoolkit.synth.worlds")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=64, help="synth --size (`kgtoolkit synth`'s default: 112)")
    parser.add_argument("--quirks", type=int, default=1, help="synth --quirks (`kgtoolkit synth`'s default: 2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("main", "claims", "holdout", "mixing"), nargs="?", default="main")
    add_run_arguments(parser, config="tiny-scratch.yaml", data="kgtoolkit-bench-accuracy", nuisance=0.0, world="default")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (main: the first)")
    parser.add_argument("--frames", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.2, 0.4, 0.6, 0.8])
    parser.add_argument("--holdout", type=int, default=3, help="actions held out of training")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--models", nargs="+", choices=list(MIXING_MODELS), help="mixing: the models to run (default: all)")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    args.results = args.results or args.data / f"{args.what}.jsonl"
    {"main": cmd_main, "claims": cmd_claims, "holdout": cmd_holdout, "mixing": cmd_mixing}[args.what](args)


if __name__ == "__main__":
    main()
