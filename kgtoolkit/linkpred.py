"""Link prediction: data protocols, the Triplet Encoder on id embeddings, and one filtered evaluator.

- `LinkPredData`: integer triples split into train/valid/test, with the sides to rank and, for a
  typed graph, the candidate entities of each (side, relation).
- `release_protocol_video_action` / `release_protocol_involves`: the KG-CLIP release graph, read
  from a graph store, as the two protocols of pipelines/eval_linkpred.py; `pykeen_dataset`: PyKEEN's
  bundled Nations / UMLS / Kinships (PyKEEN is imported lazily: a benchmark dependency only).
- `TripletLinkPredictor`: entities as learned id embeddings (optionally plus a learned projection
  of frozen text embeddings of the entity names, `text_features`) fed as head and tail into
  kgtoolkit's `TripletEncoder`; score(h, r, t) = scale * cos(x_h, x_t). With two towers (mixing
  "none", the default, or "pairs") x_h reads (h, r1) and x_t (r2, t) only, so each query's anchor and
  each candidate are encoded once per relation; "sequence" (the joint encoder of [h, r1, r2, t])
  encodes every pair. `train_triplet` trains it (sLCWA softmax cross-entropy over corrupted tails,
  both directions via the encoder's inverse relations; or the authors' in-batch KL loss), records
  the loss, logit scale, norms and validation MRR per epoch (`model.history`), and can keep the
  epoch of best validation MRR (`TripletConfig.select`).
- `evaluate`: every model hands over a score function; the same code filters the other true
  answers, drops non-candidates, and ranks (realistic rank: ties count half), either with PyKEEN's
  `RankBasedEvaluator` or with `rank_metrics`, which computes the same numbers without PyKEEN.
"""

from __future__ import annotations

import copy
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kgtoolkit.composition import common_neighbour_count
from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph import GraphStore
from kgtoolkit.model.losses import same_target_labels, symmetric_kl
from kgtoolkit.model.triplet import MIXINGS, TripletEncoder
from kgtoolkit.schema import action_sort_key

# Relation ids as kgtoolkit's sampler and model number them (kgclip.py REL_VB, REL_AB, REL_VA).
EXHIBITS, INVOLVES, SHOWS = 0, 1, 2
RELEASE_RELATIONS = ["EXHIBITS", "INVOLVES", "SHOWS"]
SIDES = ("head", "tail")
PYKEEN_DATASETS = ("nations", "umls", "kinships")
# The Triplet Encoder's token mixings a link predictor may use: "batch" would make a query's score
# depend on the other queries scored with it (kgtoolkit.model.triplet).
LINKPRED_MIXINGS = tuple(m for m in MIXINGS if m != "batch")


# --- Data ------------------------------------------------------------------------------------
@dataclass
class LinkPredData:
    """Triples (N, 3) of int64 (head, relation, tail). `candidates[(side, relation)]` lists the
    entities a query of that side may answer with (absent: every entity)."""

    name: str
    entities: list[str]
    relations: list[str]
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    sides: tuple[str, ...] = SIDES
    candidates: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Entities whose names are identifiers, not words: they get no text embedding (`entity_text`).
    # The KG-CLIP videos are named 0001-3809 in blocks of one action each, so their names' text
    # would hand a model the label.
    textless: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def split(self, name: str) -> np.ndarray:
        return {"train": self.train, "valid": self.valid, "test": self.test}[name]

    def all_true(self) -> np.ndarray:
        return np.concatenate([self.train, self.valid, self.test])


