"""Rendering a video's frames (background, distractor, stick figure, objects, noise) and encoding mp4s."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.synth.plan import Nuisance, ShownMovement, VideoPlan, luma, plan_video
from kgtoolkit.synth.scene import Geometry, geometry
from kgtoolkit.synth.skeleton import HAND_R, HEAD_R, LIMB_W, TORSO_W, pixel_boxes
from kgtoolkit.synth.vocabulary import PARTS, ActionSpec
from kgtoolkit.vocab import Movement, parse_movement_name


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
    eye_rgb = _shade(nuisance.figure_rgb, 0.25) if luma(nuisance.figure_rgb) > 110 else (235, 235, 235)
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
