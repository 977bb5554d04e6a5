"""Synthetic Kinetics-TPS: stick-figure videos whose body parts perform the annotated movements.

`generate(out_dir, ...)` writes a folder laid out exactly like Kinetics-TPS (DESIGN.md, "Kinetics-TPS
on disk"): mp4 videos per split and class, one annotation JSON per frame for the training videos,
the `list/` vocabulary files and flists, plus `list/synth_truth.json`, the ground truth that a test
of the ingest can be checked against.

Vocabulary
    A body movement is (part, state, object or None), named "<part with a space> <state>[ <object>]"
    ("right hand hold barbell"). An action is a set of movements over different parts. The default
    vocabulary is this module's own (`DEFAULT_STATES`, `DEFAULT_OBJECTS`, `DEFAULT_ACTIONS`); with
    `composition=` it is the KG-CLIP release's (kg_idx.json + a-b.pkl), whose actions have 12-104
    movements, of which each video shows a seeded subset of 3-6 over different parts.

Parse rule (`kgtoolkit.vocab.parse_movement_name`, shared with the readers)
    The name starts with one of the 10 parts ("left hand", ..., "head", "hip"). The state follows: two
    words when the second is a particle ("step on", "put down", "look up"), else one word. Whatever
    follows is the object ("baseball bat"), or None. The object list of the real dataset is not
    published with the graph, so this is best effort; it is exact for every name of the release and
    round-trips (`parse_movement_name(n).name == n`). The generator writes the parsed part, state and
    object into the frame JSONs, so the ingest sees the same movement the release reader does.

Pixels
    Each state is a motion primitive: terms that drive degrees of freedom of a 2-D skeleton (shoulder
    and elbow angles, knee, foot angle, head tilt/turn, torso lean/twist, ...) with a waveform, an
    offset, an amplitude and a frequency. The default states have hand-made primitives ("bend" bends
    the elbow back and forth, "raise" lifts the arm, "kick" snaps the leg out); any other state is
    mapped by a stable hash (blake2b, never Python's salted `hash`) of "<part kind>:<state>" to
    terms, so unknown states still move, differently from each other. Hand and foot states also
    drive their arm or leg a little so that they are visible at low resolution. A held object is drawn
    at the part and moves with it. Parts without a movement stay at rest with a small jitter.
    Nuisances per video (seeded): position, scale, speed and phase, background colour and texture,
    figure colour, a moving distractor shape, pixel noise; none of them depends on the class.

Annotation quirks (seeded, as in the real data; `quirks=` sets how many, QUIRK_LEVELS)
    A movement covers a seeded interval of the clip (>= 60%), outside it its part is 'none'. Test
    videos get no annotations. Level 0 stops there. Level 1 (the generator's output before levels
    existed, byte for byte): ~3% of frames have no human (`{"humans": []}`); ~5% of parts are omitted
    (not visible) in a frame; an idle part is 'others' (undefined, no object) instead of 'none' in ~4%
    of frames. Level 2 (the default) adds what the real annotations also hold: a second human (number 1)
    in ~6% of frames, idle ('none' / 'others'), half of the time with `"parts": []`; every box in float
    coordinates (still inside the frame); a part that holds an object is annotated without it
    (`obj_class` null) in ~10% of its frames, so one video shows the same part and state with and
    without an object; the first video id starts with `-` and the second holds `_` inside its
    11-character YouTube id; and, with the default vocabulary, the last class folder holds parentheses
    (`deadlifting_(sport)`, as Kinetics' `hurling_(sport)`). None of them is a defect: an ingest of any
    level reports nothing.

Determinism
    Every random draw comes from numpy SeedSequences built from `seed` and the video's position, so
    the same call gives byte-identical JSON and list files and identical decoded frames. With
    `share_videos=True` one mp4 per (class, split) is rendered and hard-linked (or copied) for the
    others; every video still gets its own annotations (the same as without sharing), and the
    truth file names the video whose pixels it carries (`pixels_from`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.safe_pickle import load_int_triples
from kgtoolkit.vocab import (
    BODY_PARTS,
    NO_MOVEMENT,
    UNDEFINED,
    Movement,
    action_name,
    check_path_component,
    parse_movement_name,
)

# ----------------------------------------------------------------------------------------------
# Vocabulary
# ----------------------------------------------------------------------------------------------

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
_SIDED_KINDS = ("arm", "hand", "leg", "foot")


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


@dataclass(frozen=True)
class Vocabulary:
    """The actions in use and the state and object lists written to `list/`."""

    actions: tuple[ActionSpec, ...]
    states: tuple[str, ...]
    objects: tuple[str, ...]
    source: str
    subset: tuple[int, int] | None  # (min, max) movements shown per video; None: all of them


def _unique(items: Sequence[str]) -> tuple[str, ...]:
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


def _generated_action(index: int, taken: set[frozenset[Movement]]) -> ActionSpec:
    """Action number `index` (1-based, past the default list): 3-6 movements over different parts,
    drawn from a stream that does not depend on the seed, so `action_25` is the same everywhere."""
    pool = default_movement_pool()
    rng = np.random.default_rng(np.random.SeedSequence([0x5EED, index]))
    while True:
        count = int(rng.integers(3, 7))
        chosen: list[Movement] = []
        for position in rng.permutation(len(pool)):
            movement = pool[int(position)]
            if movement.part not in {m.part for m in chosen}:
                chosen.append(movement)
            if len(chosen) == count:
                break
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
    return Vocabulary(tuple(actions), _unique([*states, NO_MOVEMENT, UNDEFINED]), DEFAULT_OBJECTS,
                      "default", None)


def composition_vocabulary(release: Path, classes: int) -> Vocabulary:
    """The KG-CLIP release's vocabulary: kg_idx.json names, a-b.pkl action -> movement edges."""
    index_path, edges_path = release / "kg_idx.json", release / "a-b.pkl"
    for path in (index_path, edges_path):
        if not path.is_file():
            raise ConfigurationError(f"composition folder {release}: {path.name} is missing; point it at a "
                                     "KG-CLIP release folder such as shared/data/kg_clip_release")
    names = {int(k): v for k, v in json.loads(index_path.read_text(encoding="utf-8")).items()}
    action_ids = [i for i in range(3, 27) if i in names]
    if classes > len(action_ids):
        raise ConfigurationError(f"composition {release} has {len(action_ids)} actions; ask for at most "
                                 f"{len(action_ids)} classes (got {classes})")
    movement_ids = [i for i in range(27, 418) if i in names]
    try:
        movements = {i: parse_movement_name(names[i]) for i in movement_ids}
    except ValueError as error:
        raise ConfigurationError(f"composition {index_path}: {error}") from None
    by_action: dict[int, list[int]] = {}
    for head, _relation, tail in load_int_triples(edges_path):
        by_action.setdefault(head, []).append(tail)
    actions = []
    for action_id in action_ids[:classes]:
        tails = sorted(t for t in set(by_action.get(action_id, [])) if t in movements)
        if len({movements[t].part for t in tails}) < 3:
            raise ConfigurationError(f"composition {edges_path}: action {names[action_id]!r} has movements on "
                                     "fewer than 3 body parts; cannot draw videos of it")
        name = names[action_id]
        problem = check_path_component(name.replace(" ", "_"))
        if problem:  # the folder name comes from the file: it must stay one folder inside out_dir
            raise ConfigurationError(f"composition {index_path}: action name {name!r} {problem}")
        actions.append(ActionSpec(name.replace(" ", "_"), name, tuple(movements[t] for t in tails)))
    states = _unique([*(m.state for m in movements.values()), NO_MOVEMENT, UNDEFINED])
    objects = _unique([m.object for m in movements.values() if m.object])
    return Vocabulary(tuple(actions), states, objects, f"kg_clip_release:{release}", (3, 6))


# ----------------------------------------------------------------------------------------------
# Motion primitives
# ----------------------------------------------------------------------------------------------

# Rest values of the skeleton's degrees of freedom; sided ones exist as "L.<dof>" and "R.<dof>".
REST: dict[str, float] = {
    "arm.shoulder": 0.22, "arm.elbow": 0.15, "hand.angle": 0.1, "hand.size": 1.0, "hand.reach": 0.0,
    "leg.hip": 0.07, "leg.knee": 0.04, "foot.angle": -0.25,
    "head.tilt": 0.0, "head.dx": 0.0, "head.dy": 0.0, "head.face_x": 0.0, "head.face_y": 0.0,
    "hip.lean": 0.0, "hip.torso": 0.0, "hip.twist": 0.0, "hip.dx": 0.0, "hip.dy": 0.0,
}
# Rest-pose jitter amplitude per degree of freedom (radians or figure heights); angles default to 0.012.
_JITTER = {"head.dx": 0.0015, "head.dy": 0.0015, "hip.dx": 0.0015, "hip.dy": 0.001, "hip.torso": 0.005,
           "hand.size": 0.03, "hand.reach": 0.015, "head.face_x": 0.03, "head.face_y": 0.03}


