"""Probing a video file with decord: frame count, frame rate and size, or why it cannot be read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    fps: float
    width: int
    height: int


class VideoError(ValueError):
    """The file is not a readable video."""


def probe_video(path: Path) -> VideoInfo:
    """Open with decord and decode the first and last frames (a truncated file fails on the last)."""
    try:
        if path.stat().st_size == 0:
            raise VideoError("empty file")
    except OSError as error:
        raise VideoError(f"cannot read: {error.strerror}") from None
    import decord

    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        frames = len(reader)
        if frames <= 0:
            raise VideoError("holds no frames")
        first = reader[0].shape
        reader[frames - 1]
        fps = float(reader.get_avg_fps())
    except VideoError:
        raise
    except Exception as error:  # decord raises its own DECORDError and RuntimeErrors
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        raise VideoError(f"not a readable video (decord: {reason})") from None
    return VideoInfo(frames=frames, fps=round(fps, 3), width=int(first[1]), height=int(first[0]))
