"""Skeleton geometry, vectorised over frames: degrees of freedom -> joints -> part boxes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kgtoolkit.synth.motion import JITTER, REST, WAVES, motion_terms
from kgtoolkit.synth.plan import Nuisance, VideoPlan
from kgtoolkit.synth.vocabulary import SIDED_KINDS, part_kind, part_side


# Body proportions in units of the figure height.
TORSO, NECK, HEAD_R, SHOULDER, HIP_HALF = 0.29, 0.085, 0.065, 0.085, 0.055
UPPER_ARM, FOREARM, HAND = 0.15, 0.14, 0.055
THIGH, SHIN, FOOT = 0.21, 0.20, 0.065
LIMB_W, TORSO_W, HAND_R = 0.06, 0.1, 0.04

_DOF_KEYS: tuple[str, ...] = tuple(
    f"{side}.{dof}" if dof.split(".")[0] in SIDED_KINDS else dof
    for dof in REST for side in (("L", "R") if dof.split(".")[0] in SIDED_KINDS else ("",))
)


def _dof_keys(dof: str, part: str) -> tuple[str, ...]:
    both = dof.startswith("*")
    dof = dof.lstrip("*")
    if dof.split(".")[0] not in SIDED_KINDS:
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
        amp = JITTER.get(dof, 0.012) * scale
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