def _wave_sin(u: np.ndarray) -> np.ndarray:
    return np.sin(2 * np.pi * u)


def _wave_cos(u: np.ndarray) -> np.ndarray:
    return np.cos(2 * np.pi * u)


def _wave_tri(u: np.ndarray) -> np.ndarray:
    return 2 * np.abs(2 * (u % 1.0) - 1) - 1


def _wave_pulse(u: np.ndarray) -> np.ndarray:
    return ((1 - np.cos(2 * np.pi * u)) / 2) ** 3


def _wave_saw(u: np.ndarray) -> np.ndarray:
    return u % 1.0


def _wave_const(u: np.ndarray) -> np.ndarray:
    return np.ones_like(u)


WAVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin": _wave_sin, "cos": _wave_cos, "tri": _wave_tri, "pulse": _wave_pulse, "saw": _wave_saw,
    "const": _wave_const,
}


@dataclass(frozen=True)
class Term:
    """Adds `offset + amp * wave(freq * t + phase)` to a degree of freedom while a movement is active.
    `dof` is a key of REST; a sided dof applies to the movement's side, or to both with a '*'."""

    dof: str
    offset: float
    amp: float = 0.0
    wave: str = "const"
    freq: float = 1.0
    phase: float = 0.0


def _t(dof: str, offset: float, amp: float = 0.0, wave: str = "const", freq: float = 1.0,
       phase: float = 0.0) -> Term:
    return Term(dof, offset, amp, wave, freq, phase)


MOTIONS: dict[tuple[str, str], tuple[Term, ...]] = {
    ("arm", "bend"): (_t("arm.shoulder", 0.7), _t("arm.elbow", -1.1, 0.9, "sin", 0.8)),  # flexes outwards
    ("arm", "raise"): (_t("arm.shoulder", 1.3, 1.1, "tri", 0.5),),
    ("arm", "swing"): (_t("arm.shoulder", 0.35, 0.95, "sin", 1.0), _t("arm.elbow", 0.25)),
    ("arm", "straighten"): (_t("arm.shoulder", 1.35), _t("arm.elbow", 1.2, -1.2, "saw", 0.7)),
    ("arm", "push"): (_t("arm.shoulder", 1.1, 0.25, "sin", 1.0), _t("arm.elbow", 1.0, -0.9, "sin", 1.0)),
    ("arm", "circle"): (_t("arm.shoulder", 1.4, 0.9, "sin", 1.1), _t("arm.elbow", 0.4, 0.4, "cos", 1.1)),
    ("hand", "hold"): (_t("hand.size", -0.45), _t("arm.elbow", 0.7), _t("arm.shoulder", 0.2),
                       _t("hand.angle", 0.2)),
    ("hand", "wave"): (_t("hand.angle", 0.0, 0.9, "sin", 2.0), _t("arm.shoulder", 2.1), _t("arm.elbow", 0.4),
                       _t("hand.size", 0.3)),
    ("hand", "clap"): (_t("arm.shoulder", 0.9, 0.25, "sin", 1.6), _t("arm.elbow", 1.6, 0.35, "sin", 1.6),
                       _t("hand.size", 0.2)),
    ("hand", "grab"): (_t("hand.size", 0.1, 0.55, "sin", 1.0), _t("hand.reach", 0.3, 0.3, "sin", 1.0),
                       _t("arm.shoulder", 0.6)),
    ("hand", "throw"): (_t("arm.shoulder", 0.3, 2.0, "pulse", 0.7), _t("hand.angle", 0.0, 0.8, "pulse", 0.7),
                        _t("arm.elbow", 0.8, -0.7, "pulse", 0.7)),
    ("hand", "punch"): (_t("arm.shoulder", 1.3), _t("arm.elbow", 1.9, -1.8, "pulse", 1.3), _t("hand.size", -0.4)),
    ("leg", "bend"): (_t("leg.knee", 0.7, 0.65, "sin", 0.7),),
    ("leg", "kneel"): (_t("leg.knee", 2.0), _t("leg.hip", 0.25)),
    ("leg", "stride"): (_t("leg.hip", 0.12, 0.4, "sin", 0.9), _t("leg.knee", 0.2, 0.2, "sin", 0.9, 0.25)),
    ("leg", "lift"): (_t("leg.hip", 0.35, 0.3, "tri", 0.6), _t("leg.knee", 1.1, 0.7, "tri", 0.6)),
    ("leg", "kick"): (_t("leg.hip", 0.05, 1.3, "pulse", 0.8), _t("leg.knee", 0.9, -0.8, "pulse", 0.8)),
    ("foot", "step on"): (_t("leg.knee", 0.0, 0.9, "pulse", 0.9), _t("leg.hip", 0.0, 0.25, "pulse", 0.9),
                          _t("foot.angle", 0.2)),
    ("foot", "kick"): (_t("foot.angle", 0.2, 0.8, "sin", 1.6), _t("leg.hip", 0.3, 0.2, "sin", 1.6)),
    ("foot", "lift"): (_t("leg.knee", 0.9), _t("leg.hip", 0.3), _t("foot.angle", 0.4, 0.1, "sin", 1.0)),
    ("foot", "tiptoe"): (_t("foot.angle", -0.75, 0.45, "sin", 1.2), _t("leg.knee", 0.0, 0.25, "pulse", 1.2)),
    ("foot", "slide"): (_t("leg.hip", 0.15, 0.35, "tri", 0.6), _t("foot.angle", 0.25)),
    ("foot", "stamp"): (_t("leg.knee", 0.0, 1.2, "pulse", 1.5), _t("foot.angle", 0.0, 0.3, "pulse", 1.5)),
    ("head", "nod"): (_t("head.dy", 0.01, 0.03, "sin", 1.5), _t("head.face_y", 0.0, 0.6, "sin", 1.5)),
    ("head", "turn"): (_t("head.face_x", 0.0, 0.9, "sin", 0.6), _t("head.dx", 0.0, 0.01, "sin", 0.6)),
    ("head", "tilt"): (_t("head.tilt", 0.0, 0.45, "sin", 0.7),),
    ("head", "look up"): (_t("head.face_y", -0.8), _t("head.dy", -0.02), _t("head.tilt", 0.0, 0.1, "sin", 0.5)),
    ("head", "shake"): (_t("head.face_x", 0.0, 0.6, "sin", 2.0),),
    ("hip", "rotate"): (_t("hip.twist", 0.0, 0.9, "sin", 0.6), _t("hip.lean", 0.0, 0.1, "sin", 0.6)),
    ("hip", "bend"): (_t("hip.torso", -0.3, 0.2, "sin", 0.6), _t("hip.dy", 0.05, 0.04, "sin", 0.6),
                      _t("hip.lean", 0.2)),
    ("hip", "sway"): (_t("hip.dx", 0.0, 0.06, "sin", 0.8), _t("hip.lean", 0.0, -0.2, "sin", 0.8)),
    ("hip", "sit"): (_t("*leg.knee", 1.0), _t("*leg.hip", 0.3), _t("hip.lean", -0.1)),
    ("hip", "thrust"): (_t("hip.dy", 0.0, -0.05, "pulse", 1.4), _t("hip.lean", 0.0, 0.15, "pulse", 1.4)),
}

# (dof, offset range, amplitude range) that a hashed state of each part kind draws its terms from.
_HASHED_DOFS: dict[str, tuple[tuple[str, tuple[float, float], tuple[float, float]], ...]] = {
    "arm": (("arm.shoulder", (0.0, 2.2), (0.3, 1.0)), ("arm.elbow", (0.2, 1.8), (0.3, 1.0))),
    "hand": (("hand.angle", (-0.6, 0.6), (0.3, 1.0)), ("hand.size", (-0.2, 0.2), (0.2, 0.6)),
             ("hand.reach", (0.0, 0.6), (0.0, 0.6)), ("arm.elbow", (0.0, 1.2), (0.0, 0.6)),
             ("arm.shoulder", (0.0, 1.0), (0.0, 0.4))),
    "leg": (("leg.hip", (0.0, 0.6), (0.1, 0.5)), ("leg.knee", (0.0, 1.5), (0.2, 0.9))),
    "foot": (("foot.angle", (-0.8, 0.6), (0.2, 0.8)), ("leg.knee", (0.0, 0.8), (0.0, 0.6))),
    "head": (("head.tilt", (-0.3, 0.3), (0.0, 0.4)), ("head.dy", (-0.02, 0.02), (0.0, 0.03)),
             ("head.face_x", (-0.6, 0.6), (0.0, 0.8)), ("head.face_y", (-0.6, 0.6), (0.0, 0.6))),
    "hip": (("hip.lean", (-0.3, 0.3), (0.0, 0.3)), ("hip.torso", (-0.3, 0.0), (0.0, 0.2)),
            ("hip.twist", (0.0, 0.6), (0.0, 0.7)), ("hip.dx", (0.0, 0.0), (0.0, 0.05))),
}
_HASHED_WAVES = ("sin", "tri", "pulse", "saw")


