"""One order of classes: an action made by `add-action` (no classIndex) comes after every ingested
action in the training sampler, in link prediction's release reader and in `classify`."""

from __future__ import annotations

from pathlib import Path

from kgtoolkit.actions import add_action
from kgtoolkit.classify import graph_actions
from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.ingest import ingest
from kgtoolkit.schema import UNINDEXED_ACTION, action_sort_key
from kgtoolkit.synth import generate
from kgtoolkit.train.sampler import TripletSampler


def test_add_action_then_classify_and_the_sampler_agree_on_the_class_order(tmp_path: Path):
    generate(tmp_path / "ktps", classes=3, train_per_class=3, test_per_class=1, frames=4, size=32, seed=5)
    with EmbeddedGraphStore(tmp_path / "graph") as store:
        ingest(tmp_path / "ktps", store)
        # "aaa": its id sorts before every ingested action's, so an id tie-break alone would put it first
        add_action(store, "aaa", ["left arm raise"])
        sampled = TripletSampler(store).load().actions
        classified = [n.id for n in graph_actions(store)]
        indexed = {n.id: n.props["classIndex"] for page in store.iter_nodes("Action") for n in page
                   if "classIndex" in n.props}
    assert sampled == classified
    assert sampled[-1] == "action:aaa" and len(sampled) == 4
    assert sampled[:3] == sorted(indexed, key=lambda a: indexed[a])
    assert action_sort_key("action:x", {}) == (UNINDEXED_ACTION, "action:x")
