"""The benchmark worlds (kgtoolkit.synth.worlds): the target world's confusable pairs and video
subsets, and a source world that shares the movement vocabulary and nothing else."""

from __future__ import annotations

import itertools
import json

import pytest

from kgtoolkit.composition import composition_stats, from_synth, visible_share
from kgtoolkit.errors import ConfigurationError
from kgtoolkit.synth import PARTS, generate, plan_video, source_vocabulary, target_vocabulary, world_pool
from kgtoolkit.synth.worlds import MOVEMENTS_PER_ACTION, VIDEO_SUBSET


@pytest.mark.parametrize("classes", [2, 7, 12, 24])
def test_target_actions_come_in_pairs_that_differ_in_one_body_parts_state(classes):
    actions = target_vocabulary(classes).actions
    assert len(actions) == classes and len({a.folder for a in actions}) == classes
    for action in actions:
        assert len(action.movements) == MOVEMENTS_PER_ACTION
        assert len({m.part for m in action.movements}) == MOVEMENTS_PER_ACTION  # one movement per part
        assert len(action.required) == 1 and action.required[0] in action.movements
    for a, b in zip(actions[0::2], actions[1::2]):
        differing = set(a.movements) ^ set(b.movements)
        assert differing == {a.required[0], b.required[0]}
        assert a.required[0].part == b.required[0].part and a.required[0].state != b.required[0].state
    for a, b in itertools.combinations(actions, 2):
        assert set(a.movements) != set(b.movements)


def test_target_movements_are_shared_across_pairs_too():
    actions = target_vocabulary(12).actions
    bases = [set(a.movements) - set(a.required) for a in actions[0::2]]
    assert any(x & y for x, y in itertools.combinations(bases, 2))


def test_every_target_video_shows_its_signature_and_two_to_four_movements_on_different_parts():
    vocabulary = target_vocabulary(6)
    for class_index, action in enumerate(vocabulary.actions):
        for video_index in range(10):
            plan = plan_video(3, "train", class_index, video_index, action, vocabulary.subset, video="v",
                              frames=16, size=64, fps=8)
            shown = [s.movement for s in plan.shown]
            assert VIDEO_SUBSET[0] <= len(shown) <= VIDEO_SUBSET[1]
            assert action.required[0] in shown and set(shown) <= set(action.movements)
            assert len({m.part for m in shown}) == len(shown)
            assert [PARTS.index(m.part) for m in shown] == sorted(PARTS.index(m.part) for m in shown)


def test_source_world_shares_the_movement_vocabulary_and_no_action():
    source, target = source_vocabulary(64), target_vocabulary(24)
    pool = set(world_pool())
    assert {m for a in source.actions for m in a.movements} <= pool
    assert {m for a in target.actions for m in a.movements} <= pool
    assert not {a.folder for a in source.actions} & {a.folder for a in target.actions}
    assert not {frozenset(a.movements) for a in source.actions} & {frozenset(a.movements) for a in target.actions}
    # every movement of the 12-action target world is seen in pretraining
    assert {m for a in target_vocabulary(12).actions for m in a.movements} <= {m for a in source.actions for m in a.movements}


def test_the_worlds_do_not_depend_on_the_seed_and_the_truth_names_the_world(tmp_path):
    assert target_vocabulary(12) == target_vocabulary(12)
    generate(tmp_path / "t", classes=4, train_per_class=1, test_per_class=1, frames=4, size=32, world="target",
             quirks=0)
    truth = json.loads((tmp_path / "t" / "list" / "synth_truth.json").read_text())
    assert truth["vocabulary"] == "world:target" and truth["options"]["world"] == "target"
    assert [a["movements"] for a in truth["actions"]] == [[m.name for m in a.movements]
                                                           for a in target_vocabulary(4).actions]
    stats = composition_stats(from_synth(tmp_path / "t")).summary()
    assert stats["pairs_differing_in_2"] == 2 and stats["videos_with_movements"] == 8
    assert 2 <= stats["movements_per_video"]["min"] <= stats["movements_per_video"]["max"] <= 4
    assert 0.6 <= visible_share(tmp_path / "t") <= 1.0  # a movement covers >= 60% of its video
    with pytest.raises(ConfigurationError, match="world must be one of"):
        generate(tmp_path / "u", classes=2, world="web")