def stable_unit_values(text: str, count: int) -> list[float]:
    """`count` numbers in [0, 1) from a stable hash of `text` (blake2b: same on every run/machine)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=2 * count).digest()
    return [int.from_bytes(digest[2 * i: 2 * i + 2], "big") / 65536 for i in range(count)]


def _hashed_terms(kind: str, state: str) -> tuple[Term, ...]:
    dofs = _HASHED_DOFS[kind]
    u = stable_unit_values(f"{kind}:{state}", 4 * len(dofs))
    terms = []
    for i, (dof, (lo, hi), (alo, ahi)) in enumerate(dofs):
        a, b, c, d = u[4 * i: 4 * i + 4]
        terms.append(Term(dof, lo + a * (hi - lo), alo + b * (ahi - alo),
                          _HASHED_WAVES[int(c * len(_HASHED_WAVES))], 0.4 + 1.4 * d, a))
    return tuple(terms)


def motion_terms(kind: str, state: str) -> tuple[Term, ...]:
    """The motion primitive of a state for a part kind: hand-made, hashed, or none for 'none'."""
    if state == NO_MOVEMENT:
        return ()
    return MOTIONS.get((kind, state)) or _hashed_terms(kind, state)


# ----------------------------------------------------------------------------------------------
# Per-video plan: movements shown, their intervals, nuisances, annotation quirks
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownMovement:
    """A movement as a video shows it: frames start..end (0-based, inclusive), phase and gain."""

    movement: Movement
    start: int
    end: int
    phase: float
    gain: float


@dataclass(frozen=True, eq=False)
class Nuisance:
    """Everything about a video's look that does not depend on its class."""

    center_x: float
    ground_y: float
    height: float
    speed: float
    figure_rgb: tuple[int, int, int]
    background_rgb: tuple[int, int, int]
    texture: np.ndarray  # (5, 5, 3) float, upsampled into the background
    gradient: float
    distractor_shape: str
    distractor_rgb: tuple[int, int, int]
    distractor_radius: float
    distractor_start: tuple[float, float]
    distractor_velocity: tuple[float, float]
    noise_sigma: float
    noise_seed: int
    jitter: np.ndarray  # (n_dofs, 4): amplitude scale, frequency, phase 1, phase 2
    object_rgb: tuple[tuple[int, int, int], ...]


QUIRK_LEVELS = {0: "clean annotations", 1: "empty frames, hidden parts, 'others'",
                2: "also a second human, parts [], float boxes, objects dropped, odd ids and folders"}
DEFAULT_QUIRKS = 2
PAREN_QUALIFIER = "_(sport)"  # appended to the last default class folder at quirks level 2


@dataclass(frozen=True, eq=False)
class VideoPlan:
    split: str
    folder: str
    video: str
    frames: int
    size: int
    fps: int
    shown: tuple[ShownMovement, ...]
    nuisance: Nuisance
    empty: np.ndarray  # (frames,) bool: no human annotated
    hidden: np.ndarray  # (frames, 10) bool: part not annotated
    undefined: np.ndarray  # (frames, 10) bool: idle part labelled 'others'
    bystander: np.ndarray | None = None  # (frames,) 0: none, 1: an idle second human, 2: one with "parts": []
    bare: np.ndarray | None = None  # (frames, 10) bool: the part's object is not annotated in that frame
    fraction: np.ndarray | None = None  # (frames, 11, 4) in [0, 1): float coordinates (human box, then parts)


