"""Frame annotations of Kinetics-TPS: one JSON per frame, checked by hand (fast, and every
problem named), aggregated per video into body-movement statistics.

A frame file that cannot be read at all (empty, truncated, not an object) is rejected whole;
inside a readable frame, a bad human or part entry is rejected on its own and the rest is kept.
A human's parts come as a list of entries with a "name" (the training annotations) or as an object
keyed by part name (the challenge's evaluation files); both are read. When the video's frame size
is known, every box (human, part, object) is checked against it, with `BOX_TOLERANCE` pixels for
rounding: a box outside the frame is a warning naming file, human and part, and its movement still
counts.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from kgtoolkit.errors import FrameError
from kgtoolkit.vocab import BODY_PARTS, Movement, is_movement

FRAME_FILE = re.compile(r"^img_(\d{5,})\.json$")
MAX_FRAME_BYTES = 4 * 1024 * 1024
MAX_NAME_CHARS = 100  # a part state or object class; the real ones have at most ~30
BOX_TOLERANCE = 1.0  # pixels a box may reach past the frame's edge (rounding of annotation tools)
OUT_OF_FRAME_DETAILED = 10  # out-of-frame boxes named one by one per video; the rest are counted


@dataclass
class MovementStats:
    frames: int = 0
    first: int = 0
    last: int = 0

    def see(self, frame: int) -> None:
        if self.frames == 0 or frame < self.first:
            self.first = frame
        self.last = max(self.last, frame)
        self.frames += 1


@dataclass
class VideoFrames:
    """What a video's frame JSONs say: frames read, movements seen, and what was wrong."""

    frame_files: int = 0
    last_frame: int = 0
    movements: dict[Movement, MovementStats] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): entries not ingested
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): ingested, with a doubt


_NUMBER = (int, float)


def _is_box(value: object) -> bool:
    """A list of 4 ints or floats (bool is refused too); unrolled, as it runs for every box."""
    if type(value) is not list or len(value) != 4:
        return False
    x1, y1, x2, y2 = value
    return type(x1) in _NUMBER and type(y1) in _NUMBER and type(x2) in _NUMBER and type(y2) in _NUMBER


def _box(value: object, where: str) -> None:
    if not _is_box(value):
        raise FrameError(f"{where} must be a list of 4 numbers, got {json.dumps(value)[:60]}")


def _in_frame(box: list, limits: tuple[float, float]) -> bool:
    """Whether a valid box lies inside (-tolerance, -tolerance, width + tolerance, height + tolerance):
    `limits` is the last pair. Written so that NaN is outside. (A box with x1 > x2 is not looked at.)"""
    return -BOX_TOLERANCE <= box[0] and -BOX_TOLERANCE <= box[1] and box[2] <= limits[0] and box[3] <= limits[1]


def _outside(what: str, box: list, size: tuple[int, int]) -> str:
    return (f"{what} {json.dumps(box)} reaches outside the {size[0]}x{size[1]} frame "
            f"(more than {BOX_TOLERANCE:g} px past an edge); "
            + ("the movement still counts" if ".parts[" in what else "its parts are still read"))


@functools.lru_cache(maxsize=4096)  # the same few states and objects come back in every frame
def _name_problem(text: str) -> str | None:
    """Why a (whitespace-normalised) state or object cannot name a movement node, or None."""
    if len(text) > MAX_NAME_CHARS:
        return f"is longer than {MAX_NAME_CHARS} characters"
    if not text.isprintable():
        return "holds control, format or unpaired surrogate characters"
    if "/" in text:
        return "holds a '/', which separates the parts of a movement id"
    return None


def _part(entry: object, h: int, p: int | str, parts: frozenset[str], limits: tuple[float, float] | None,
          outside: list[tuple[str, list]]) -> Movement | None:
    """One part entry; the location text is built only when there is something to say. A box outside
    the frame is appended to `outside` as (what, box)."""
    if not isinstance(entry, dict):
        raise FrameError(f"humans[{h}].parts[{p}] must be an object")
    name, verb = entry.get("name"), entry.get("verb")
    obj, obj_box, box = entry.get("obj_class"), entry.get("obj_bbox"), entry.get("box")
    if (
        type(name) is str and name in parts and type(verb) is str and verb.strip()
        and (obj is None or (type(obj) is str and obj.strip()))
        and (box is None or _is_box(box)) and (obj_box is None or _is_box(obj_box))
    ):
        verb = " ".join(verb.split())
        obj = " ".join(obj.split()) if obj else None
        for key, text in (("verb", verb), ("obj_class", obj)):
            problem = text and _name_problem(text)
            if problem:
                raise FrameError(f"humans[{h}].parts[{p}].{key} {problem}: {json.dumps(text)[:40]}")
        if limits is not None:  # _in_frame, inlined: it runs for every part of every frame
            w, h_ = limits
            if box is not None and not (-BOX_TOLERANCE <= box[0] and -BOX_TOLERANCE <= box[1]
                                        and box[2] <= w and box[3] <= h_):
                outside.append((f"humans[{h}].parts[{p}] ({name}).box", box))
            if obj_box is not None and not _in_frame(obj_box, limits):
                outside.append((f"humans[{h}].parts[{p}] ({name}).obj_bbox", obj_box))
        return Movement(name, verb, obj) if is_movement(verb, obj) else None
    where = f"humans[{h}].parts[{p}]"
    if not isinstance(name, str):
        raise FrameError(f"{where}.name must be a string, got {json.dumps(name)[:40]}")
    if name not in parts:
        raise FrameError(f"{where}: unknown body part {name[:40]!r} (known: {', '.join(sorted(parts))})")
    if not isinstance(verb, str) or not verb.strip():
        raise FrameError(f"{where}.verb must be a non-empty string, got {json.dumps(verb)[:40]}")
    if obj is not None and (not isinstance(obj, str) or not obj.strip()):
        raise FrameError(f"{where}.obj_class must be a string or null, got {json.dumps(obj)[:40]}")
    if box is not None:
        _box(box, f"{where}.box")
    if obj_box is not None:
        _box(obj_box, f"{where}.obj_bbox")
    raise AssertionError("unreachable")  # pragma: no cover


