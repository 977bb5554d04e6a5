"""Link prediction: the Triplet Encoder beside PyKEEN's TransE, DistMult, RotatE and TransR.

One run trains and evaluates every model on every dataset, with the same embedding budget (D real
numbers per entity: RotatE gets D/2 complex dimensions), the same number of epochs, the same batch
size, the same number of negatives per positive drawn the same way (uniformly from every entity on
PyKEEN's sets; pseudo-typed, from the entities seen in that slot of the relation, on the KG-CLIP
protocols, whose evaluation ranks typed candidates), the same loss (softmax
cross-entropy of the positive against its negatives: PyKEEN's sLCWA + CrossEntropyLoss, and the
same loss in kgtoolkit.linkpred.train_triplet), seeded; and one evaluator for all of them:
kgtoolkit.linkpred.evaluate feeds every model's filtered score matrix to PyKEEN's
RankBasedEvaluator (realistic ranks, i.e. ties count half), and checks that kgtoolkit's own rank
code gives the same numbers. Every model keeps the parameters of the epoch with the best
validation MRR (checked every --valid-every epochs and at the last; --select last: the last epoch).
The Triplet Encoder runs once per --mixing: "none" (two towers, KG-CLIP's default) and "sequence"
(the joint encoder) by default.

Datasets:
  nations, umls, kinships  PyKEEN's bundled sets (their files ship inside the package: no download);
                           both sides, ranked among all entities.
  kgclip-a                 KG-CLIP release graph, protocol (a): video -> action on the 8:2 split
                           (tail side, ranked among the 24 actions; see release_protocol_video_action).
  kgclip-b                 KG-CLIP release graph, protocol (b): held-out INVOLVES edges 80/10/10
                           (both sides; see release_protocol_involves).
The release graph is read from the graph store --graph; without it the release folder (--release)
is ingested into a temporary embedded store first. Graph heuristics run on kgclip-a / kgclip-b as
floors, through the same evaluator.

    .venv/bin/python pipelines/eval_linkpred.py                  # the whole benchmark
    .venv/bin/python pipelines/eval_linkpred.py --quick          # 2 epochs, a smoke test
    .venv/bin/python pipelines/eval_linkpred.py --datasets nations kinships --epochs 100 --dim 64   # a larger budget
    .venv/bin/python pipelines/eval_linkpred.py --datasets umls --models triplet --te-loss kl   # an ablation
    .venv/bin/python pipelines/eval_linkpred.py --te-text ViT-B-16 --te-text-weights openai   # + a Triplet
        # Encoder on id embeddings plus frozen CLIP text embeddings of the entity names (needs the weights)
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kgtoolkit.graph import open_graph  # noqa: E402
from kgtoolkit.tables import write_tables  # noqa: E402
from kgtoolkit.linkpred import (  # noqa: E402
    EXHIBITS, LINKPRED_MIXINGS, PYKEEN_DATASETS, RELEASE_RELATIONS, LinkPredData, ReleaseGraph, ScoreFn, TripletConfig, entity_text, evaluate, heuristic_involves_overlap,
    heuristic_movement_frequency, heuristic_nearest_videos, pykeen_dataset, read_release_graph,
    release_entities, release_protocol_involves, release_protocol_video_action, train_triplet,
)

DATASETS = (*PYKEEN_DATASETS, "kgclip-a", "kgclip-b")
PYKEEN_MODELS = ("transe", "distmult", "rotate", "transr")
MODELS = ("triplet", *PYKEEN_MODELS)
MODEL_NAMES = {"triplet": "Triplet Encoder", "transe": "TransE", "distmult": "DistMult", "rotate": "RotatE",
               "transr": "TransR"}
# Adam learning rates, chosen on the validation splits of all five datasets (sweep of 1e-3, 3e-3, 1e-2,
# 3e-2 at 30 epochs; BENCHMARKS.md, "Link prediction").
LEARNING_RATES = {"triplet": 1e-2, "transe": 1e-2, "distmult": 3e-2, "rotate": 3e-2, "transr": 3e-3}
DEFAULT_RELEASE = REPO.parent / "shared" / "data" / "kg_clip_release"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 1)[1])
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    p.add_argument("--models", nargs="+", choices=(*MODELS, "heuristics"), default=[*MODELS, "heuristics"],
                   help="heuristics run on the KG-CLIP datasets only")
    p.add_argument("--epochs", type=int, default=30, help="the same for every model")
    p.add_argument("--dim", type=int, default=32, help="real numbers per entity embedding, every model")
    p.add_argument("--negatives", type=int, default=16, help="negatives per positive, every model")
    p.add_argument("--sampler", choices=("auto", "uniform", "typed"), default="auto",
                   help="negatives from every entity (uniform), or pseudo-typed: entities seen in that slot of the "
                        "relation in training; auto: typed where the evaluation ranks typed candidates (KG-CLIP), "
                        "uniform where it ranks every entity (PyKEEN's sets); the same for every model")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--select", choices=("valid", "last"), default="valid",
                   help="every model: keep the parameters of the epoch with the best validation MRR (checked every "
                        "--valid-every epochs and at the last; early stopping without stopping), or of the last epoch")
    p.add_argument("--valid-every", type=int, default=5, help="epochs between validation checks (--select valid)")
    p.add_argument("--lr", type=float, help="Adam learning rate of every model (default: each model's, LEARNING_RATES)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--te-loss", choices=("softmax", "kl", "both"), default="softmax",
                   help="Triplet Encoder loss: sLCWA softmax, the authors' in-batch KL, or both")
    p.add_argument("--mixing", nargs="+", choices=LINKPRED_MIXINGS, default=["none", "sequence"],
                   help="the Triplet Encoder's token mixing (kgtoolkit.model.triplet), one model per choice, named "
                        "'Triplet Encoder (<mixing>)': none = two towers, each token alone (KG-CLIP's default); "
                        "pairs = two towers, [h, r1] and [r2, t] attend within; sequence = the joint encoder of "
                        "[h, r1, r2, t] (the earlier Triplet Encoder)")
    p.add_argument("--te-lr-schedule", choices=("constant", "cosine"), default="constant",
                   help="Triplet Encoder learning rate: constant, or cosine decay to 0 over the epochs")
    p.add_argument("--te-layers", type=int, default=1, help="transformer layers (the authors use 3)")
    p.add_argument("--te-init-std", type=float, default=0.1, help="std of the initial entity embeddings")
    p.add_argument("--te-dropout", type=float, default=0.0, help="(the authors use 0.1)")
    p.add_argument("--te-both-directions", action="store_true",
                   help="score a Triplet Encoder triple as the mean of [h, r, t] and [t, r_inverse, h]")
    p.add_argument("--te-neighbours", action="store_true",
                   help="Triplet Encoder input = id embedding + the mean id embedding of the entity's training neighbours "
                        "(an option, off by default: the issue's Triplet Encoder reads id embeddings only)")
    p.add_argument("--te-text", metavar="CLIP_MODEL",
                   help="also train a Triplet Encoder whose entity inputs add a learned projection of frozen text "
                        "embeddings of the entity names, from this CLIP text encoder (an open_clip name, e.g. ViT-B-16); "
                        "KG-CLIP videos get none: their names are numbers that run in blocks of one action")
    p.add_argument("--te-text-weights", metavar="FILE_OR_TAG",
                   help="weights of --te-text: a checkpoint file or an open_clip tag (default: random weights, a smoke test only)")
    p.add_argument("--pykeen-loss", choices=("softmax", "default"), default="softmax",
                   help="softmax: CrossEntropyLoss as the Triplet Encoder; default: each model's PyKEEN default")
    p.add_argument("--knn", type=int, default=100,
                   help="neighbours of the nearest-videos heuristic (100: best of 1-3000 on validation)")
    p.add_argument("--split", choices=("test", "valid"), default="test", help="the split evaluated")
    p.add_argument("--graph", help="graph store holding an ingested KG-CLIP release (default: ingest --release into a temp store)")
    p.add_argument("--release", type=Path, default=DEFAULT_RELEASE)
    p.add_argument("--involves-seed", type=int, default=0, help="seed of protocol (b)'s 80/10/10 split")
    p.add_argument("--train-relations", nargs="+", choices=RELEASE_RELATIONS, metavar="RELATION",
                   help="an ablation: keep only these relations in the KG-CLIP datasets' training triples "
                        f"({', '.join(RELEASE_RELATIONS)}; default: all)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core machine)")
    p.add_argument("--quick", action="store_true", help="2 epochs: checks that everything runs")
    p.add_argument("--json", type=Path, help="write every figure here")
    p.add_argument("--plot", type=Path, default=REPO / "pipelines" / "plots" / "linkpred_mrr.png")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--from-json", type=Path, nargs="+", metavar="JSON",
                   help="train nothing: the table and plot of the rows of these --json outputs (runs split "
                        "across processes), in the order given")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = 2
    return args


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def load_release(args: argparse.Namespace) -> ReleaseGraph:
    if args.graph:
        with open_graph(args.graph) as store:
            return read_release_graph(store)
    from kgtoolkit.ingest import ingest

    with tempfile.TemporaryDirectory(prefix="kgt-linkpred-") as tmp:
        with open_graph(str(Path(tmp) / "graph")) as store:
            report = ingest(args.release, store)
            print(f"ingested {args.release} into a temporary embedded store ({report.seconds:.1f} s)", flush=True)
            return read_release_graph(store)


def load_datasets(args: argparse.Namespace) -> tuple[list[LinkPredData], set[int]]:
    """The datasets asked for, and (for a heuristic of protocol (b)) the entity ids of the 8:2
    training videos."""
    out = [pykeen_dataset(name) for name in args.datasets if name in PYKEEN_DATASETS]
    train82: set[int] = set()
    if {"kgclip-a", "kgclip-b"} & set(args.datasets):
        graph = load_release(args)
        if "kgclip-a" in args.datasets:
            out.append(release_protocol_video_action(graph))
        if "kgclip-b" in args.datasets:
            out.append(release_protocol_involves(graph, args.involves_seed))
        ids, _ = release_entities(graph)
        train82 = {i for i, e in enumerate(ids) if graph.split82.get(e) == "train"}
        if args.train_relations:
            keep = [RELEASE_RELATIONS.index(r) for r in args.train_relations]
            for data in out[-len({"kgclip-a", "kgclip-b"} & set(args.datasets)):]:
                data.train = data.train[np.isin(data.train[:, 1], keep)]
                data.notes.append(f"ablation: training triples of {', '.join(args.train_relations)} only ({len(data.train)})")
    return out, train82


# --------------------------------------------------------------------------------------------
# Models: each returns (score function, training seconds (validation checks included), {"epoch": the epoch
# kept, "history": per-epoch training figures and validation MRR, where recorded})
# --------------------------------------------------------------------------------------------
def typed_negatives(data: LinkPredData, args: argparse.Namespace) -> bool:
    return args.sampler == "typed" or (args.sampler == "auto" and bool(data.candidates))


def train_pykeen(name: str, data: LinkPredData, args: argparse.Namespace, seed: int) -> tuple[ScoreFn, float, dict]:
    from pykeen.losses import CrossEntropyLoss
    from pykeen.models import model_resolver
    from pykeen.training import SLCWATrainingLoop
    from pykeen.triples import CoreTriplesFactory
    from pykeen.utils import set_random_seed

    set_random_seed(seed)
    factory = CoreTriplesFactory.create(mapped_triples=torch.as_tensor(data.train),
                                        num_entities=data.num_entities, num_relations=data.num_relations)
    kwargs: dict = {"embedding_dim": args.dim // 2 if name == "rotate" else args.dim}
    if name == "transr":
        kwargs["relation_dim"] = args.dim
    if args.pykeen_loss == "softmax":
        kwargs["loss"] = CrossEntropyLoss()
    model = model_resolver.make(name, triples_factory=factory, random_seed=seed, **kwargs)
    loop = SLCWATrainingLoop(model=model, triples_factory=factory, optimizer="adam", optimizer_kwargs={"lr": args.lr or LEARNING_RATES[name]},
                             negative_sampler="pseudotyped" if typed_negatives(data, args) else "basic", negative_sampler_kwargs={"num_negs_per_pos": args.negatives})
    started = time.perf_counter()

    @torch.no_grad()
    def scores(anchors, relations, side, candidates):
        pairs = torch.stack([anchors, relations], dim=1)
        return model.score_t(pairs) if side == "tail" else model.score_h(pairs.flip(1))

    selector = valid_selector(data, scores, args) if args.select == "valid" else None
    loop.train(triples_factory=factory, num_epochs=args.epochs, batch_size=args.batch_size, use_tqdm=False,
               callbacks=selector)
    seconds = time.perf_counter() - started
    if selector is not None:
        model.load_state_dict(selector.best_state)
    model.eval()
    return scores, seconds, {"epoch": selector.best_epoch, "history": selector.history} if selector else {"epoch": args.epochs}


def valid_selector(data: LinkPredData, scores: ScoreFn, args: argparse.Namespace):
    """--select valid for a PyKEEN model, as train_triplet does it for the Triplet Encoder: a training
    callback that takes the validation MRR (kgtoolkit's evaluator) every --valid-every epochs and at
    the last, and keeps the parameters of the best epoch (`best_state`, `best_epoch`)."""
    from pykeen.training.callbacks import TrainingCallback

    class Selector(TrainingCallback):
        best_mrr, best_epoch, best_state = -1.0, 0, None

        def __init__(self):
            super().__init__()
            self.history: list[dict] = []

        def post_epoch(self, epoch: int, epoch_loss: float, **kwargs) -> None:
            if epoch % args.valid_every and epoch != args.epochs:
                return
            self.model.eval()
            mrr = evaluate(scores, data, "valid", backend="own")["mrr"]
            self.model.train()
            self.history.append({"epoch": epoch, "loss": epoch_loss, "valid_mrr": mrr})
            if mrr > self.best_mrr:
                self.best_mrr, self.best_epoch = mrr, epoch
                self.best_state = copy.deepcopy(self.model.state_dict())

    return Selector()


def train_te(data: LinkPredData, args: argparse.Namespace, seed: int, mixing: str,
             text: torch.Tensor | None = None) -> tuple[ScoreFn, float, dict]:
    cfg = TripletConfig(dim=args.dim, layers=args.te_layers, dropout=args.te_dropout, epochs=args.epochs,
                        batch_size=args.batch_size, negatives=args.negatives,
                        sampler="typed" if typed_negatives(data, args) else "uniform",
                        lr=args.lr or LEARNING_RATES["triplet"], lr_schedule=args.te_lr_schedule, loss=args.te_loss, init_std=args.te_init_std,
                        neighbours=args.te_neighbours, mixing=mixing, seed=seed, select=args.select,
                        valid_every=args.valid_every if args.select == "valid" else 0)
    model, seconds = train_triplet(data, cfg, text=text)
    return (model.score_fn(data.num_entities, both_directions=args.te_both_directions), seconds,
            {"epoch": model.selected_epoch, "history": model.history})


def heuristics(data: LinkPredData, args: argparse.Namespace, train82: set[int]) -> dict[str, ScoreFn]:
    if data.name.startswith("KG-CLIP (a)"):
        return {"heuristic: INVOLVES overlap": heuristic_involves_overlap(data),
                f"heuristic: {args.knn}-nearest videos": heuristic_nearest_videos(data, args.knn)}
    if data.name.startswith("KG-CLIP (b)"):
        return {"heuristic: movement frequency (all videos)": heuristic_movement_frequency(data),
                "heuristic: movement frequency (8:2 train videos)":
                    heuristic_movement_frequency(data, train82)}
    return {}


# --------------------------------------------------------------------------------------------
# Run, table, plot
# --------------------------------------------------------------------------------------------
def query_groups(data: LinkPredData, split: str) -> dict[str, np.ndarray]:
    """Protocol (a)'s queries split by whether the video has any EXHIBITS edge (its only input)."""
    if not data.name.startswith("KG-CLIP (a)"):
        return {}
    triples = data.split(split)
    with_movements = np.isin(triples[:, 0], data.train[data.train[:, 1] == EXHIBITS, 0])
    return {"with movements": triples[with_movements], "without movements": triples[~with_movements]}


def evaluate_checked(fn: ScoreFn, data: LinkPredData, split: str) -> dict:
    """PyKEEN's evaluator; kgtoolkit's rank code must agree with it. Adds the MRR of each query group."""
    result = evaluate(fn, data, split, backend="pykeen")
    own = evaluate(fn, data, split, backend="own")
    for key in ("mrr", "hits@1", "hits@3", "hits@10"):
        if abs(result[key] - own[key]) > 1e-6:
            raise AssertionError(f"{data.name}: PyKEEN's {key} {result[key]} != kgtoolkit's {own[key]}")
    for name, triples in query_groups(data, split).items():
        result[f"mrr {name}"] = evaluate(fn, data, split, backend="own", triples=triples)["mrr"]
    return result


def model_name(model: str, mixing: str | None, args: argparse.Namespace) -> str:
    if model == "triplet":
        return f"Triplet Encoder ({mixing})"
    if model == "triplet-text":
        return f"Triplet Encoder ({mixing}) + text ({args.te_text}{'' if args.te_text_weights else ', random weights'})"
    return MODEL_NAMES[model]


def model_list(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(model, mixing) in table order: the Triplet Encoder once per --mixing (and with text, under
    the first), then the PyKEEN models."""
    out: list[tuple[str, str | None]] = []
    for model in (m for m in MODELS if m in args.models):
        if model != "triplet":
            out.append((model, None))
            continue
        out += [("triplet", mixing) for mixing in args.mixing]
        if args.te_text:
            out.append(("triplet-text", args.mixing[0]))
    return out


def run_model(model: str, mixing: str | None, data: LinkPredData, args: argparse.Namespace) -> dict:
    runs = []
    text = entity_text(data, args.te_text, args.te_text_weights) if model == "triplet-text" else None
    for seed in args.seeds:
        if model in ("triplet", "triplet-text"):
            fn, seconds, info = train_te(data, args, seed, mixing, text)
        else:
            fn, seconds, info = train_pykeen(model, data, args, seed)
        started = time.perf_counter()
        metrics = evaluate_checked(fn, data, args.split)
        runs.append({**metrics, "seed": seed, **info, "train_s": seconds, "eval_s": time.perf_counter() - started})
    return summarise(data, model_name(model, mixing, args), runs)


def summarise(data: LinkPredData, model: str, runs: list[dict]) -> dict:
    """Mean and standard deviation over seeds of every figure."""
    row = {"dataset": data.name, "model": model, "runs": runs}
    for key in (k for k, v in runs[0].items() if isinstance(v, float)):
        values = [r[key] for r in runs]
        row[key] = statistics.fmean(values)
        row[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return row


def trajectory(run: dict) -> str:
    """One run's validation MRR at each check and, for the Triplet Encoder, its training loss, logit
    scale and mean entity norm there: what tells overfitting from divergence."""
    checks = [h for h in run.get("history", []) if "valid_mrr" in h]
    parts = [f"{h['epoch']}: {h['valid_mrr']:.3f}" + (f" (loss {h['loss']:.3f}, scale {h['scale']:.1f}, |e| {h['entity_norm']:.2f})"
                                                      if "scale" in h else "") for h in checks]
    return f"    seed {run['seed']}, epoch kept {run['epoch']}; validation MRR by epoch: " + ("; ".join(parts) or "not checked")


METRICS = {"mrr": "MRR", "hits@1": "Hits@1", "hits@3": "Hits@3", "hits@10": "Hits@10"}


def result_tables(rows: list[dict], split: str = "test") -> dict[str | None, pd.DataFrame]:
    """The results as DataFrames: one row per (dataset, model) with the mean of each metric over
    seeds (and its standard deviation when some model ran more than one seed), and for protocol
    (a) the MRR of videos with and without movements."""
    frame = pd.DataFrame(rows)
    with_sd = any(len(r["runs"]) > 1 for r in rows)
    columns = {"dataset": "dataset", "model": "model"}
    for key, name in METRICS.items():
        columns[key] = name
        if with_sd:
            columns[f"{key}_std"] = f"{name} sd"
    frame["epoch"] = ["/".join(str(run["epoch"]) for run in r["runs"] if "epoch" in run) for r in rows]
    columns["epoch"] = "epoch kept"
    columns["train_s"] = "train s"
    tables: dict[str | None, pd.DataFrame] = {None: frame[list(columns)].rename(columns=columns)}
    if "mrr with movements" in frame:
        grouped = frame[frame["mrr with movements"].notna()]
        tables["movements"] = grouped[["model", "mrr with movements", "mrr without movements"]].rename(columns={
            "model": "KG-CLIP (a) model", "mrr with movements": f"MRR, {split} videos with movements (EXHIBITS)",
            "mrr without movements": "MRR, without"})
    return tables


def plot(rows: list[dict], path: Path, split: str = "test") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(models)}
    width = 0.8 / max(sum(r["dataset"] == d for r in rows) for d in datasets)
    fig, ax = plt.subplots(figsize=(max(9, 2.4 * len(datasets)), 5))
    labelled: set[str] = set()
    for i, d in enumerate(datasets):
        present = [r for r in rows if r["dataset"] == d]  # only this dataset's models, centred on its tick
        for j, r in enumerate(present):
            x = i + (j - (len(present) - 1) / 2) * width
            ax.bar(x, r["mrr"], width, yerr=r["mrr_std"] or None, color=colours[r["model"]],
                   hatch="//" if r["model"].startswith("heuristic") else None, edgecolor="white",
                   label=None if r["model"] in labelled else r["model"])
            ax.text(x, r["mrr"] + 0.01, f"{r['mrr']:.2f}", ha="center", va="bottom", fontsize=6, rotation=90)
            labelled.add(r["model"])
    ax.set_xticks(range(len(datasets)), [d.replace(" ", "\n", 2) for d in datasets], fontsize=8)
    ax.set_ylabel(f"filtered MRR (realistic rank), {split} split")
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Link prediction: MRR per model per dataset")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def merge(args: argparse.Namespace) -> int:
    """--from-json: one table and one plot of the rows of several runs; their headers, as run."""
    runs = [json.loads(path.read_text()) for path in args.from_json]
    rows = [row for run in runs for row in run["rows"]]
    datasets = list(dict.fromkeys(row["dataset"] for row in rows))
    names = {name: i for i, name in enumerate(MODEL_NAMES[m] for m in PYKEEN_MODELS)}

    def order(row: dict) -> tuple:  # as one run prints them: heuristics, Triplet Encoders, PyKEEN's
        model = row["model"]
        mixing = model.split("(", 1)[1].split(")", 1)[0] if model.startswith("Triplet Encoder (") else ""
        rank = (0,) if model.startswith("heuristic") else (1, LINKPRED_MIXINGS.index(mixing)) if mixing in LINKPRED_MIXINGS \
            else (2, names.get(model, len(names)))
        return datasets.index(row["dataset"]), rank

    rows.sort(key=order)
    for path, run in zip(args.from_json, runs):
        print(f"{path}: {run.get('header', '(no header)')}; wall time {run['wall_s']:.0f} s")
    print()
    write_tables(None, result_tables(rows, runs[0]["args"]["split"]))
    if not args.no_plot and rows:
        plot(rows, args.plot, runs[0]["args"]["split"])
        print(f"plot: {args.plot}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        return merge(args)
    torch.set_num_threads(args.threads)
    import pykeen.evaluation  # noqa: F401 - import once, then freeze: PyKEEN runs gc.collect() every epoch
    import pykeen.models  # noqa: F401
    import pykeen.training  # noqa: F401

    gc.freeze()
    started = time.perf_counter()
    kept = f"best validation MRR (every {args.valid_every} epochs and the last)" if args.select == "valid" else "the last"
    header = (f"link prediction: epochs {args.epochs}, dim {args.dim}, negatives {args.negatives} ({args.sampler}), batch {args.batch_size}, "
              f"lr {args.lr or LEARNING_RATES}, seeds {args.seeds}, Triplet Encoder mixing {' '.join(args.mixing)}, loss {args.te_loss} ({args.te_layers} layers, lr {args.te_lr_schedule}, "
              f"init std {args.te_init_std}, dropout {args.te_dropout}{', both directions' if args.te_both_directions else ''}"
              f"{', + neighbour mean' if args.te_neighbours else ''}), "
              f"PyKEEN loss {args.pykeen_loss}, "
              f"epoch kept: {kept}, split {args.split}"
              f"{'; training relations ' + ' '.join(args.train_relations) if args.train_relations else ''}; "
              f"{platform.node()} {torch.get_num_threads()} thread(s) of {os.cpu_count()} CPUs, "
              f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(header, flush=True)
    rows: list[dict] = []
    datasets, train82 = load_datasets(args)
    for data in datasets:
        print(f"\n{data.name}: {data.num_entities} entities, {data.num_relations} relations, train/valid/test "
              f"{len(data.train)}/{len(data.valid)}/{len(data.test)}", flush=True)
        for note in data.notes:
            print(f"  {note}", flush=True)
        if "heuristics" in args.models:
            for name, fn in heuristics(data, args, train82).items():
                rows.append(summarise(data, name, [{**evaluate_checked(fn, data, args.split), "train_s": 0.0}]))
                print(f"  {name}: MRR {rows[-1]['mrr']:.3f}", flush=True)
        for model, mixing in model_list(args):
            rows.append(run_model(model, mixing, data, args))
            print(f"  {rows[-1]['model']}: MRR {rows[-1]['mrr']:.3f} ({rows[-1]['train_s']:.1f} s)", flush=True)
            for run in rows[-1]["runs"]:
                print(trajectory(run), flush=True)
    wall = time.perf_counter() - started
    print(f"\n{header}\n")
    write_tables(args.json, result_tables(rows, args.split))
    print(f"\nwall time {wall:.0f} s; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "header": header, "wall_s": wall,
                                         "notes": {d.name: d.notes for d in datasets}, "rows": rows}, indent=1))
    if not args.no_plot and rows:
        plot(rows, args.plot, args.split)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