def _luma(rgb: Sequence[float]) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _rgb(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


def _lerp(calm: float, drawn: float, strength: float) -> float:
    return calm + (drawn - calm) * strength


def _calm_rgb(calm: tuple[int, int, int], drawn: tuple[int, int, int], strength: float) -> tuple[int, int, int]:
    return tuple(int(round(_lerp(c, d, strength))) for c, d in zip(calm, drawn))  # type: ignore[return-value]


CALM_BACKGROUND, CALM_FIGURES = (150, 150, 150), ((20, 20, 20), (245, 245, 245))


def _draw_nuisance(rng: np.random.Generator, size: int, strength: float = 1.0) -> Nuisance:
    """The video's nuisances. `strength` in [0, 1] scales them towards a calm default (centred figure
    of 65% height, grey background, dark or light figure, no texture, no distractor, no noise); the
    random draws are the same for every strength, so 1.0 is the full-nuisance set of the same seed."""
    height = size * rng.uniform(0.55, 0.74)
    half_width = 0.45 * height / size
    background = _rgb(rng)
    figure = _rgb(rng)
    while abs(_luma(figure) - _luma(background)) < 90:
        figure = _rgb(rng)
    radius = size * rng.uniform(0.05, 0.1)
    speed = size * rng.uniform(0.05, 0.2)
    angle = rng.uniform(0, 2 * np.pi)
    centre_x = size * rng.uniform(half_width, 1 - half_width)
    ground_y = size * rng.uniform(0.86, 0.95)
    tempo = rng.uniform(0.75, 1.35)
    if strength < 1.0:
        background = _calm_rgb(CALM_BACKGROUND, background, strength)
        figure = _calm_rgb(CALM_FIGURES[_luma(figure) > _luma(background)], figure, strength)
        if abs(_luma(figure) - _luma(background)) < 90:
            figure = CALM_FIGURES[_luma(background) < 128]
        height = _lerp(0.65 * size, height, strength)
        centre_x, ground_y = _lerp(size / 2, centre_x, strength), _lerp(0.9 * size, ground_y, strength)
        tempo = _lerp(1.0, tempo, strength)
    return Nuisance(
        center_x=centre_x,
        ground_y=ground_y,
        height=height,
        speed=tempo,
        figure_rgb=figure,
        background_rgb=background,
        texture=rng.uniform(-1, 1, (5, 5, 3)) * rng.uniform(8, 35) * strength,
        gradient=rng.uniform(-30, 30) * strength,
        distractor_shape=("ellipse", "rectangle", "triangle")[int(rng.integers(3))],
        distractor_rgb=_rgb(rng),
        distractor_radius=radius * strength,
        distractor_start=(size * rng.uniform(0, 1), size * rng.uniform(0, 1)),
        distractor_velocity=(speed * np.cos(angle), speed * np.sin(angle)),
        noise_sigma=rng.uniform(1.5, 5) * strength,
        noise_seed=int(rng.integers(2**62)),
        jitter=np.stack([rng.uniform(0.5, 1.5, len(REST) * 2), rng.uniform(0.2, 0.8, len(REST) * 2),
                         rng.uniform(0, 1, len(REST) * 2), rng.uniform(0, 1, len(REST) * 2)], axis=1),
        object_rgb=tuple(_rgb(rng) for _ in range(len(PARTS))),
    )


def _choose_shown(rng: np.random.Generator, action: ActionSpec, subset: tuple[int, int] | None,
                  frames: int) -> tuple[ShownMovement, ...]:
    """The movements a video shows (all, or a subset over different parts) and their intervals."""
    if subset is None:
        chosen = list(action.movements)
    else:
        count = int(rng.integers(subset[0], subset[1] + 1))
        chosen = []
        for position in rng.permutation(len(action.movements)):
            movement = action.movements[int(position)]
            if movement.part not in {m.part for m in chosen}:
                chosen.append(movement)
            if len(chosen) == count:
                break
        chosen.sort(key=lambda m: PARTS.index(m.part))
    slack = frames // 5
    shown = []
    for movement in chosen:
        start = int(rng.integers(0, slack + 1))
        end = frames - 1 - int(rng.integers(0, slack + 1))
        shown.append(ShownMovement(movement, start, end, float(rng.uniform(0, 1)), float(rng.uniform(0.8, 1.2))))
    return tuple(shown)


def plan_video(seed: int, split: str, class_index: int, video_index: int, action: ActionSpec,
               subset: tuple[int, int] | None, *, video: str, frames: int, size: int, fps: int,
               nuisance: float = 1.0, quirks: int = DEFAULT_QUIRKS) -> VideoPlan:
    """Everything random about one video, from its own SeedSequence (independent streams for the
    movements, the nuisances and the quirks, so each depends only on the seed and the position; the
    draws of quirk level 2 come after those of level 1, which therefore stay as they were)."""
    split_code = {"train": 0, "test": 1}[split]
    movement_seq, nuisance_seq, quirk_seq = np.random.SeedSequence(
        [seed, split_code, class_index, video_index]).spawn(3)
    shown = _choose_shown(np.random.default_rng(movement_seq), action, subset, frames)
    looks = _draw_nuisance(np.random.default_rng(nuisance_seq), size, nuisance)
    rng = np.random.default_rng(quirk_seq)
    empty, hidden, undefined = (rng.random(frames) < 0.03, rng.random((frames, len(PARTS))) < 0.05,
                                rng.random((frames, len(PARTS))) < 0.04)
    level2 = {}
    if quirks >= 2:
        level2 = dict(bystander=np.digitize(rng.random(frames), [0.94, 0.97]) * (~empty),
                      bare=rng.random((frames, len(PARTS))) < 0.1,
                      fraction=rng.random((frames, len(PARTS) + 1, 4)))
    if quirks == 0:
        empty, hidden, undefined = np.zeros_like(empty), np.zeros_like(hidden), np.zeros_like(undefined)
    return VideoPlan(split=split, folder=action.folder, video=video, frames=frames, size=size, fps=fps,
                     shown=shown, nuisance=looks, empty=empty, hidden=hidden, undefined=undefined, **level2)


# ----------------------------------------------------------------------------------------------
# Skeleton geometry (vectorised over frames)
# ----------------------------------------------------------------------------------------------

# Body proportions in units of the figure height.
TORSO, NECK, HEAD_R, SHOULDER, HIP_HALF = 0.29, 0.085, 0.065, 0.085, 0.055
UPPER_ARM, FOREARM, HAND = 0.15, 0.14, 0.055
THIGH, SHIN, FOOT = 0.21, 0.20, 0.065
LIMB_W, TORSO_W, HAND_R = 0.06, 0.1, 0.04

_DOF_KEYS: tuple[str, ...] = tuple(
    f"{side}.{dof}" if dof.split(".")[0] in _SIDED_KINDS else dof
    for dof in REST for side in (("L", "R") if dof.split(".")[0] in _SIDED_KINDS else ("",))
)


def _dof_keys(dof: str, part: str) -> tuple[str, ...]:
    both = dof.startswith("*")
    dof = dof.lstrip("*")
    if dof.split(".")[0] not in _SIDED_KINDS:
        return (dof,)
    side = part_side(part)
    if both or side is None:
        return (f"L.{dof}", f"R.{dof}")
    return (f"{side}.{dof}",)


def trajectories(plan: VideoPlan) -> dict[str, np.ndarray]:
    """Value of every degree of freedom at every frame: rest + jitter + the shown movements."""
    t = np.arange(plan.frames) / plan.fps
    nyquist_safe = 0.4 * plan.fps
    traj: dict[str, np.ndarray] = {}
    for row, key in enumerate(_DOF_KEYS):
        dof = key.split(".", 1)[1] if key[:2] in ("L.", "R.") else key
        scale, freq, p1, p2 = plan.nuisance.jitter[row]
        amp = _JITTER.get(dof, 0.012) * scale
        jitter = amp * (np.sin(2 * np.pi * (freq * t + p1)) + 0.5 * np.sin(2 * np.pi * (2.3 * freq * t + p2)))
        traj[key] = REST[dof] + jitter
    for shown in plan.shown:
        active = np.zeros(plan.frames)
        active[shown.start: shown.end + 1] = 1.0
        for term in motion_terms(part_kind(shown.movement.part), shown.movement.state):
            freq = min(term.freq * plan.nuisance.speed, nyquist_safe)
            value = term.offset + term.amp * WAVES[term.wave](freq * t + term.phase + shown.phase)
            for key in _dof_keys(term.dof, shown.movement.part):
                traj[key] = traj[key] + value * shown.gain * active
    return traj


def _direction(side: float, angle: np.ndarray) -> np.ndarray:
    """Unit vector at `angle` from straight down, positive angles away from the body on `side`."""
    return np.stack([side * np.sin(angle), np.cos(angle)], axis=-1)


def skeleton(traj: dict[str, np.ndarray], nuisance: Nuisance) -> dict[str, np.ndarray]:
    """Joint positions in pixels, each (frames, 2). The person faces the camera: their left side is
    on the image's right. The lowest foot stands on the ground line."""
    frames = len(traj["hip.lean"])
    lean = traj["hip.lean"]
    pelvis = np.zeros((frames, 2))
    up = np.stack([np.sin(lean), -np.cos(lean)], axis=-1)
    across = np.stack([np.cos(lean), np.sin(lean)], axis=-1)
    neck = pelvis + (TORSO * (1 + traj["hip.torso"]))[:, None] * up
    tilt = lean + traj["head.tilt"]
    head = (neck + NECK * np.stack([np.sin(tilt), -np.cos(tilt)], axis=-1)
            + np.stack([traj["head.dx"], traj["head.dy"]], axis=-1))
    half_width = SHOULDER * np.maximum(0.25, np.abs(np.cos(traj["hip.twist"])))
    joints = {"pelvis": pelvis, "neck": neck, "head": head}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        shoulder = neck + sign * half_width[:, None] * across
        upper = traj[f"{side}.arm.shoulder"]
        fore = upper - traj[f"{side}.arm.elbow"]
        elbow = shoulder + UPPER_ARM * _direction(sign, upper)
        wrist = elbow + FOREARM * _direction(sign, fore)
        hand_dir = _direction(sign, fore - traj[f"{side}.hand.angle"])
        tip = wrist + (HAND * (1 + traj[f"{side}.hand.reach"]))[:, None] * hand_dir
        hip = pelvis + np.array([sign * HIP_HALF, 0.0])
        thigh = traj[f"{side}.leg.hip"] + traj[f"{side}.leg.knee"] / 2
        shin = traj[f"{side}.leg.hip"] - traj[f"{side}.leg.knee"] / 2
        knee = hip + THIGH * _direction(sign, thigh)
        ankle = knee + SHIN * _direction(sign, shin)
        foot = traj[f"{side}.foot.angle"]
        toe = ankle + FOOT * np.stack([sign * np.cos(foot), -np.sin(foot)], axis=-1)
        joints.update({f"{side}.shoulder": shoulder, f"{side}.elbow": elbow, f"{side}.wrist": wrist,
                       f"{side}.tip": tip, f"{side}.hip": hip, f"{side}.knee": knee,
                       f"{side}.ankle": ankle, f"{side}.toe": toe})
    lowest = np.max(np.stack([joints[k][:, 1] for k in ("L.ankle", "L.toe", "R.ankle", "R.toe")]), axis=0)
    shift = np.stack([traj["hip.dx"], traj["hip.dy"] - lowest], axis=-1)
    origin = np.array([nuisance.center_x, nuisance.ground_y])
    return {name: origin + (points + shift) * nuisance.height for name, points in joints.items()}


def _hull_box(points: Sequence[np.ndarray], pad: float) -> np.ndarray:
    stacked = np.stack(points)  # (k, frames, 2)
    return np.concatenate([stacked.min(axis=0) - pad, stacked.max(axis=0) + pad], axis=-1)


def part_boxes(joints: dict[str, np.ndarray], height: float, hand_size: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float box (frames, 4) of every part, and of the torso ('torso', used for body objects)."""
    limb = LIMB_W * height
    lower_torso = joints["pelvis"] + 0.35 * (joints["neck"] - joints["pelvis"])
    boxes = {
        "head": _hull_box([joints["head"]], HEAD_R * height),
        "hip": _hull_box([joints["L.hip"], joints["R.hip"], lower_torso], TORSO_W * height / 2),
        "torso": _hull_box([joints["pelvis"], joints["neck"], joints["L.shoulder"], joints["R.shoulder"]],
                           TORSO_W * height / 2),
    }
    for side, prefix in (("L", "left"), ("R", "right")):
        hand_pad = np.maximum(limb, HAND_R * height * hand_size[side])[:, None]
        boxes[f"{prefix}_arm"] = _hull_box([joints[f"{side}.{j}"] for j in ("shoulder", "elbow", "wrist")], limb)
        boxes[f"{prefix}_hand"] = np.concatenate([
            np.minimum(joints[f"{side}.wrist"], joints[f"{side}.tip"]) - hand_pad,
            np.maximum(joints[f"{side}.wrist"], joints[f"{side}.tip"]) + hand_pad], axis=-1)
        boxes[f"{prefix}_leg"] = _hull_box([joints[f"{side}.{j}"] for j in ("hip", "knee", "ankle")], limb)
        boxes[f"{prefix}_foot"] = _hull_box([joints[f"{side}.ankle"], joints[f"{side}.toe"]], limb)
    return boxes


def pixel_boxes(boxes: np.ndarray, size: int) -> np.ndarray:
    """Float boxes (..., 4) -> int boxes inside the frame: 0 <= x1 < x2 <= size (same for y)."""
    clipped = np.clip(boxes, 0, size)
    low = np.minimum(np.floor(clipped[..., :2]), size - 1)
    high = np.maximum(np.ceil(clipped[..., 2:]), low + 1)
    return np.concatenate([low, high], axis=-1).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# Objects
# ----------------------------------------------------------------------------------------------

# Objects that are body regions: no shape is drawn, their box is that region's box.
BODY_OBJECTS: dict[str, str] = {
    "hand": "hand", "finger": "hand", "arm": "arm", "foot": "foot", "leg": "leg", "head": "head",
    "eye": "head", "face": "head", "body": "torso", "waist": "torso",
}
OBJECT_SHAPES: dict[str, str] = {
    "ball": "ball", "volleyball": "ball", "basketball": "ball", "baseball": "ball", "fruit": "ball",
    "balloon": "ball", "racket": "racket", "paddle": "racket", "barbell": "barbell", "dumbbell": "barbell",
    "rope": "rope", "stick": "stick", "baseball bat": "stick", "hammer": "stick", "arrow": "stick",
    "flute": "stick", "pen": "stick", "knife": "stick", "ski": "board", "skateboard": "board",
    "snowboard": "board", "surfboard": "board", "bicycle": "wheels", "motorcycle": "wheels",
    "wheelchair": "wheels", "bottle": "bottle", "drink": "bottle", "beer": "bottle",
    "mobile phone": "bottle", "remote control": "bottle", "box": "box", "book": "box", "backpack": "box",
    "handbag": "box", "camera": "box", "drum": "box", "dice": "box", "frisbee": "disc", "hat": "disc",
}
_GENERIC_SHAPES = ("ball", "stick", "box", "disc", "board", "bottle", "wheels", "racket")


def _ellipse(cu: float, cv: float, ru: float, rv: float, n: int = 12) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cu + ru * np.cos(a), cv + rv * np.sin(a)], axis=-1)


def _rect(u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
    return np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]])


# Shapes in object-local body units: u along the anchor's direction, v across it.
# Each item: ("poly" filled, "ring" outline or "line" polyline, points (k, 2)).
SHAPES: dict[str, tuple[tuple[str, np.ndarray], ...]] = {
    "ball": (("poly", _ellipse(0.05, 0, 0.045, 0.045)),),
    "racket": (("line", np.array([[0.0, 0.0], [0.11, 0.0]])), ("ring", _ellipse(0.17, 0, 0.065, 0.045))),
    "barbell": (("line", np.array([[0.0, -0.24], [0.0, 0.24]])), ("poly", _rect(-0.05, 0.05, 0.2, 0.24)),
                ("poly", _rect(-0.05, 0.05, -0.24, -0.2))),
    "rope": (("line", np.stack([np.linspace(0, 0.32, 9), 0.07 * np.sin(np.linspace(0, 2 * np.pi, 9))], -1)),),
    "stick": (("line", np.array([[-0.08, 0.0], [0.34, 0.0]])),),
    "board": (("poly", _rect(0.0, 0.03, -0.2, 0.2)),),
    "wheels": (("ring", _ellipse(0.1, -0.13, 0.08, 0.08)), ("ring", _ellipse(0.1, 0.13, 0.08, 0.08)),
               ("line", np.array([[0.1, -0.13], [0.0, 0.0], [0.1, 0.13]]))),
    "bottle": (("poly", _rect(0.0, 0.11, -0.022, 0.022)), ("poly", _rect(0.11, 0.14, -0.01, 0.01))),
    "box": (("poly", _rect(0.0, 0.13, -0.065, 0.065)),),
    "disc": (("poly", _ellipse(0.03, 0, 0.02, 0.085)),),
}


def object_shape(name: str) -> tuple[str, float]:
    """(shape, scale) of an object: a known shape, or one chosen by a stable hash of its name."""
    if name in OBJECT_SHAPES:
        return OBJECT_SHAPES[name], 1.0
    pick, scale = stable_unit_values(f"object:{name}", 2)
    return _GENERIC_SHAPES[int(pick * len(_GENERIC_SHAPES))], 0.7 + 0.6 * scale


@dataclass(frozen=True, eq=False)
class ObjectTrack:
    """An object of a shown movement: its drawn pieces (pixels, per frame) and its box per frame."""

    part: str
    name: str
    pieces: tuple[tuple[str, np.ndarray], ...]  # (kind, (frames, k, 2))
    boxes: np.ndarray  # (frames, 4) float
    active: np.ndarray  # (frames,) bool
    rgb: tuple[int, int, int]


def _rotate(vector: np.ndarray, sign: float) -> np.ndarray:
    """Rotate (frames, 2) vectors by +90 degrees (sign 1) or -90 degrees (sign -1) in image axes."""
    return np.stack([-sign * vector[:, 1], sign * vector[:, 0]], axis=-1)


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.maximum(np.linalg.norm(vector, axis=-1, keepdims=True), 1e-9)


def _anchor(part: str, joints: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Where an object held by `part` sits and which way its u axis points, per frame."""
    side, kind = part_side(part), part_kind(part)
    sign = 1.0 if side == "L" else -1.0
    frames = len(joints["pelvis"])
    down = np.tile([0.0, 1.0], (frames, 1))
    if kind == "hand":
        return joints[f"{side}.tip"], _unit(joints[f"{side}.tip"] - joints[f"{side}.wrist"])
    if kind == "foot":
        return (joints[f"{side}.ankle"] + joints[f"{side}.toe"]) / 2, _rotate(
            _unit(joints[f"{side}.toe"] - joints[f"{side}.ankle"]), sign)
    if kind == "arm":
        return (joints[f"{side}.elbow"] + joints[f"{side}.wrist"]) / 2, _rotate(
            _unit(joints[f"{side}.wrist"] - joints[f"{side}.elbow"]), sign)
    if kind == "leg":
        return joints[f"{side}.knee"], _unit(joints[f"{side}.ankle"] - joints[f"{side}.knee"])
    if kind == "head":
        return joints["head"], -down
    return joints["pelvis"], down


def _region_box(obj: str, part: str, boxes: dict[str, np.ndarray]) -> np.ndarray:
    region = BODY_OBJECTS[obj]
    if region in ("head", "torso"):
        return boxes[region]
    other = "left" if part_side(part) == "R" else "right"
    return boxes[f"{other}_{region}"]


def _active(shown: ShownMovement, frames: int) -> np.ndarray:
    active = np.zeros(frames, dtype=bool)
    active[shown.start: shown.end + 1] = True
    return active


def _one_handed_pieces(shape: str, scale: float, part: str, joints: dict[str, np.ndarray],
                       height: float) -> tuple[tuple[str, np.ndarray], ...]:
    anchor, u_axis = _anchor(part, joints)
    v_axis = _rotate(u_axis, 1.0)
    unit = scale * height
    return tuple(
        (kind, anchor[:, None, :] + unit * (local[None, :, 0:1] * u_axis[:, None, :]
                                            + local[None, :, 1:2] * v_axis[:, None, :]))
        for kind, local in SHAPES[shape])


def _quad(centre: np.ndarray, along: np.ndarray, across: np.ndarray, half_along: float,
          half_across: float) -> np.ndarray:
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    return np.stack([centre + a * half_along * along + c * half_across * across for a, c in corners], axis=1)


def _two_handed_pieces(shape: str, joints: dict[str, np.ndarray], height: float) -> tuple[tuple[str, np.ndarray], ...]:
    """A barbell from hand to hand, or a rope hanging in a loop between the hands."""
    left, right = joints["L.tip"], joints["R.tip"]
    along = _unit(right - left)
    if shape == "barbell":
        ends = (left - 0.13 * height * along, right + 0.13 * height * along)
        across = _rotate(along, 1.0)
        bar = np.stack(ends, axis=1)
        return (("line", bar), *(("poly", _quad(end, along, across, 0.025 * height, 0.05 * height)) for end in ends))
    s = np.linspace(0.0, 1.0, 11)[None, :, None]
    sag = 0.45 * height * np.sin(np.pi * s) * np.array([0.0, 1.0])
    return (("line", left[:, None, :] * (1 - s) + right[:, None, :] * s + sag),)


def _pieces_box(pieces: Sequence[tuple[str, np.ndarray]], pad: float) -> np.ndarray:
    points = np.concatenate([p for _, p in pieces], axis=1)
    return np.concatenate([points.min(axis=1) - pad, points.max(axis=1) + pad], axis=-1)


TWO_HANDED_SHAPES = ("barbell", "rope")


def _shared_pieces(shape: str, scale: float, parts: set[str], joints: dict[str, np.ndarray],
                   height: float) -> tuple[set[str], tuple[tuple[str, np.ndarray], ...]]:
    """Parts that hold one object together, and its pieces: a barbell or rope between both hands, or
    one bicycle under the feet for every part that holds it. Empty when nothing is shared."""
    if shape in TWO_HANDED_SHAPES and {"left_hand", "right_hand"} <= parts:
        return {"left_hand", "right_hand"}, _two_handed_pieces(shape, joints, height)
    if shape == "wheels" and len(parts) > 1:
        anchor = (joints["L.ankle"] + joints["R.ankle"]) / 2
        down = np.tile([0.0, 1.0], (len(anchor), 1))
        unit = scale * height
        pieces = tuple((kind, anchor[:, None, :] + unit * (local[None, :, 0:1] * down[:, None, :]
                                                           + local[None, :, 1:2] * _rotate(down, 1.0)[:, None, :]))
                       for kind, local in SHAPES[shape])
        return set(parts), pieces
    return set(), ()


def object_tracks(plan: VideoPlan, joints: dict[str, np.ndarray], boxes: dict[str, np.ndarray]) -> list[ObjectTrack]:
    """The objects of the shown movements. Body-region objects have boxes but no pieces. An object held
    by several parts together (`_shared_pieces`) is drawn once, whenever any of them holds it, and all of
    them get its box."""
    height, frames = plan.nuisance.height, plan.frames
    pad = LIMB_W * height / 2
    groups: dict[str, list[ShownMovement]] = {}
    for shown in plan.shown:
        if shown.movement.object:
            groups.setdefault(shown.movement.object, []).append(shown)
    tracks = []
    for name, members in groups.items():
        shape, scale = object_shape(name)
        together, shared = _shared_pieces(shape, scale, {m.movement.part for m in members}, joints, height)
        drawn_with = next((m.movement.part for m in members if m.movement.part in together), None)
        either = np.logical_or.reduce([_active(m, frames) for m in members if m.movement.part in together]) \
            if together else None
        for shown in members:
            part = shown.movement.part
            active = _active(shown, frames)
            rgb = plan.nuisance.object_rgb[PARTS.index(drawn_with or part)]
            if name in BODY_OBJECTS:
                tracks.append(ObjectTrack(part, name, (), _region_box(name, part, boxes), active, rgb))
            elif part in together:
                pieces = shared if part == drawn_with else ()
                tracks.append(ObjectTrack(part, name, pieces, _pieces_box(shared, pad),
                                          either if pieces else active, rgb))
            else:
                pieces = _one_handed_pieces(shape, scale, part, joints, height)
                tracks.append(ObjectTrack(part, name, pieces, _pieces_box(pieces, pad), active, rgb))
    return tracks


@dataclass(frozen=True, eq=False)
class Geometry:
    """Per-frame pixel geometry of a video: joints, hand sizes, face direction, boxes, objects."""

    joints: dict[str, np.ndarray]
    hand_size: dict[str, np.ndarray]
    face: np.ndarray  # (frames, 2): where the eyes look, x (turn) and y (up/down), in [-1, 1]
    boxes: dict[str, np.ndarray]
    objects: list[ObjectTrack]


def geometry(plan: VideoPlan) -> Geometry:
    traj = trajectories(plan)
    joints = skeleton(traj, plan.nuisance)
    hand_size = {side: np.clip(traj[f"{side}.hand.size"], 0.3, 2.5) for side in ("L", "R")}
    boxes = part_boxes(joints, plan.nuisance.height, hand_size)
    face = np.stack([traj["head.face_x"], traj["head.face_y"]], axis=-1)
    return Geometry(joints, hand_size, face, boxes, object_tracks(plan, joints, boxes))


# ----------------------------------------------------------------------------------------------
# Rendering and encoding
# ----------------------------------------------------------------------------------------------


def _background(nuisance: Nuisance, size: int) -> np.ndarray:
    channels = []
    for c in range(3):
        small = Image.fromarray(nuisance.texture[:, :, c].astype(np.float32), mode="F")
        channels.append(np.asarray(small.resize((size, size), Image.Resampling.BILINEAR)))
    ramp = np.linspace(-0.5, 0.5, size)[:, None, None] * nuisance.gradient
    base = np.array(nuisance.background_rgb, dtype=np.float32)[None, None, :]
    return np.clip(base + np.stack(channels, axis=-1) + ramp, 0, 255).astype(np.uint8)


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, v * factor + (1 - factor) * 40))) for v in rgb)  # type: ignore[return-value]


