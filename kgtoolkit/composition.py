"""How actions are composed of body movements: the action-movement graph in networkx, and its statistics.

The graph is bipartite: Action nodes and BodyMovement nodes (keyed by the graph's ids, with `kind`
and `name` attributes), one edge per INVOLVES relationship. It is built from an ingested graph
store (`from_store`, either store), from a KG-CLIP release folder without ingesting it
(`from_release`: kg_idx.json + a-b.pkl, and v-b.pkl for the videos), or from a synthetic
vocabulary (`from_vocabulary`) or a generated synth folder (`from_synth`, with the videos).
`composition_stats` measures what makes actions confusable: how
many movements an action has, how many movements two or more actions share, which pairs of
actions differ in only one or two movements, and the degree distributions on both sides
(and, where videos are known, how many movements a video shows).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import networkx as nx
import pandas as pd

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.ingest.release import read_composition
from kgtoolkit.vocab import action_id, parse_movement_name

ACTION, MOVEMENT = "action", "movement"


def action_movement_graph(actions: Mapping[str, str], movements: Mapping[str, str],
                          involves: Iterable[tuple[str, str]]) -> nx.Graph:
    """The bipartite graph: `actions` and `movements` map node id -> name; `involves` holds
    (action id, movement id) edges, each of whose ends must be one of those nodes."""
    graph = nx.Graph()
    graph.add_nodes_from((i, {"kind": ACTION, "name": n}) for i, n in actions.items())
    graph.add_nodes_from((i, {"kind": MOVEMENT, "name": n}) for i, n in movements.items())
    for action, movement in involves:
        if graph.nodes.get(action, {}).get("kind") != ACTION or graph.nodes.get(movement, {}).get("kind") != MOVEMENT:
            raise ConfigurationError(f"INVOLVES edge {action!r} -> {movement!r}: an end is not a known action/movement")
        graph.add_edge(action, movement)
    return graph


def nodes_of(graph: nx.Graph, kind: str) -> list[str]:
    """The node ids of one side (ACTION or MOVEMENT), sorted."""
    return sorted(n for n, k in graph.nodes(data="kind") if k == kind)


@dataclass
class Composition:
    """The action-movement graph, and the movements each video shows (video id -> movement ids;
    None when the source knows no videos, as a vocabulary)."""

    graph: nx.Graph
    videos: dict[str, set[str]] | None
    source: str


def from_store(store) -> Composition:
    """Actions, body movements and INVOLVES edges of an ingested graph (either store); EXHIBITS
    gives the movements of each video."""
    def names(label: str) -> dict[str, str]:
        return {n.id: str(n.props.get("name", n.id)) for page in store.iter_nodes(label) for n in page}

    def edges(rel_type: str) -> list[tuple[str, str]]:
        return [(r.src, r.dst) for page in store.iter_relationships(rel_type) for r in page]

    graph = action_movement_graph(names("Action"), names("BodyMovement"), edges("INVOLVES"))
    videos: dict[str, set[str]] = {}
    for video, movement in edges("EXHIBITS"):
        videos.setdefault(video, set()).add(movement)
    return Composition(graph, videos, store.uri)


def from_release(folder: Path) -> Composition:
    """The KG-CLIP release as published (a-b.pkl: action -> movement, v-b.pkl: video -> movement; read
    by `kgtoolkit.ingest.release.read_composition`), actions and movements under the node ids
    `kgtoolkit ingest` gives them, videos under their release names (`0001`...)."""
    folder = Path(folder)
    release = read_composition(folder)
    names, movements = release.names, release.movements
    actions = {action_id(names[a].replace(" ", "_")): names[a] for a in release.actions}
    involves = [(action_id(names[a].replace(" ", "_")), movements[t].id) for a, t in release.involves]
    videos: dict[str, set[str]] = {}
    for v, t in release.exhibits:
        videos.setdefault(names.get(v, str(v)), set()).add(movements[t].id)
    return Composition(action_movement_graph(actions, {m.id: m.name for m in movements.values()}, involves), videos,
                       str(folder))


def from_vocabulary(vocabulary) -> Composition:
    """A synthetic vocabulary (`kgtoolkit.synth.Vocabulary`): each action with all its movements."""
    actions = {action_id(a.folder): a.name for a in vocabulary.actions}
    movements = {m.id: m.name for a in vocabulary.actions for m in a.movements}
    involves = [(action_id(a.folder), m.id) for a in vocabulary.actions for m in a.movements]
    return Composition(action_movement_graph(actions, movements, involves), None, f"synthetic:{vocabulary.source}")


def from_synth(folder: Path) -> Composition:
    """A `kgtoolkit synth` folder, from its list/synth_truth.json: the vocabulary's actions with all
    their movements, and the movements each video (of both splits) shows."""
    truth = _synth_truth(folder)
    actions = {action_id(a["folder"]): a["name"] for a in truth["actions"]}
    movements = {parse_movement_name(n).id: n for a in truth["actions"] for n in a["movements"]}
    involves = [(action_id(a["folder"]), parse_movement_name(n).id) for a in truth["actions"] for n in a["movements"]]
    videos = {f"{split}/{key}": {parse_movement_name(m["name"]).id for m in video["movements"]}
              for split, by_key in truth["videos"].items() for key, video in by_key.items()}
    return Composition(action_movement_graph(actions, movements, involves), videos, f"synth:{truth['vocabulary']}")


def visible_share(folder: Path) -> float:
    """The share of a training video's frames in which a movement it shows is annotated, over every
    (video, movement) of a synth folder (test videos carry no frame annotations)."""
    truth = _synth_truth(folder)
    frames = truth["options"]["frames"]
    shares = [m["frames"] / frames for video in truth["videos"]["train"].values() for m in video["movements"]]
    return round(sum(shares) / len(shares), 4) if shares else float("nan")


def _synth_truth(folder: Path) -> dict:
    path = Path(folder) / "list" / "synth_truth.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"{path}: not a readable synth truth file ({error})") from None


# --- statistics ------------------------------------------------------------------------------------
def common_neighbour_count(graph: nx.Graph, u, v) -> int:
    """How many neighbours u and v share (networkx `common_neighbors`); 0 when either is not in the graph."""
    if u not in graph or v not in graph:
        return 0
    return sum(1 for _ in nx.common_neighbors(graph, u, v))


def action_pairs(graph: nx.Graph) -> pd.DataFrame:
    """One row per unordered pair of actions: movements shared (networkx common neighbours), movements
    in one but not the other (`differing`, the symmetric difference), and their Jaccard coefficient."""
    actions = nodes_of(graph, ACTION)
    pairs = list(combinations(actions, 2))
    jaccard = {(a, b): j for a, b, j in nx.jaccard_coefficient(graph, pairs)}
    rows = []
    for a, b in pairs:
        shared = common_neighbour_count(graph, a, b)
        rows.append({"action_a": graph.nodes[a]["name"], "action_b": graph.nodes[b]["name"], "shared": shared,
                     "only_a": graph.degree(a) - shared, "only_b": graph.degree(b) - shared,
                     "differing": graph.degree(a) + graph.degree(b) - 2 * shared, "jaccard": jaccard[a, b]})
    return pd.DataFrame(rows, columns=["action_a", "action_b", "shared", "only_a", "only_b", "differing", "jaccard"])


def degrees(graph: nx.Graph, kind: str) -> pd.Series:
    """Node name -> degree for one side: movements per action (ACTION), actions per movement (MOVEMENT)."""
    ids = nodes_of(graph, kind)
    return pd.Series({graph.nodes[i]["name"]: graph.degree(i) for i in ids}, dtype="int64", name="degree")


def degree_distribution(values: pd.Series) -> pd.Series:
    """Degree -> how many nodes have it, ascending."""
    return values.value_counts().sort_index().rename("nodes").rename_axis("degree")


def _summary(values: pd.Series) -> dict:
    if values.empty:
        return {"min": None, "median": None, "mean": None, "max": None}
    return {"min": int(values.min()), "median": float(values.median()), "mean": round(float(values.mean()), 3),
            "max": int(values.max())}


@dataclass
class CompositionStats:
    source: str
    movements_per_action: pd.Series  # action name -> movements
    actions_per_movement: pd.Series  # movement name -> actions
    movements_per_video: pd.Series | None  # video id -> movements (None when the source knows no videos)
    pairs: pd.DataFrame  # every pair of actions (`action_pairs`)

    @property
    def shared_movements(self) -> int:
        """Movements that two or more actions involve."""
        return int((self.actions_per_movement >= 2).sum())

    def close_pairs(self, at_most: int = 2) -> pd.DataFrame:
        """Pairs of actions that differ in at most `at_most` movements, closest first."""
        close = self.pairs[self.pairs["differing"] <= at_most]
        return close.sort_values(["differing", "action_a", "action_b"]).reset_index(drop=True)

    def nearest_action_distance(self) -> pd.Series:
        """For each action, the fewest movements it differs in from any other action."""
        both = pd.concat([self.pairs[["action_a", "differing"]].set_axis(["action", "differing"], axis=1),
                          self.pairs[["action_b", "differing"]].set_axis(["action", "differing"], axis=1)])
        return both.groupby("action")["differing"].min()

    def summary(self) -> dict:
        movements = len(self.actions_per_movement)
        out = {
            "source": self.source,
            "actions": len(self.movements_per_action),
            "movements": movements,
            "involves_edges": int(self.movements_per_action.sum()),
            "movements_per_action": _summary(self.movements_per_action),
            "actions_per_movement": _summary(self.actions_per_movement),
            "movements_shared_by_2_or_more_actions": self.shared_movements,
            "share_of_movements_shared": round(self.shared_movements / movements, 4) if movements else None,
            "action_pairs": len(self.pairs),
            "pairs_differing_in_1": int((self.pairs["differing"] == 1).sum()),
            "pairs_differing_in_2": int((self.pairs["differing"] == 2).sum()),
            "nearest_action_distance": _summary(self.nearest_action_distance()),
            "videos_with_movements": None if self.movements_per_video is None else len(self.movements_per_video),
            "movements_per_video": _summary(self.movements_per_video if self.movements_per_video is not None
                                            else pd.Series(dtype="int64")),
        }
        return out

    def table(self) -> pd.DataFrame:
        """The summary as a two-column table (statistic, value), nested figures flattened."""
        rows = []
        for key, value in self.summary().items():
            if isinstance(value, dict):
                rows += [(f"{key} ({k})", v) for k, v in value.items()]
            else:
                rows.append((key, value))
        return pd.DataFrame(rows, columns=["statistic", "value"])


def composition_stats(composition: Composition) -> CompositionStats:
    graph = composition.graph
    per_video = None if composition.videos is None else pd.Series(
        {v: len(m) for v, m in sorted(composition.videos.items())}, dtype="int64", name="movements")
    return CompositionStats(
        source=composition.source,
        movements_per_action=degrees(graph, ACTION).rename("movements"),
        actions_per_movement=degrees(graph, MOVEMENT).rename("actions"),
        movements_per_video=per_video,
        pairs=action_pairs(graph),
    )