def _triples(rows: list[tuple[int, int, int]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def pykeen_dataset(name: str) -> LinkPredData:
    """One of PyKEEN's bundled small datasets (their files ship inside the package: no download)."""
    from pykeen import datasets

    classes = {"nations": datasets.Nations, "umls": datasets.UMLS, "kinships": datasets.Kinships}
    if name not in classes:
        raise ConfigurationError(f"unknown PyKEEN dataset {name!r}: choose from {', '.join(classes)}")
    ds = classes[name]()
    entities = sorted(ds.entity_to_id, key=ds.entity_to_id.get)
    relations = sorted(ds.relation_to_id, key=ds.relation_to_id.get)
    parts = [ds.training, ds.validation, ds.testing]
    train, valid, test = (p.mapped_triples.numpy().astype(np.int64) for p in parts)
    return LinkPredData(name=name.capitalize() if name != "umls" else "UMLS", entities=entities,
                        relations=relations, train=train, valid=valid, test=test)


@dataclass
class ReleaseGraph:
    """The parts of an ingested KG-CLIP release graph that link prediction needs (node ids)."""

    actions: list[str]
    movements: list[str]
    videos: list[str]
    names: dict[str, str]
    split: dict[str, str]  # video -> `split` (train / val / test: 8:2 with val carved from train)
    split82: dict[str, str]  # video -> train / test
    shows: dict[str, str]  # video -> action
    exhibits: list[tuple[str, str]]  # (video, movement)
    involves: list[tuple[str, str, int]]  # (action, movement, trainVideos)


def read_release_graph(store: GraphStore) -> ReleaseGraph:
    """Nodes and SHOWS / EXHIBITS / INVOLVES edges, read page by page from either store."""
    def nodes(label: str) -> dict[str, dict]:
        return {n.id: dict(n.props) for page in store.iter_nodes(label) for n in page}

    def rels(rel_type: str):
        return [r for page in store.iter_relationships(rel_type) for r in page]

    actions, movements, videos = nodes("Action"), nodes("BodyMovement"), nodes("Video")
    if not actions or not videos:
        raise ConfigurationError(f"{store.uri} holds no Action or Video nodes: run `kgtoolkit ingest` on the release first")
    if not any("split82" in p for p in videos.values()):
        raise ConfigurationError(f"{store.uri}: videos have no `split82`: ingest the KG-CLIP release folder")
    names = {i: str(p.get("name", i)) for d in (actions, movements, videos) for i, p in d.items()}
    return ReleaseGraph(
        actions=sorted(actions, key=lambda a: action_sort_key(a, actions[a])),
        movements=sorted(movements), videos=sorted(videos), names=names,
        split={v: str(p.get("split", "unknown")) for v, p in videos.items()},
        split82={v: str(p.get("split82", "unknown")) for v, p in videos.items()},
        shows={r.src: r.dst for r in rels("SHOWS")},
        exhibits=[(r.src, r.dst) for r in rels("EXHIBITS")],
        involves=[(r.src, r.dst, int(r.props.get("trainVideos") or 0)) for r in rels("INVOLVES")],
    )


def release_entities(graph: ReleaseGraph) -> tuple[list[str], dict[str, int]]:
    """Entity order: actions, then movements, then videos."""
    ids = graph.actions + graph.movements + graph.videos
    return ids, {e: i for i, e in enumerate(ids)}


def _video_ids(graph: ReleaseGraph, index: dict[str, int]) -> np.ndarray:
    return np.asarray([index[v] for v in graph.videos], dtype=np.int64)


def release_protocol_video_action(graph: ReleaseGraph) -> LinkPredData:
    """Protocol (a): video -> action on the 8:2 split, tail side, candidates the actions.

    Train: SHOWS of the `train` videos (8:2 training minus the carved `val` videos, which are the
    validation queries), EXHIBITS of every video (test videos included: annotations, used as
    input), and only the INVOLVES edges that some 8:2 training video shows (trainVideos > 0).
    Test: SHOWS of the 8:2 test videos, whose own SHOWS edges are hidden."""
    ids, index = release_entities(graph)
    by_split: dict[str, list] = defaultdict(list)
    for video, action in sorted(graph.shows.items()):
        split = graph.split82.get(video)
        part = "test" if split == "test" else ("valid" if graph.split.get(video) == "val" else split)
        by_split[part].append((index[video], SHOWS, index[action]))
    exhibits = [(index[v], EXHIBITS, index[m]) for v, m in graph.exhibits]
    involves = [(index[a], INVOLVES, index[m]) for a, m, n in graph.involves if n > 0]
    test_videos = {h for h, _, _ in by_split["test"]}
    with_movements = {h for h, _, _ in exhibits}
    actions = np.asarray([index[a] for a in graph.actions], dtype=np.int64)
    return LinkPredData(
        name="KG-CLIP (a) video->action", entities=[graph.names[e] for e in ids], relations=RELEASE_RELATIONS,
        textless=_video_ids(graph, index),
        train=_triples(by_split["train"] + exhibits + involves), valid=_triples(by_split["valid"]),
        test=_triples(by_split["test"]), sides=("tail",), candidates={("tail", SHOWS): actions},
        notes=[
            f"train: SHOWS of {len(by_split['train'])} training videos, EXHIBITS of all videos ({len(exhibits)}, "
            f"test videos' included: they come from annotations), INVOLVES with trainVideos > 0 "
            f"({len(involves)} of {len(graph.involves)})",
            f"valid: {len(by_split['valid'])} videos carved from 8:2 training (split=val); test: "
            f"{len(test_videos)} videos, {len(test_videos - with_movements)} of them with no EXHIBITS edge",
            f"tail prediction of SHOWS, ranked among the {len(actions)} actions",
        ],
    )


def release_protocol_involves(graph: ReleaseGraph, seed: int = 0) -> LinkPredData:
    """Protocol (b): held-out INVOLVES edges, 80/10/10 by a seeded permutation; both sides (the
    movements of an action, the actions of a movement). Train keeps every SHOWS and EXHIBITS."""
    ids, index = release_entities(graph)
    involves = sorted((index[a], INVOLVES, index[m]) for a, m, _ in graph.involves)
    order = np.random.default_rng(seed).permutation(len(involves))
    n_train, n_valid = round(0.8 * len(involves)), round(0.1 * len(involves))
    pick = [involves[i] for i in order]
    shows = [(index[v], SHOWS, index[a]) for v, a in sorted(graph.shows.items())]
    exhibits = [(index[v], EXHIBITS, index[m]) for v, m in graph.exhibits]
    return LinkPredData(
        name="KG-CLIP (b) INVOLVES", entities=[graph.names[e] for e in ids], relations=RELEASE_RELATIONS,
        textless=_video_ids(graph, index),
        train=_triples(shows + exhibits + pick[:n_train]), valid=_triples(pick[n_train : n_train + n_valid]),
        test=_triples(pick[n_train + n_valid :]),
        candidates={("tail", INVOLVES): np.asarray([index[m] for m in graph.movements], dtype=np.int64),
                    ("head", INVOLVES): np.asarray([index[a] for a in graph.actions], dtype=np.int64)},
        notes=[f"INVOLVES {len(involves)} edges split 80/10/10 (seed {seed}): {n_train}/{n_valid}/"
               f"{len(involves) - n_train - n_valid}; train also holds all {len(shows)} SHOWS and {len(exhibits)} "
               "EXHIBITS; both sides, ranked among the movements (tail) / actions (head)"],
    )


# --- Evaluation: one masking and ranking path for every model --------------------------------
# score_fn(anchors, relations, side, candidates) -> (n, num_entities) scores of the queries
# (anchor, relation, ?) for side "tail" (anchor = head) or (?, relation, anchor) for side "head";
# columns outside `candidates` (when given) are ignored, so they need not be computed.
ScoreFn = Callable[[torch.Tensor, torch.Tensor, str, torch.Tensor | None], torch.Tensor]


def true_answers(data: LinkPredData) -> dict[tuple[str, int, int], set[int]]:
    """(side, anchor, relation) -> every true answer in train, valid and test (for filtering)."""
    answers: dict[tuple[str, int, int], set[int]] = defaultdict(set)
    for h, r, t in data.all_true().tolist():
        answers["tail", h, r].add(t)
        answers["head", t, r].add(h)
    return answers


def masked_scores(scores: torch.Tensor, queries: np.ndarray, side: str, data: LinkPredData,
                  answers: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Filtered scores: NaN for the other true answers and for non-candidates (both excluded from
    the ranking, as PyKEEN's filtering does); returns (scores, true scores (n, 1))."""
    scores = scores.detach().float().cpu().clone()
    col, anchor_col = (2, 0) if side == "tail" else (0, 2)
    rows, truth = torch.arange(len(queries)), torch.as_tensor(queries[:, col])
    true_scores = scores[rows, truth].clone()[:, None]
    for relation in np.unique(queries[:, 1]).tolist():
        if (allowed := data.candidates.get((side, relation))) is not None:
            outside = torch.ones(scores.shape[1], dtype=torch.bool)
            outside[torch.as_tensor(allowed)] = False
            scores[torch.as_tensor(queries[:, 1] == relation)[:, None] & outside[None, :]] = float("nan")
    for i, (anchor, relation) in enumerate(zip(queries[:, anchor_col].tolist(), queries[:, 1].tolist())):
        scores[i, list(answers[side, anchor, relation])] = float("nan")
    scores[rows, truth] = true_scores[:, 0]
    return scores, true_scores


def realistic_ranks(scores: torch.Tensor, true_scores: torch.Tensor) -> torch.Tensor:
    """1 + (# better) + (# tied others) / 2, NaN entries ignored: PyKEEN's realistic rank."""
    optimistic = (scores > true_scores).sum(dim=1) + 1
    pessimistic = (scores >= true_scores).sum(dim=1)
    return (optimistic + pessimistic).double() / 2


def rank_metrics(ranks: np.ndarray) -> dict[str, float]:
    """MRR and Hits@1/3/10 of realistic ranks (a fractional rank 1.5 is not a hit at 1)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return {"mrr": float(np.mean(1.0 / ranks)), **{f"hits@{k}": float(np.mean(ranks <= k)) for k in (1, 3, 10)},
            "queries": int(ranks.size)}


def query_scores(score_fn: ScoreFn, data: LinkPredData, triples: np.ndarray, batch: int = 512):
    """Yield (side, queries, masked scores, true scores) over the triples, in batches."""
    answers = true_answers(data)
    for side in data.sides:
        anchor_col = 0 if side == "tail" else 2
        for start in range(0, len(triples), batch):
            q = triples[start : start + batch]
            candidates = None
            relations = np.unique(q[:, 1])
            allowed = [data.candidates.get((side, int(r))) for r in relations]
            if all(a is not None for a in allowed):
                candidates = torch.as_tensor(np.unique(np.concatenate(allowed)))
            raw = score_fn(torch.as_tensor(q[:, anchor_col]), torch.as_tensor(q[:, 1]), side, candidates)
            scores, true_scores = masked_scores(raw, q, side, data, answers)
            yield side, q, scores, true_scores


def evaluate(score_fn: ScoreFn, data: LinkPredData, split: str = "test", backend: str = "pykeen",
             triples: np.ndarray | None = None) -> dict:
    """Filtered rank-based metrics of both sides together ("both"), and per side, over the split
    (or only `triples`, filtered all the same). backend "pykeen": PyKEEN's RankBasedEvaluator on
    the masked scores; "own": `rank_metrics`."""
    per_side: dict[str, list[np.ndarray]] = defaultdict(list)
    evaluator = None
    if backend == "pykeen":
        from pykeen.evaluation import RankBasedEvaluator

        evaluator = RankBasedEvaluator(filtered=True)
    triples = data.split(split) if triples is None else triples
    for side, q, scores, true_scores in query_scores(score_fn, data, triples):
        if evaluator is not None:
            evaluator.process_scores_(hrt_batch=torch.as_tensor(q), target=side, scores=scores, true_scores=true_scores)
        per_side[side].append(realistic_ranks(scores, true_scores).numpy())
    ranks = {side: np.concatenate(parts) for side, parts in per_side.items()}
    if evaluator is None:
        out = rank_metrics(np.concatenate(list(ranks.values())))
        out.update({f"{s}.mrr": rank_metrics(r)["mrr"] for s, r in ranks.items()})
        return out
    result = evaluator.finalize()

    def metric(side: str, name: str) -> float:
        return float(result.get_metric(f"{side}.realistic.{name}"))

    out = {"mrr": metric("both", "inverse_harmonic_mean_rank"),
           **{f"hits@{k}": metric("both", f"hits_at_{k}") for k in (1, 3, 10)},
           "queries": int(sum(r.size for r in ranks.values()))}
    out.update({f"{s}.mrr": metric(s, "inverse_harmonic_mean_rank") for s in ranks})
    return out


# --- The Triplet Encoder as a link predictor -------------------------------------------------
@torch.no_grad()
def text_features(names: list[str], model: str = "kg-tiny", pretrained: str | None = None,
                  batch: int = 256) -> torch.Tensor:
    """Text embeddings (E, F), L2-normalised, of the entity names from kgtoolkit's CLIP text encoder
    (an open_clip model name; weights: a checkpoint file or an open_clip tag, None = random weights,
    which only tests use): the raw names, as the authors encode actions and body movements."""
    from kgtoolkit.model.backbone import load_backbone

    backbone = load_backbone(model, pretrained)
    backbone.model.eval()
    parts = [backbone.model.encode_text(backbone.tokenizer(names[i : i + batch])).float()
             for i in range(0, len(names), batch)]
    return F.normalize(torch.cat(parts), dim=-1)


def entity_text(data: LinkPredData, model: str = "kg-tiny", pretrained: str | None = None) -> torch.Tensor:
    """`text_features` of the dataset's entity names, zero for `data.textless` (names that are ids)."""
    text = text_features(data.entities, model, pretrained)
    text[torch.as_tensor(data.textless, dtype=torch.long)] = 0.0
    return text


class TripletLinkPredictor(nn.Module):
    """Entity id embeddings (dim D) -> kgtoolkit's TripletEncoder -> scale * cos(x_h, x_t).

    Relation r < R is the forward relation; r + R its inverse: a head query (?, r, t) is scored as
    the tail query (t, r + R, ?), which is how the encoder learns both directions. `text` (E, F):
    frozen text embeddings of the entity names (a buffer, never trained); an entity's input is then
    its id embedding plus a learned linear projection (F -> D) of its text embedding."""

    def __init__(self, num_entities: int, num_relations: int, dim: int, layers: int = 1, dropout: float = 0.0,
                 scale: float = 10.0, learn_scale: bool = True, init_std: float = 0.1,
                 text: torch.Tensor | None = None, adjacency: torch.Tensor | None = None, mixing: str = "none"):
        super().__init__()
        if mixing not in LINKPRED_MIXINGS:
            raise ConfigurationError(f"link prediction mixing must be one of {', '.join(LINKPRED_MIXINGS)} (got {mixing!r}): "
                                     "'batch' attends across the rows scored together, so a query's score would depend on its batch")
        self.num_relations = num_relations
        self.entities = nn.Embedding(num_entities, dim)
        nn.init.normal_(self.entities.weight, std=init_std)
        self.text_projection: nn.Linear | None = None
        if text is not None:
            if text.shape[0] != num_entities:
                raise ConfigurationError(f"text features for {text.shape[0]} entities, the graph has {num_entities}")
            self.register_buffer("text", text.detach().float().clone())
            self.text_projection = nn.Linear(text.shape[1], dim, bias=False)
        self.register_buffer("adjacency", None if adjacency is None else adjacency.coalesce())
        self.encoder = TripletEncoder(dim, relations=num_relations, layers=layers, dropout=dropout, mixing=mixing)
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)), requires_grad=learn_scale)

    def entity(self, ids: torch.Tensor) -> torch.Tensor:
        """The encoder's input for entity ids (any shape) -> (..., D)."""
        x = self.entities(ids)
        if self.adjacency is not None:  # + the mean id embedding of the entity's training neighbours
            x = x + torch.sparse.mm(self.adjacency, self.entities.weight)[ids]
        if self.text_projection is not None:
            x = x + self.text_projection(self.text[ids])
        return x

    @property
    def scale(self) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=100.0)

    def encode(self, anchors: torch.Tensor, relations: torch.Tensor, targets: torch.Tensor):
        """x_h, x_t of the sequences [anchor, r, target], one per pair: anchors/relations (n,),
        targets (n, k) -> (n, k, D). Every mixing; two towers encode the same anchor k times."""
        n, k = targets.shape
        head = self.entity(anchors)[:, None, :].expand(n, k, -1).reshape(n * k, -1)
        tail = self.entity(targets).reshape(n * k, -1)
        x_h, x_t = self.encoder(head, relations[:, None].expand(n, k).reshape(-1), tail)
        return x_h.view(n, k, -1), x_t.view(n, k, -1)

    def pair_scores(self, anchors: torch.Tensor, relations: torch.Tensor, targets: torch.Tensor,
                    per_pair: bool = False) -> torch.Tensor:
        """scale * cos(x_h, x_t) of each (anchor, relation, target[j]): (n, k). Two towers: n head
        passes and n * k tail passes (x_h does not depend on the tail); "sequence" (or per_pair):
        one [anchor, r1, r2, target] sequence per pair."""
        if per_pair or not self.encoder.two_tower:
            x_h, x_t = self.encode(anchors, relations, targets)
            return self.scale * F.cosine_similarity(x_h, x_t, dim=-1)
        n, k = targets.shape
        x_h = F.normalize(self.encoder.heads(self.entity(anchors), relations), dim=-1)
        x_t = self.encoder.tails(self.entity(targets.reshape(-1)), relations.repeat_interleave(k))
        x_t = F.normalize(x_t, dim=-1).view(n, k, -1)
        return self.scale * torch.einsum("nd,nkd->nk", x_h, x_t)

    def _matrix(self, anchors: torch.Tensor, relations: torch.Tensor, cands: torch.Tensor,
                both_directions: bool) -> torch.Tensor:
        """Two towers: scores (n, m) of every (anchor_i, relation_i, cands_j); per relation, each
        anchor and each candidate encoded once (x_h of the anchors, x_t of the candidates)."""
        R = self.num_relations
        out = torch.empty(len(anchors), len(cands))
        cand_inputs = self.entity(cands)
        for relation in torch.unique(relations).tolist():
            rows = relations == relation
            anchor_inputs = self.entity(anchors[rows])
            x_h = F.normalize(self.encoder.heads(anchor_inputs, relation), dim=-1)
            x_t = F.normalize(self.encoder.tails(cand_inputs, relation), dim=-1)
            scores = x_h @ x_t.t()
            if both_directions:  # [candidate, r_inverse, anchor]
                inverse = (relation + R) % (2 * R)
                back_h = F.normalize(self.encoder.heads(cand_inputs, inverse), dim=-1)
                back_t = F.normalize(self.encoder.tails(anchor_inputs, inverse), dim=-1)
                scores = (scores + (back_h @ back_t.t()).t()) / 2
            out[rows] = self.scale * scores
        return out

    @torch.no_grad()
    def score_fn(self, num_entities: int, both_directions: bool = False, chunk: int = 16384,
                 per_pair: bool = False) -> ScoreFn:
        """A `ScoreFn` for `evaluate`; nothing is shared across the queries of a batch. Two towers:
        each query's anchor and every candidate encoded once per relation, score = scale * cos;
        "sequence" (or per_pair): one sequence per (query, candidate). both_directions: average the
        scores of [h, r, t] and [t, r_inverse, h]."""
        R = self.num_relations

        def directed(anchors, rel, cands):
            out = self.pair_scores(anchors, rel, cands[None, :].expand(len(anchors), -1), per_pair=True)
            if both_directions:
                n, m = len(anchors), len(cands)
                inverse = ((rel[:, None] + R) % (2 * R)).expand(n, m).reshape(-1)
                back = self.pair_scores(cands.repeat(n), inverse, anchors[:, None].expand(n, m).reshape(-1, 1), per_pair=True)
                out = (out + back.view(n, m)) / 2
            return out

        def scores(anchors, relations, side, candidates):
            self.eval()
            cands = torch.arange(num_entities) if candidates is None else candidates
            rel = relations + (R if side == "head" else 0)
            out = torch.full((len(anchors), num_entities), float("nan"))
            if self.encoder.two_tower and not per_pair:
                out[:, cands] = self._matrix(anchors, rel, cands, both_directions)
                return out
            per = max(1, chunk // len(cands))
            for s in range(0, len(anchors), per):
                out[s : s + per, cands] = directed(anchors[s : s + per], rel[s : s + per], cands)
            return out

        return scores


@dataclass
class TripletConfig:
    """Training of `TripletLinkPredictor`. loss: "softmax" = cross-entropy of the true tail against
    `negatives` corrupted tails (PyKEEN's sLCWA + CrossEntropyLoss), "kl" = the authors' in-batch KL
    contrastive loss (kgtoolkit.model.losses.symmetric_kl), "both" = their sum. sampler: "uniform"
    draws corrupted tails from every entity, "typed" from the entities seen in that slot of the
    relation in training (PyKEEN's PseudoTypedNegativeSampler). The defaults are the benchmark's,
    chosen on validation splits (BENCHMARKS.md, "Link prediction")."""

    dim: int = 32
    layers: int = 1  # the authors: 3 layers, dropout 0.1 (with CLIP features, not id embeddings)
    dropout: float = 0.0
    epochs: int = 30
    batch_size: int = 128
    negatives: int = 16
    sampler: str = "uniform"
    lr: float = 1e-2
    lr_schedule: str = "constant"  # "cosine": the learning rate decays from lr to 0 over the epochs (per step)
    weight_decay: float = 0.0
    loss: str = "softmax"
    scale: float = 10.0
    init_std: float = 0.1
    neighbours: bool = False  # an option (ablation): input = id embedding + mean of the training neighbours'
    mixing: str = "none"  # the encoder's token mixing (kgtoolkit.model.triplet); "sequence": the joint encoder
    valid_every: int = 0  # > 0: validation MRR every this many epochs (and the last), in `model.history`
    select: str = "last"  # "valid": keep the parameters of the epoch with the best validation MRR
    measure_fit: bool = False  # with each validation check, the MRR of as many (fixed) training triples
    seed: int = 0


def neighbour_mean(train: np.ndarray, num_entities: int) -> torch.Tensor:
    """Sparse (E, E) row-normalised adjacency of the training triples, every relation, both directions:
    row e averages the entities that e shares a training triple with (an empty row: no neighbour)."""
    rows = np.concatenate([train[:, 0], train[:, 2]])
    cols = np.concatenate([train[:, 2], train[:, 0]])
    degree = np.bincount(rows, minlength=num_entities).astype(np.float32)
    values = 1.0 / degree[rows]
    return torch.sparse_coo_tensor(torch.as_tensor(np.stack([rows, cols])), torch.as_tensor(values),
                                   (num_entities, num_entities), check_invariants=True).coalesce()


class NegativeTails:
    """Corrupted tails for directed relations (r < R forward, r + R inverse), uniform or pseudo-typed."""

    def __init__(self, train: np.ndarray, num_entities: int, num_relations: int, typed: bool):
        self.num_entities = num_entities
        self.pools = None
        if typed:
            pools = [np.unique(train[train[:, 1] == r, 2]) for r in range(num_relations)]
            pools += [np.unique(train[train[:, 1] == r, 0]) for r in range(num_relations)]
            self.sizes = torch.as_tensor([max(1, len(p)) for p in pools])
            self.offsets = torch.as_tensor(np.cumsum([0] + [len(p) for p in pools])[:-1])
            self.pools = torch.as_tensor(np.concatenate(pools))

    def sample(self, relations: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
        if self.pools is None:
            return torch.randint(self.num_entities, (len(relations), k), generator=gen)
        u = torch.rand(len(relations), k, generator=gen)
        index = (u * self.sizes[relations, None]).long() + self.offsets[relations, None]
        return self.pools[index]


def _softmax_loss(model: TripletLinkPredictor, anchors, relations, targets, negatives: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the true tail (column 0) against its negatives; a negative that is the true tail is masked."""
    scores = model.pair_scores(anchors, relations, torch.cat([targets[:, None], negatives], dim=1))
    false_negative = torch.cat([torch.zeros_like(targets[:, None], dtype=torch.bool), negatives == targets[:, None]], 1)
    return F.cross_entropy(scores.masked_fill(false_negative, float("-inf")), torch.zeros_like(targets))


def _kl_loss(model: TripletLinkPredictor, anchors, relations, targets) -> torch.Tensor:
    """The authors' loss: x_h of one true sequence against x_t of the others; same tail = positive."""
    x_h, x_t = model.encode(anchors, relations, targets[:, None])
    return symmetric_kl(x_h[:, 0], x_t[:, 0], same_target_labels(targets), model.scale)


@torch.no_grad()
def training_state(model: TripletLinkPredictor) -> dict[str, float]:
    """What a diverging or overfitting run shows: the logit scale, the mean entity id-embedding
    norm, the norm of every other parameter (the encoder's)."""
    others = [p for name, p in model.named_parameters() if name not in ("entities.weight", "log_scale")]
    return {"scale": float(model.scale), "entity_norm": float(model.entities.weight.norm(dim=1).mean()),
            "encoder_norm": float(torch.sqrt(sum((p.float() ** 2).sum() for p in others)))}


def train_triplet(data: LinkPredData, cfg: TripletConfig, on_epoch: Callable[[int, float], None] | None = None,
                  text: torch.Tensor | None = None) -> tuple[TripletLinkPredictor, float]:
    """Train on `data.train` (every triple forward and inverse each epoch); returns (model, seconds).
    `text`: frozen text embeddings of the entity names (`text_features`), added to the id embeddings."""
    torch.manual_seed(cfg.seed)
    model = TripletLinkPredictor(data.num_entities, data.num_relations, cfg.dim, cfg.layers, cfg.dropout,
                                 cfg.scale, init_std=cfg.init_std, text=text, mixing=cfg.mixing,
                                 adjacency=neighbour_mean(data.train, data.num_entities) if cfg.neighbours else None)
    model.history = []
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.lr_schedule not in ("constant", "cosine"):
        raise ConfigurationError(f"lr_schedule must be 'constant' or 'cosine' (got {cfg.lr_schedule!r})")
    steps = cfg.epochs * math.ceil(len(data.train) / cfg.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps) if cfg.lr_schedule == "cosine" else None
    gen = torch.Generator().manual_seed(cfg.seed)
    sampler = NegativeTails(data.train, data.num_entities, data.num_relations, typed=cfg.sampler == "typed")
    triples = torch.as_tensor(data.train)
    R = data.num_relations
    fit_sample = np.random.default_rng(cfg.seed).permutation(len(triples))[: len(data.valid)]
    if cfg.select not in ("last", "valid"):
        raise ConfigurationError(f"select must be 'last' or 'valid' (got {cfg.select!r})")
    if cfg.select == "valid" and not (cfg.valid_every > 0 and len(data.valid)):
        raise ConfigurationError("select='valid' needs validation triples and valid_every > 0")
    best: tuple[float, int, dict | None] = (-1.0, 0, None)
    started = time.perf_counter()
    model.train()
    for epoch in range(cfg.epochs):
        total = 0.0
        order = torch.randperm(len(triples), generator=gen)
        for start in range(0, len(triples), cfg.batch_size):
            h, r, t = triples[order[start : start + cfg.batch_size]].unbind(1)
            anchors, relations, targets = torch.cat([h, t]), torch.cat([r, r + R]), torch.cat([t, h])
            loss = torch.zeros(())
            if cfg.loss in ("softmax", "both"):
                negatives = sampler.sample(relations, cfg.negatives, gen)
                loss = loss + _softmax_loss(model, anchors, relations, targets, negatives)
            if cfg.loss in ("kl", "both"):
                loss = loss + (_kl_loss(model, h, r, t) + _kl_loss(model, t, r + R, h)) / 2
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += float(loss.detach())
        record = {"epoch": epoch + 1, "loss": total / math.ceil(len(triples) / cfg.batch_size),
                  "lr": optimizer.param_groups[0]["lr"], **training_state(model)}
        if cfg.valid_every and ((epoch + 1) % cfg.valid_every == 0 or epoch + 1 == cfg.epochs) and len(data.valid):
            fn = model.score_fn(data.num_entities)
            record["valid_mrr"] = evaluate(fn, data, "valid", backend="own")["mrr"]
            if cfg.measure_fit:  # how well the model fits what it learns from (overfitting: this rises, valid falls)
                record["train_mrr"] = evaluate(fn, data, "train", backend="own", triples=data.train[fit_sample])["mrr"]
            model.train()
            if record["valid_mrr"] > best[0]:
                best = (record["valid_mrr"], epoch + 1, copy.deepcopy(model.state_dict()))
        model.history.append(record)
        if on_epoch:
            on_epoch(epoch, total)
    model.selected_epoch = cfg.epochs
    if cfg.select == "valid" and best[2] is not None:
        model.load_state_dict(best[2])
        model.selected_epoch = best[1]
    model.eval()
    return model, time.perf_counter() - started


# --- Graph heuristics (floors): networkx graph algorithms on the training triples only -------------
def relation_graph(triples: np.ndarray, *relations: int) -> nx.Graph:
    """The undirected graph of the triples of these relations (entity ids as nodes)."""
    graph = nx.Graph()
    graph.add_edges_from((h, t) for h, _, t in triples[np.isin(triples[:, 1], relations)].tolist())
    return graph


def _class_prior(data: LinkPredData) -> torch.Tensor:
    """Share of training SHOWS edges per action, in [0, 1): added to integer scores it only breaks ties,
    and it is the whole score of a video that has no movement."""
    counts = np.bincount(data.train[data.train[:, 1] == SHOWS, 2], minlength=data.num_entities)
    return torch.as_tensor(counts / (counts.sum() + 1.0), dtype=torch.float32)


def heuristic_involves_overlap(data: LinkPredData) -> ScoreFn:
    """(a): score(v, a) = |INVOLVES(a) & EXHIBITS(v)|, the common neighbours of v and a in the graph of
    EXHIBITS and INVOLVES edges (movements are the only nodes both link to), + class prior as
    tie-break / fallback."""
    graph, prior = relation_graph(data.train, EXHIBITS, INVOLVES), _class_prior(data)
    actions = sorted(set(data.train[data.train[:, 1] == INVOLVES, 0].tolist()))

    def scores(anchors, relations, side, candidates):
        out = prior.repeat(len(anchors), 1)
        for i, v in enumerate(anchors.tolist()):
            for a in actions:
                out[i, a] += common_neighbour_count(graph, v, a)
        return out

    return scores


def heuristic_nearest_videos(data: LinkPredData, k: int = 100) -> ScoreFn:
    """(a): votes of the k training videos sharing the most movements with v (common neighbours in the
    EXHIBITS graph, at least one; equal counts ordered by entity id), + class prior as tie-break / fallback."""
    graph, prior = relation_graph(data.train, EXHIBITS), _class_prior(data)
    label = {h: t for h, _, t in data.train[data.train[:, 1] == SHOWS].tolist()}

    def scores(anchors, relations, side, candidates):
        out = prior.repeat(len(anchors), 1)
        for i, v in enumerate(anchors.tolist()):
            if v not in graph:
                continue
            # the videos two hops away are exactly those sharing a movement with v
            reached = {u for m in graph[v] for u in graph[m] if u != v and u in label}
            shared = sorted(((common_neighbour_count(graph, v, u), u) for u in reached), key=lambda x: (-x[0], x[1]))
            for _, u in shared[:k]:
                out[i, label[u]] += 1
        return out

    return scores


def heuristic_movement_frequency(data: LinkPredData, videos: set[int] | None = None) -> ScoreFn:
    """(b): co-occurrence: score(a, m) = how many of the action's videos in the training graph (or only
    those in `videos`) exhibit m, the common neighbours of a and m in the graph of those videos'
    SHOWS edges and every EXHIBITS edge; both sides read the same counts."""
    shows = data.train[data.train[:, 1] == SHOWS]
    if videos is not None:
        shows = shows[np.isin(shows[:, 0], list(videos))]
    graph = relation_graph(np.concatenate([shows, data.train[data.train[:, 1] == EXHIBITS]]), SHOWS, EXHIBITS)

    def scores(anchors, relations, side, candidates):
        out = torch.zeros(len(anchors), data.num_entities)
        for i, x in enumerate(anchors.tolist()):
            for c in candidates.tolist():
                out[i, c] = common_neighbour_count(graph, x, c)
        return out

    return scores