def _limb(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], rgb: tuple[int, int, int], width: int) -> None:
    draw.line(points, fill=rgb, width=width, joint="curve")
    r = width / 2
    for x, y in points:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=rgb)


def _draw_distractor(draw: ImageDraw.ImageDraw, nuisance: Nuisance, t: float, size: int) -> None:
    coords = []
    for start, velocity in zip(nuisance.distractor_start, nuisance.distractor_velocity):
        position = (start + velocity * t) % (2 * size)
        coords.append(position if position <= size else 2 * size - position)  # bounce off the edges
    x, y, r = coords[0], coords[1], nuisance.distractor_radius
    if r < 0.5:
        return
    if nuisance.distractor_shape == "ellipse":
        draw.ellipse((x - r, y - r * 0.7, x + r, y + r * 0.7), fill=nuisance.distractor_rgb)
    elif nuisance.distractor_shape == "rectangle":
        draw.rectangle((x - r, y - r, x + r, y + r), fill=nuisance.distractor_rgb)
    else:
        draw.polygon([(x, y - r), (x + r, y + r), (x - r, y + r)], fill=nuisance.distractor_rgb)


def _draw_figure(draw: ImageDraw.ImageDraw, geo: Geometry, i: int, nuisance: Nuisance) -> None:
    j = {name: (float(p[i, 0]), float(p[i, 1])) for name, p in geo.joints.items()}
    h = nuisance.height
    limb = max(2, round(LIMB_W * h))
    colours = {"R": nuisance.figure_rgb, "L": _shade(nuisance.figure_rgb, 0.75)}
    for side in ("R", "L"):
        _limb(draw, [j[f"{side}.hip"], j[f"{side}.knee"], j[f"{side}.ankle"], j[f"{side}.toe"]], colours[side], limb)
    _limb(draw, [j["pelvis"], j["neck"]], _shade(nuisance.figure_rgb, 0.9), max(3, round(TORSO_W * h)))
    _limb(draw, [j["L.hip"], j["R.hip"]], _shade(nuisance.figure_rgb, 0.9), limb)
    for side in ("R", "L"):
        _limb(draw, [j["neck"], j[f"{side}.shoulder"], j[f"{side}.elbow"], j[f"{side}.wrist"], j[f"{side}.tip"]],
              colours[side], limb)
        x, y = j[f"{side}.tip"]
        r = max(1.0, HAND_R * h * float(geo.hand_size[side][i]))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colours[side])
    x, y = j["head"]
    r = HEAD_R * h
    draw.ellipse((x - r, y - r, x + r, y + r), fill=nuisance.figure_rgb)
    _draw_face(draw, geo, i, (x, y), r, nuisance)


