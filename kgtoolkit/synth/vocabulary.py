"""The vocabulary of the synthetic set: body parts, states, objects, and the actions composed of
movements (the module's own default list, or a KG-CLIP release's actions and movements)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.ingest.release import read_composition
from kgtoolkit.vocab import BODY_PARTS, NO_MOVEMENT, UNDEFINED, Movement, check_path_component, parse_movement_name


PARTS: tuple[str, ...] = BODY_PARTS

DEFAULT_STATES: dict[str, tuple[str, ...]] = {
    "head": ("nod", "turn", "tilt", "look up", "shake"),
    "hip": ("rotate", "bend", "sway", "sit", "thrust"),
    "arm": ("bend", "raise", "swing", "straighten", "push", "circle"),
    "hand": ("hold", "wave", "clap", "grab", "throw", "punch"),
    "leg": ("bend", "kneel", "stride", "lift", "kick"),
    "foot": ("step on", "kick", "lift", "tiptoe", "slide", "stamp"),
}
DEFAULT_OBJECTS: tuple[str, ...] = (
    "ball", "racket", "barbell", "rope", "stick", "ski", "bicycle", "bottle", "box", "frisbee",
)

# 24 default actions: 3-6 movements each over different parts. Every movement here belongs to at least
# two actions, so no single movement identifies an action; every set is distinct.
DEFAULT_ACTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("push_up", ("left arm bend", "right arm bend", "hip thrust", "head nod")),
    ("squat", ("left leg bend", "right leg bend", "hip sit", "left arm straighten", "right arm straighten")),
    ("deadlifting", ("left hand hold barbell", "right hand hold barbell", "hip bend", "left leg bend",
                     "right leg bend")),
    ("bench_pressing", ("left hand hold barbell", "right hand hold barbell", "left arm push", "right arm push")),
    ("clean_and_jerk", ("left hand hold barbell", "right hand hold barbell", "left arm raise", "right arm raise",
                        "hip thrust", "left leg bend")),
    ("front_raises", ("left arm raise", "right arm raise", "left hand hold bottle", "right hand hold bottle")),
    ("bicep_curl", ("left arm bend", "right arm bend", "left hand hold bottle", "right hand hold bottle")),
    ("jumping_jacks", ("left arm raise", "right arm raise", "left leg stride", "right leg stride", "head nod")),
    ("lunge", ("left leg kneel", "right leg stride", "hip sway", "head tilt", "right arm straighten")),
    ("skipping_rope", ("left hand hold rope", "right hand hold rope", "left foot tiptoe", "right foot tiptoe",
                       "left arm circle", "right arm circle")),
    ("hammer_throw", ("left hand hold rope", "right hand hold rope", "hip rotate", "left arm circle",
                      "right arm circle", "head turn")),
    ("juggling_balls", ("left hand throw ball", "right hand throw ball", "head look up", "left arm bend")),
    ("tennis_serve", ("right hand hold racket", "right arm swing", "left hand throw ball", "head look up",
                      "left foot tiptoe")),
    ("playing_badminton", ("right hand hold racket", "right arm swing", "left arm raise", "right leg stride",
                           "left foot tiptoe")),
    ("shooting_basketball", ("right hand throw ball", "right arm raise", "left foot tiptoe", "right foot tiptoe",
                             "head look up")),
    ("skiing", ("left foot step on ski", "right foot step on ski", "left hand hold stick", "right hand hold stick",
                "hip bend")),
    ("snowboarding", ("left foot step on ski", "right foot step on ski", "hip sway", "left arm straighten",
                      "right arm straighten")),
    ("playing_ice_hockey", ("left hand hold stick", "right hand hold stick", "hip bend", "right leg stride",
                            "left leg kneel")),
    ("cycling", ("left foot step on bicycle", "right foot step on bicycle", "hip sit", "left hand hold bicycle",
                 "right hand hold bicycle")),
    ("bmx_riding", ("left foot step on bicycle", "right foot step on bicycle", "left hand hold bicycle",
                    "right hand hold bicycle", "head turn")),
    ("kickboxing", ("left hand punch", "right hand punch", "left arm push", "right arm push", "right leg kick",
                    "head tilt")),
    ("punching_bag", ("left hand punch", "right hand punch", "left arm bend", "left leg stride", "hip rotate")),
    ("kicking_soccer_ball", ("right leg kick", "right foot kick ball", "left arm raise", "hip rotate")),
    ("juggling_soccer_ball", ("right foot kick ball", "head look up", "left arm raise", "right leg bend")),
)

_SIDES = {"left": "L", "right": "R"}
SIDED_KINDS = ("arm", "hand", "leg", "foot")


def part_kind(part: str) -> str:
    """'left_hand' -> 'hand', 'head' -> 'head'."""
    return part.rsplit("_", 1)[-1]


def part_side(part: str) -> str | None:
    """'left_hand' -> 'L', 'right_foot' -> 'R', 'head' -> None."""
    return _SIDES.get(part.split("_", 1)[0]) if "_" in part else None


@dataclass(frozen=True)
class ActionSpec:
    """An action: its class folder name, its display name and the movements that compose it."""

    folder: str
    name: str
    movements: tuple[Movement, ...]
    required: tuple[Movement, ...] = ()  # shown by every video of the action (synth.worlds)


@dataclass(frozen=True)
class Vocabulary:
    """The actions in use and the state and object lists written to `list/`."""

    actions: tuple[ActionSpec, ...]
    states: tuple[str, ...]
    objects: tuple[str, ...]
    source: str
    subset: tuple[int, int] | None  # (min, max) movements shown per video; None: all of them


def unique_in_order(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def default_movement_pool() -> tuple[Movement, ...]:
    """Every movement of the default vocabulary: each part with each state of its kind, objects on
    the hand states hold/grab/throw and the foot states step on/kick."""
    pool: list[Movement] = []
    for part in PARTS:
        for state in DEFAULT_STATES[part_kind(part)]:
            pool.append(Movement(part, state))
            if (part_kind(part), state) in {("hand", "hold"), ("hand", "grab"), ("hand", "throw"),
                                            ("foot", "step on"), ("foot", "kick")}:
                pool.extend(Movement(part, state, obj) for obj in DEFAULT_OBJECTS)
    return tuple(pool)


def draw_on_distinct_parts(rng: np.random.Generator, pool: Sequence[Movement], count: int) -> list[Movement]:
    """`count` movements of `pool` on different body parts: the first ones of one random permutation."""
    chosen: list[Movement] = []
    for position in rng.permutation(len(pool)):
        movement = pool[int(position)]
        if movement.part not in {m.part for m in chosen}:
            chosen.append(movement)
        if len(chosen) == count:
            break
    return chosen


def _generated_action(index: int, taken: set[frozenset[Movement]]) -> ActionSpec:
    """Action number `index` (1-based, past the default list): 3-6 movements over different parts,
    drawn from a stream that does not depend on the seed, so `action_25` is the same everywhere."""
    pool = default_movement_pool()
    rng = np.random.default_rng(np.random.SeedSequence([0x5EED, index]))
    while True:
        chosen = draw_on_distinct_parts(rng, pool, int(rng.integers(3, 7)))
        if frozenset(chosen) not in taken:
            folder = f"action_{index}"
            return ActionSpec(folder, folder.replace("_", " "), tuple(chosen))


def default_vocabulary(classes: int) -> Vocabulary:
    """The module's own vocabulary: the first `classes` default actions, then `action_25`, ..."""
    actions = [
        ActionSpec(folder, folder.replace("_", " "), tuple(parse_movement_name(n) for n in names))
        for folder, names in DEFAULT_ACTIONS[:classes]
    ]
    taken = {frozenset(a.movements) for a in actions}
    for index in range(len(DEFAULT_ACTIONS) + 1, classes + 1):
        actions.append(_generated_action(index, taken))
        taken.add(frozenset(actions[-1].movements))
    states = [s for kind_states in DEFAULT_STATES.values() for s in kind_states]
    return Vocabulary(tuple(actions), unique_in_order([*states, NO_MOVEMENT, UNDEFINED]), DEFAULT_OBJECTS,
                      "default", None)


