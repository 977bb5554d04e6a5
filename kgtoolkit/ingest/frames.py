"""Frame annotations of Kinetics-TPS: one JSON per frame, checked by hand (fast, and every
problem named), aggregated per video into body-movement statistics.

A frame file that cannot be read at all (empty, truncated, not an object) is rejected whole;
inside a readable frame, a bad human or part entry is rejected on its own and the rest is kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from kgtoolkit.vocab import BODY_PARTS, Movement, is_movement

FRAME_FILE = re.compile(r"^img_(\d{5,})\.json$")
MAX_FRAME_BYTES = 4 * 1024 * 1024


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
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


class FrameError(ValueError):
    """A frame file or one of its entries is not a valid annotation."""


def _box(value: object, where: str) -> None:
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise FrameError(f"{where} must be a list of 4 numbers, got {json.dumps(value)[:60]}")


def _part(entry: object, where: str, parts: frozenset[str]) -> Movement | None:
    if not isinstance(entry, dict):
        raise FrameError(f"{where} must be an object")
    name, verb = entry.get("name"), entry.get("verb")
    obj, obj_box = entry.get("obj_class"), entry.get("obj_bbox")
    if not isinstance(name, str):
        raise FrameError(f"{where}.name must be a string, got {json.dumps(name)[:40]}")
    if name not in parts:
        raise FrameError(f"{where}: unknown body part {name[:40]!r} (known: {', '.join(sorted(parts))})")
    if not isinstance(verb, str) or not verb.strip():
        raise FrameError(f"{where}.verb must be a non-empty string, got {json.dumps(verb)[:40]}")
    if obj is not None and (not isinstance(obj, str) or not obj.strip()):
        raise FrameError(f"{where}.obj_class must be a string or null, got {json.dumps(obj)[:40]}")
    if "box" in entry and entry["box"] is not None:
        _box(entry["box"], f"{where}.box")
    if obj_box is not None:
        _box(obj_box, f"{where}.obj_bbox")
    verb = " ".join(verb.split())
    obj = " ".join(obj.split()) if obj else None
    return Movement(name, verb, obj) if is_movement(verb, obj) else None


def parse_frame(data: bytes, parts: frozenset[str] = frozenset(BODY_PARTS)) -> tuple[set[Movement], list[str]]:
    """The movements one frame shows, and the entries of it that were rejected (with reasons).
    Raises FrameError when the file as a whole is unusable."""
    if not data.strip():
        raise FrameError("empty file")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise FrameError(f"not valid JSON ({str(error)[:80]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("humans"), list):
        raise FrameError('must be an object with a "humans" list')
    movements: set[Movement] = set()
    bad: list[str] = []
    for h, human in enumerate(doc["humans"]):
        where = f"humans[{h}]"
        if not isinstance(human, dict):
            bad.append(f"{where} must be an object")
            continue
        try:
            if "box" in human and human["box"] is not None:
                _box(human["box"], f"{where}.box")
            entries = human.get("parts", [])
            if not isinstance(entries, list):
                raise FrameError(f"{where}.parts must be a list")
        except FrameError as error:
            bad.append(str(error))
            continue
        for p, entry in enumerate(entries):
            try:
                movement = _part(entry, f"{where}.parts[{p}]", parts)
            except FrameError as error:
                bad.append(str(error))
                continue
            if movement:
                movements.add(movement)
    return movements, bad


def read_video_frames(folder: Path, rel_folder: str, parts: frozenset[str] = frozenset(BODY_PARTS)) -> VideoFrames:
    """Aggregate every `img_NNNNN.json` of one video's annotation folder."""
    result = VideoFrames()
    try:
        names = sorted(entry.name for entry in _scan(folder))
    except OSError as error:
        result.problems.append((rel_folder, f"cannot list the annotation folder: {error.strerror}"))
        return result
    for name in names:
        match = FRAME_FILE.match(name)
        rel_path = f"{rel_folder}/{name}"
        if not match:
            result.problems.append((rel_path, "not a frame annotation (expected img_NNNNN.json)"))
            continue
        frame = int(match.group(1))
        path = folder / name
        try:
            if path.is_symlink() or not path.is_file():
                raise FrameError("not a regular file (links are not followed)")
            if path.stat().st_size > MAX_FRAME_BYTES:
                raise FrameError(f"larger than {MAX_FRAME_BYTES} bytes")
            movements, bad = parse_frame(path.read_bytes(), parts)
        except (FrameError, OSError) as error:
            result.problems.append((rel_path, str(error)))
            continue
        result.frame_files += 1
        result.last_frame = max(result.last_frame, frame)
        for reason in bad:
            result.problems.append((rel_path, reason))
        for movement in movements:
            result.movements.setdefault(movement, MovementStats()).see(frame)
    return result


def _scan(folder: Path):
    import os

    with os.scandir(folder) as entries:
        return list(entries)
