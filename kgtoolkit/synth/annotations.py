"""The annotations of a video: its frame JSONs, with the quirks of its plan, and its ground truth."""

from __future__ import annotations

import json

import numpy as np

from kgtoolkit.synth.plan import VideoPlan
from kgtoolkit.synth.scene import Geometry
from kgtoolkit.synth.skeleton import pixel_boxes
from kgtoolkit.synth.vocabulary import PARTS
from kgtoolkit.vocab import NO_MOVEMENT, UNDEFINED


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
