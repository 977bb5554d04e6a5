"""Benchmark worlds: a target world shaped like Kinetics-TPS and a source world to pretrain on.

`kgtoolkit synth --world target` and `--world source` (`synth.generate(world=...)`) draw videos
from these vocabularies; the pixels, nuisances and annotations are the generator's as always.

Target world (what the benchmarks fine-tune and test on)
    In Kinetics-TPS an action is known by many body movements while a video shows few of them
    (median 2, mean 2.7 in the KG-CLIP release); the same movement appears in several actions. Here
    every action has 6 movements on 6 different body parts and each video shows 2 to 4 of them. The
    actions come in confusable pairs: both share 5 movements (the pair's base) and each has one
    signature movement of its own, on the same body part in another state, which every video of the
    action shows. So the pair differs in exactly 2 movements and only that body part's motion tells
    its actions apart, whatever the nuisances; the base says which pair. Bases reuse movements of
    earlier pairs (a quarter of their slots, the least reused first), so movements are shared across pairs too.
    `pipelines/composition_stats.py --world target` puts these statistics beside the release's.

Source world (the pretraining corpus of the stand-in CLIP, `kgtoolkit.pretrain`)
    Many other actions (named `source_1`, ...), each 6 random movements on different parts from the
    same movement pool, videos showing 2 to 4 of them. Source and target share the movement
    vocabulary (body parts, states, objects), as web data and Kinetics-TPS share body parts and
    states, and nothing else: other names, other combinations (checked at construction).

Both vocabularies are fixed: they depend on the number of actions only, never on the seed, so the
training and test splits of any seed, and every benchmark, see the same actions.
"""

from __future__ import annotations

import numpy as np

from kgtoolkit.synth.vocabulary import (
    DEFAULT_ACTIONS,
    DEFAULT_STATES,
    PARTS,
    ActionSpec,
    Vocabulary,
    draw_on_distinct_parts,
    part_kind,
)
from kgtoolkit.vocab import NO_MOVEMENT, UNDEFINED, Movement

WORLD_OBJECTS = ("ball", "racket", "barbell", "rope", "bottle")
MOVEMENTS_PER_ACTION = 6  # a pair's 5 shared movements and one signature
VIDEO_SUBSET = (2, 4)  # movements shown per video (Kinetics-TPS: median 2, mean 2.7)
REUSE_SHARE = 0.25  # chance that a base slot reuses a movement of an earlier pair
_TARGET_STREAM, _SOURCE_STREAM = 0x7A26E7, 0x50C4CE


def world_pool() -> tuple[Movement, ...]:
    """The movements both worlds draw from: every part in every state of its kind, and the hands
    holding or throwing one of WORLD_OBJECTS."""
    pool: list[Movement] = []
    for part in PARTS:
        for state in DEFAULT_STATES[part_kind(part)]:
            if (part_kind(part), state) in {("hand", "hold"), ("hand", "throw")}:
                pool.extend(Movement(part, state, obj) for obj in WORLD_OBJECTS)
            elif (part_kind(part), state) not in {("hand", "grab"), ("foot", "step on"), ("foot", "kick")}:
                pool.append(Movement(part, state))
    return tuple(pool)


def _in_part_order(movements) -> tuple[Movement, ...]:
    return tuple(sorted(movements, key=lambda m: PARTS.index(m.part)))


def _target_name(index: int) -> str:
    return DEFAULT_ACTIONS[index][0] if index < len(DEFAULT_ACTIONS) else f"action_{index + 1}"


def target_vocabulary(classes: int) -> Vocabulary:
    """`classes` actions in confusable pairs (module docstring); an odd count ends with one action
    of a pair whose twin is left out."""
    rng = np.random.default_rng(np.random.SeedSequence([_TARGET_STREAM, classes]))
    pool = world_pool()
    used: dict[Movement, int] = {}  # movements of earlier pairs' bases -> how many bases hold them
    actions: list[ActionSpec] = []
    while len(actions) < classes:
        base: list[Movement] = []
        for _ in range(MOVEMENTS_PER_ACTION - 1):
            parts = {m.part for m in base}
            reusable = [m for m in used if m.part not in parts and m not in base]
            fresh = [m for m in pool if m.part not in parts and m not in used]
            if reusable and (rng.random() < REUSE_SHARE or not fresh):  # the least reused first
                options = [m for m in reusable if used[m] == min(used[r] for r in reusable)]
            else:
                options = fresh
            base.append(options[int(rng.integers(len(options)))])
        free = [p for p in PARTS if p not in {m.part for m in base}]
        part = free[int(rng.integers(len(free)))]
        states = [m for m in pool if m.part == part]
        first, second = rng.choice(len(states), size=2, replace=False)
        for signature in (states[int(first)], states[int(second)]):
            if len(actions) < classes:
                folder = _target_name(len(actions))
                actions.append(ActionSpec(folder, folder.replace("_", " "), _in_part_order([*base, signature]),
                                          required=(signature,)))
        for m in base:
            used[m] = used.get(m, 0) + 1
    return _vocabulary(actions, "world:target")


def source_vocabulary(classes: int) -> Vocabulary:
    """`classes` pretraining actions `source_1`, ...: 6 random movements on different parts each,
    no two alike, none equal to a target action."""
    rng = np.random.default_rng(np.random.SeedSequence([_SOURCE_STREAM, classes]))
    pool = world_pool()
    taken = {frozenset(a.movements) for a in target_vocabulary(len(DEFAULT_ACTIONS)).actions}
    actions: list[ActionSpec] = []
    while len(actions) < classes:
        chosen = draw_on_distinct_parts(rng, pool, MOVEMENTS_PER_ACTION)
        if frozenset(chosen) in taken:
            continue
        taken.add(frozenset(chosen))
        folder = f"source_{len(actions) + 1}"
        actions.append(ActionSpec(folder, folder.replace("_", " "), _in_part_order(chosen)))
    return _vocabulary(actions, "world:source")


def _vocabulary(actions: list[ActionSpec], source: str) -> Vocabulary:
    states = [s for kind_states in DEFAULT_STATES.values() for s in kind_states]
    return Vocabulary(tuple(actions), tuple(dict.fromkeys([*states, NO_MOVEMENT, UNDEFINED])), WORLD_OBJECTS,
                      source, VIDEO_SUBSET)


# "default": the built-in vocabulary (synth.vocabulary), every video showing all of its action's movements.
WORLDS = ("default", "target", "source")


def world_vocabulary(world: str, classes: int) -> Vocabulary:
    """The vocabulary of `kgtoolkit synth --world WORLD`."""
    if world == "target":
        return target_vocabulary(classes)
    if world == "source":
        return source_vocabulary(classes)
    raise ValueError(f"unknown world {world!r}: target or source")