def _keyed_parts(entries: dict, h: int) -> list[tuple[str, object]]:
    """Parts given as an object keyed by part name: (key, entry with its "name") pairs. An entry that
    names another part than its key is refused (which of the two is meant cannot be told)."""
    keyed = []
    for key, entry in entries.items():
        if isinstance(entry, dict):
            named = entry.get("name", key)
            if named != key:
                raise FrameError(f"humans[{h}].parts[{key!r}] is keyed {key!r} but named {json.dumps(named)[:40]}")
            entry = {**entry, "name": key}
        keyed.append((repr(key), entry))
    return keyed


def parse_frame(data: bytes, parts: frozenset[str] = frozenset(BODY_PARTS),
                frame_size: tuple[int, int] | None = None) -> tuple[set[Movement], list[str], list[str]]:
    """The movements one frame shows, the entries of it that were rejected, and the boxes that reach
    outside a frame of `frame_size` (width, height; None: not checked), each with its location.
    Raises FrameError when the file as a whole is unusable."""
    if not data.strip():
        raise FrameError("empty file")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise FrameError(f"not valid JSON ({str(error)[:80]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("humans"), list):
        raise FrameError('must be an object with a "humans" list')
    limits = (frame_size[0] + BOX_TOLERANCE, frame_size[1] + BOX_TOLERANCE) if frame_size else None
    movements: set[Movement] = set()
    bad: list[str] = []
    outside: list[tuple[str, list]] = []
    for h, human in enumerate(doc["humans"]):
        where = f"humans[{h}]"
        if not isinstance(human, dict):
            bad.append(f"{where} must be an object")
            continue
        try:
            box = human.get("box")
            if box is not None:
                _box(box, f"{where}.box")
                if limits is not None and not _in_frame(box, limits):
                    outside.append((f"{where}.box", box))
            entries = human.get("parts", [])
            if type(entries) is list:
                numbered = enumerate(entries)
            elif isinstance(entries, dict):
                numbered = _keyed_parts(entries, h)
            else:
                raise FrameError(f"{where}.parts must be a list, or an object keyed by part name")
        except FrameError as error:
            bad.append(str(error))
            continue
        for p, entry in numbered:
            try:
                movement = _part(entry, h, p, parts, limits, outside)
            except FrameError as error:
                bad.append(str(error))
                continue
            if movement:
                movements.add(movement)
    doubts = [_outside(what, box, frame_size) for what, box in outside] if outside else []
    return movements, bad, doubts


def read_video_frames(folder: Path, rel_folder: str, parts: frozenset[str] = frozenset(BODY_PARTS),
                      frame_size: tuple[int, int] | None = None) -> VideoFrames:
    """Aggregate every `img_NNNNN.json` of one video's annotation folder; boxes are checked against
    `frame_size` (width, height) when it is given."""
    result = VideoFrames()
    try:
        with os.scandir(folder) as scan:
            names = sorted(entry.name for entry in scan)
    except OSError as error:
        result.problems.append((rel_folder, f"cannot list the annotation folder: {error.strerror}"))
        return result
    outside = 0
    for name in names:
        match = FRAME_FILE.match(name)
        rel_path = f"{rel_folder}/{name}"
        if not match:
            result.problems.append((rel_path, "not a frame annotation (expected img_NNNNN.json)"))
            continue
        frame = int(match.group(1))
        try:
            movements, bad, doubts = parse_frame(_read_plain_file(os.path.join(folder, name)), parts, frame_size)
        except FrameError as error:
            result.problems.append((rel_path, str(error)))
            continue
        result.frame_files += 1
        result.last_frame = max(result.last_frame, frame)
        for reason in bad:
            result.problems.append((rel_path, reason))
        for reason in doubts:
            outside += 1
            if outside <= OUT_OF_FRAME_DETAILED:
                result.warnings.append((rel_path, reason))
        for movement in movements:
            stats = result.movements.get(movement)
            if stats is None:
                stats = result.movements[movement] = MovementStats()
            stats.see(frame)
    if outside > OUT_OF_FRAME_DETAILED:
        result.warnings.append((rel_folder, f"{outside} boxes in all reach outside the {frame_size[0]}x"
                                f"{frame_size[1]} frame; the first {OUT_OF_FRAME_DETAILED} are listed one by one, "
                                "and their movements still count"))
    return result


def _read_plain_file(path: str) -> bytes:
    """The bytes of a regular file, refusing links (O_NOFOLLOW), FIFOs and devices (O_NONBLOCK, so that
    opening a FIFO cannot wait for a writer; fstat then refuses it) and oversized files; one open + fstat."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise FrameError("is a symbolic link; links are not followed") from None
        raise FrameError(f"cannot read: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FrameError("not a regular file")
        if info.st_size > MAX_FRAME_BYTES:
            raise FrameError(f"larger than {MAX_FRAME_BYTES} bytes")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read()
    except OSError as error:
        raise FrameError(f"cannot read: {error.strerror}") from None
    finally:
        os.close(fd)