def composition_vocabulary(release: Path, classes: int) -> Vocabulary:
    """The KG-CLIP release's vocabulary, read by `kgtoolkit.ingest.release.read_composition`: its
    actions in id order (the first `classes`), each with its a-b.pkl movements."""
    index_path, edges_path = release / "kg_idx.json", release / "a-b.pkl"
    for path in (index_path, edges_path):
        if not path.is_file():
            raise ConfigurationError(f"composition folder {release}: {path.name} is missing; point it at a "
                                     "KG-CLIP release folder such as shared/data/kg_clip_release")
    composition = read_composition(release)
    names, movements = composition.names, composition.movements
    if classes > len(composition.actions):
        raise ConfigurationError(f"composition {release} has {len(composition.actions)} actions; ask for at most "
                                 f"{len(composition.actions)} classes (got {classes})")
    by_action: dict[int, set[int]] = {}
    for head, tail in composition.involves:
        by_action.setdefault(head, set()).add(tail)
    actions = []
    for action_id in composition.actions[:classes]:
        tails = sorted(by_action[action_id])
        if len({movements[t].part for t in tails}) < 3:
            raise ConfigurationError(f"composition {edges_path}: action {names[action_id]!r} has movements on "
                                     "fewer than 3 body parts; cannot draw videos of it")
        name = names[action_id]
        problem = check_path_component(name.replace(" ", "_"))
        if problem:  # the folder name comes from the file: it must stay one folder inside out_dir
            raise ConfigurationError(f"composition {index_path}: action name {name!r} {problem}")
        actions.append(ActionSpec(name.replace(" ", "_"), name, tuple(movements[t] for t in tails)))
    states = unique_in_order([*(m.state for m in movements.values()), NO_MOVEMENT, UNDEFINED])
    objects = unique_in_order([m.object for m in movements.values() if m.object])
    return Vocabulary(tuple(actions), states, objects, f"kg_clip_release:{release}", (3, 6))
