"""`TripletSampler`: the graph's triplets, read from either store in pages, mapped to ints once.

It reads Video, Action and BodyMovement nodes and SHOWS (v-a), EXHIBITS (v-b) and INVOLVES (a-b)
relationships page by page (`read_learned_graph`, which link prediction reads too), builds the id
maps, and keeps only what training may see: EXHIBITS edges of training videos (never of validation
or test videos), and INVOLVES edges that at least one selected training video of the action
supports (so a limited-data run does not learn from the videos it left out, and a KG-CLIP release
edge derived from test videos is not used).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph import GraphStore, RelRow
from kgtoolkit.ingest.splits import training_subset
from kgtoolkit.schema import INVERSE_OFFSET, RELATION_IDS, action_sort_key


@dataclass(frozen=True)
class VideoItem:
    index: int
    id: str
    path: str | None
    frames: int
    width: int
    height: int
    split: str
    action: int  # index into actions
    movements: tuple[int, ...]  # EXHIBITS tails (training videos only; empty otherwise)


@dataclass
class GraphTriplets:
    actions: list[str]  # node ids, index = class index order
    action_names: list[str]
    movements: list[str]
    movement_names: list[str]
    videos: list[VideoItem]
    involves: list[tuple[int, int]]  # (action, movement) used for training
    stats: dict[str, int] = field(default_factory=dict)

    def split(self, name: str) -> list[VideoItem]:
        return [v for v in self.videos if v.split == name]

    @cached_property
    def _movements_of(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for a, m in self.involves:
            out.setdefault(a, set()).add(m)
        return out

    def involves_of(self, action: int) -> set[int]:
        """The movements the training graph links to an action (INVOLVES)."""
        return self._movements_of.get(action, set())

    def id_maps(self) -> dict:
        return {
            "relations": {**RELATION_IDS, "inverse_offset": INVERSE_OFFSET},
            "actions": self.actions, "action_names": self.action_names,
            "movements": self.movements, "movement_names": self.movement_names,
        }

    def save_id_maps(self, path: Path) -> None:
        path.write_text(json.dumps(self.id_maps(), indent=1, ensure_ascii=False), encoding="utf-8")


@dataclass
class LearnedGraph:
    """The nodes of the three learned relations' labels (id -> properties) and their relationships,
    as a graph store holds them: what both the training sampler and link prediction read."""

    actions: dict[str, Mapping]
    movements: dict[str, Mapping]
    videos: dict[str, Mapping]
    shows: list[RelRow]
    exhibits: list[RelRow]
    involves: list[RelRow]

    @property
    def action_ids(self) -> list[str]:
        """Actions in class order (`schema.action_sort_key`)."""
        return sorted(self.actions, key=lambda a: action_sort_key(a, self.actions[a]))

    @property
    def movement_ids(self) -> list[str]:
        return sorted(self.movements)


def read_learned_graph(store: GraphStore, page_size: int = 5000) -> LearnedGraph:
    """Video, Action and BodyMovement nodes and SHOWS, EXHIBITS and INVOLVES relationships, read
    page by page from either store."""
    def nodes(label: str) -> dict[str, Mapping]:
        return {n.id: n.props for page in store.iter_nodes(label, page_size) for n in page}

    def rels(rel_type: str) -> list[RelRow]:
        return [r for page in store.iter_relationships(rel_type, page_size) for r in page]

    return LearnedGraph(actions=nodes("Action"), movements=nodes("BodyMovement"), videos=nodes("Video"),
                        shows=rels("SHOWS"), exhibits=rels("EXHIBITS"), involves=rels("INVOLVES"))


class TripletSampler:
    def __init__(self, store: GraphStore, page_size: int = 5000):
        self.store = store
        self.page_size = page_size

    def load(self, *, train_fraction: float = 1.0, protocol: str | None = None, seed: int = 0) -> GraphTriplets:
        graph = read_learned_graph(self.store, self.page_size)
        actions, movements, video_props = graph.actions, graph.movements, graph.videos
        if not actions:
            raise ConfigurationError(f"{self.store.uri} holds no Action nodes: run `kgtoolkit ingest` first")
        action_ids = graph.action_ids
        action_index = {a: i for i, a in enumerate(action_ids)}
        movement_ids = graph.movement_ids
        movement_index = {m: i for i, m in enumerate(movement_ids)}

        label_of: dict[str, int] = {}
        for r in graph.shows:
            if r.dst in action_index:
                label_of[r.src] = action_index[r.dst]

        def split_of(props: dict) -> str:
            return props.get(f"split{protocol}", "unknown") if protocol else props.get("split", "unknown")

        train_ids = [v for v, p in video_props.items() if split_of(p) == "train" and v in label_of]
        selected = training_subset(((v, label_of[v]) for v in train_ids), train_fraction, seed)

        shown: dict[str, list[int]] = defaultdict(list)
        seen_by_action: dict[int, set[int]] = defaultdict(set)
        dropped_exhibits = 0
        for r in graph.exhibits:
            if r.src in selected and r.dst in movement_index:
                shown[r.src].append(movement_index[r.dst])
                seen_by_action[label_of[r.src]].add(movement_index[r.dst])
            else:
                dropped_exhibits += 1
        involves: list[tuple[int, int]] = []
        unsupported = 0
        for r in graph.involves:
            a, m = action_index.get(r.src), movement_index.get(r.dst)
            if a is None or m is None:
                continue
            if m in seen_by_action[a]:
                involves.append((a, m))
            else:
                unsupported += 1

        videos: list[VideoItem] = []
        for vid in sorted(label_of):
            props = video_props.get(vid, {})
            split = split_of(props)
            if split == "train" and vid not in selected:
                split = "unused"  # left out by a limited-data protocol
            videos.append(VideoItem(
                index=len(videos), id=vid, path=props.get("path"), frames=int(props.get("numFrames") or 0),
                width=int(props.get("width") or 0), height=int(props.get("height") or 0), split=split,
                action=label_of[vid], movements=tuple(sorted(shown.get(vid, ()))),
            ))
        data = GraphTriplets(
            actions=action_ids, action_names=[actions[a].get("name", a) for a in action_ids],
            movements=movement_ids, movement_names=[movements[m].get("name", m) for m in movement_ids],
            videos=videos, involves=sorted(involves),
        )
        data.stats = {
            "videos": len(videos), "train": sum(v.split == "train" for v in videos),
            "val": sum(v.split == "val" for v in videos), "test": sum(v.split == "test" for v in videos),
            "unused_train": sum(v.split == "unused" for v in videos),
            "exhibits_used": sum(len(v.movements) for v in videos), "exhibits_not_used": dropped_exhibits,
            "involves_used": len(involves), "involves_not_supported_by_training": unsupported,
        }
        return data

