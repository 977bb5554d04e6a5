"""kgtoolkit.composition: the action-movement graph in networkx and its statistics, on a
hand-computed graph, on the KG-CLIP release (from its files and from both stores after ingest),
and on the synthetic vocabulary."""

from __future__ import annotations

import json
import pickle

import pytest

from kgtoolkit.composition import (
    action_movement_graph, composition_stats, degree_distribution, from_release, from_store, from_vocabulary,
    Composition,
)
from kgtoolkit.errors import ConfigurationError
from kgtoolkit.ingest import ingest
from kgtoolkit.safe_pickle import load_int_triples
from kgtoolkit.synth import default_vocabulary

from conftest import RELEASE_DIR


def _hand_made() -> Composition:
    """push up {m1, m2, m3}, squat {m1, m2, m4}, wave {m5}, jump {m1, m2, m3, m4}."""
    actions = {"action:push_up": "push up", "action:squat": "squat", "action:wave": "wave", "action:jump": "jump"}
    movements = {f"movement:m{i}": f"m{i}" for i in range(1, 6)}
    edges = [("action:push_up", f"movement:m{i}") for i in (1, 2, 3)] + \
            [("action:squat", f"movement:m{i}") for i in (1, 2, 4)] + [("action:wave", "movement:m5")] + \
            [("action:jump", f"movement:m{i}") for i in (1, 2, 3, 4)]
    return Composition(action_movement_graph(actions, movements, edges),
                       {"v1": {"movement:m1"}, "v2": {"movement:m1", "movement:m2", "movement:m5"}}, "hand-made")


def test_statistics_of_a_hand_computed_graph():
    stats = composition_stats(_hand_made())
    assert stats.movements_per_action.to_dict() == {"jump": 4, "push up": 3, "squat": 3, "wave": 1}
    assert stats.actions_per_movement.to_dict() == {"m1": 3, "m2": 3, "m3": 2, "m4": 2, "m5": 1}
    assert stats.shared_movements == 4
    close = stats.close_pairs()
    assert close[["action_a", "action_b", "shared", "differing"]].values.tolist() == [
        ["jump", "push up", 3, 1], ["jump", "squat", 3, 1], ["push up", "squat", 2, 2]]
    assert close["jaccard"].tolist() == pytest.approx([3 / 4, 3 / 4, 2 / 4])
    assert stats.nearest_action_distance().to_dict() == {"jump": 1, "push up": 1, "squat": 1, "wave": 4}
    assert degree_distribution(stats.movements_per_action).to_dict() == {1: 1, 3: 2, 4: 1}
    summary = stats.summary()
    assert summary["pairs_differing_in_1"] == 2 and summary["pairs_differing_in_2"] == 1
    assert summary["share_of_movements_shared"] == 0.8 and summary["action_pairs"] == 6
    assert summary["movements_per_video"] == {"min": 1, "median": 2.0, "mean": 2.0, "max": 3}
    table = stats.table().set_index("statistic")["value"]
    assert table["movements_per_action (max)"] == 4 and table["involves_edges"] == 11


def test_an_edge_to_an_unknown_node_is_refused():
    with pytest.raises(ConfigurationError, match="action:nope"):
        action_movement_graph({"action:a": "a"}, {"movement:m": "m"}, [("action:nope", "movement:m")])