def _draw_face(draw: ImageDraw.ImageDraw, geo: Geometry, i: int, centre: tuple[float, float], r: float,
               nuisance: Nuisance) -> None:
    """Eyes that move with the head's turn (face_x), look-up (face_y) and tilt."""
    neck, head = geo.joints["neck"][i], geo.joints["head"][i]
    tilt = math.atan2(head[0] - neck[0], neck[1] - head[1])
    face_x, face_y = (float(v) for v in np.clip(geo.face[i], -1, 1))
    eye_rgb = _shade(nuisance.figure_rgb, 0.25) if _luma(nuisance.figure_rgb) > 110 else (235, 235, 235)
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)
    e = max(1.0, 0.18 * r)
    for dx in (-0.38, 0.38):
        u, v = (dx + 0.5 * face_x) * r, (-0.15 + 0.5 * face_y) * r
        x, y = centre[0] + u * cos_t - v * sin_t, centre[1] + u * sin_t + v * cos_t
        draw.ellipse((x - e, y - e, x + e, y + e), fill=eye_rgb)


def _draw_objects(draw: ImageDraw.ImageDraw, geo: Geometry, i: int, nuisance: Nuisance) -> None:
    width = max(2, round(LIMB_W * nuisance.height))
    for track in geo.objects:
        if not track.active[i]:
            continue
        for kind, points in track.pieces:
            xy = [(float(x), float(y)) for x, y in points[i]]
            if kind == "poly":
                draw.polygon(xy, fill=track.rgb)
            elif kind == "ring":
                draw.polygon(xy, outline=track.rgb, width=max(1, width - 1))
            else:
                draw.line(xy, fill=track.rgb, width=width, joint="curve")


