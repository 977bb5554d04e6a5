"""Names and ids of the graph's entities: body parts, movements, actions, videos.

One place decides how a movement is named and keyed, so that the Kinetics-TPS reader, the
KG-CLIP release reader and the synthetic generator produce the same nodes for the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BODY_PARTS: tuple[str, ...] = (
    "head", "hip", "left_arm", "right_arm", "left_hand", "right_hand",
    "left_leg", "right_leg", "left_foot", "right_foot",
)
# Part states written with a particle ("step on", "put down") keep it; everything after is the object.
STATE_PARTICLES = frozenset({"on", "down", "up", "off", "at", "to", "in", "out", "over", "with"})
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov")  # video files a dataset folder may hold
NO_MOVEMENT = "none"  # the part does not move: not a movement entity
UNDEFINED = "others"  # an undefined state: a movement only together with an object


@dataclass(frozen=True)
class Movement:
    """No ordering on purpose: `object` is a str or None, which do not compare; order by `id`."""

    part: str
    state: str
    object: str | None = None

    @property
    def name(self) -> str:
        """`right hand hold barbell`, `left foot step on ski`, `head nod`."""
        words = [self.part.replace("_", " "), self.state]
        return " ".join(words + ([self.object] if self.object else []))

    @property
    def id(self) -> str:
        return "movement:" + "/".join([self.part, self.state] + ([self.object] if self.object else []))


def is_movement(state: str, obj: str | None) -> bool:
    """'none' is no movement; 'others' alone says nothing, 'others' with an object does."""
    return state != NO_MOVEMENT and not (state == UNDEFINED and not obj)


def parse_movement_name(name: str) -> Movement:
    """Inverse of `Movement.name` for the KG-CLIP release's names (`left foot step on ski`)."""
    words = name.split()
    if len(words) >= 2 and f"{words[0]}_{words[1]}" in BODY_PARTS:
        part, rest = f"{words[0]}_{words[1]}", words[2:]
    elif words and words[0] in BODY_PARTS:
        part, rest = words[0], words[1:]
    else:
        raise ValueError(f"movement {name!r} does not start with a body part ({', '.join(BODY_PARTS)})")
    if not rest:
        raise ValueError(f"movement {name!r} has no state after its body part")
    take = 2 if len(rest) >= 2 and rest[1] in STATE_PARTICLES else 1
    state, obj = " ".join(rest[:take]), " ".join(rest[take:]) or None
    return Movement(part, state, obj)


def action_name(class_folder: str) -> str:
    """`hurling_(sport)` -> `hurling (sport)`."""
    return class_folder.replace("_", " ")


def action_id(class_folder: str) -> str:
    return f"action:{class_folder}"


def video_id(class_folder: str, video: str) -> str:
    return f"video:{class_folder}/{video}"


def part_id(part: str) -> str:
    return f"part:{part}"


def object_id(obj: str) -> str:
    return f"object:{obj}"


# The label of every id form above, by its prefix.
ID_PREFIXES: dict[str, str] = {"video:": "Video", "action:": "Action", "movement:": "BodyMovement",
                               "part:": "BodyPart", "object:": "Object"}


def label_of_id(node_id: str) -> str | None:
    """The label an id of the forms above belongs to (`action:squat` -> Action), None for another form."""
    return next((label for prefix, label in ID_PREFIXES.items() if node_id.startswith(prefix)), None)


_SAFE_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")


def check_path_component(name: str) -> str | None:
    """Why `name` cannot be one folder or file name inside the dataset, or None if it can."""
    if name in (".", "..") or not _SAFE_NAME.match(name):
        return "is not a plain file name (empty, '.', '..', a slash, or a control character)"
    if "%2f" in name.lower() or "%5c" in name.lower():
        return "holds an encoded slash"
    return None
