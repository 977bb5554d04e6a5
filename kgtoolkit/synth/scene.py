"""A video's geometry in pixels, per frame: skeleton, boxes and objects together."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kgtoolkit.synth.objects import ObjectTrack, object_tracks
from kgtoolkit.synth.plan import VideoPlan
from kgtoolkit.synth.skeleton import part_boxes, skeleton, trajectories


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