def _release_oracle() -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Action -> movements and movement -> actions, straight from a-b.pkl with plain sets."""
    by_action: dict[int, set[int]] = {}
    by_movement: dict[int, set[int]] = {}
    for a, _, m in load_int_triples(RELEASE_DIR / "a-b.pkl"):
        by_action.setdefault(a, set()).add(m)
        by_movement.setdefault(m, set()).add(a)
    return by_action, by_movement


def test_release_statistics_match_the_files():
    stats = composition_stats(from_release(RELEASE_DIR))
    by_action, by_movement = _release_oracle()
    summary = stats.summary()
    assert summary["actions"] == len(by_action) == 24
    assert summary["involves_edges"] == sum(map(len, by_action.values())) == 801
    assert summary["movements"] == 391  # every movement of kg_idx.json, those only in v-b.pkl included
    assert sorted(stats.movements_per_action.tolist()) == sorted(len(m) for m in by_action.values())
    assert (summary["movements_per_action"]["min"], summary["movements_per_action"]["max"]) == (12, 104)
    assert summary["movements_shared_by_2_or_more_actions"] == sum(len(a) >= 2 for a in by_movement.values()) == 152
    differing = [len(by_action[a] ^ by_action[b]) for a in by_action for b in by_action if a < b]
    assert len(stats.pairs) == len(differing) == 276
    assert sorted(stats.pairs["differing"].tolist()) == sorted(differing)
    assert summary["pairs_differing_in_1"] == summary["pairs_differing_in_2"] == 0
    assert summary["nearest_action_distance"]["min"] == 18
    assert summary["videos_with_movements"] == 1850
    assert stats.movements_per_video.sum() == len(set(load_int_triples(RELEASE_DIR / "v-b.pkl"))) == 5040


def test_the_same_statistics_from_either_store_after_ingest(store):
    ingest(RELEASE_DIR, store)
    from_graph = composition_stats(from_store(store))
    from_files = composition_stats(from_release(RELEASE_DIR))
    assert from_graph.movements_per_action.to_dict() == from_files.movements_per_action.to_dict()
    assert from_graph.actions_per_movement.to_dict() == from_files.actions_per_movement.to_dict()
    assert from_graph.pairs.equals(from_files.pairs)
    assert sorted(from_graph.movements_per_video.tolist()) == sorted(from_files.movements_per_video.tolist())


def test_synthetic_vocabulary_statistics():
    vocabulary = default_vocabulary(12)
    stats = composition_stats(from_vocabulary(vocabulary))
    assert stats.movements_per_action.to_dict() == {a.name: len(a.movements) for a in vocabulary.actions}
    names = {a.name: {m.name for m in a.movements} for a in vocabulary.actions}
    shared = {m for a in names for m in names[a] if sum(m in names[b] for b in names) >= 2}
    assert stats.shared_movements == len(shared)
    assert stats.movements_per_video is None  # a vocabulary knows no videos
    assert stats.summary()["videos_with_movements"] is None and stats.summary()["movements_per_video"]["max"] is None


def test_a_broken_release_folder_names_the_file(tmp_path):
    (tmp_path / "kg_idx.json").write_text(json.dumps({"0": "v-b", "3": "push up", "27": "not a part at all"}))
    (tmp_path / "a-b.pkl").write_bytes(pickle.dumps([(3, 1, 27)]))
    with pytest.raises(ConfigurationError, match=r"kg_idx.json\[27\]: not a body movement"):
        from_release(tmp_path)
    (tmp_path / "a-b.pkl").unlink()
    with pytest.raises(ConfigurationError, match=r"a-b.pkl"):
        from_release(tmp_path)


def test_pipeline_script_writes_the_tables_and_the_picture(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import pandas as pd

    script = Path(__file__).resolve().parents[1] / "pipelines" / "composition_stats.py"
    result = subprocess.run([sys.executable, str(script), "--json", str(tmp_path / "c.json"), "--png",
                             str(tmp_path / "show.png"), "--classes", "6"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "c.json").read_text())
    assert summary["KG-CLIP release"]["movements_shared_by_2_or_more_actions"] == 152
    assert summary["synthetic (6 actions)"]["actions"] == 6
    table = pd.read_csv(tmp_path / "c.csv").set_index("statistic")
    assert table.loc["involves_edges", "KG-CLIP release"] == 801
    degrees = pd.read_csv(tmp_path / "c.degrees.csv")
    per_action = degrees[(degrees["source"] == "KG-CLIP release") & (degrees["distribution"] == "movements per action")]
    assert per_action["nodes"].sum() == 24
    assert (tmp_path / "c.md").read_text().startswith("| statistic")
    assert (tmp_path / "show.png").stat().st_size > 10_000
