"""Objects held or used by the shown movements: their shapes, how they follow the body, their boxes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kgtoolkit.synth.motion import stable_unit_values
from kgtoolkit.synth.plan import ShownMovement, VideoPlan
from kgtoolkit.synth.skeleton import LIMB_W
from kgtoolkit.synth.vocabulary import PARTS, part_kind, part_side


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
