"""Graph heuristics (floors) for the KG-CLIP protocols: networkx graph algorithms on the training
triples only, scored through the same evaluator as the models."""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch

from kgtoolkit.composition import common_neighbour_count
from kgtoolkit.linkpred.data import EXHIBITS, INVOLVES, SHOWS, LinkPredData
from kgtoolkit.linkpred.evaluation import ScoreFn


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