def render_frames(plan: VideoPlan, geo: Geometry) -> Iterator[np.ndarray]:
    """The video's frames, (size, size, 3) uint8 RGB each."""
    nuisance, size = plan.nuisance, plan.size
    background = Image.fromarray(_background(nuisance, size))
    noise_rng = np.random.default_rng(nuisance.noise_seed)
    spread = round(nuisance.noise_sigma * math.sqrt(3)) if nuisance.noise_sigma > 0 else 0  # uniform noise of that std
    if nuisance.noise_sigma > 0:
        spread = max(1, spread)
    for i in range(plan.frames):
        image = background.copy()
        draw = ImageDraw.Draw(image)
        _draw_distractor(draw, nuisance, i / plan.fps, size)
        _draw_figure(draw, geo, i, nuisance)
        _draw_objects(draw, geo, i, nuisance)
        pixels = np.asarray(image).astype(np.int16)
        pixels += noise_rng.integers(-spread, spread + 1, (size, size, 3), dtype=np.int16)
        yield np.clip(pixels, 0, 255, out=pixels).astype(np.uint8)


def pick_codec() -> str:
    """libx264 when this PyAV build can encode it, else mpeg4."""
    for name in ("libx264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
        except Exception:  # noqa: BLE001 - any failure means: not usable here
            continue
        return name
    raise ConfigurationError("this PyAV build has neither libx264 nor mpeg4 encoders; install av with FFmpeg")


def write_mp4(path: Path, frames: Iterator[np.ndarray], *, size: int, fps: int, codec: str, expected: int) -> None:
    """Encode RGB frames as a yuv420p mp4 with one packet per frame; refuse a dropped or padded frame."""
    packets = 0
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.thread_count = 1
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "18"}
        else:
            stream.codec_context.bit_rate = 2_000_000
            stream.codec_context.gop_size = 12
        for index, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = index
            encoded = stream.encode(frame)
            packets += len(encoded)
            container.mux(encoded)
        encoded = stream.encode()
        packets += len(encoded)
        container.mux(encoded)
    if packets != expected:
        raise RuntimeError(f"{path}: the {codec} encoder wrote {packets} packets for {expected} frames")


# ----------------------------------------------------------------------------------------------
# Annotations
# ----------------------------------------------------------------------------------------------


def _float_boxes(boxes: list, fraction: np.ndarray, size: int) -> list:
    """Int boxes (n, 4) widened by a fraction of a pixel and rounded to 2 decimals, still inside the frame."""
    widened = np.asarray(boxes, dtype=np.float64) + fraction * np.array([-1.0, -1.0, 1.0, 1.0])
    return np.round(np.clip(widened, 0, size), 2).tolist()


def _bystander(kind: int, size: int, frame: int) -> dict:
    """An idle second human in a corner of the frame: three parts in float coordinates, or none."""
    box = [round(size * 0.02, 2), round(size * 0.05, 2), round(size * 0.21, 2), round(size * 0.48, 2)]
    parts = [] if kind == 2 else [
        {"name": part, "box": [box[0] + 0.5, box[1] + 1.25 * k, box[2] - 0.5, box[1] + 1.25 * k + size * 0.1],
         "verb": UNDEFINED if (frame + k) % 3 == 0 else NO_MOVEMENT, "obj_class": None, "obj_bbox": None}
        for k, part in enumerate(("head", "left_arm", "right_leg"))]
    return {"number": 1, "box": box, "parts": parts}


def frame_labels(plan: VideoPlan, geo: Geometry) -> list[str]:
    """The frame JSON strings of a video (what img_00001.json ... hold)."""
    size = plan.size
    part_px = np.stack([pixel_boxes(geo.boxes[p], size) for p in PARTS], axis=1).tolist()  # (frames, 10, 4)
    human = np.stack([geo.boxes[p] for p in PARTS], axis=1)
    human_px = pixel_boxes(np.concatenate([human[..., :2].min(axis=1), human[..., 2:].max(axis=1)], -1), size).tolist()
    if plan.fraction is not None:
        human_px = _float_boxes(human_px, plan.fraction[:, 0], size)
        part_px = _float_boxes(part_px, plan.fraction[:, 1:], size)
    by_part = {s.movement.part: s for s in plan.shown}
    objects = {t.part: (t.name, pixel_boxes(t.boxes, size).tolist()) for t in geo.objects}
    empty, hidden, undefined = plan.empty.tolist(), plan.hidden.tolist(), plan.undefined.tolist()
    bare = plan.bare.tolist() if plan.bare is not None else None
    bystander = plan.bystander.tolist() if plan.bystander is not None else [0] * plan.frames
    documents = []
    for i in range(plan.frames):
        if empty[i]:
            documents.append('{"humans":[]}')
            continue
        parts = []
        for j, part in enumerate(PARTS):
            if hidden[i][j]:
                continue
            shown = by_part.get(part)
            verb, obj, obj_box = (UNDEFINED if undefined[i][j] else NO_MOVEMENT), None, None
            if shown is not None and shown.start <= i <= shown.end:
                verb = shown.movement.state
                if part in objects and not (bare and bare[i][j]):
                    obj, obj_box = objects[part][0], objects[part][1][i]
            parts.append({"name": part, "box": part_px[i][j], "verb": verb, "obj_class": obj, "obj_bbox": obj_box})
        humans = [{"number": 0, "box": human_px[i], "parts": parts}]
        if bystander[i]:
            humans.append(_bystander(bystander[i], size, i))
        documents.append(json.dumps({"humans": humans}, separators=(",", ":")))
    return documents


def shown_truth(plan: VideoPlan, annotated: bool) -> list[dict[str, object]]:
    """Truth per shown movement: its drawn interval and, for train videos, the frames labelled with it
    (frame numbers from 1, as the JSON file names)."""
    rows = []
    for shown in plan.shown:
        row: dict[str, object] = {"name": shown.movement.name, "start": shown.start + 1, "end": shown.end + 1}
        if annotated:
            j = PARTS.index(shown.movement.part)
            dropped = plan.bare[:, j] if plan.bare is not None and shown.movement.object else np.zeros(plan.frames, bool)
            labelled = [i + 1 for i in range(shown.start, shown.end + 1)
                        if not plan.empty[i] and not plan.hidden[i, j] and not dropped[i]]
            row.update(frames=len(labelled), first_frame=labelled[0] if labelled else None,
                       last_frame=labelled[-1] if labelled else None)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------
