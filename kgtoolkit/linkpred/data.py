"""Link-prediction data: integer triples split into train/valid/test (`LinkPredData`), from PyKEEN's
bundled sets or from an ingested KG-CLIP release graph under its two protocols."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph import GraphStore
from kgtoolkit.schema import LEARNED_RELATIONS, RELATION_IDS
from kgtoolkit.train.sampler import read_learned_graph

# Relation ids as kgtoolkit's sampler and model number them (kgtoolkit.schema).
EXHIBITS, INVOLVES, SHOWS = RELATION_IDS["EXHIBITS"], RELATION_IDS["INVOLVES"], RELATION_IDS["SHOWS"]
RELEASE_RELATIONS = list(LEARNED_RELATIONS)
SIDES = ("head", "tail")
PYKEEN_DATASETS = ("nations", "umls", "kinships")


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
    """Nodes and SHOWS / EXHIBITS / INVOLVES edges, read page by page from either store by the
    training sampler's reader (`read_learned_graph`)."""
    graph = read_learned_graph(store)
    actions, movements, videos = graph.actions, graph.movements, graph.videos
    if not actions or not videos:
        raise ConfigurationError(f"{store.uri} holds no Action or Video nodes: run `kgtoolkit ingest` on the release first")
    if not any("split82" in p for p in videos.values()):
        raise ConfigurationError(f"{store.uri}: videos have no `split82`: ingest the KG-CLIP release folder")
    names = {i: str(p.get("name", i)) for d in (actions, movements, videos) for i, p in d.items()}
    return ReleaseGraph(
        actions=graph.action_ids, movements=graph.movement_ids, videos=sorted(videos), names=names,
        split={v: str(p.get("split", "unknown")) for v, p in videos.items()},
        split82={v: str(p.get("split82", "unknown")) for v, p in videos.items()},
        shows={r.src: r.dst for r in graph.shows},
        exhibits=[(r.src, r.dst) for r in graph.exhibits],
        involves=[(r.src, r.dst, int(r.props.get("trainVideos") or 0)) for r in graph.involves],
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
