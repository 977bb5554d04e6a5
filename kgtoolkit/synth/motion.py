"""Motion primitives: each state drives degrees of freedom of the 2-D skeleton with waveforms
(hand-made for the default states, drawn from a stable hash for any other)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kgtoolkit.vocab import NO_MOVEMENT


# Rest values of the skeleton's degrees of freedom; sided ones exist as "L.<dof>" and "R.<dof>".
REST: dict[str, float] = {
    "arm.shoulder": 0.22, "arm.elbow": 0.15, "hand.angle": 0.1, "hand.size": 1.0, "hand.reach": 0.0,
    "leg.hip": 0.07, "leg.knee": 0.04, "foot.angle": -0.25,
    "head.tilt": 0.0, "head.dx": 0.0, "head.dy": 0.0, "head.face_x": 0.0, "head.face_y": 0.0,
    "hip.lean": 0.0, "hip.torso": 0.0, "hip.twist": 0.0, "hip.dx": 0.0, "hip.dy": 0.0,
}
# Rest-pose jitter amplitude per degree of freedom (radians or figure heights); angles default to 0.012.
JITTER = {"head.dx": 0.0015, "head.dy": 0.0015, "hip.dx": 0.0015, "hip.dy": 0.001, "hip.torso": 0.005,
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