# The generator
# ----------------------------------------------------------------------------------------------

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def video_names(seed: int, count: int, quirks: int = DEFAULT_QUIRKS) -> list[str]:
    """`count` distinct Kinetics-like names: 11 YouTube-id characters, then _start_end seconds. At quirk
    level 2 the first id starts with `-` and the second holds `_` (as YouTube ids can)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1D]))
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        youtube_id = "".join(_ID_ALPHABET[int(k)] for k in rng.integers(0, 64, 11))
        start = int(rng.integers(0, 900))
        name = f"{youtube_id}_{start:06d}_{start + int(rng.integers(3, 11)):06d}"
        if quirks >= 2 and len(names) < 2:
            name = "-" + name[1:] if not names else name[:5] + "_" + name[6:]
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


@dataclass(frozen=True)
class SynthSummary:
    """What `generate` wrote and how fast."""

    out_dir: Path
    classes: list[str]
    train_videos: int
    test_videos: int
    frame_jsons: int
    seconds: float
    videos_per_second: float
    rendered_videos: int = 0
    codec: str = ""
    truth: Path | None = None

    @property
    def frame_jsons_per_second(self) -> float:
        return self.frame_jsons / self.seconds if self.seconds > 0 else float("inf")


def _validate(out_dir: Path, classes: int, train_per_class: int, test_per_class: int, frames: int,
              size: int, fps: int, seed: int, composition: Path | None, nuisance: float = 1.0,
              quirks: int = DEFAULT_QUIRKS) -> None:
    checks = [
        (type(quirks) is int and quirks in QUIRK_LEVELS,
         f"quirks must be one of {', '.join(map(str, QUIRK_LEVELS))} (got {quirks!r})"),
        (isinstance(nuisance, (int, float)) and 0.0 <= nuisance <= 1.0,
         f"nuisance must be a number from 0 to 1 (got {nuisance!r})"),
        (isinstance(classes, int) and classes >= 2, f"classes must be an integer >= 2 (got {classes!r})"),
        (isinstance(train_per_class, int) and train_per_class >= 1,
         f"train_per_class must be an integer >= 1 (got {train_per_class!r})"),
        (isinstance(test_per_class, int) and test_per_class >= 0,
         f"test_per_class must be an integer >= 0 (got {test_per_class!r})"),
        (isinstance(frames, int) and frames >= 1, f"frames must be an integer >= 1 (got {frames!r})"),
        (isinstance(size, int) and 32 <= size <= 1024 and size % 2 == 0,
         f"size must be an even integer from 32 to 1024 (yuv420p needs even sides; got {size!r})"),
        (isinstance(fps, int) and 1 <= fps <= 120, f"fps must be an integer from 1 to 120 (got {fps!r})"),
        (isinstance(seed, int) and seed >= 0, f"seed must be an integer >= 0 (got {seed!r})"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigurationError(message)
    if composition is not None and not Path(composition).is_dir():
        raise ConfigurationError(f"composition {composition} is not a folder; give a KG-CLIP release folder "
                                 "holding kg_idx.json and a-b.pkl")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigurationError(f"output folder {out_dir} exists and is not empty; give a new or empty folder")


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _write_jsons(folder: Path, documents: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    base = str(folder)
    for number, document in enumerate(documents, start=1):
        with open(f"{base}/img_{number:05d}.json", "w", encoding="utf-8") as handle:
            handle.write(document)


def _write_video(out_dir: Path, plan: VideoPlan, codec: str, *, link_to: Path | None) -> Path:
    """Write one video's mp4 (rendered, or linked to `link_to`) and, for training, its frame JSONs."""
    path = out_dir / f"{plan.split}_videos" / plan.folder / f"{plan.video}.mp4"
    geo: Geometry | None = None
    if link_to is not None:
        _link_or_copy(link_to, path)
    else:
        geo = geometry(plan)
        write_mp4(path, render_frames(plan, geo), size=plan.size, fps=plan.fps, codec=codec, expected=plan.frames)
    if plan.split == "train":
        folder = out_dir / "train_annotations" / plan.folder / plan.video / plan.video
        _write_jsons(folder, frame_labels(plan, geo or geometry(plan)))
    return path


def generate(out_dir: Path, *, classes: int = 6, train_per_class: int = 4, test_per_class: int = 1,
             frames: int = 16, size: int = 112, fps: int = 8, seed: int = 0,
             composition: Path | None = None, share_videos: bool = False, nuisance: float = 1.0,
             quirks: int = DEFAULT_QUIRKS, progress: Callable[[int, int], None] | None = None) -> SynthSummary:
    """Write a synthetic Kinetics-TPS folder into `out_dir` (new or empty); see the module docstring."""
    out_dir = Path(out_dir)
    _validate(out_dir, classes, train_per_class, test_per_class, frames, size, fps, seed, composition, nuisance,
              quirks)
    began = time.perf_counter()
    vocabulary = (composition_vocabulary(Path(composition), classes) if composition is not None
                  else default_vocabulary(classes))
    if quirks >= 2 and composition is None:  # a class folder with parentheses, as Kinetics' hurling_(sport)
        last = vocabulary.actions[-1]
        vocabulary = replace(vocabulary, actions=(*vocabulary.actions[:-1], replace(
            last, folder=last.folder + PAREN_QUALIFIER, name=action_name(last.folder + PAREN_QUALIFIER))))
    codec = pick_codec()
    lists = out_dir / "list"
    lists.mkdir(parents=True, exist_ok=True)
    counts = {"train": train_per_class, "test": test_per_class}
    total = classes * (train_per_class + test_per_class)
    names = iter(video_names(seed, total, quirks))
    flists: dict[str, list[str]] = {"train": ["video,frames"], "test": ["video,frames"]}
    truth_videos: dict[str, dict[str, dict[str, object]]] = {"train": {}, "test": {}}
    done = frame_jsons = rendered = 0
    for class_index, action in enumerate(vocabulary.actions):
        for split, count in counts.items():
            video_dir = out_dir / f"{split}_videos" / action.folder
            (video_dir if count else video_dir.parent).mkdir(parents=True, exist_ok=True)
            first: Path | None = None  # the class's rendered video, when share_videos links the others to it
            for video_index in range(count):
                plan = plan_video(seed, split, class_index, video_index, action, vocabulary.subset,
                                  video=next(names), frames=frames, size=size, fps=fps, nuisance=nuisance,
                                  quirks=quirks)
                path = _write_video(out_dir, plan, codec, link_to=first)
                rendered += first is None
                if share_videos and first is None:
                    first = path
                frame_jsons += frames if split == "train" else 0
                key = f"{action.folder}/{plan.video}"
                flists[split].append(f"{key},{frames}")
                truth_videos[split][key] = {
                    "action": action.folder,
                    "pixels_from": f"{action.folder}/{first.stem}" if first not in (None, path) else None,
                    "movements": shown_truth(plan, annotated=split == "train"),
                }
                done += 1
                if progress is not None:
                    progress(done, total)
    _write_lines(lists / "body_part.txt", PARTS)
    _write_lines(lists / "part_stat.txt", vocabulary.states)
    _write_lines(lists / "object.txt", vocabulary.objects)
    _write_lines(lists / "video_train_flist.csv", flists["train"])
    _write_lines(lists / "video_test_flist.csv", flists["test"])
    truth_path = lists / "synth_truth.json"
    truth = _truth(vocabulary, truth_videos, seed=seed, codec=codec, options={
        "classes": classes, "train_per_class": train_per_class, "test_per_class": test_per_class,
        "frames": frames, "size": size, "fps": fps, "share_videos": share_videos, "nuisance": nuisance,
        "quirks": quirks,
        "composition": str(composition) if composition is not None else None})
    truth_path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - began
    return SynthSummary(
        out_dir=out_dir, classes=[a.folder for a in vocabulary.actions],
        train_videos=classes * train_per_class, test_videos=classes * test_per_class, frame_jsons=frame_jsons,
        seconds=seconds, videos_per_second=total / seconds if seconds > 0 else float("inf"),
        rendered_videos=rendered, codec=codec, truth=truth_path)


def _truth(vocabulary: Vocabulary, videos: dict[str, dict[str, dict[str, object]]], *, seed: int, codec: str,
           options: dict[str, object]) -> dict[str, object]:
    used = _unique([m.name for a in vocabulary.actions for m in a.movements])
    movements = {name: {**vars(m), "id": m.id} for name in used for m in [parse_movement_name(name)]}
    return {
        "generator": "kgtoolkit.synth",
        "seed": seed,
        "options": options,
        "codec": codec,
        "vocabulary": vocabulary.source,
        "movements_per_video": list(vocabulary.subset) if vocabulary.subset else "all",
        "actions": [{"folder": a.folder, "name": a.name, "class_index": i, "movements": [m.name for m in a.movements]}
                    for i, a in enumerate(vocabulary.actions)],
        "movements": movements,
        "videos": videos,
    }


def render_clip(movements: Sequence[Movement | str], *, frames: int = 16, size: int = 112, fps: int = 8,
                seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Frames (frames, size, size, 3) of one figure showing `movements` over the whole clip, and the
    int box (frames, 4) of every part. The nuisances depend on `seed` only, so two calls with the same
    seed and different movements differ only by the movements (for tests and figures)."""
    parsed = tuple(parse_movement_name(m) if isinstance(m, str) else m for m in movements)
    action = ActionSpec("clip", "clip", parsed)
    plan = plan_video(seed, "test", 0, 0, action, None, video="clip", frames=frames, size=size, fps=fps)
    plan = replace(plan, shown=tuple(ShownMovement(s.movement, 0, frames - 1, 0.0, 1.0) for s in plan.shown))
    geo = geometry(plan)
    boxes = {p: pixel_boxes(geo.boxes[p], size) for p in PARTS}
    return np.stack(list(render_frames(plan, geo))), boxes
