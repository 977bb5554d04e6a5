"""The per-video plan: the movements a video shows and their intervals, its nuisances, and its
annotation quirks, each from its own seeded stream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kgtoolkit.synth.motion import REST
from kgtoolkit.synth.vocabulary import PARTS, ActionSpec
from kgtoolkit.vocab import Movement


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


def luma(rgb: Sequence[float]) -> float:
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
    while abs(luma(figure) - luma(background)) < 90:
        figure = _rgb(rng)
    radius = size * rng.uniform(0.05, 0.1)
    speed = size * rng.uniform(0.05, 0.2)
    angle = rng.uniform(0, 2 * np.pi)
    centre_x = size * rng.uniform(half_width, 1 - half_width)
    ground_y = size * rng.uniform(0.86, 0.95)
    tempo = rng.uniform(0.75, 1.35)
    if strength < 1.0:
        background = _calm_rgb(CALM_BACKGROUND, background, strength)
        figure = _calm_rgb(CALM_FIGURES[luma(figure) > luma(background)], figure, strength)
        if abs(luma(figure) - luma(background)) < 90:
            figure = CALM_FIGURES[luma(background) < 128]
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
        chosen = list(action.required)
        for position in rng.permutation(len(action.movements)):
            movement = action.movements[int(position)]
            if len(chosen) >= count:
                break
            if movement.part not in {m.part for m in chosen}:
                chosen.append(movement)
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
